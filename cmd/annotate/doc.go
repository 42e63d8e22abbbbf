// Command annotate runs Motif's offline pipeline: collect observations, draw caption pairs,
// label them with an LLM judge (any OpenAI-compatible server, or the embedded llama-server),
// inspect the labels and train the reward model that `train --reward motif` uses.
//
// # Invariants
//   - Every LLM answer is journaled before it is used, so a killed job loses nothing it was told.
//   - --out is checked (not a folder, writable) and numeric flags (finite, in range) before any work.
package main
