package collectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensordict"
)

// worker owns one Sync collector and runs it on its own goroutine, locked to an OS thread
// (what cgo envs want).
type worker struct {
	c    *Sync
	req  chan struct{}
	resp chan result
}

type result struct {
	batch  *tensordict.Dict
	worker int
	err    error
}

type pool struct {
	workers []*worker
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// newPool makes one Sync per env; postprocessing and buffer writes happen in Next, on the
// caller's goroutine, so Options.Postproc needs no locking.
func newPool(envList []envs.Env, policy func(worker int) envs.Policy, o Options) (*pool, error) {
	if len(envList) == 0 {
		return nil, errors.New("collectors: no envs")
	}
	wo := o
	// Splitting, postprocessing and buffer writes happen once, in the pool's Next.
	wo.Postproc, wo.Buffer, wo.TotalFrames, wo.SplitTrajs = nil, nil, 0, false
	// InitRandomFrames counts all workers' frames: each worker takes its share.
	wo.InitRandomFrames = (o.InitRandomFrames + len(envList) - 1) / len(envList)
	p := &pool{}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for i, e := range envList {
		wo.Seed = o.Seed + uint64(i)
		c, err := NewSync(e, policy(i), wo)
		if err != nil {
			p.cancel()
			return nil, fmt.Errorf("collectors: worker %d: %w", i, err)
		}
		w := &worker{c: c, req: make(chan struct{}), resp: make(chan result, 1)}
		p.workers = append(p.workers, w)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for {
				select {
				case <-p.ctx.Done():
					return
				case <-w.req:
					b, err := w.c.Next()
					select {
					case w.resp <- result{b, i, err}:
					case <-p.ctx.Done():
						return
					}
				}
			}
		}()
	}
	return p, nil
}

func (p *pool) close() error {
	p.cancel()
	p.wg.Wait()
	var errs []error
	for i, w := range p.workers {
		if err := w.c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// MultiSync runs one Sync collector per env on its own goroutine and returns their batches
// together, one per iteration: batch shape [workers, T] + the env's batch shape.
type MultiSync struct {
	p      *pool
	o      Options
	frames int
	parts  []*tensordict.Dict
	out    *tensordict.Dict
}

// NewMultiSync returns a collector over envList; policy(i) gives worker i's policy.
func NewMultiSync(envList []envs.Env, policy func(worker int) envs.Policy, o Options) (*MultiSync, error) {
	if o.SplitTrajs {
		return nil, errors.New("collectors: SplitTrajs with MultiSync is not supported (its batches are [workers, T, ...]); use Async, whose batches are [T, ...], or split each worker's row with SplitTrajectories in Postproc")
	}
	p, err := newPool(envList, policy, o)
	if err != nil {
		return nil, err
	}
	return &MultiSync{p: p, o: o, parts: make([]*tensordict.Dict, len(envList))}, nil
}

// SetPolicy gives worker i a new policy from its next batch on.
func (m *MultiSync) SetPolicy(i int, pol envs.Policy) { m.p.workers[i].c.SetPolicy(pol) }

// Frames returns the frames collected by all workers.
func (m *MultiSync) Frames() int { return m.frames }

// Next collects a batch from every worker in parallel and returns them stacked; io.EOF once
// TotalFrames have been collected.
func (m *MultiSync) Next() (*tensordict.Dict, error) {
	if m.o.TotalFrames > 0 && m.frames >= m.o.TotalFrames {
		return nil, io.EOF
	}
	for _, w := range m.p.workers {
		w.req <- struct{}{}
	}
	var errs []error
	for i, w := range m.p.workers {
		r := <-w.resp
		if r.err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, r.err))
		}
		m.parts[i] = r.batch
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("collectors: %w", err)
	}
	if m.out == nil {
		// After the first batch the workers write straight into their row of the result.
		m.out = tensordict.NewLike(m.parts[0], len(m.parts))
		for i, b := range m.parts {
			if err := m.out.SetAt(i, b); err != nil {
				return nil, fmt.Errorf("collectors: worker %d's batch: %w", i, err)
			}
			row, err := m.out.Index(i)
			if err != nil {
				return nil, err
			}
			if err := m.p.workers[i].c.runner.SetOutput(row); err != nil {
				return nil, err
			}
		}
	}
	m.frames += m.o.FramesPerBatch * len(m.parts)
	return finish(m.out, m.o, 1)
}

// Close stops the workers and closes their envs.
func (m *MultiSync) Close() error { return m.p.close() }

// Async runs one Sync collector per env continuously and returns whichever worker's batch is
// ready first. A worker collects its next batch while the caller works on the previous one.
type Async struct {
	p       *pool
	o       Options
	frames  int
	ready   chan result
	pending int
	last    int // the worker whose batch the caller holds, -1 if none
}

// NewAsync returns an asynchronous collector over envList; policy(i) gives worker i's policy.
func NewAsync(envList []envs.Env, policy func(worker int) envs.Policy, o Options) (*Async, error) {
	p, err := newPool(envList, policy, o)
	if err != nil {
		return nil, err
	}
	a := &Async{p: p, o: o, ready: make(chan result, len(envList)), last: -1}
	for _, w := range p.workers {
		a.request(w)
	}
	return a, nil
}

// request asks w for its next batch and forwards the answer to the shared ready channel.
func (a *Async) request(w *worker) {
	a.pending++
	w.req <- struct{}{}
	go func() {
		select {
		case r := <-w.resp:
			a.ready <- r
		case <-a.p.ctx.Done():
		}
	}()
}

// Next returns the next ready batch (batch shape [T] + the env's) and the worker that made
// it; the batch is valid until the next call. io.EOF once TotalFrames have been collected.
func (a *Async) Next() (*tensordict.Dict, int, error) {
	if a.last >= 0 { // the caller is done with the previous batch: its worker may go on
		a.request(a.p.workers[a.last])
		a.last = -1
	}
	if a.o.TotalFrames > 0 && a.frames >= a.o.TotalFrames {
		return nil, -1, io.EOF
	}
	r := <-a.ready
	a.pending--
	a.last = r.worker // asked again on the next call, also after an error (else Next would wait forever)
	if r.err != nil {
		return nil, r.worker, fmt.Errorf("collectors: worker %d: %w", r.worker, r.err)
	}
	a.frames += a.o.FramesPerBatch
	b, err := finish(r.batch, a.o, 0)
	return b, r.worker, err
}

// SetPolicy gives worker i a new policy from its next batch on.
func (a *Async) SetPolicy(i int, pol envs.Policy) { a.p.workers[i].c.SetPolicy(pol) }

// Close stops the workers and closes their envs.
func (a *Async) Close() error { return a.p.close() }
