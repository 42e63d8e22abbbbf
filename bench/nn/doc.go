// Command nnbench times nn's training and acting steps for `make bench BENCH=nn`, beside
// bench/nn/peer.py (the same networks in PyTorch, 2 threads): the Motif reward-model training
// step (MAESTRO_RM_PAIRS pairs, default 1024), the NetHack agent's forward pass at batch 32,
// its forward+backward over a [32 x 64] sequence batch (32 steps of 64 envs through the GRU),
// and an MLP 512-512-16 training step at batch 256. Prints "<case> <ms/op> <allocs/op>".
//
// # Invariants
//   - The last line it prints is the measurement's RESULT (or a per-side line that bench/run.sh summarises).
package main
