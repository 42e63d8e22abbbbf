package motif

import (
	"errors"
	"fmt"
	"math"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/internal/validate"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Keys the intrinsic reward writes under next (the reward itself replaces next/reward): each
// step's two parts, and running sums like envs.RewardSum's, read where an episode or a skill
// segment ends.
const (
	KeyIntrinsic = envs.KeyNext + "/intrinsic_reward"
	KeyExtrinsic = envs.KeyNext + "/extrinsic_reward"
	// KeyEpisodeIntrinsic is the intrinsic reward summed since the episode started, this step
	// included (float64): the episode's intrinsic return where next/done is set.
	KeyEpisodeIntrinsic = envs.KeyNext + "/episode_intrinsic_reward"
	// With skills: the running segment's intrinsic return (float64) and steps, this step included, and
	// whether the segment ends with this step (the episode ends, the skill changes or restarts).
	KeySegmentReturn = envs.KeyNext + "/skill_segment_return"
	KeySegmentSteps  = envs.KeyNext + "/skill_segment_steps"
	KeySegmentEnd    = envs.KeyNext + "/skill_segment_end"
)

// IntrinsicOptions are the coefficients of Motif's reward (reference/motif.md §9):
//
//	r = A2 * clip(0.1 * r_env, -10, 10) + A1 * 1[r_hat > eps] * r_hat / N(m)^Beta
//
// with r_hat the normalised reward-model output for the message m of the observation on
// which the action was taken, eps its stored quantile at Threshold, and N(m) the count of m
// in the current episode (Motif), or within the last LRU messages when LRU > 0
// (MaestroMotif).
type IntrinsicOptions struct {
	A1, A2, Beta float64
	// Threshold is the quantile level of eps (one of 0.05 ... 0.95).
	Threshold float64
	LRU       int
}

// DefaultIntrinsic are Motif's defaults for NetHackScore: a1 0.1, a2 0.1, beta 3, eps at the
// 0.5 quantile, per-episode counts.
func DefaultIntrinsic() IntrinsicOptions {
	return IntrinsicOptions{A1: 0.1, A2: 0.1, Beta: 3, Threshold: 0.5}
}

// Intrinsic computes Motif's reward on collected batches: use Postproc as the collector's
// postprocessing stage. It reads message at the root and next/reward, next/done under next,
// replaces next/reward by r and writes the two parts under KeyIntrinsic and KeyExtrinsic
// (the extrinsic one unscaled). Message counts carry across batches per env.
//
// Made with NewSkillIntrinsic it is MaestroMotif's reward: one reward model and threshold per
// skill, the step's model chosen by the skill observation at the root, and it records every
// skill segment (a stretch of one skill, ended by a switch, by the skill starting again, read
// from next/<skill key>_steps = 0 when the batch has it, or by the episode's end).
type Intrinsic struct {
	o        IntrinsicOptions
	ms       []*RewardModel
	eps      []float64
	skillKey string               // "" for Motif's single model
	cache    []map[string]float64 // per model: r_hat per message (messages repeat a lot)
	counts   []map[string]int     // per env: this episode's counts (or the LRU window's)
	recent   [][]string           // per env: the LRU window, oldest first
	hist     [][][]int64          // per env: blstats of the last Delta+1 steps of the episode
	g        *nn.Graph
	// Episode intrinsic returns so far, per env.
	epIn []float64
	seg  []Segment // per env: the running skill segment
}

// Segment is a stretch of steps of one skill: its index, its length and the intrinsic reward
// it earned.
type Segment struct {
	Skill  int
	Steps  int
	Return float64
}

// NewIntrinsic returns the transform for model m.
func NewIntrinsic(m *RewardModel, o IntrinsicOptions) (*Intrinsic, error) {
	return newIntrinsic([]*RewardModel{m}, []float64{o.Threshold}, "", o)
}

// NewSkillIntrinsic returns MaestroMotif's transform: models[k] and thresholds[k] (quantile
// levels) for skill k, the skill of each step read from the int64 observation skillKey at the
// root. o.Threshold is not used.
func NewSkillIntrinsic(models []*RewardModel, thresholds []float64, skillKey string, o IntrinsicOptions) (*Intrinsic, error) {
	if len(models) == 0 || len(models) != len(thresholds) || skillKey == "" {
		return nil, fmt.Errorf("motif: skill rewards need one model and one threshold per skill (got %d and %d) and a skill key", len(models), len(thresholds))
	}
	for k, m := range models[1:] {
		if m.UsesDiffStats() != models[0].UsesDiffStats() || m.Delta != models[0].Delta {
			return nil, fmt.Errorf("motif: skill %d's reward model (diffstats %v, delta %d) differs from skill 0's (diffstats %v, delta %d); train them on the same pairs", k+1, m.UsesDiffStats(), m.Delta, models[0].UsesDiffStats(), models[0].Delta)
		}
	}
	return newIntrinsic(models, thresholds, skillKey, o)
}

// Validate reports an option out of range: A1, A2 finite, Beta finite and at least 0, Threshold
// a quantile in [0, 1], LRU at least 0.
func (o IntrinsicOptions) Validate() error {
	if err := validate.Numbers("motif: IntrinsicOptions.",
		validate.F("A1", o.A1, true, ""),
		validate.F("A2", o.A2, true, ""),
		validate.F("Beta", o.Beta, o.Beta >= 0, "of at least 0"),
		validate.F("Threshold", o.Threshold, o.Threshold >= 0 && o.Threshold <= 1, "in [0, 1] (a quantile)")); err != nil {
		return err
	}
	if o.LRU < 0 {
		return fmt.Errorf("motif: IntrinsicOptions.LRU %d must not be negative (0: count per episode)", o.LRU)
	}
	return nil
}

func newIntrinsic(ms []*RewardModel, thresholds []float64, skillKey string, o IntrinsicOptions) (*Intrinsic, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &Intrinsic{o: o, ms: ms, skillKey: skillKey, g: nn.NewGraph()}
	for k, m := range ms {
		eps, err := m.Quantile(thresholds[k])
		if err != nil {
			if skillKey != "" {
				err = fmt.Errorf("skill %d: %w", k, err)
			}
			return nil, err
		}
		r.eps = append(r.eps, eps)
		r.cache = append(r.cache, map[string]float64{})
	}
	return r, nil
}

// Eps is the threshold on the normalised reward (of the first skill's model).
func (r *Intrinsic) Eps() float64 { return r.eps[0] }

// Normalized returns r_hat for each message (n x 256 bytes), through the cache; diff holds
// the messages' diffstats (n x 5) when the model uses them (nil otherwise). With skills it is
// the first skill's model.
func (r *Intrinsic) Normalized(messages []uint8, diff []float32) []float64 {
	return r.normalized(0, messages, diff)
}

func (r *Intrinsic) normalized(model int, messages []uint8, diff []float32) []float64 {
	L, D := nethackagent.MessageLen, nethackagent.DiffStats
	n := len(messages) / L
	out := make([]float64, n)
	var miss []uint8
	var missDiff []float32
	var missAt []int
	keys := make([]string, n)
	for i := range n {
		keys[i] = string(messages[i*L : (i+1)*L])
		if diff != nil {
			keys[i] += fmt.Sprint(diff[i*D : (i+1)*D])
		}
		if v, ok := r.cache[model][keys[i]]; ok {
			out[i] = v
		} else {
			miss = append(miss, messages[i*L:(i+1)*L]...)
			if diff != nil {
				missDiff = append(missDiff, diff[i*D:(i+1)*D]...)
			}
			missAt = append(missAt, i)
		}
	}
	if len(missAt) > 0 {
		raw := make([]float32, len(missAt))
		m := r.ms[model]
		m.Score(r.g, miss, missDiff, raw)
		for k, i := range missAt {
			v := (float64(raw[k]) - m.Mean) / m.Std
			r.cache[model][keys[i]] = v
			out[i] = v
		}
	}
	return out
}

// diffstats returns each step's diffstats for a [T, B] batch: blstats now minus blstats Delta
// steps earlier in the same episode (or at its first step), keeping each env's recent blstats
// across batches.
func (r *Intrinsic) diffstats(bl []int64, done []bool, T, B int) []float32 {
	NB, D := nethack.NumBlstats, nethackagent.DiffStats
	out := make([]float32, T*B*D)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			i := t*B + b
			cur := bl[i*NB : (i+1)*NB]
			h := append(r.hist[b], append([]int64(nil), cur...))
			if len(h) > r.ms[0].Delta+1 {
				h = h[1:]
			}
			DiffStats(out[i*D:(i+1)*D], h[0], cur)
			r.hist[b] = h
			if done[i] {
				r.hist[b] = nil
			}
		}
	}
	return out
}

// Postproc rewrites a [T, B] (or [T]) batch's rewards.
func (r *Intrinsic) Postproc(batch *tensordict.Dict) (*tensordict.Dict, error) {
	bs := batch.BatchShape()
	if len(bs) == 0 || len(bs) > 2 {
		return nil, fmt.Errorf("motif: intrinsic reward needs a [T] or [T, B] batch, got %v", bs)
	}
	T, B := bs[0], 1
	if len(bs) == 2 {
		B = bs[1]
	}
	msgs, err := tensordict.GetAs[uint8](batch, "message")
	if err != nil {
		return nil, fmt.Errorf("motif: intrinsic reward reads the message the action was taken on: %w (keep NLE's message observation)", err)
	}
	rew, err := tensordict.GetAs[float32](batch, envs.NextKey(envs.KeyReward))
	if err != nil {
		return nil, err
	}
	done, err := tensordict.GetAs[bool](batch, envs.NextKey(envs.KeyDone))
	if err != nil {
		return nil, err
	}
	if len(msgs) != T*B*nethackagent.MessageLen {
		return nil, fmt.Errorf("motif: message holds %d bytes for %d steps; want %d-byte messages", len(msgs), T*B, nethackagent.MessageLen)
	}
	if r.counts == nil {
		r.counts, r.recent = make([]map[string]int, B), make([][]string, B)
		r.epIn = make([]float64, B)
		r.hist = make([][][]int64, B)
		r.seg = make([]Segment, B)
		for b := range r.counts {
			r.counts[b] = map[string]int{}
		}
	} else if len(r.counts) != B {
		return nil, fmt.Errorf("motif: batches of %d envs after batches of %d", B, len(r.counts))
	}
	var diff []float32
	if r.ms[0].UsesDiffStats() {
		bl, err := tensordict.GetAs[int64](batch, "blstats")
		if err != nil || len(bl) != T*B*nethack.NumBlstats {
			return nil, fmt.Errorf("motif: the diffstats reward model reads blstats [T, B, %d] at the root: %v", nethack.NumBlstats, err)
		}
		diff = r.diffstats(bl, done, T, B)
	}
	rhat, skill, nextSkill, err := r.scores(batch, msgs, diff, T*B)
	var restart []int64 // the step after is a skill's first (when the env says so)
	if skill != nil {
		if v, err := tensordict.GetAs[int64](batch, envs.NextKey(r.skillKey+"_steps")); err == nil && len(v) == T*B {
			restart = v
		}
	}
	if err != nil {
		return nil, err
	}
	total := tensor.Zeros(tensor.Float32, bs...)
	in := tensor.Zeros(tensor.Float32, bs...)
	ex := tensor.Zeros(tensor.Float32, bs...)
	epIn := tensor.Zeros(tensor.Float64, bs...) // float64: the sums the logs average, unrounded
	td, id, ed, eid := tensor.MustData[float32](total), tensor.MustData[float32](in), tensor.MustData[float32](ex), tensor.MustData[float64](epIn)
	var segRet, segSteps, segEnd *tensor.Tensor
	var srd []float64
	var ssd []int64
	var sed []bool
	if skill != nil {
		segRet, segSteps, segEnd = tensor.Zeros(tensor.Float64, bs...), tensor.Zeros(tensor.Int64, bs...), tensor.Zeros(tensor.Bool, bs...)
		srd, ssd, sed = tensor.MustData[float64](segRet), tensor.MustData[int64](segSteps), tensor.MustData[bool](segEnd)
	}
	L := nethackagent.MessageLen
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			i := t*B + b
			msg := string(msgs[i*L : (i+1)*L])
			n := r.count(b, msg)
			intr, k := 0.0, 0
			if skill != nil {
				k = int(skill[i])
			}
			if rhat[i] > r.eps[k] {
				intr = rhat[i] / math.Pow(float64(n), r.o.Beta)
			}
			if skill != nil {
				end := done[i] || nextSkill[i] != skill[i] || (restart != nil && restart[i] == 0)
				s := r.segment(b, k, intr, end)
				srd[i], ssd[i], sed[i] = s.Return, int64(s.Steps), end
			}
			env := float64(rew[i])
			id[i], ed[i] = float32(intr), float32(env)
			td[i] = float32(r.o.A2*math.Max(-10, math.Min(10, 0.1*env)) + r.o.A1*intr)
			r.epIn[b] += intr
			eid[i] = r.epIn[b]
			if done[i] {
				r.epIn[b] = 0
				if r.o.LRU == 0 {
					clear(r.counts[b])
				}
			}
		}
	}
	sets := []error{batch.Set(envs.NextKey(envs.KeyReward), total), batch.Set(KeyIntrinsic, in), batch.Set(KeyExtrinsic, ex), batch.Set(KeyEpisodeIntrinsic, epIn)}
	if skill != nil {
		sets = append(sets, batch.Set(KeySegmentReturn, segRet), batch.Set(KeySegmentSteps, segSteps), batch.Set(KeySegmentEnd, segEnd))
	}
	for _, e := range sets {
		if e != nil {
			return nil, e
		}
	}
	return batch, nil
}

// scores returns r_hat for each of the n steps (each with its skill's model) and, with
// skills, the skill of each step and of the step after it.
func (r *Intrinsic) scores(batch *tensordict.Dict, msgs []uint8, diff []float32, n int) (rhat []float64, skill, next []int64, err error) {
	if r.skillKey == "" {
		return r.normalized(0, msgs, diff), nil, nil, nil
	}
	if skill, err = tensordict.GetAs[int64](batch, r.skillKey); err == nil {
		next, err = tensordict.GetAs[int64](batch, envs.NextKey(r.skillKey))
	}
	if err != nil || len(skill) != n || len(next) != n {
		return nil, nil, nil, fmt.Errorf("motif: skill rewards read the skill of each step, an int64 %q at the root and under next (wrap the env in skills.Controller): %v", r.skillKey, err)
	}
	rhat = make([]float64, n)
	L, D := nethackagent.MessageLen, nethackagent.DiffStats
	for k := range r.ms {
		var at []int
		var m []uint8
		var d []float32
		for i, s := range skill {
			if s < 0 || int(s) >= len(r.ms) {
				return nil, nil, nil, fmt.Errorf("motif: %s %d out of range: there are reward models for %d skills", r.skillKey, s, len(r.ms))
			}
			if int(s) == k {
				at = append(at, i)
				m = append(m, msgs[i*L:(i+1)*L]...)
				if diff != nil {
					d = append(d, diff[i*D:(i+1)*D]...)
				}
			}
		}
		if len(at) == 0 {
			continue
		}
		for j, v := range r.normalized(k, m, d) {
			rhat[at[j]] = v
		}
	}
	return rhat, skill, next, nil
}

// segment adds a step of skill k earning intr to env b's running segment and returns the
// segment so far; the segment starts anew after a step with end set.
func (r *Intrinsic) segment(b, k int, intr float64, end bool) Segment {
	s := &r.seg[b]
	s.Skill = k
	s.Steps++
	s.Return += intr
	out := *s
	if end {
		*s = Segment{}
	}
	return out
}

// Segments returns the skill segments that end in batch (a batch Postproc rewrote with skills),
// env by env and in time order within each: their skill, steps and intrinsic return.
func Segments(batch *tensordict.Dict, skillKey string) ([]Segment, error) {
	end, err := tensordict.GetAs[bool](batch, KeySegmentEnd)
	if err != nil {
		return nil, fmt.Errorf("motif: no skill segments in the batch: %w (rewrite it with a skill intrinsic reward)", err)
	}
	ret, err1 := tensordict.GetAs[float64](batch, KeySegmentReturn)
	steps, err2 := tensordict.GetAs[int64](batch, KeySegmentSteps)
	skill, err3 := tensordict.GetAs[int64](batch, skillKey)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("motif: skill segments: %w", err)
	}
	if len(ret) != len(end) || len(steps) != len(end) || len(skill) != len(end) {
		return nil, fmt.Errorf("motif: skill segment columns of %d, %d, %d and %d values; want one per step", len(end), len(ret), len(steps), len(skill))
	}
	var out []Segment
	for _, i := range endRows(batch, end) {
		out = append(out, Segment{Skill: int(skill[i]), Steps: int(steps[i]), Return: ret[i]})
	}
	return out, nil
}

// EpisodeIntrinsic returns the intrinsic returns of the episodes that end in batch, env by env
// and in time order within each.
func EpisodeIntrinsic(batch *tensordict.Dict) ([]float64, error) {
	done, err := tensordict.GetAs[bool](batch, envs.NextKey(envs.KeyDone))
	if err != nil {
		return nil, err
	}
	ep, err := tensordict.GetAs[float64](batch, KeyEpisodeIntrinsic)
	if err != nil {
		return nil, fmt.Errorf("motif: no %s in the batch: %w (rewrite it with the intrinsic reward)", KeyEpisodeIntrinsic, err)
	}
	if len(ep) != len(done) {
		return nil, fmt.Errorf("motif: %s holds %d values for %d steps", KeyEpisodeIntrinsic, len(ep), len(done))
	}
	var out []float64
	for _, i := range endRows(batch, done) {
		out = append(out, ep[i])
	}
	return out, nil
}

// endRows returns the rows of a [T] or [T, B] batch where flag is set, env by env and in time
// order within each (the order Postproc finishes them in).
func endRows(batch *tensordict.Dict, flag []bool) []int {
	bs := batch.BatchShape()
	T, B := bs[0], 1
	if len(bs) == 2 {
		B = bs[1]
	}
	var out []int
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			if i := t*B + b; flag[i] {
				out = append(out, i)
			}
		}
	}
	return out
}

// count returns N(m) after counting msg for env b.
func (r *Intrinsic) count(b int, msg string) int {
	c := r.counts[b]
	c[msg]++
	if r.o.LRU > 0 {
		r.recent[b] = append(r.recent[b], msg)
		if len(r.recent[b]) > r.o.LRU {
			old := r.recent[b][0]
			r.recent[b] = r.recent[b][1:]
			if c[old]--; c[old] == 0 {
				delete(c, old)
			}
		}
	}
	return c[msg]
}
