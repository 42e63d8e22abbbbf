// Command minihackbench times a MiniHack task through Maestro's Env API for
// `make bench BENCH=minihack`; bench/minihack/peer.py does the same with Python MiniHack's gym
// env.
//
//	minihackbench -task MiniHack-Room-5x5-v0 -steps 20000 -resets 50
//
// Both sides observe MiniHack's default keys (the full map, the 9x9 crops, blstats and the
// message) and play the same xorshift64 stream of actions, finished episodes reset at once.
// The Go side steps as the collectors do: envs.Runner, rollouts of 100 steps into one recycled
// output (steps is rounded down to a multiple of 100).
// It prints one line:
//
//	steps_per_s <x> allocs_per_step <y> reset_ms <r> make_cold_ms <c> make_warm_ms <w>
//
// reset_ms is the mean of -resets explicit resets (a new game on the compiled level);
// make_cold_ms is the first env's creation with an empty level cache (lev_comp, dgn_comp and
// dlb run), make_warm_ms a second env's creation on the same des text (the cache hit).
//
// # Invariants
//   - The last line it prints is the measurement that bench/run.sh summarises.
package main
