// Package nn is Maestro's neural-network engine: reverse-mode automatic differentiation over
// float32 arrays with explicit backward passes, layers, losses and optimizers, with BLAS
// underneath (nn/internal/blas) and element-wise, im2col, pooling and optimizer kernels in C
// that GCC vectorises (nn/internal/kern).
//
// Threads: by default OpenBLAS uses its own threads for products and the kernels run on the
// caller's goroutine. SetBLASThreads(n) instead runs OpenBLAS single-threaded and splits each
// large product or kernel across n goroutines (a fixed pool, nothing allocated per call). A
// graph made for acting can turn gradients off (Graph.SetNoGrad), as torch.no_grad does.
//
// A Graph records operations as a forward pass runs them and replays them backwards in
// Backward. It keeps every intermediate buffer between iterations: when the next forward pass
// records the same sequence of operations and shapes (the normal case for a fixed network),
// Reset rewinds the tape and the pass reuses the buffers, so a training step allocates nothing
// in steady state.
//
// # Invariants
//
//   - Values made by a Graph are valid until its next Reset; Params outlive graphs.
//   - Gradients accumulate: Backward adds into Param.Grad; call ZeroGrad (or the optimizer's
//     Step, which zeroes after updating) between steps.
//   - Shapes are checked when an operation is recorded; a mismatch there is a programming error
//     in the network and panics with both shapes, inside nn only: layers built from user input
//     check shapes at construction and return errors.
//   - A Graph is used by one goroutine at a time.
package nn
