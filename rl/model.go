package rl

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// KeyHidden is a recurrent model's state ([..., StateSize] float32): the state before the step
// at the root, the state after it under next. The collector carries it from next to the root
// and zeroes it where episodes start.
const KeyHidden = "hidden"

// Model is an actor-critic network with the code that reads its inputs from a Dict: what a
// Learner trains and a Policy acts with. A model holds the rows it last observed; it is used
// by one goroutine at a time.
type Model interface {
	// Params returns the parameters, in a fixed order.
	Params() []*nn.Param
	// StateSize is the recurrent state's size per env; 0 for a feedforward model.
	StateSize() int
	// Observe reads the model's inputs for rows of d (flat over its batch dims; all rows in
	// order when rows is nil) from the observations under prefix ("" or "next/"). Its errors
	// name the key and what it should be.
	Observe(d *tensordict.Dict, prefix string, rows []int) error
	// Step runs each observed row one step from its state (rows of h, [n, StateSize]; nil for a
	// feedforward model): logits [n, actions], values [n, 1] and the next states (nil for a
	// feedforward model).
	Step(g *nn.Graph, h []float32) (logits, value, next *nn.Value)
	// Unroll runs the observed rows as T steps of b envs (row t*b + j is env j's step t) from
	// the states h0 [b, StateSize], zeroing env j's state after each step t with ended[t*b+j]:
	// logits [T*b, actions] and values [T*b, 1]. A feedforward model ignores h0 and ended.
	Unroll(g *nn.Graph, T, b int, h0 []float32, ended []bool) (logits, value *nn.Value)
}

// Policy acts with a model: it samples actions and records, for learning, their
// log-probabilities (KeyLogProb), the values (KeyValue) and a recurrent model's next state
// (next/KeyHidden). It holds no optimizer and builds no gradients.
type Policy struct {
	m   Model
	rng *rand.Rand
	g   *nn.Graph
}

// NewPolicy returns a policy acting with m, sampling actions from rng.
func NewPolicy(m Model, rng *rand.Rand) *Policy {
	g := nn.NewGraph()
	g.SetNoGrad(true)
	return &Policy{m: m, rng: rng, g: g}
}

// Act samples actions for td's observations. A recurrent model reads its state under KeyHidden
// (zeros when absent).
func (p *Policy) Act(td *tensordict.Dict) error {
	if err := p.m.Observe(td, "", nil); err != nil {
		return err
	}
	n, H := rows(td), p.m.StateSize()
	var h []float32
	if H > 0 {
		h = make([]float32, n*H)
		if td.Has(KeyHidden) {
			v, err := tensordict.GetAs[float32](td, KeyHidden)
			if err != nil || len(v) != n*H {
				return fmt.Errorf("rl: %s must be float32 [%v, %d]: %v", KeyHidden, td.BatchShape(), H, err)
			}
			copy(h, v)
		}
	}
	g := p.g
	g.Reset()
	logits, value, next := p.m.Step(g, h)
	if H == 0 {
		return sampleInto(td, g, p.rng, logits, value)
	}
	hn := tensor.Zeros(tensor.Float32, append(td.BatchShape(), H)...)
	copy(tensor.MustData[float32](hn), next.Data)
	return errors.Join(sampleInto(td, g, p.rng, logits, value), td.Set(envs.NextKey(KeyHidden), hn))
}

// FeedForward is the Model of an nn.ActorCritic over vector observations under Key ([..., F]
// float32 per row).
type FeedForward struct {
	Net *nn.ActorCritic
	Key string
	in  []float32
	n   int
}

// NewFeedForward returns the model of net reading observations under key.
func NewFeedForward(net *nn.ActorCritic, key string) *FeedForward {
	return &FeedForward{Net: net, Key: key}
}

// Params returns the network's parameters.
func (m *FeedForward) Params() []*nn.Param { return m.Net.Params() }

// StateSize is 0: the model has no state.
func (m *FeedForward) StateSize() int { return 0 }

// Observe reads the observation rows.
func (m *FeedForward) Observe(d *tensordict.Dict, prefix string, pick []int) error {
	t, err := d.Get(prefix + m.Key)
	if err != nil {
		return fmt.Errorf("rl: the model reads float32 observations %q: %w", prefix+m.Key, err)
	}
	if t.DType() != tensor.Float32 {
		return fmt.Errorf("rl: observation %q is %v %v; the model reads float32 [..., features]", prefix+m.Key, t.DType(), t.Shape())
	}
	obs := tensor.MustData[float32](t)
	all := rows(d)
	if all == 0 || len(obs)%all != 0 {
		return fmt.Errorf("rl: observation %q holds %d values over %d rows", prefix+m.Key, len(obs), all)
	}
	f := len(obs) / all
	if pick == nil { // a copy: the rows of a later Observe are gathered into m.in
		m.in, m.n = append(m.in[:0], obs...), all
		return nil
	}
	m.in, m.n = resize(m.in, len(pick)*f), len(pick)
	for k, i := range pick {
		copy(m.in[k*f:(k+1)*f], obs[i*f:(i+1)*f])
	}
	return nil
}

// Step runs the network on the observed rows.
func (m *FeedForward) Step(g *nn.Graph, _ []float32) (logits, value, next *nn.Value) {
	logits, value = m.Net.Forward(g, g.Input(m.in, m.n, len(m.in)/max(m.n, 1)))
	return logits, value, nil
}

// Unroll runs the network on the observed rows.
func (m *FeedForward) Unroll(g *nn.Graph, _, _ int, _ []float32, _ []bool) (logits, value *nn.Value) {
	logits, value, _ = m.Step(g, nil)
	return logits, value
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
