// Package tensordict provides Dict, the currency between Maestro's components: named tensors
// (and nested Dicts and string leaves) that share leading batch dimensions, in the manner of
// PyTorch's TensorDict.
//
// Keys are strings; a nested key is a path of keys joined by "/" ("next/observation"), so a
// key itself cannot contain "/".
//
// # Invariants
//
//   - Every leaf's leading dimensions equal the Dict's batch shape; Set checks it and the error
//     names the key and both shapes.
//   - Views: Get returns the stored tensor itself (writes show in the Dict). Index, Slice,
//     Unbind, Split and ReshapeBatch return Dicts whose leaves are views of this Dict's leaves;
//     Select, Exclude and Rename share leaves too. Copies: Clone, IndexList, Mask, Stack, Cat.
//     String leaves are shared by views and copied by Clone.
//   - A locked Dict refuses to add or remove keys; Set on an existing key writes into the
//     existing storage, so preallocated buffers stay where they are.
//   - A Dict is not safe for concurrent writes; concurrent reads are safe.
package tensordict
