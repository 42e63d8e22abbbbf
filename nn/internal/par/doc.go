// Package par runs the parts of one split kernel on a fixed set of goroutines without
// allocating: the tasks are values of one concrete type sent over a channel, and each call's
// completion is a WaitGroup from the pool's free list.
//
// # Invariants
//
//   - A Pool's goroutines live until Close; Do may be called from several goroutines at once.
//   - Do returns after every task it was given has run.
package par
