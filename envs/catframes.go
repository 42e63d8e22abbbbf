package envs

import (
	"fmt"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// catFrames keeps the last n frames of an observation under a new key, shape [n] + the
// observation's shape (oldest first), in the Dict like the counters.
type catFrames struct {
	wrapper
	key, out string
	n        int
	spec     Spec
}

// CatFrames adds out: the last n values of observation key, stacked oldest first. At reset
// every slot holds the first frame.
func CatFrames(key, out string, n int) Transform {
	return func(env Env) (Env, error) {
		if n < 1 {
			return nil, fmt.Errorf("envs: CatFrames needs n >= 1, got %d", n)
		}
		specs := env.Specs()
		s, ok := specs.Observation.Get(key)
		if !ok {
			return nil, fmt.Errorf("envs: CatFrames: no observation %q; the env has %v", key, specs.Observation.Keys())
		}
		if _, dup := specs.Observation.Get(out); dup {
			return nil, fmt.Errorf("envs: CatFrames: the env already has an observation %q", out)
		}
		stacked := Unbounded{S: append([]int{n}, s.Shape()...), D: s.DType()}
		specs.Observation.Set(out, stacked)
		return &catFrames{wrapper: wrapper{env, specs}, key: key, out: out, n: n, spec: stacked}, nil
	}
}

// fill writes frame into all n slots of stack, for the batch elements selected by mask.
func (c *catFrames) fill(stack, frame *tensor.Tensor, batch []int, mask []bool) {
	fb, sb := frame.Bytes(), stack.Bytes()
	fl := len(fb) / max(prod(batch), 1)
	for b := 0; b < prod(batch); b++ {
		if mask != nil && !mask[b] {
			continue
		}
		for j := 0; j < c.n; j++ {
			copy(sb[(b*c.n+j)*fl:(b*c.n+j+1)*fl], fb[b*fl:(b+1)*fl])
		}
	}
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func (c *catFrames) Reset() (*tensordict.Dict, error) {
	td, err := c.inner.Reset()
	if err != nil {
		return nil, err
	}
	frame, err := td.Get(c.key)
	if err != nil {
		return nil, err
	}
	st := c.spec.Zero(td.BatchShape()...)
	c.fill(st, frame, td.BatchShape(), nil)
	return td, td.Set(c.out, st)
}

func (c *catFrames) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	batch := td.BatchShape()
	cur, err := td.Get(c.out)
	if err != nil {
		return nil, fmt.Errorf("envs: CatFrames: the Dict has no %q; start from Reset", c.out)
	}
	if td, err = c.inner.Step(td); err != nil {
		return nil, err
	}
	frame, err := td.Get(next(c.key))
	if err != nil {
		return nil, err
	}
	nd, _ := td.GetDict(KeyNext)
	nxt, err := nd.Get(c.out)
	if err != nil || !tensor.SameShape(nxt, cur) {
		nxt = c.spec.Zero(batch...)
		if err := nd.Set(c.out, nxt); err != nil {
			return nil, err
		}
	}
	fb, cb, nb := frame.Bytes(), cur.Bytes(), nxt.Bytes()
	fl := len(fb) / max(prod(batch), 1)
	for b := 0; b < prod(batch); b++ {
		base := b * c.n * fl
		copy(nb[base:base+(c.n-1)*fl], cb[base+fl:base+c.n*fl]) // drop the oldest
		copy(nb[base+(c.n-1)*fl:base+c.n*fl], fb[b*fl:(b+1)*fl])
	}
	return td, nil
}

func (c *catFrames) ResetSome(mask []bool, td *tensordict.Dict) error {
	if err := c.resetSome(mask, td); err != nil {
		return err
	}
	frame, err := td.Get(c.key)
	if err != nil {
		return err
	}
	st, err := td.Get(c.out)
	if err != nil {
		return err
	}
	c.fill(st, frame, td.BatchShape(), mask)
	return nil
}
