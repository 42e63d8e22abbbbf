// Package motif implements Motif (Klissarov et al., 2023): captions of NetHack observations,
// pair datasets, preference annotation by an LLM, the reward model trained on those
// preferences, and the intrinsic reward it gives an RL agent (reference/motif.md), with
// MaestroMotif's transition pairs and diffstats reward model.
//
// # Invariants
//   - Every file is written whole and renamed into place (datasets, model files, provenance);
//     the answer journal is append-only, each answer one line written through at once, and a
//     torn last line is dropped on reopening, so a killed annotation job loses at most the
//     requests in flight.
//   - Annotate never sends a request whose answer is in the journal (same model, template,
//     goal, mode and ordered captions), and never asks about identical captions.
//   - Journal is safe for concurrent use. RewardModel.Score and Intrinsic are not (they reuse
//     one graph and keep per-env counts): one Intrinsic per collector.
//   - Dataset and model files carry a kind or architecture and a format version; readers refuse
//     others with an error that says how to make the right one.
package motif
