// Package envs defines Maestro's environment API in TorchRL's manner: environments take and
// return tensordict.Dicts, describe themselves with specs, and compose through wrappers
// (transforms) and batched containers.
//
// A step's Dict: the root holds the current observation and the action; Step adds "next"
// holding the next observation, "reward", "done", "terminated" and "truncated". StepMDP moves
// "next" to the root for the following step. done = terminated OR truncated; terminated means
// the state is terminal (no bootstrapping), truncated means the episode was cut short (bootstrap
// from the next observation). The two are never merged.
//
// # Invariants
//
//   - Reset returns a new Dict of the env's batch shape with the observation keys and the three
//     done flags (all false after a full reset).
//   - Step reads td's "action", writes td's "next" and returns td. When td already holds a
//     "next" Dict with the right keys and shapes (a preallocated buffer), Step writes into it in
//     place; otherwise it sets a new one. Observations returned never alias env-internal
//     buffers: a Dict stays valid after later steps.
//   - An Env is driven by one goroutine at a time. Batched envs (Serial, Parallel) step their
//     children themselves and may use goroutines inside; their calls look synchronous.
//   - Envs whose batch shape is empty are single envs; Step after an episode ended is an error
//     until Reset. Batched envs reset finished children through ResetSome.
package envs
