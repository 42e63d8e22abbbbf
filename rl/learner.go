package rl

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Keys the learner's policy writes at the root of each step.
const (
	KeyLogProb = "sample_log_prob"
	KeyValue   = "state_value"
)

// Algo names an update: how advantages and targets are estimated and which objective is
// minimised.
type Algo string

// The updates of a Learner and an AgentLearner.
const (
	// PPO: GAE advantages, clipped surrogate, several epochs of minibatches.
	PPO Algo = "ppo"
	// A2C: GAE advantages, plain policy gradient, one pass over the whole batch.
	A2C Algo = "a2c"
	// APPO: sample-factory's asynchronous PPO: V-trace targets and advantages (correcting for
	// the policy lag between acting and learning), clipped surrogate, one epoch.
	APPO Algo = "appo"
)

// ParseAlgo reads an algorithm's name (ppo, a2c, appo; any case).
func ParseAlgo(name string) (Algo, error) {
	switch a := Algo(strings.ToLower(name)); a {
	case PPO, A2C, APPO:
		return a, nil
	}
	return "", fmt.Errorf("rl: unknown algorithm %q; use %s, %s or %s", name, PPO, A2C, APPO)
}

// Options configure a Learner or an AgentLearner. Every field means what it says, zero
// included (Lambda 0 is TD(0), EntropyCoef 0 no entropy bonus, MaxGradNorm 0 no clipping);
// start from DefaultOptions or MotifOptions and change what differs. Validate reports a field
// out of its range.
//
// The value loss is ValueCoef * mean((v - target)^2); CleanRL halves the squared error, so the
// same ValueCoef weighs the value gradient twice as much here as there.
type Options struct {
	// Algo is PPO, A2C or APPO.
	Algo Algo
	// Gamma is the discount in (0, 1]; Lambda GAE's lambda in [0, 1] (PPO, A2C).
	Gamma, Lambda float64
	// RhoMax and CMax clip V-trace's importance ratios (APPO), both positive.
	RhoMax, CMax float64
	// Clip is the surrogate's clipping range (PPO, APPO), positive.
	Clip float64
	// ValueCoef and EntropyCoef weigh the value loss and the entropy bonus, at least 0.
	ValueCoef, EntropyCoef float64
	// MaxGradNorm clips the gradients' global norm; 0 leaves them unclipped.
	MaxGradNorm float64
	// LR is Adam's learning rate, positive.
	LR float64
	// Epochs over each batch and Minibatches per epoch, at least 1 each.
	Epochs, Minibatches int
	// NoAdvantageNorm leaves advantages unnormalised (they are normalised per minibatch).
	NoAdvantageNorm bool
	Seed            uint64
}

// DefaultOptions are CleanRL's defaults for classic control with algo: gamma 0.99, lambda
// 0.95, clip 0.2, value coefficient 0.5, entropy coefficient 0.01, max gradient norm 0.5, lr
// 2.5e-4, V-trace's rho = c = 1; 4 epochs of 4 minibatches for PPO, one of one for A2C, one
// of four for APPO.
func DefaultOptions(algo Algo) Options {
	o := Options{Algo: algo, Gamma: 0.99, Lambda: 0.95, Clip: 0.2, ValueCoef: 0.5, EntropyCoef: 0.01, MaxGradNorm: 0.5,
		LR: 2.5e-4, RhoMax: 1, CMax: 1, Epochs: 4, Minibatches: 4}
	switch algo {
	case A2C:
		o.Epochs, o.Minibatches = 1, 1
	case APPO:
		o.Epochs = 1
	}
	return o
}

// MotifOptions are Motif's APPO hyper-parameters for NetHack (reference/motif.md §10): lr 1e-4,
// gamma 0.99, clip 0.1, value coefficient 0.5, entropy 0.003, max gradient norm 4, one epoch,
// V-trace with rho = c = 1 (4 minibatches, lambda 0.95). With PPO or A2C the same values apply
// where they mean the same (A2C: one minibatch).
func MotifOptions(algo Algo) Options {
	o := DefaultOptions(algo)
	o.LR, o.Clip, o.EntropyCoef, o.MaxGradNorm, o.Epochs = 1e-4, 0.1, 0.003, 4, 1
	return o
}

// Validate reports the first field out of its range, naming it and the range.
func (o Options) Validate() error {
	if _, err := ParseAlgo(string(o.Algo)); err != nil {
		return fmt.Errorf("rl: Options.Algo %q: use %s, %s or %s", o.Algo, PPO, A2C, APPO)
	}
	for _, f := range []struct {
		name string
		v    float64
		ok   bool
		want string
	}{
		{"Gamma", o.Gamma, o.Gamma > 0 && o.Gamma <= 1, "in (0, 1]"},
		{"Lambda", o.Lambda, o.Lambda >= 0 && o.Lambda <= 1, "in [0, 1]"},
		{"RhoMax", o.RhoMax, o.RhoMax > 0, "positive"},
		{"CMax", o.CMax, o.CMax > 0, "positive"},
		{"Clip", o.Clip, o.Clip > 0 || o.Algo == A2C, "positive"},
		{"ValueCoef", o.ValueCoef, o.ValueCoef >= 0, "at least 0"},
		{"EntropyCoef", o.EntropyCoef, o.EntropyCoef >= 0, "at least 0"},
		{"MaxGradNorm", o.MaxGradNorm, o.MaxGradNorm >= 0, "at least 0 (0: no clipping)"},
		{"LR", o.LR, o.LR > 0, "positive"},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || !f.ok {
			return fmt.Errorf("rl: Options.%s is %v; want a finite value %s (start from rl.DefaultOptions or rl.MotifOptions)", f.name, f.v, f.want)
		}
	}
	if o.Epochs < 1 || o.Minibatches < 1 {
		return fmt.Errorf("rl: Options.Epochs %d and Minibatches %d must be at least 1 (start from rl.DefaultOptions or rl.MotifOptions)", o.Epochs, o.Minibatches)
	}
	return nil
}

// Learner trains an nn.ActorCritic on vector observations with PPO, A2C or APPO. It is also
// the policy that collects its data (Act), sampling actions and recording their
// log-probabilities and values.
type Learner struct {
	o      Options
	net    *nn.ActorCritic
	opt    *nn.Adam
	obsKey string
	rng    *rand.Rand
	src    *rand.PCG
	g      *nn.Graph
	ga     *nn.Graph // acting: no gradients
	// Stats of the last Update, by name.
	Stats map[string]float64
}

// NewLearner returns a learner for net reading observations from obsKey ([B, features]
// float32).
func NewLearner(net *nn.ActorCritic, obsKey string, o Options) (*Learner, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opt, err := nn.NewAdam(net.Params(), nn.AdamOptions{LR: o.LR, Eps: 1e-5})
	if err != nil {
		return nil, err
	}
	src := rand.NewPCG(o.Seed, 0x990)
	return &Learner{o: o, net: net, opt: opt, obsKey: obsKey, rng: rand.New(src), src: src, g: nn.NewGraph(), ga: actingGraph(), Stats: map[string]float64{}}, nil
}

// Optimizer returns the Adam optimizer (for learning-rate schedules and checkpoints).
func (p *Learner) Optimizer() *nn.Adam { return p.opt }

// Act samples actions for td's observations and records their log-probabilities and values:
// the collecting policy.
func (p *Learner) Act(td *tensordict.Dict) error {
	obs, err := tensordict.GetAs[float32](td, p.obsKey)
	if err != nil {
		return err
	}
	n := rows(td)
	f := len(obs) / max(n, 1)
	g := p.ga
	g.Reset()
	logits, value := p.net.Forward(g, g.Input(obs, n, f))
	return sampleInto(td, g, p.rng, logits, value)
}

// Update learns from a batch of [T][B] steps collected with Act (root: observation, action,
// log-prob, value; next: observation, reward, done, terminated). Loss terms and statistics
// go to Stats by name.
func (p *Learner) Update(batch *tensordict.Dict) error {
	bt, err := NewBatch(batch)
	if err != nil {
		return err
	}
	T, B, n := bt.T, bt.B, bt.Rows()
	obs, f, err := bt.Features(p.obsKey)
	if err != nil {
		return err
	}
	nextObs, _, err := bt.Features(envs.NextKey(p.obsKey))
	if err != nil {
		return err
	}
	acts, reward, logpOld, value, done, term := bt.Actions, bt.Reward, bt.LogProb, bt.Value, bt.Done, bt.Terminated
	// Values of the next observations, for bootstrapping truncated episodes.
	g := p.g
	g.Reset()
	_, nv := p.net.Forward(g, g.Input(nextObs, n, f))
	nextValue := append([]float32(nil), nv.Data...)
	adv, target := make([]float32, n), make([]float32, n)
	var logPi []float32
	if p.o.Algo == APPO { // V-trace with the learner's current policy as pi and the acting one as mu
		g.Reset()
		logits, _ := p.net.Forward(g, g.Input(obs, n, f))
		logPi = append([]float32(nil), nn.Categorical{LogP: g.LogSoftmax(logits)}.LogProb(g, acts).Data...)
	}
	if err := p.o.estimate(T, B, logPi, logpOld, reward, value, nextValue, done, term, adv, target); err != nil {
		return err
	}
	mb := n / p.o.Minibatches
	if mb < 2 {
		return fmt.Errorf("rl: a batch of %d frames makes %d minibatches of %d; each needs at least 2 frames (advantages are normalised per minibatch): collect more frames per batch or use fewer minibatches", n, p.o.Minibatches, mb)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	mObs, mAdv, mTgt, mLogp := make([]float32, mb*f), make([]float32, mb), make([]float32, mb), make([]float32, mb)
	mActs := make([]int, mb)
	var st lossStats
	for epoch := 0; epoch < p.o.Epochs; epoch++ {
		p.rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		for m := 0; m+mb <= n; m += mb {
			for k, i := range idx[m : m+mb] {
				copy(mObs[k*f:(k+1)*f], obs[i*f:(i+1)*f])
				mAdv[k], mTgt[k], mLogp[k], mActs[k] = adv[i], target[i], logpOld[i], acts[i]
			}
			if !p.o.NoAdvantageNorm {
				normalize(mAdv)
			}
			g.Reset()
			logits, v := p.net.Forward(g, g.Input(mObs, mb, f))
			if err := p.o.step(g, p.opt, p.net.Params(), p.o.objective(g, logits, v, mActs, mLogp, mAdv, mTgt), &st); err != nil {
				return fmt.Errorf("rl: update stopped in epoch %d (this minibatch's step not taken): %w", epoch+1, err)
			}
		}
	}
	st.write(p.Stats)
	return nil
}

// Snapshot saves the network's parameters, the optimizer's state and the sampling generator,
// for a bit-exact resume.
func (p *Learner) Snapshot() ([]byte, error) { return snapshot(p.net.Params(), p.opt, p.src) }

// Restore restores a Snapshot taken from a learner of the same network.
func (p *Learner) Restore(b []byte) error { return restore(b, p.net.Params(), p.opt, p.src) }

// Metrics returns the statistics of the last Update.
func (p *Learner) Metrics() map[string]float64 { return p.Stats }

// Params returns the network's parameters.
func (p *Learner) Params() []*nn.Param { return p.net.Params() }

func snapshot(params []*nn.Param, opt *nn.Adam, src *rand.PCG) ([]byte, error) {
	st, err := opt.State()
	if err != nil {
		return nil, err
	}
	d := tensordict.New()
	if err := d.SetDict("adam", st); err != nil {
		return nil, err
	}
	for _, prm := range params {
		t, err := tensor.FromSlice(prm.Data, prm.Shape...)
		if err != nil {
			return nil, err
		}
		if err := d.Set("params/"+prm.Name, t); err != nil {
			return nil, err
		}
	}
	r, err := src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if err := d.Set("rng", tensor.Of(r)); err != nil {
		return nil, err
	}
	return tensordict.Marshal(d)
}

func restore(b []byte, params []*nn.Param, opt *nn.Adam, src *rand.PCG) error {
	d, err := tensordict.Unmarshal(b)
	if err != nil {
		return fmt.Errorf("rl: learner state: %w", err)
	}
	st, err := d.GetDict("adam")
	if err != nil {
		return fmt.Errorf("rl: learner state: %w", err)
	}
	for _, prm := range params {
		v, err := tensordict.GetAs[float32](d, "params/"+prm.Name)
		if err != nil || len(v) != prm.Len() {
			return fmt.Errorf("rl: learner state lacks %s %v (another network?)", prm.Name, prm.Shape)
		}
		copy(prm.Data, v)
	}
	if err := opt.SetState(st); err != nil {
		return err
	}
	r, err := tensordict.GetAs[uint8](d, "rng")
	if err != nil {
		return fmt.Errorf("rl: learner state: %w", err)
	}
	return src.UnmarshalBinary(r)
}

// actingGraph returns a graph without gradients, for Act.
func actingGraph() *nn.Graph {
	g := nn.NewGraph()
	g.SetNoGrad(true)
	return g
}
