package envs

import (
	"fmt"

	"github.com/maestro-rl/maestro/tensordict"
)

// frameSkip repeats each action n times on a single env.
type frameSkip struct {
	wrapper
	n int
}

// FrameSkip repeats each action n times, summing the rewards and stopping early when the
// episode ends. It wraps single envs (batch shape []); wrap each child of a batched env.
func FrameSkip(n int) Transform {
	return func(env Env) (Env, error) {
		if n < 1 {
			return nil, fmt.Errorf("envs: FrameSkip needs n >= 1, got %d", n)
		}
		if len(env.BatchShape()) > 0 {
			return nil, fmt.Errorf("envs: FrameSkip wraps single envs; this one has batch shape %v: wrap its children", env.BatchShape())
		}
		return &frameSkip{wrapper{env, env.Specs()}, n}, nil
	}
}

func (f *frameSkip) Reset() (*tensordict.Dict, error) { return f.inner.Reset() }

func (f *frameSkip) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	total := 0.0
	cur := td
	for i := 0; i < f.n; i++ {
		var err error
		if cur, err = f.inner.Step(cur); err != nil {
			return nil, err
		}
		r, _ := cur.Get(next(KeyReward))
		total += r.At(0)
		done, _ := DoneMask(cur, true)
		if i == f.n-1 || done[0] {
			r.SetAt(0, total)
			break
		}
		nxt, err := cur.StepMDP(tensordict.StepMDPOptions{KeepAction: true})
		if err != nil {
			return nil, err
		}
		cur = nxt
	}
	nd, _ := cur.GetDict(KeyNext)
	if cur != td {
		if err := td.SetDict(KeyNext, nd); err != nil {
			return nil, err
		}
	}
	return td, nil
}
