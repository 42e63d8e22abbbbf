package par

import "sync"

// MaxWorkers bounds a pool's size (callers keep their tasks in arrays of this length).
const MaxWorkers = 16

type job[T any] struct {
	t  T
	wg *sync.WaitGroup
}

// Pool runs tasks of type T with run.
type Pool[T any] struct {
	run   func(T)
	tasks chan job[T]
	n     int
	wgs   chan *sync.WaitGroup // free WaitGroups (a sync.Pool would lose them at each GC)
}

// New returns a pool of n workers (the caller of Do is one of them: n-1 goroutines start), n
// clamped to [1, MaxWorkers].
func New[T any](n int, run func(T)) *Pool[T] {
	n = min(max(n, 1), MaxWorkers)
	p := &Pool[T]{run: run, tasks: make(chan job[T], n), n: n, wgs: make(chan *sync.WaitGroup, 4*MaxWorkers)}
	for range cap(p.wgs) {
		p.wgs <- new(sync.WaitGroup)
	}
	for range n - 1 {
		go func() {
			for j := range p.tasks {
				p.run(j.t)
				j.wg.Done()
			}
		}()
	}
	return p
}

// Workers returns the pool's size.
func (p *Pool[T]) Workers() int { return p.n }

// Do runs ts[0] on the calling goroutine and the others on the pool, and returns when all
// have finished.
func (p *Pool[T]) Do(ts []T) {
	if len(ts) == 0 {
		return
	}
	var wg *sync.WaitGroup
	select {
	case wg = <-p.wgs:
	default: // more calls at once than free WaitGroups
		wg = new(sync.WaitGroup)
	}
	wg.Add(len(ts) - 1)
	for i := 1; i < len(ts); i++ {
		p.tasks <- job[T]{ts[i], wg}
	}
	p.run(ts[0])
	wg.Wait()
	select {
	case p.wgs <- wg:
	default:
	}
}

// Close stops the pool's goroutines once the tasks sent have run; Do must not be called after.
func (p *Pool[T]) Close() { close(p.tasks) }
