// Package envtest checks that an environment keeps the envs contract, like TorchRL's
// check_env_specs: every output lies in the specs, the done flags agree, and outputs do not
// alias the env's internal buffers.
//
// # Invariants
//   - Check only reads what the env returns and steps it with actions drawn from its action
//     spec; a failure names the key, the step and what broke.
package envtest
