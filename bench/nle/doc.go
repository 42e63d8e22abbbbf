// Command nlebench measures Maestro's NetHack stepping rate for `make bench BENCH=nle`; the
// harness bench/run.sh runs it beside the C loop and Python NLE and prints the comparison.
//
//	nlebench -mode raw|env|raw2 [-games N] [-steps N]
//
// raw: one goroutine locked to its OS thread steps one Game with random TASK_ACTIONS keys,
// resetting when the game ends. env: the same through the NetHackScore Env (known prompts,
// rewards, step limit). raw2: two such goroutines, each stepping -games games per call into C.
// It prints "steps_per_s <x> allocs_per_step <y>".
//
// # Invariants
//   - The last line it prints is the measurement's RESULT (or a per-side line that bench/run.sh summarises).
package main
