package rl

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensordict"
)

// gruModel is a small recurrent actor-critic over CartPole's observation: tanh(Linear 4->16),
// a GRU of 8, linear heads; Unroll projects every step's input in one product (nn.GRUUnroll),
// as the NetHack and MiniHack agents do.
type gruModel struct {
	in, pi, v *nn.LinearLayer
	core      *nn.GRUCell
	u         nn.GRUUnroll
	obs       []float32
	n         int
}

func newGRUModel(seed uint64) *gruModel {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &gruModel{}
	m.in, _ = nn.NewLinear("in", 4, 16, rng)
	m.core, _ = nn.NewGRUCell("core", 16, 8, rng)
	m.pi, _ = nn.NewLinear("pi", 8, 2, rng)
	m.v, _ = nn.NewLinear("v", 8, 1, rng)
	return m
}

func (m *gruModel) Params() []*nn.Param {
	return append(append(append(m.in.Params(), m.core.Params()...), m.pi.Params()...), m.v.Params()...)
}

func (m *gruModel) StateSize() int { return 8 }

func (m *gruModel) Observe(d *tensordict.Dict, prefix string, rows []int) error {
	x, err := tensordict.GetAs[float32](d, prefix+cartpole.KeyObservation)
	if err != nil {
		return err
	}
	if rows == nil {
		m.obs, m.n = append(m.obs[:0], x...), len(x)/4
		return nil
	}
	m.obs, m.n = m.obs[:0], len(rows)
	for _, i := range rows {
		m.obs = append(m.obs, x[4*i:4*i+4]...)
	}
	return nil
}

func (m *gruModel) Step(g *nn.Graph, h []float32) (logits, value, next *nn.Value) {
	x := g.Tanh(m.in.Forward(g, g.Input(m.obs, m.n, 4)))
	next = m.core.Forward(g, x, g.Input(h, m.n, 8))
	return m.pi.Forward(g, next), m.v.Forward(g, next), next
}

func (m *gruModel) Unroll(g *nn.Graph, T, b int, h0 []float32, ended []bool) (logits, value *nn.Value) {
	x := g.Tanh(m.in.Forward(g, g.Input(m.obs, m.n, 4)))
	hs := m.u.Run(g, m.core, m.core.InputProjection(g, x), T, b, h0, ended)
	return m.pi.Forward(g, hs), m.v.Forward(g, hs)
}

// TestAPPOFusedPass: APPO with one epoch of one minibatch runs the network forward once for
// V-trace's pi and the loss; the update must equal the one with V-trace's own pass before it,
// for a recurrent model (episodes ending inside the batch) and a feedforward one, with and
// without RecomputeValues.
func TestAPPOFusedPass(t *testing.T) {
	const T, B = 32, 4
	batchOf := func(policy envs.Policy) *tensordict.Dict {
		var children []envs.Env
		for i := range B {
			c, err := cartpole.NewEnv(cartpole.Options{Seed: uint64(30 + i)})
			if err != nil {
				t.Fatal(err)
			}
			children = append(children, c)
		}
		b, _ := envs.Serial(children...)
		col, err := collectors.NewSync(b, policy, collectors.Options{FramesPerBatch: T * B})
		if err != nil {
			t.Fatal(err)
		}
		defer col.Close()
		batch, err := col.Next()
		if err != nil {
			t.Fatal(err)
		}
		return batch
	}
	for _, recurrent := range []bool{true, false} {
		for _, recompute := range []bool{false, true} {
			learner := func() *Learner {
				o := DefaultOptions(APPO)
				o.Minibatches, o.Seed, o.RecomputeValues, o.LR = 1, 5, recompute, 1e-2
				var m Model = newGRUModel(3)
				if !recurrent {
					net, _ := nn.NewActorCritic(4, 2, 16, rand.New(rand.NewPCG(3, 3)))
					m = NewFeedForward(net, cartpole.KeyObservation)
				}
				p, err := NewLearner(m, o)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			batch := batchOf(learner())
			if recurrent {
				ended := 0
				for _, d := range must(tensordict.GetAs[bool](batch, envs.NextKey(envs.KeyDone))) {
					if d {
						ended++
					}
				}
				if ended == 0 {
					t.Fatal("no episode ends inside the batch: the test would not cover the state resets")
				}
			}
			update := func(fuse bool) *Learner {
				fuseAPPO = fuse
				defer func() { fuseAPPO = true }()
				p := learner()
				for range 3 { // later updates start from different weights than acting's
					if err := p.Update(batch.Clone()); err != nil {
						t.Fatal(err)
					}
				}
				return p
			}
			fused, separate := update(true), update(false)
			for i, p := range fused.Params() {
				q := separate.Params()[i]
				for j := range p.Data {
					if d := math.Abs(float64(p.Data[j] - q.Data[j])); d > 1e-6*(1+math.Abs(float64(q.Data[j]))) {
						t.Fatalf("recurrent=%v recompute=%v: %s[%d] = %v fused, %v with V-trace's own pass", recurrent, recompute, p.Name, j, p.Data[j], q.Data[j])
					}
				}
			}
			for i, f := range fused.Stats.Named() {
				s := separate.Stats.Named()[i]
				if math.Abs(f.Value-s.Value) > 1e-5*(1+math.Abs(s.Value)) {
					t.Errorf("recurrent=%v recompute=%v: %s %v fused, %v separate", recurrent, recompute, f.Name, f.Value, s.Value)
				}
			}
			// The same random draws: the next draw of the learner's generator (the minibatch
			// order; the policy's sampling shares it) is the same.
			if a, b := fused.rng.Uint64(), separate.rng.Uint64(); a != b {
				t.Errorf("recurrent=%v recompute=%v: the learner's generator drew differently (next draw %d fused, %d separate)", recurrent, recompute, a, b)
			}
		}
	}
}
