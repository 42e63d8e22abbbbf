// Package tensor holds dense, row-major n-dimensional arrays of a fixed element type: the
// leaves of a tensordict.Dict and the data that moves between environments, collectors,
// buffers and learners.
//
// # Invariants
//
//   - Data is contiguous and row-major; there are no strides. Views exist only along the
//     leading dimension (Index, Slice) and as Reshape of a whole tensor: they share memory with
//     their parent, so a write through a view shows in the parent and the other way round.
//     Clone, To, Gather and Mask copy.
//   - Memory is allocated with the element type's alignment, so typed access through Data is
//     always aligned. The byte order of the data is the machine's (little-endian on every
//     platform Maestro builds for); the codec writes little-endian bytes.
//   - A Tensor is not safe for concurrent writes; concurrent reads are safe.
//   - Functions that take user input (shapes, dtypes, indices from outside) return errors;
//     methods whose misuse is a programming error (an index out of range inside a loop over
//     Len) panic with a message naming the tensor's shape.
package tensor
