// Package atomicfile writes files so that a crash or an error leaves either the old file or the
// complete new one, never a torn one: the content goes to a temporary file in the same folder,
// is synced, and is renamed over the target.
//
// # Invariants
//   - Temporary files are named .<name>.tmp-* in the target's folder; a failed write removes
//     its own, and only a killed process leaves one behind (train --resume removes those).
//   - The target is never opened for writing: readers see the old content or the new, whole.
package atomicfile
