// Package rl holds the learning algorithms: value estimators as pure functions over time-major
// arrays (GAE, TD(0), TD(lambda), V-trace, checked against TorchRL), the typed Batch an update
// reads, the Model interface (observe a Dict's rows, step, unroll sequences) with FeedForward
// for vector observations, one Learner (PPO, A2C, APPO) that is also the collecting policy, and
// a Policy that acts without an optimizer. Networks over a particular env's observations live
// above rl (agents/nethackagent for NetHack).
//
// # Layout
//
// Every [T][B] array is time-major and row-major: element (t, b) is at index t*B + b, where T
// is the number of steps and B the number of environments.
//
// # Invariants
//   - Options mean what they say, zero included; NewLearner refuses Options
//     that fail Validate, naming the field and its range.
//   - An update reads its batch through NewBatch: a missing key or a column of another dtype
//     or shape is an error naming it, never a panic.
//   - An update whose gradient is not finite takes no optimizer step and says which parameter
//     broke.
//   - Snapshot and Restore carry the parameters, Adam's state and the sampling generator, so a
//     restored learner continues bit-exactly.
//   - Acting (Act) never touches the optimizer and builds no gradients.
package rl
