// Package collectors run policies in environments and hand out batches of experience:
// Sync over one (batched) env, MultiSync over several workers that return one batch per
// iteration, and Async that returns each worker's batch as soon as it is ready.
//
// A batch has batch shape [T] + the env's batch shape (time first) and holds, per step, the
// root (observation, action, recurrent state) and "next" of envs.Rollout. Recurrent state named
// in Options.StateKeys is carried from step to step and batch to batch, and zeroed exactly where
// an episode starts; the state at each step's root is in the batch, so a learner can replay a
// segment from its first step's state.
//
// # Invariants
//
//   - Batches are written into buffers preallocated at the first batch and recycled: a batch
//     returned by Next is valid until the next call to Next (Clone what you keep).
//   - Collectors are driven by one goroutine. MultiSync and Async run one goroutine per worker
//     (tied to a context); Close stops them and returns once they have.
//   - Policies used by several workers at once must be safe for concurrent use; NewMultiSync
//     and NewAsync take a function that makes one policy per worker to avoid sharing.
package collectors
