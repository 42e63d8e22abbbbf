// Package nethack runs the NetHack Learning Environment (NLE 1.3.0's libnethack.so) from Go,
// with no Python at run time.
//
// A Game is NLE's raw binding (nle.nethack.Nethack): one private copy of the C library per
// game (NetHack keeps all its state in globals), its own writable game folder, and
// observation buffers in C memory exposed as Go slices with NLE's shapes and dtypes. A TaskEnv
// is one of NLE's tasks on top of a Game (nle.env.tasks): known prompts answered for the agent,
// the task's reward and ending, the step limit. Both reproduce NLE observation for
// observation; the parity test compares them with Python NLE over thousands of steps. Env puts
// a TaskEnv behind Maestro's envs.Env API (Dicts, specs matching NLE's spaces), and CropTTY and
// NormalizeBlstats prepare observations for agents.
//
// NLE's files are found by FindInstall: an explicit folder, else $MAESTRO_NLE_DIR, else the
// cache folder that `make setup` fills.
//
// # Invariants
//
//   - Observation slices are views of C memory owned by the Game. They change on every Step
//     and Reset, stay valid across Reset, and become inaccessible after Close: the memory is
//     unmapped-and-reserved, so a stale read faults loudly instead of returning garbage.
//     Copy what you keep.
//   - A Game, TaskEnv or Env is driven by one goroutine at a time; a second goroutine gets
//     ErrConcurrentUse, never a data race. Different games are independent and may step in
//     parallel. Stepping is fastest from a goroutine locked to its OS thread
//     (runtime.LockOSThread), and on a machine whose every core steps a game, with GOMAXPROCS
//     one above the number of stepping goroutines.
//   - A game that is over is never stepped again (NetHack cannot resume past its end): Step
//     returns ErrDone until Reset. Every Reset loads a fresh copy of the library, so no state
//     leaks between games.
//   - Seeds set with SetInitialSeeds (or TaskEnv.Seed) apply to the next Reset only.
//   - Terminated and Truncated are kept apart; see Step.
//   - Errors from missing files, bad options and the C library are returned, never exit()ed:
//     the library is loaded with RTLD_DEEPBIND so that its fatal errors end the game, not the
//     process, and paths that would overflow the game's buffers are refused up front.
//   - GameBatch steps many games in one call into C and allocates nothing per step.
package nethack
