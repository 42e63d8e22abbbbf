// Package minihack runs MiniHack's tasks (Samvelyan et al., 2021) on the real NetHack through
// envs/nethack: small levels written in NetHack's des-file language, compiled by NLE's own
// lev_comp into an nhdat of their own that each game links to, with MiniHack's actions,
// options, endings and observations (the crops around the hero).
//
// A task is a TaskSpec: a level (des text, usually built with LevelGenerator) and how it is
// played. The registered tasks carry MiniHack 1.0.2's names (TaskNames); Register adds more.
//
// # Invariants
//
//   - The same des text and NLE files give the same nhdat, compiled once (Compile caches it by
//     content) and shared read-only by every game.
//   - An episode ends terminated on reaching the goal (NLE's staircase rule) or on the game's
//     end, truncated at the step limit, as in envs/nethack.
//   - Observations, rewards and endings equal Python MiniHack 1.0.2's for the same level, seeds
//     and actions (the parity test).
package minihack
