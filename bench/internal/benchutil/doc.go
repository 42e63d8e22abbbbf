// Package benchutil holds what the Go benchmark commands share: failing with the command's
// name and an optional CPU profile.
//
// # Invariants
//   - Timings are medians over alternating rounds; nothing here writes outside bench/out.
package benchutil
