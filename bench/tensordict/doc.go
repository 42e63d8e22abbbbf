// Command tdbench times tensordict.Dict operations for `make bench BENCH=tensordict`, the same
// operations and shapes as bench/tensordict/peer.py runs on PyTorch's TensorDict. It prints one
// line per op: "<op> <ns/op> <allocs/op>".
//
// # Invariants
//   - The last line it prints is the measurement's RESULT (or a per-side line that bench/run.sh summarises).
package main
