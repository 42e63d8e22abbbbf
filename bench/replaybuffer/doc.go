// Command rbbench times replay-buffer operations for `make bench BENCH=replaybuffer`, the grid
// of TorchRL's replay-buffer benchmark (bench/replaybuffer/peer.py runs it on TorchRL): sample
// of 256 over {memory, mmap} storage x {uniform, without replacement, slice} with items
// a:[5] float32 + b/c:[3,32,32] uint8 in a 10k buffer, extend of 400, and prioritized sampling of
// 65,536 at 1M capacity (items a:[5]). Each sample case runs twice: Sample (a fresh batch) and
// SampleInto (into a recycled one, "_into"). Prints "<case> <ns/op> <allocs/op>", then the
// memcpy reference of the largest sample: "memcpy_gather256".
//
// # Invariants
//   - The last line it prints is the measurement's RESULT (or a per-side line that bench/run.sh summarises).
package main
