package rl

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// estimate fills adv and target for a [T][B] batch: GAE for PPO and A2C, V-trace for APPO
// (logPi: the learner's current log-probabilities of the taken actions).
func (o *Options) estimate(T, B int, logPi, logpOld, reward, value, nextValue []float32, done, term []bool, adv, target []float32) error {
	if o.Algo == APPO {
		return VTrace(float32(o.Gamma), float32(o.RhoMax), float32(o.CMax), T, B, logPi, logpOld, reward, value, nextValue, done, term, target, adv)
	}
	return GAE(float32(o.Gamma), float32(o.Lambda), T, B, reward, value, nextValue, done, term, adv, target)
}

// normalize scales advantages to zero mean and unit (sample) standard deviation.
func normalize(adv []float32) {
	var mean, sq float64
	for _, a := range adv {
		mean += float64(a)
	}
	mean /= float64(len(adv))
	for _, a := range adv {
		sq += (float64(a) - mean) * (float64(a) - mean)
	}
	std := math.Sqrt(sq/float64(len(adv)-1)) + 1e-8
	for k := range adv {
		adv[k] = float32((float64(adv[k]) - mean) / std)
	}
}

// terms are the values of one minibatch's objective.
type terms struct {
	loss, policy, value, entropy, ratio, logRatio *nn.Value
}

// objective builds one minibatch's loss on g from the policy's logits [mb, actions] and values
// [mb, 1]: the clipped surrogate (plain policy gradient for A2C), the squared value error times
// ValueCoef (clipped around the acting values vOld with ClipValueLoss), and the entropy bonus
// times EntropyCoef.
func (o *Options) objective(g *nn.Graph, logits, v *nn.Value, acts []int, logpOld, adv, tgt, vOld []float32) terms {
	mb := len(acts)
	dist := nn.Categorical{LogP: g.LogSoftmax(logits)}
	logRatio := g.Sub(dist.LogProb(g, acts), g.Input(logpOld, mb))
	ratio := g.Exp(logRatio)
	advV := g.Input(adv, mb)
	surr := g.Mul(ratio, advV) // A2C: the ratio is 1 with the gradient of the log-probability
	if o.Algo != A2C {
		surr = g.Minimum(surr, g.Mul(g.Clamp(ratio, float32(1-o.Clip), float32(1+o.Clip)), advV))
	}
	policyLoss := g.Mul(g.Mean(surr), g.Input([]float32{-1}, 1))
	var valueLoss *nn.Value
	if o.ClipValueLoss {
		vf, tg, old := g.Reshape(v, mb), g.Input(tgt, mb), g.Input(vOld, mb)
		d := g.Sub(vf, tg)
		dc := g.Sub(g.Add(old, g.Clamp(g.Sub(vf, old), float32(-o.Clip), float32(o.Clip))), tg)
		valueLoss = g.Mean(g.Maximum(g.Mul(d, d), g.Mul(dc, dc)))
	} else {
		valueLoss = g.MSE(g.Reshape(v, mb), g.Input(tgt, mb))
	}
	entropy := g.Mean(dist.Entropy(g))
	loss := g.Add(g.Add(policyLoss, g.Mul(valueLoss, g.Input([]float32{float32(o.ValueCoef)}, 1))),
		g.Mul(entropy, g.Input([]float32{float32(-o.EntropyCoef)}, 1)))
	return terms{loss, policyLoss, valueLoss, entropy, ratio, logRatio}
}

// lossStats averages an Update's terms over its optimizer steps.
type lossStats struct {
	clipFrac, approxKL, loss, policy, value, entropy float64
	steps, frames                                    int
}

func (s *lossStats) add(o Options, t terms) {
	for k, r := range t.ratio.Data {
		if math.Abs(float64(r)-1) > o.Clip {
			s.clipFrac++
		}
		lr := float64(t.logRatio.Data[k])
		s.approxKL += math.Exp(lr) - 1 - lr
	}
	s.loss += float64(t.loss.Data[0])
	s.policy += float64(t.policy.Data[0])
	s.value += float64(t.value.Data[0])
	s.entropy += float64(t.entropy.Data[0])
	s.steps++
	s.frames += len(t.ratio.Data)
}

func (s *lossStats) result() UpdateStats {
	steps, frames := float64(max(s.steps, 1)), float64(max(s.frames, 1))
	return UpdateStats{Loss: s.loss / steps, PolicyLoss: s.policy / steps, ValueLoss: s.value / steps, Entropy: s.entropy / steps,
		ApproxKL: s.approxKL / frames, ClipFraction: s.clipFrac / frames}
}

// UpdateStats are an update's loss terms, averaged over its optimizer steps, and the policy's
// movement, averaged over its frames.
type UpdateStats struct {
	Loss, PolicyLoss, ValueLoss, Entropy float64
	// ApproxKL is the mean of (r - 1) - log r over the frames (r the probability ratio), and
	// ClipFraction the share of frames with |r - 1| above Clip.
	ApproxKL, ClipFraction float64
}

// Named returns the statistics with their log names (loss, policy_loss, value_loss, entropy,
// approx_kl, clip_fraction), in that order.
func (s UpdateStats) Named() []NamedStat {
	return []NamedStat{{"loss", s.Loss}, {"policy_loss", s.PolicyLoss}, {"value_loss", s.ValueLoss}, {"entropy", s.Entropy},
		{"approx_kl", s.ApproxKL}, {"clip_fraction", s.ClipFraction}}
}

// NamedStat is one statistic and its log name.
type NamedStat struct {
	Name  string
	Value float64
}

// step backpropagates t's loss, clips the gradients' global norm (unless MaxGradNorm is 0) and takes an optimizer step,
// unless a gradient is not finite (then the gradients are zeroed and the error names it).
func (o *Options) step(g *nn.Graph, opt *nn.Adam, params []*nn.Param, t terms, st *lossStats) error {
	g.Backward(t.loss)
	// One pass over the gradients measures them and finds any that is not finite (the norm is
	// then not finite); only then does CheckGrads look for which.
	norm := nn.GradNorm(params)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		err := nn.CheckGrads(params)
		if err == nil {
			err = fmt.Errorf("rl: the gradients' norm is %v", norm)
		}
		nn.ZeroGrad(params)
		return err
	}
	if o.MaxGradNorm > 0 {
		nn.ScaleGradsToNorm(params, norm, o.MaxGradNorm)
	}
	opt.Step()
	st.add(*o, t)
	return nil
}

// rows is the number of rows over td's batch dims.
func rows(td *tensordict.Dict) int {
	n := 1
	for _, d := range td.BatchShape() {
		n *= d
	}
	return n
}

// sampleInto samples actions from logits [n, actions] and writes them with their
// log-probabilities and the values [n, 1] into td (shaped as its batch): what both learners do
// when they act.
func sampleInto(td *tensordict.Dict, g *nn.Graph, rng *rand.Rand, logits, value *nn.Value) error {
	batch := td.BatchShape()
	dist := nn.Categorical{LogP: g.LogSoftmax(logits)}
	acts := make([]int, logits.Shape[0])
	dist.Sample(rng, acts)
	lp := dist.LogProb(g, acts)
	a := tensor.Zeros(tensor.Int64, batch...)
	lps := tensor.Zeros(tensor.Float32, batch...)
	vs := tensor.Zeros(tensor.Float32, batch...)
	ad, ld, vd := tensor.MustData[int64](a), tensor.MustData[float32](lps), tensor.MustData[float32](vs)
	for i := range acts {
		ad[i], ld[i], vd[i] = int64(acts[i]), lp.Data[i], value.Data[i]
	}
	return errors.Join(td.Set("action", a), td.Set(KeyLogProb, lps), td.Set(KeyValue, vs))
}
