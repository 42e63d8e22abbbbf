// Package cartpole is the classic cart-pole balancing task with Gymnasium CartPole-v1's
// dynamics (Euler integration, same constants, thresholds and 500-step limit), in pure Go, for
// fast learning tests.
//
// # Invariants
//   - The same Seed gives the same episodes: the initial state is drawn from the env's own
//     generator only.
//   - Every step pays reward 1; an episode terminates when the pole passes 12 degrees or the cart
//     leaves [-2.4, 2.4], and is truncated (not terminated) after MaxSteps (500 by default).
package cartpole
