package rl

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// KeyHidden is the recurrent state of the NetHack agent's core ([..., 512] float32): the state
// before the step at the root, the state after it under next. The collector carries it from
// next to the root and zeroes it where episodes start.
const KeyHidden = "hidden"

// AgentObservationKeys are the observations an AgentLearner reads.
var AgentObservationKeys = []string{"tty_chars", "tty_colors", "blstats", "message"}

// KeySkill is the skill an agent with extra features (nn.NewSkillAgent) plays: an int64
// observation in [0, skills) that the learner turns into the one-hot the network reads, at
// the root for acting and under next for bootstrapping (skills.Controller writes it).
const KeySkill = "skill"

// AgentLearner trains the recurrent nn.NetHackAgent with PPO, A2C or APPO (Options as for
// Learner). It is also the collecting policy (Act): it reads the observations of
// AgentObservationKeys and the state under KeyHidden (zeros when absent), and writes the
// action, its log-probability, the value and next/KeyHidden.
//
// Update takes [T, B] batches and learns on whole sequences: minibatches are groups of envs
// (B must be a multiple of Minibatches), each replayed through the core for all T steps from
// the state stored at its first step, zeroed after every step that ended an episode — as
// acting saw it, so the first epoch's ratios are exactly 1. This is sample-factory's
// "rollout = recurrence".
type AgentLearner struct {
	o     Options
	net   *nn.NetHackAgent
	opt   *nn.Adam
	rng   *rand.Rand
	src   *rand.PCG
	g     *nn.Graph
	ga    *nn.Graph // acting: no gradients
	in    nn.AgentInput
	hs    []*nn.Value
	mask  []float32
	chars []uint8
	cols  []int8
	// Stats of the last Update, by name.
	Stats map[string]float64
}

// NewAgentLearner returns a learner for net.
func NewAgentLearner(net *nn.NetHackAgent, o Options) (*AgentLearner, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opt, err := nn.NewAdam(net.Params(), nn.AdamOptions{LR: o.LR, Eps: 1e-5})
	if err != nil {
		return nil, err
	}
	src := rand.NewPCG(o.Seed, 0x991)
	return &AgentLearner{o: o, net: net, opt: opt, rng: rand.New(src), src: src, g: nn.NewGraph(), ga: actingGraph(),
		chars: make([]uint8, nn.CropSize*nn.CropSize), cols: make([]int8, nn.CropSize*nn.CropSize), Stats: map[string]float64{}}, nil
}

// Optimizer returns the Adam optimizer (for learning-rate schedules and checkpoints).
func (p *AgentLearner) Optimizer() *nn.Adam { return p.opt }

// Metrics returns the statistics of the last Update.
func (p *AgentLearner) Metrics() map[string]float64 { return p.Stats }

// Params returns the network's parameters.
func (p *AgentLearner) Params() []*nn.Param { return p.net.Params() }

// obs are one Dict's agent observations, flat over its batch dims.
type obs struct {
	chars   []uint8
	colors  []int8
	blstats []int64
	message []uint8
	skill   []int64 // nil for an agent without skills
}

// readObs reads the agent's observations under prefix, and the skill when skills > 0.
func readObs(td *tensordict.Dict, prefix string, skills int) (o obs, err error) {
	get := func(k string) (*tensor.Tensor, error) {
		t, err := td.Get(prefix + k)
		if err != nil {
			return nil, fmt.Errorf("rl: the NetHack agent reads %s: %w (make the env with these observation keys: %v)", prefix+k, err, AgentObservationKeys)
		}
		return t, nil
	}
	var ts [4]*tensor.Tensor
	for i, k := range AgentObservationKeys {
		if ts[i], err = get(k); err != nil {
			return o, err
		}
	}
	if o.chars, err = tensor.Data[uint8](ts[0]); err == nil {
		if o.colors, err = tensor.Data[int8](ts[1]); err == nil {
			if o.blstats, err = tensor.Data[int64](ts[2]); err == nil {
				o.message, err = tensor.Data[uint8](ts[3])
			}
		}
	}
	if err != nil {
		return o, fmt.Errorf("rl: NetHack observations: %w", err)
	}
	if skills > 0 {
		if o.skill, err = tensordict.GetAs[int64](td, prefix+KeySkill); err != nil {
			return o, fmt.Errorf("rl: the skill-conditioned agent reads %s: %w (wrap the env in skills.Controller)", prefix+KeySkill, err)
		}
		for _, k := range o.skill {
			if k < 0 || int(k) >= skills {
				return o, fmt.Errorf("rl: %s %d out of range: the agent knows %d skills", prefix+KeySkill, k, skills)
			}
		}
	}
	return o, nil
}

// prepare fills p.in with the given rows of o (all n rows when rows is nil), in that order.
func (p *AgentLearner) prepare(o obs, n int, rows []int) {
	if rows != nil {
		n = len(rows)
	}
	cells, tty := nn.CropSize*nn.CropSize, nethack.TermRows*nethack.TermCols
	in := &p.in
	in.N = n
	in.Chars, in.Colors = resize(in.Chars, n*cells), resize(in.Colors, n*cells)
	in.Blstats, in.Message = resize(in.Blstats, n*nethack.NumBlstats), resize(in.Message, n*nethack.MessageLen)
	K := p.net.Extra
	in.Extra = resize(in.Extra, n*K)
	clear(in.Extra)
	for k := 0; k < n; k++ {
		i := k
		if rows != nil {
			i = rows[k]
		}
		bl := o.blstats[i*nethack.NumBlstats : (i+1)*nethack.NumBlstats]
		nethack.CropTTY(p.chars, p.cols, o.chars[i*tty:(i+1)*tty], o.colors[i*tty:(i+1)*tty], bl, nn.CropSize)
		for j := range cells {
			in.Chars[k*cells+j], in.Colors[k*cells+j] = int(p.chars[j]), int(p.cols[j])
		}
		nethack.NormalizeBlstats(in.Blstats[k*nethack.NumBlstats:(k+1)*nethack.NumBlstats], bl)
		for j, c := range o.message[i*nethack.MessageLen : (i+1)*nethack.MessageLen] {
			in.Message[k*nethack.MessageLen+j] = float32(c) / 255
		}
		if K > 0 {
			in.Extra[k*K+int(o.skill[i])] = 1
		}
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Act samples actions for td's observations and records their log-probabilities, values and
// the next recurrent state.
func (p *AgentLearner) Act(td *tensordict.Dict) error {
	o, err := readObs(td, "", p.net.Extra)
	if err != nil {
		return err
	}
	batch := td.BatchShape()
	n := rows(td)
	H := p.net.Hidden
	h := make([]float32, n*H)
	if td.Has(KeyHidden) {
		v, err := tensordict.GetAs[float32](td, KeyHidden)
		if err != nil || len(v) != n*H {
			return fmt.Errorf("rl: %s must be float32 [%v, %d]: %v", KeyHidden, batch, H, err)
		}
		copy(h, v)
	}
	p.prepare(o, n, nil)
	g := p.ga
	g.Reset()
	logits, value, next := p.net.Forward(g, p.in, g.Input(h, n, H))
	hn := tensor.Zeros(tensor.Float32, append(td.BatchShape(), H)...)
	copy(tensor.MustData[float32](hn), next.Data)
	return errors.Join(sampleInto(td, g, p.rng, logits, value), td.Set("next/"+KeyHidden, hn))
}

// sequences runs the agent over b envs for T steps: p.in holds their T*b rows time-major,
// h0 their states at the first step, ended[t*b+j] whether env j's step t ended an episode
// (its state is zeroed before step t+1). It returns logits [T*b, actions] and values [T*b, 1].
func (p *AgentLearner) sequences(g *nn.Graph, T, b int, h0 []float32, ended []bool) (logits, value *nn.Value) {
	H := p.net.Hidden
	gi := p.net.Core.InputProjection(g, p.net.Encode(g, p.in)) // all T steps in one product
	h := g.Input(h0, b, H)
	p.hs = p.hs[:0]
	p.mask = resize(p.mask, b*H)
	for t := 0; t < T; t++ {
		if t > 0 {
			any := false
			for j := 0; j < b; j++ {
				keep := float32(1)
				if ended[(t-1)*b+j] {
					keep, any = 0, true
				}
				for k := range H {
					p.mask[j*H+k] = keep
				}
			}
			if any {
				h = g.Mul(h, g.Input(p.mask, b, H))
			}
		}
		h = p.net.Core.Step(g, g.SliceRows(gi, t*b, (t+1)*b), h)
		p.hs = append(p.hs, h)
	}
	return p.net.Heads(g, g.ConcatRows(p.hs...))
}

// Update learns from a [T, B] batch collected with Act. Loss terms and statistics go to Stats.
func (p *AgentLearner) Update(batch *tensordict.Dict) error {
	bt, err := NewBatch(batch)
	if err != nil {
		return err
	}
	T, B, n, H := bt.T, bt.B, bt.Rows(), p.net.Hidden
	if B%p.o.Minibatches != 0 {
		return fmt.Errorf("rl: %d envs cannot be split into %d minibatches of whole sequences; use a number of envs that is a multiple of the minibatches", B, p.o.Minibatches)
	}
	b := B / p.o.Minibatches
	if b*T < 2 {
		return fmt.Errorf("rl: minibatches of %d frames; each needs at least 2 (advantages are normalised per minibatch)", b*T)
	}
	o, err := readObs(batch, "", p.net.Extra)
	if err != nil {
		return err
	}
	no, err := readObs(batch, "next/", p.net.Extra)
	if err != nil {
		return err
	}
	hidden, hh, err := bt.Features(KeyHidden)
	if err != nil {
		return err
	}
	nextHidden, nh, err := bt.Features(envs.NextKey(KeyHidden))
	if err != nil {
		return err
	}
	if hh != H || nh != H {
		return fmt.Errorf("rl: %s holds %d values per step and %s %d; the agent's state has %d", KeyHidden, hh, envs.NextKey(KeyHidden), nh, H)
	}
	acts, reward, logpOld, value, done, term := bt.Actions, bt.Reward, bt.LogProb, bt.Value, bt.Done, bt.Terminated
	g := p.g
	// Bootstrap values: the acting value of the following step inside the batch, one core step
	// on the next observation (from next/hidden) after the last step and after episode ends.
	nextValue := make([]float32, n)
	var rows []int
	for i := range n {
		if i/B == T-1 || done[i] {
			rows = append(rows, i)
		} else {
			nextValue[i] = value[i+B]
		}
	}
	p.prepare(no, n, rows)
	hb := make([]float32, len(rows)*H)
	for k, i := range rows {
		copy(hb[k*H:(k+1)*H], nextHidden[i*H:(i+1)*H])
	}
	g.Reset()
	_, nv, _ := p.net.Forward(g, p.in, g.Input(hb, len(rows), H))
	for k, i := range rows {
		nextValue[i] = nv.Data[k]
	}
	var logPi []float32
	if p.o.Algo == APPO { // V-trace with the learner's current policy as pi
		p.prepare(o, n, nil)
		g.Reset()
		logits, _ := p.sequences(g, T, B, hidden[:B*H], done)
		logPi = append([]float32(nil), nn.Categorical{LogP: g.LogSoftmax(logits)}.LogProb(g, acts).Data...)
	}
	adv, target := make([]float32, n), make([]float32, n)
	if err := p.o.estimate(T, B, logPi, logpOld, reward, value, nextValue, done, term, adv, target); err != nil {
		return err
	}

	envOrder := make([]int, B)
	for i := range envOrder {
		envOrder[i] = i
	}
	m := b * T
	rowsMB, h0 := make([]int, m), make([]float32, b*H)
	mAdv, mTgt, mLogp, mActs, mEnded := make([]float32, m), make([]float32, m), make([]float32, m), make([]int, m), make([]bool, m)
	var st lossStats
	for epoch := 0; epoch < p.o.Epochs; epoch++ {
		p.rng.Shuffle(B, func(i, j int) { envOrder[i], envOrder[j] = envOrder[j], envOrder[i] })
		for grp := 0; grp < p.o.Minibatches; grp++ {
			envsMB := envOrder[grp*b : (grp+1)*b]
			for j, e := range envsMB {
				copy(h0[j*H:(j+1)*H], hidden[e*H:(e+1)*H]) // the state at t = 0
				for t := 0; t < T; t++ {
					k, i := t*b+j, t*B+e
					rowsMB[k] = i
					mAdv[k], mTgt[k], mLogp[k], mActs[k], mEnded[k] = adv[i], target[i], logpOld[i], acts[i], done[i]
				}
			}
			if !p.o.NoAdvantageNorm {
				normalize(mAdv)
			}
			p.prepare(o, n, rowsMB)
			g.Reset()
			logits, v := p.sequences(g, T, b, h0, mEnded)
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
func (p *AgentLearner) Snapshot() ([]byte, error) { return snapshot(p.net.Params(), p.opt, p.src) }

// Restore loads a Snapshot.
func (p *AgentLearner) Restore(b []byte) error { return restore(b, p.net.Params(), p.opt, p.src) }
