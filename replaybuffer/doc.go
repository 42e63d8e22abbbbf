// Package replaybuffer stores transitions (rows of tensordict.Dicts) and samples them back:
// a Buffer is composed of a Storage (where items live), a Sampler (which items come back) and a
// Writer (where new items go), in the manner of TorchRL's replay buffers but without a
// subclass per combination.
//
// # Invariants
//
//   - Items are Dicts with batch shape [] (one transition) or [n] for a batch of n. All items
//     of a storage share one structure, fixed by the first write.
//   - Sample returns copies: a sampled batch stays valid while the buffer is written.
//   - A Buffer is safe for one writer and any number of samplers at once.
//   - Save writes every file to a temporary name and renames it, and writes the manifest last:
//     a crash during Save leaves the previous save loadable.
package replaybuffer
