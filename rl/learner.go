package rl

import (
	"fmt"
	"math/rand/v2"

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

// Algorithms of a Learner.
const (
	// PPO: GAE advantages, clipped surrogate, several epochs of minibatches.
	PPO = "ppo"
	// A2C: GAE advantages, plain policy gradient, one pass over the whole batch.
	A2C = "a2c"
	// APPO: sample-factory's asynchronous PPO: V-trace targets and advantages (correcting for
	// the policy lag between acting and learning), clipped surrogate, one epoch.
	APPO = "appo"
)

// Options configure a Learner. Zero values mean the defaults of CleanRL's PPO for classic
// control: gamma 0.99, lambda 0.95, clip 0.2, value coefficient 0.5, entropy coefficient
// 0.01, 4 epochs of 4 minibatches, max gradient norm 0.5, lr 2.5e-4, advantages normalised.
// The value loss is ValueCoef * mean((v - target)^2); CleanRL halves the squared error, so
// the same ValueCoef weighs the value gradient twice as much here as there.
// A2C uses one epoch of one minibatch; APPO one epoch.
type Options struct {
	// Algo is PPO (default), A2C or APPO.
	Algo string
	// RhoMax and CMax clip V-trace's importance ratios (APPO); zero means 1.
	RhoMax, CMax                                                 float64
	Gamma, Lambda, Clip, ValueCoef, EntropyCoef, MaxGradNorm, LR float64
	Epochs, Minibatches                                          int
	NoAdvantageNorm                                              bool
	Seed                                                         uint64
}

// MotifOptions are Motif's APPO hyper-parameters for NetHack (reference/motif.md §10): lr 1e-4,
// gamma 0.99, clip 0.1, value coefficient 0.5, entropy 0.003, max gradient norm 4, one epoch,
// V-trace with rho = c = 1. With PPO or A2C the same values apply where they mean the same.
func MotifOptions(algo string) Options {
	return Options{Algo: algo, LR: 1e-4, Gamma: 0.99, Clip: 0.1, ValueCoef: 0.5, EntropyCoef: 0.003, MaxGradNorm: 4, Epochs: 1, RhoMax: 1, CMax: 1}
}

func (o *Options) defaults() error {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Gamma, 0.99)
	def(&o.Lambda, 0.95)
	def(&o.Clip, 0.2)
	def(&o.ValueCoef, 0.5)
	def(&o.EntropyCoef, 0.01)
	def(&o.MaxGradNorm, 0.5)
	def(&o.LR, 2.5e-4)
	def(&o.RhoMax, 1)
	def(&o.CMax, 1)
	switch o.Algo {
	case "", PPO:
		o.Algo = PPO
	case A2C:
		if o.Epochs == 0 {
			o.Epochs = 1
		}
		if o.Minibatches == 0 {
			o.Minibatches = 1
		}
	case APPO:
		if o.Epochs == 0 {
			o.Epochs = 1
		}
	default:
		return fmt.Errorf("rl: unknown algorithm %q; use %s, %s or %s", o.Algo, PPO, A2C, APPO)
	}
	if o.Epochs == 0 {
		o.Epochs = 4
	}
	if o.Minibatches == 0 {
		o.Minibatches = 4
	}
	if o.Gamma <= 0 || o.Gamma > 1 || o.Lambda < 0 || o.Lambda > 1 || o.Clip <= 0 || o.Epochs < 0 || o.Minibatches < 0 {
		return fmt.Errorf("rl: learner options out of range: %+v", *o)
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
	if err := o.defaults(); err != nil {
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
