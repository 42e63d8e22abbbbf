// Package checkpoint keeps a run's checkpoints as numbered generations that survive a kill at
// any moment: each generation's blobs (a learner's and a collector's state, say) and a JSON
// record with their sha256 checksums, the newest record also written as the index. Latest finds
// the newest sound generation, falling back past a torn index or damaged blobs and saying so.
//
// # Invariants
//   - Every file is written through internal/atomicfile, blobs before records and the index
//     last, so the index always names a complete generation whose checksums match.
//   - Latest never returns blobs that fail their checksums, and fills the record from the
//     same generation as the blobs.
//   - Save removes only generations older than the newest Keep, and only files of the Store's
//     parts and records.
package checkpoint
