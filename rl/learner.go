package rl

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/internal/validate"
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

// The updates of a Learner.
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

// Options configure a Learner. Every field means what it says, zero
// included (Lambda 0 is TD(0), EntropyCoef 0 no entropy bonus, MaxGradNorm 0 no clipping);
// start from DefaultOptions or MotifOptions and change what differs. Validate reports a field
// out of its range.
//
// The value loss is ValueCoef * mean((v - target)^2), unclipped unless ClipValueLoss; CleanRL
// halves the squared error (0.5 * mean(...)), so the same ValueCoef weighs the value gradient
// twice as much here as there: ValueCoef 0.5 here is CleanRL's vf_coef 1.0.
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
	// ClipValueLoss clips the value loss as CleanRL's clip_vloss (PPO, APPO): the larger of
	// (v - target)^2 and (v_old + clip(v - v_old, -Clip, Clip) - target)^2, v_old the value
	// recorded at acting time.
	ClipValueLoss bool
	// RecomputeValues (APPO) makes V-trace read V(s_t), and V(s_{t+1}) inside the batch, from
	// the learner's network over the stored sequence from the stored states, as sample-factory
	// and TorchRL's VTrace do, instead of the values recorded at acting time (which, with
	// overlapped collection, come from the weights of one update before).
	RecomputeValues bool
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
	if err := validate.Numbers("rl: Options.",
		validate.F("Gamma", o.Gamma, o.Gamma > 0 && o.Gamma <= 1, "in (0, 1]"),
		validate.F("Lambda", o.Lambda, o.Lambda >= 0 && o.Lambda <= 1, "in [0, 1]"),
		validate.F("RhoMax", o.RhoMax, o.RhoMax > 0, "positive"),
		validate.F("CMax", o.CMax, o.CMax > 0, "positive"),
		validate.F("Clip", o.Clip, o.Clip > 0 || o.Algo == A2C, "positive"),
		validate.F("ValueCoef", o.ValueCoef, o.ValueCoef >= 0, "at least 0"),
		validate.F("EntropyCoef", o.EntropyCoef, o.EntropyCoef >= 0, "at least 0"),
		validate.F("MaxGradNorm", o.MaxGradNorm, o.MaxGradNorm >= 0, "at least 0 (0: no clipping)"),
		validate.F("LR", o.LR, o.LR > 0, "positive")); err != nil {
		return fmt.Errorf("%w (start from rl.DefaultOptions or rl.MotifOptions)", err)
	}
	if o.Epochs < 1 || o.Minibatches < 1 {
		return fmt.Errorf("rl: Options.Epochs %d and Minibatches %d must be at least 1 (start from rl.DefaultOptions or rl.MotifOptions)", o.Epochs, o.Minibatches)
	}
	if o.RecomputeValues && o.Algo != APPO {
		return fmt.Errorf("rl: Options.RecomputeValues is APPO's (V-trace's values); %s's GAE uses the acting values, as CleanRL and TorchRL do", o.Algo)
	}
	if o.ClipValueLoss && o.Algo == A2C {
		return fmt.Errorf("rl: Options.ClipValueLoss clips by Clip, which A2C does not have; use PPO or APPO")
	}
	return nil
}

// Learner trains a Model with PPO, A2C or APPO, and is also the policy that collects its data
// (Act). Its one update reads top to bottom: bootstrap values, estimate advantages and
// targets (GAE, or V-trace for APPO), then epochs of minibatches of the clipped surrogate
// (A2C: the plain policy gradient), the value loss and the entropy bonus, each an Adam step.
//
// Minibatches of a recurrent model (StateSize > 0) are groups of whole env sequences (B must be
// a multiple of Minibatches), each replayed through the model for all T steps from the state
// stored at its first step, zeroed after every step that ended an episode, as acting saw it,
// so the first epoch's ratios are exactly 1 (sample-factory's "rollout = recurrence"). Those of
// a feedforward model are random sets of steps.
type Learner struct {
	o   Options
	m   Model
	opt *nn.Adam
	rng *rand.Rand
	src *rand.PCG
	g   *nn.Graph
	act *Policy // acting: the same model and random stream, no gradients
	// Stats are the last Update's.
	Stats UpdateStats
}

// NewLearner returns a learner for m; o must pass Validate.
func NewLearner(m Model, o Options) (*Learner, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opt, err := nn.NewAdam(m.Params(), nn.AdamOptions{LR: o.LR, Eps: 1e-5})
	if err != nil {
		return nil, err
	}
	// The streams of the feedforward and the recurrent learner this type replaces, so seeded
	// runs repeat across versions.
	stream := uint64(0x990)
	if m.StateSize() > 0 {
		stream = 0x991
	}
	src := rand.NewPCG(o.Seed, stream)
	rng := rand.New(src)
	return &Learner{o: o, m: m, opt: opt, rng: rng, src: src, g: nn.NewGraph(), act: NewPolicy(m, rng)}, nil
}

// Optimizer returns the Adam optimizer (for learning-rate schedules and checkpoints).
func (p *Learner) Optimizer() *nn.Adam { return p.opt }

// Model returns the model trained.
func (p *Learner) Model() Model { return p.m }

// Act samples actions for td's observations and records what the update needs (see Policy).
func (p *Learner) Act(td *tensordict.Dict) error { return p.act.Act(td) }

// fuseAPPO turns the fused APPO pass on (tests compare it with the separate one).
var fuseAPPO = true

// Update learns from a [T, B] batch collected with Act (or an Actor). Loss terms and
// statistics go to Stats.
func (p *Learner) Update(batch *tensordict.Dict) error {
	bt, err := NewBatch(batch)
	if err != nil {
		return err
	}
	T, B, n, H := bt.T, bt.B, bt.Rows(), p.m.StateSize()
	recurrent := H > 0
	groups, b := p.o.Minibatches, 0 // recurrent: groups of b envs; feedforward: minibatches of mb steps
	mb := n / p.o.Minibatches
	if recurrent {
		if B%groups != 0 {
			return fmt.Errorf("rl: %d envs cannot be split into %d minibatches of whole sequences; use a number of envs that is a multiple of the minibatches", B, groups)
		}
		b = B / groups
		if mb = b * T; mb < 2 {
			return fmt.Errorf("rl: minibatches of %d frames; each needs at least 2 (advantages are normalised per minibatch)", mb)
		}
	} else if mb < 2 {
		return fmt.Errorf("rl: a batch of %d frames makes %d minibatches of %d; each needs at least 2 frames (advantages are normalised per minibatch): collect more frames per batch or use fewer minibatches", n, p.o.Minibatches, mb)
	}
	var hidden, nextHidden []float32
	if recurrent {
		if hidden, err = p.state(bt, KeyHidden); err == nil {
			nextHidden, err = p.state(bt, envs.NextKey(KeyHidden))
		}
		if err != nil {
			return err
		}
	}
	acts, reward, logpOld, value, done, term := bt.Actions, bt.Reward, bt.LogProb, bt.Value, bt.Done, bt.Terminated
	g := p.g
	// fused: APPO with one epoch of one minibatch (Motif's NetHack settings) runs the network
	// forward once, for V-trace's pi (and RecomputeValues' values) and for the loss alike, where
	// otherwise a pass before the update serves V-trace. The weights are the same either way.
	fused := p.o.Algo == APPO && p.o.Epochs == 1 && p.o.Minibatches == 1 && fuseAPPO

	// 1. Bootstrap values V(s_{t+1}). A feedforward model evaluates every next observation; a
	// recurrent one uses the value of the following step inside the batch (acting's, or the
	// recomputed one; filled in below) and, after the last step and at episode ends, one step of
	// the current network on the next observation from the stored next state (next/hidden).
	nextValue := make([]float32, n)
	var boot []int                                              // rows evaluated
	booted := func(i int) bool { return i/B == T-1 || done[i] } // recurrent: no next step in the batch
	if recurrent {
		for i := range n {
			if booted(i) {
				boot = append(boot, i)
			}
		}
	}
	if err := p.m.Observe(batch, envs.KeyNext+"/", boot); err != nil {
		return err
	}
	var hb []float32
	if recurrent {
		hb = make([]float32, len(boot)*H)
		for k, i := range boot {
			copy(hb[k*H:(k+1)*H], nextHidden[i*H:(i+1)*H])
		}
	}
	g.Reset()
	_, nv, _ := p.m.Step(g, hb)
	if recurrent {
		for k, i := range boot {
			nextValue[i] = nv.Data[k]
		}
	} else {
		copy(nextValue, nv.Data)
	}

	// The minibatches: recurrent models by groups of whole env sequences, feedforward ones by
	// random steps.
	order := make([]int, n) // feedforward: steps; recurrent: envs (the first B)
	for i := range order {
		order[i] = i
	}
	rowsMB := make([]int, mb)
	mAdv, mTgt, mLogp, mActs, mEnded := make([]float32, mb), make([]float32, mb), make([]float32, mb), make([]int, mb), make([]bool, mb)
	mValue := make([]float32, mb) // the acting values, for ClipValueLoss
	var h0 []float32
	if recurrent {
		order, h0 = order[:B], make([]float32, b*H)
	}
	// minibatch fills rowsMB (and h0) with group grp of the shuffled order and observes it.
	minibatch := func(grp int) error {
		if recurrent {
			for j, e := range order[grp*b : (grp+1)*b] {
				copy(h0[j*H:(j+1)*H], hidden[e*H:(e+1)*H]) // the state at t = 0
				for t := 0; t < T; t++ {
					rowsMB[t*b+j] = t*B + e
				}
			}
		} else {
			copy(rowsMB, order[grp*mb:(grp+1)*mb])
		}
		return p.m.Observe(batch, "", rowsMB)
	}
	steps, envsMB := 1, mb
	if recurrent {
		steps, envsMB = T, b
	}
	shuffle := func() { p.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] }) }

	// 2. APPO: the current policy's log-probabilities of the batch's actions (V-trace's pi),
	// and with RecomputeValues the learner's values V(s_t) over the stored sequences.
	var logPi []float32
	var fLogits, fV *nn.Value // fused: the pass the loss is built on
	if p.o.Algo == APPO {
		var logits, v *nn.Value
		var rows []int   // the batch row of each of the pass's rows (nil: the batch's order)
		passActs := acts // the actions in the pass's row order
		if fused {
			shuffle() // epoch 1's order, drawn here rather than in the loop below
			if err := minibatch(0); err != nil {
				return err
			}
			for k, i := range rowsMB {
				mEnded[k], mActs[k] = done[i], acts[i]
			}
			g.Reset()
			logits, v = p.m.Unroll(g, steps, envsMB, h0, mEnded)
			fLogits, fV, rows, passActs = logits, v, rowsMB, mActs
		} else {
			if err := p.m.Observe(batch, "", nil); err != nil {
				return err
			}
			g.Reset()
			var hFirst []float32 // every env's state at t = 0
			if recurrent {
				hFirst = hidden[:B*H]
			}
			logits, v = p.m.Unroll(g, T, B, hFirst, done)
		}
		lp := nn.Categorical{LogP: g.LogSoftmax(logits)}.LogProb(g, passActs).Data
		logPi = make([]float32, n)
		if p.o.RecomputeValues {
			value = make([]float32, n)
		}
		for k := range n {
			i := k
			if rows != nil {
				i = rows[k]
			}
			logPi[i] = lp[k]
			if p.o.RecomputeValues {
				value[i] = v.Data[k]
			}
		}
	}
	if recurrent {
		for i := range n {
			if !booted(i) {
				nextValue[i] = value[i+B]
			}
		}
	}

	// 3. Advantages and targets: GAE, or V-trace with the current policy as pi (APPO).
	adv, target := make([]float32, n), make([]float32, n)
	if err := p.o.estimate(T, B, logPi, logpOld, reward, value, nextValue, done, term, adv, target); err != nil {
		return err
	}

	// 4. Epochs of minibatches.
	var st lossStats
	for epoch := 0; epoch < p.o.Epochs; epoch++ {
		if !fused {
			shuffle()
		}
		// A recurrent model takes Minibatches groups; a feedforward one every whole minibatch of
		// mb steps that fits (more than Minibatches when they do not divide the batch).
		for grp := 0; recurrent && grp < groups || !recurrent && (grp+1)*mb <= n; grp++ {
			if !fused {
				if err := minibatch(grp); err != nil {
					return err
				}
			}
			for k, i := range rowsMB {
				mAdv[k], mTgt[k], mLogp[k], mActs[k], mEnded[k], mValue[k] = adv[i], target[i], logpOld[i], acts[i], done[i], bt.Value[i]
			}
			if !p.o.NoAdvantageNorm {
				normalize(mAdv)
			}
			logits, v := fLogits, fV
			if !fused {
				g.Reset()
				logits, v = p.m.Unroll(g, steps, envsMB, h0, mEnded)
			}
			if err := p.o.step(g, p.opt, p.m.Params(), p.o.objective(g, logits, v, mActs, mLogp, mAdv, mTgt, mValue), &st); err != nil {
				return fmt.Errorf("rl: update stopped in epoch %d (this minibatch's step not taken): %w", epoch+1, err)
			}
		}
	}
	p.Stats = st.result()
	return nil
}

// state reads a recurrent state column, checking its size against the model's.
func (p *Learner) state(bt *Batch, key string) ([]float32, error) {
	h, per, err := bt.Features(key)
	if err == nil && per != p.m.StateSize() {
		err = fmt.Errorf("rl: %s holds %d values per step; the model's state has %d", key, per, p.m.StateSize())
	}
	return h, err
}

// Snapshot saves the network's parameters, the optimizer's state and the sampling generator,
// for a bit-exact resume.
func (p *Learner) Snapshot() ([]byte, error) { return snapshot(p.m.Params(), p.opt, p.src) }

// Restore restores a Snapshot taken from a learner of the same model.
func (p *Learner) Restore(b []byte) error { return restore(b, p.m.Params(), p.opt, p.src) }

// Metrics returns the statistics of the last Update.
func (p *Learner) Metrics() UpdateStats { return p.Stats }

// Params returns the model's parameters.
func (p *Learner) Params() []*nn.Param { return p.m.Params() }

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
