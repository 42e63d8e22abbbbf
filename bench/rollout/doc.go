// Command rolloutbench times envs.Rollout of NetHackScore through Maestro's Env API for
// `make bench BENCH=rollout`; bench/rollout/peer.py does the same with TorchRL's GymEnv.
//
//	rolloutbench -envs 1|2 -steps 1000 [-agent-keys]
//
// With -envs 2 the two games run in an envs.Parallel. Random actions, NLE's default
// observation keys, finished episodes reset automatically. Prints "steps_per_s <x>
// allocs_per_step <y>" counting env steps (steps x envs).
//
// # Invariants
//   - The last line it prints is the measurement's RESULT (or a per-side line that bench/run.sh summarises).
package main
