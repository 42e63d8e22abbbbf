// Command collectorbench times collectors.MultiSync on NetHackScore for `make bench
// BENCH=collector`: 2 workers with one env each, a random policy, 64 frames per env per batch,
// Motif's agent observation keys. -mode raw instead steps two TaskEnvs on two goroutines with
// random actions and no Dicts: the env's own rate, the limit a collector can reach.
// Prints "frames_per_s <x> allocs_per_frame <y>"; -mode async, -runahead N and raw-sync for the
// other collectors and the synchronous bound.
//
// # Invariants
//   - The last line it prints is the measurement's RESULT (or a per-side line that bench/run.sh summarises).
package main
