// Command annotate benchmarks labelling throughput against the embedded llama-server: Maestro's
// annotator (identical captions tied unasked, distinct pairs deduplicated, answers cached in
// the journal, 2 requests in flight) against one request at a time with no deduplication or
// cache (every pair asked in both orders, as the annotator does), on 200 pairs whose captions
// repeat the way a NetHack agent's messages do. Both sides label in scored mode with the same
// template. It prints one line per side: "<side> pairs_per_s=<x> requests=<n> seconds=<s>".
//
// # Invariants
//   - The last line it prints is the measurement's RESULT (or a per-side line that bench/run.sh summarises).
package main
