// Package nledl loads private copies of NLE's libnethack.so and drives them through cgo.
//
// It is the only place in Maestro that talks to the C library. Each Lib is one game instance:
// a memfd copy of the library loaded with RTLD_DEEPBIND, a settings struct, and observation
// buffers in one C mapping that lives as long as the Lib.
//
// # Invariants
//
//   - A Lib must be used by one goroutine at a time; the methods do not lock.
//   - The slices returned by Buffers alias C memory. They stay valid across Start (the library
//     keeps writing into the same buffers) and become inaccessible after Free: a read through a
//     stale slice faults loudly rather than returning garbage.
//   - No Go callback is ever called from C: the game runs on its own C stack.
package nledl
