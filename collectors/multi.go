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
	req  chan request
	resp chan result
}

// request asks a worker for a batch: acting with policy (the policy in force when the batch
// was asked for), written into out when it is not nil.
type request struct {
	policy envs.Policy
	out    *tensordict.Dict
}

type result struct {
	batch  *tensordict.Dict
	out    *tensordict.Dict // the buffer asked for (nil: the worker's own)
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
// caller's goroutine, so Options.Postproc needs no locking. Workers answer on their own
// channel, or all on shared when it is not nil.
func newPool(envList []envs.Env, policy func(worker int) envs.Policy, o Options, shared chan result) (*pool, error) {
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
		c.runner.KeepOutputs(1 + o.RunAhead) // MultiSync's buffers, used in turn
		w := &worker{c: c, req: make(chan request, 1+o.RunAhead), resp: shared}
		if shared == nil {
			w.resp = make(chan result, 1+o.RunAhead)
		}
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
				case r := <-w.req:
					if p.ctx.Err() != nil { // closing: do not start a batch asked for earlier
						return
					}
					var b *tensordict.Dict
					var err error
					if r.out != nil {
						err = w.c.runner.SetOutput(r.out)
					}
					if err == nil {
						b, err = w.c.next(r.policy)
					}
					select {
					case w.resp <- result{b, r.out, i, err}:
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
	p        *pool
	o        Options
	frames   int
	parts    []*tensordict.Dict
	outs     []*tensordict.Dict   // the batch buffers, used in turn (1 + Options.RunAhead)
	rows     [][]*tensordict.Dict // their rows, one per worker
	cur      int                  // the index in outs of the next batch to return
	askAt    int                  // the index in outs of the next batch to ask for
	inflight int                  // batches asked for and not yet received
}

// NewMultiSync returns a collector over envList; policy(i) gives worker i's policy.
func NewMultiSync(envList []envs.Env, policy func(worker int) envs.Policy, o Options) (*MultiSync, error) {
	if o.SplitTrajs {
		return nil, errors.New("collectors: SplitTrajs with MultiSync is not supported (its batches are [workers, T, ...]); use Async, whose batches are [T, ...], or split each worker's row with SplitTrajectories in Postproc")
	}
	p, err := newPool(envList, policy, o, nil)
	if err != nil {
		return nil, err
	}
	return &MultiSync{p: p, o: o, parts: make([]*tensordict.Dict, len(envList))}, nil
}

// SetPolicy gives worker i a new policy from its next batch on (with Options.RunAhead, from
// the batch after the one it is collecting).
func (m *MultiSync) SetPolicy(i int, pol envs.Policy) { m.p.workers[i].c.SetPolicy(pol) }

// Frames returns the frames collected by all workers.
func (m *MultiSync) Frames() int { return m.frames }

// Next collects a batch from every worker in parallel and returns them stacked; io.EOF once
// TotalFrames have been collected. With Options.RunAhead each worker goes on to its next
// batches as soon as it has finished one, into the buffers the caller has given back by calling
// Next.
func (m *MultiSync) Next() (*tensordict.Dict, error) {
	if m.o.TotalFrames > 0 && m.frames >= m.o.TotalFrames {
		return nil, io.EOF
	}
	if m.inflight == 0 {
		m.ask()
	}
	for m.outs != nil && m.inflight < len(m.outs) && m.more() {
		m.ask() // into the buffer of the batch Next returned last time, given back now
	}
	var errs []error
	for i, w := range m.p.workers {
		r := <-w.resp
		if r.err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, r.err))
		}
		m.parts[i] = r.batch
	}
	m.inflight--
	if err := errors.Join(errs...); err != nil {
		if m.outs != nil { // this buffer's batch is spent: the next one comes from the next buffer
			m.cur = (m.cur + 1) % len(m.outs)
		}
		return nil, fmt.Errorf("collectors: %w", err)
	}
	first := m.outs == nil
	if first {
		// From the second batch on the workers write straight into their row of a buffer.
		for k := 0; k <= m.o.RunAhead; k++ {
			out := tensordict.NewLike(m.parts[0], len(m.parts))
			rows, err := out.Unbind()
			if err != nil {
				return nil, err
			}
			m.outs, m.rows = append(m.outs, out), append(m.rows, rows)
		}
		for i, b := range m.parts {
			if err := m.outs[0].SetAt(i, b); err != nil {
				return nil, fmt.Errorf("collectors: worker %d's batch: %w", i, err)
			}
		}
		m.cur, m.askAt = 0, 1%len(m.outs)
	}
	out := m.outs[m.cur]
	m.cur = (m.cur + 1) % len(m.outs)
	m.frames += m.o.FramesPerBatch * len(m.parts)
	for first && m.inflight < len(m.outs)-1 && m.more() {
		m.ask() // the other buffers are free: the next batches start now, as later ones will
	}
	return finish(out, m.o, 1)
}

// more reports whether TotalFrames leave room for another batch after those in flight.
func (m *MultiSync) more() bool {
	return m.o.TotalFrames == 0 || m.frames+m.inflight*m.o.FramesPerBatch*len(m.parts) < m.o.TotalFrames
}

// ask starts every worker on a batch into outs[askAt] (their own buffers before the first
// batch).
func (m *MultiSync) ask() {
	for i, w := range m.p.workers {
		r := request{policy: w.c.currentPolicy()}
		if m.rows != nil {
			r.out = m.rows[m.askAt][i]
		}
		w.req <- r
	}
	if m.outs != nil {
		m.askAt = (m.askAt + 1) % len(m.outs)
	}
	m.inflight++
}

// Close stops the workers and closes their envs.
func (m *MultiSync) Close() error { return m.p.close() }

// Async runs one Sync collector per env continuously and returns whichever worker's batch is
// ready first. The other workers go on while the caller works on a batch; its own worker waits
// for it to be given back (the next call), unless Options.RunAhead n lets it collect up to n
// batches beyond it into buffers of its own.
type Async struct {
	p       *pool
	o       Options
	frames  int
	ready   chan result
	pending int     // batches asked for and not yet returned by Next
	held    *result // the batch the caller holds, given back on the next call
	spares  []bool  // per worker: its RunAhead buffers exist
}

// NewAsync returns an asynchronous collector over envList; policy(i) gives worker i's policy.
func NewAsync(envList []envs.Env, policy func(worker int) envs.Policy, o Options) (*Async, error) {
	ready := make(chan result, len(envList)*(1+o.RunAhead))
	p, err := newPool(envList, policy, o, ready)
	if err != nil {
		return nil, err
	}
	a := &Async{p: p, o: o, ready: ready, spares: make([]bool, len(envList))}
	for i := range p.workers {
		a.request(i, nil)
	}
	return a, nil
}

// request asks worker i for a batch into out (nil: its own buffer), with the policy in force
// now, unless the batches asked for already reach TotalFrames.
func (a *Async) request(i int, out *tensordict.Dict) {
	if a.o.TotalFrames > 0 && a.frames+a.pending*a.o.FramesPerBatch >= a.o.TotalFrames {
		return
	}
	a.pending++
	w := a.p.workers[i]
	w.req <- request{policy: w.c.currentPolicy(), out: out}
}

// Next returns the next ready batch (batch shape [T] + the env's batch shape) and the worker
// that made it; the batch is valid until the next call. io.EOF once TotalFrames have been
// collected.
func (a *Async) Next() (*tensordict.Dict, int, error) {
	if h := a.held; h != nil { // the caller is done with the previous batch: its buffer is free
		a.held = nil
		out := h.out
		if out == nil {
			out = h.batch // the worker's own buffer, named from now on (nil after a failed first batch)
		}
		a.request(h.worker, out)
	}
	if a.o.TotalFrames > 0 && a.frames >= a.o.TotalFrames {
		return nil, -1, io.EOF
	}
	r := <-a.ready
	a.pending--
	a.held = &r // asked again on the next call, also after an error (else Next would wait forever)
	if r.err != nil {
		return nil, r.worker, fmt.Errorf("collectors: worker %d: %w", r.worker, r.err)
	}
	a.frames += a.o.FramesPerBatch // before asking for more: TotalFrames counts this batch
	if !a.spares[r.worker] && a.o.RunAhead > 0 {
		// The worker's first batch gives its structure: RunAhead more buffers like it, asked
		// for now, so the worker goes on while the caller holds this one.
		a.spares[r.worker] = true
		for range a.o.RunAhead {
			a.request(r.worker, r.batch.Clone())
		}
	}
	b, err := finish(r.batch, a.o, 0)
	return b, r.worker, err
}

// Frames returns the frames of the batches Next has returned.
func (a *Async) Frames() int { return a.frames }

// SetFrames sets the frame count (restoring a checkpoint: TotalFrames counts from it).
func (a *Async) SetFrames(n int) { a.frames = n }

// SetPolicy gives worker i a new policy from its next batch on.
func (a *Async) SetPolicy(i int, pol envs.Policy) { a.p.workers[i].c.SetPolicy(pol) }

// Close stops the workers and closes their envs.
func (a *Async) Close() error { return a.p.close() }
