// Package replaytest checks that a recurrent rl.Model's Unroll replays what acting computed:
// the agents' shared test of recurrent state (collect a batch, replay it from the stored
// states with and without the episode resets, then one update with ratios of exactly 1).
package replaytest
