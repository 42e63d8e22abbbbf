package envs

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/maestro-rl/maestro/tensordict"
)

// Batched runs several environments of identical specs as one env of batch shape
// [N] + the children's batch shape. Step hands each child a view of its row of the caller's
// Dict, so children write their results straight into the batch (no copies, no per-step
// allocation once "next" exists). Serial steps the children one after another; Parallel
// steps each on its own goroutine, locked to an OS thread (what cgo envs such as NetHack
// want), and returns when all are done.
type Batched struct {
	children []Env
	specs    Specs
	batch    []int
	workers  []chan func()
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	errs     []error
}

// Serial batches children, stepped one after another in the caller's goroutine.
func Serial(children ...Env) (*Batched, error) { return newBatched(children, false) }

// Parallel batches children, each stepped on its own goroutine. Close stops the goroutines.
func Parallel(children ...Env) (*Batched, error) { return newBatched(children, true) }

func newBatched(children []Env, parallel bool) (*Batched, error) {
	if len(children) == 0 {
		return nil, errors.New("envs: a batched env needs at least one child")
	}
	specs := children[0].Specs()
	cb := children[0].BatchShape()
	for i, c := range children[1:] {
		if err := sameSpecs(specs, c.Specs()); err != nil {
			return nil, fmt.Errorf("envs: child %d's specs differ from child 0's: %w", i+1, err)
		}
		if !slices.Equal(c.BatchShape(), cb) {
			return nil, fmt.Errorf("envs: child %d has batch shape %v, child 0 has %v", i+1, c.BatchShape(), cb)
		}
	}
	b := &Batched{children: slices.Clone(children), specs: specs, batch: append([]int{len(children)}, cb...),
		errs: make([]error, len(children))}
	if parallel {
		ctx, cancel := context.WithCancel(context.Background())
		b.cancel = cancel
		b.workers = make([]chan func(), len(children))
		for i := range children {
			ch := make(chan func())
			b.workers[i] = ch
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				for {
					select {
					case f := <-ch:
						f()
					case <-ctx.Done():
						return
					}
				}
			}()
		}
	}
	return b, nil
}

func sameSpecs(a, b Specs) error {
	if !slices.Equal(a.Observation.Keys(), b.Observation.Keys()) {
		return fmt.Errorf("observation keys %v vs %v", a.Observation.Keys(), b.Observation.Keys())
	}
	for _, k := range a.Observation.Keys() {
		sa, _ := a.Observation.Get(k)
		sb, _ := b.Observation.Get(k)
		if sa.DType() != sb.DType() || !slices.Equal(sa.Shape(), sb.Shape()) {
			return fmt.Errorf("observation %q is %v%v vs %v%v", k, sa.DType(), sa.Shape(), sb.DType(), sb.Shape())
		}
	}
	if a.Action.DType() != b.Action.DType() || !slices.Equal(a.Action.Shape(), b.Action.Shape()) {
		return fmt.Errorf("action %v%v vs %v%v", a.Action.DType(), a.Action.Shape(), b.Action.DType(), b.Action.Shape())
	}
	return nil
}

// Specs returns the children's specs.
func (b *Batched) Specs() Specs { return b.specs.Clone() }

// BatchShape returns [N] + the children's batch shape.
func (b *Batched) BatchShape() []int { return slices.Clone(b.batch) }

// Children returns the wrapped envs.
func (b *Batched) Children() []Env { return slices.Clone(b.children) }

// each runs f(i) for every selected child, in parallel when b is Parallel, and joins errors.
func (b *Batched) each(sel []bool, f func(i int) error) error {
	if b.workers == nil {
		for i := range b.children {
			if sel == nil || sel[i] {
				if err := f(i); err != nil {
					return fmt.Errorf("envs: child %d: %w", i, err)
				}
			}
		}
		return nil
	}
	for i := range b.children {
		b.errs[i] = nil
		if sel == nil || sel[i] {
			b.wg.Add(1)
			b.workers[i] <- func() {
				defer b.wg.Done()
				b.errs[i] = f(i)
			}
		}
	}
	b.wg.Wait()
	for i, err := range b.errs {
		if err != nil {
			return fmt.Errorf("envs: child %d: %w", i, err)
		}
	}
	return nil
}

// Reset resets every child and stacks their first observations.
func (b *Batched) Reset() (*tensordict.Dict, error) {
	outs := make([]*tensordict.Dict, len(b.children))
	if err := b.each(nil, func(i int) error {
		var err error
		outs[i], err = b.children[i].Reset()
		return err
	}); err != nil {
		return nil, err
	}
	return tensordict.Stack(outs)
}

// Step steps every child on its row of td.
func (b *Batched) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	if !slices.Equal(td.BatchShape(), b.batch) {
		return nil, fmt.Errorf("envs: step of a batch %v with a Dict of batch %v", b.batch, td.BatchShape())
	}
	a, err := td.Get(KeyAction)
	if err != nil {
		return nil, fmt.Errorf("envs: step: %w", err)
	}
	if err := b.specs.Action.IsIn(a, b.batch); err != nil {
		return nil, fmt.Errorf("envs: action: %w", err)
	}
	// Every child then writes into its row of td's "next".
	if n, inPlace := nextDict(td, b.specs, b.batch); !inPlace {
		if err := td.SetDict(KeyNext, n); err != nil {
			return nil, err
		}
	}
	rows, err := td.Unbind()
	if err != nil {
		return nil, err
	}
	if err := b.each(nil, func(i int) error {
		_, err := b.children[i].Step(rows[i])
		return err
	}); err != nil {
		return nil, err
	}
	return td, nil
}

// ResetSome resets the children whose mask entry is set and writes their observations and
// cleared done flags into td's rows.
func (b *Batched) ResetSome(mask []bool, td *tensordict.Dict) error {
	if len(mask) != b.batch[0] {
		return fmt.Errorf("envs: reset mask of %d for %d envs", len(mask), b.batch[0])
	}
	return b.each(mask, func(i int) error {
		obs, err := b.children[i].Reset()
		if err != nil {
			return err
		}
		return td.SetAt(i, obs)
	})
}

// Close closes every child and stops the worker goroutines; it returns the first error.
func (b *Batched) Close() error {
	var first error
	if b.workers != nil {
		first = b.each(nil, func(i int) error { return b.children[i].Close() })
		b.cancel()
		b.workers = nil
		return first
	}
	for i, c := range b.children {
		if err := c.Close(); err != nil && first == nil {
			first = fmt.Errorf("envs: child %d: %w", i, err)
		}
	}
	return first
}
