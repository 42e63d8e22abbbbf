// Package minihackagent holds the actor-critic for MiniHack's tasks and its rl.Model: the
// network of MiniHack's baseline agent in a size these CPUs train at 1e6 frames (glyph
// embeddings over the whole map and over the hero-centred crop, a bottom-line MLP, the message,
// a GRU core), and the code that turns MiniHack's observations (glyphs, glyphs_crop, blstats,
// message) into its inputs.
//
// # Invariants
//   - Model.Unroll over a batch's stored states reproduces what acting computed, step for step
//     (TestModelReplaysActing); parameter order and names are fixed, so saved weights load back.
//   - Observe errors name the missing key, its wrong size, and the env keys to make instead.
package minihackagent
