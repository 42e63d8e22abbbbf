package motif

import (
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Arch and ArchDiff name the reward models' architectures in their files: Motif's message
// model and MaestroMotif's message + diffstats model.
const (
	Arch     = "motif-message-cnn"
	ArchDiff = "maestromotif-diffstats-cnn"
)

// Quantiles are the levels whose normalised rewards a model file stores (0.05, 0.10, ... 0.95).
var Quantiles = func() []float64 {
	var q []float64
	for i := 1; i <= 19; i++ {
		q = append(q, float64(i)/20)
	}
	return q
}()

// RewardModel is a trained Motif reward model with the statistics that normalise its output:
// r_hat = (r(m) - Mean) / Std, and the quantiles of r_hat over the distinct training messages.
type RewardModel struct {
	Net       *nethackagent.RewardNet
	Mean, Std float64
	Quant     []float64 // normalised reward at each of Quantiles
	// Delta is the gap in steps of the diffstats (MaestroMotif's variant; 0 for Motif's).
	Delta int
	// Info is free text stored with the model (provenance).
	Info string
}

// UsesDiffStats says whether the model scores transitions (MaestroMotif's variant).
func (m *RewardModel) UsesDiffStats() bool { return m.Net.Diff != nil }

func (m *RewardModel) arch() string {
	if m.UsesDiffStats() {
		return ArchDiff
	}
	return Arch
}

// Quantile returns the normalised reward at level q (one of Quantiles, e.g. 0.5).
func (m *RewardModel) Quantile(q float64) (float64, error) {
	for i, l := range Quantiles {
		if math.Abs(l-q) < 1e-9 {
			return m.Quant[i], nil
		}
	}
	return 0, fmt.Errorf("motif: no stored quantile %g; the model stores 0.05, 0.10, ..., 0.95", q)
}

// Save writes the model file atomically.
func (m *RewardModel) Save(path string) error {
	d := tensordict.New()
	p, err := nn.ParamsDict(m.Net.Params())
	if err != nil {
		return err
	}
	for _, e := range []error{
		d.SetDict("params", p),
		d.Set("format", tensor.Scalar(int64(FormatVersion))),
		d.Set("arch", tensor.Of([]uint8(m.arch()))),
		d.Set("delta", tensor.Scalar(int64(m.Delta))),
		d.Set("info", tensor.Of([]uint8(m.Info))),
		d.Set("norm", tensor.Of([]float64{m.Mean, m.Std})),
		d.Set("quantiles", tensor.Of(m.Quant)),
	} {
		if e != nil {
			return e
		}
	}
	return tensordict.SaveFile(path, d)
}

// LoadRewardModel reads a model file, refusing other formats and architectures.
func LoadRewardModel(path string) (*RewardModel, error) {
	d, err := tensordict.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("motif: reward model: %w", err)
	}
	return decodeRewardModel(d, path)
}

//go:embed models/default.mtd
var defaultModel []byte

// DefaultRewardModel returns the reward model shipped with Maestro (models/default.mtd; how
// it was made is in models/default.json: scripts/make-reward-model.sh ran the pipeline).
func DefaultRewardModel() (*RewardModel, error) {
	return ParseRewardModel(defaultModel, "the shipped reward model")
}

// ParseRewardModel decodes the bytes of a model file (name says which in errors).
func ParseRewardModel(b []byte, name string) (*RewardModel, error) {
	d, err := tensordict.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("motif: %s: %w", name, err)
	}
	return decodeRewardModel(d, name)
}

func decodeRewardModel(d *tensordict.Dict, path string) (*RewardModel, error) {
	arch, err := tensordict.GetAs[uint8](d, "arch")
	if err != nil || string(arch) != Arch && string(arch) != ArchDiff {
		return nil, fmt.Errorf("motif: %s is not a reward model (arch %q; want %s or %s); train one with `annotate train`", path, arch, Arch, ArchDiff)
	}
	if f, err := tensordict.GetAs[int64](d, "format"); err != nil || len(f) != 1 || f[0] != FormatVersion {
		return nil, fmt.Errorf("motif: %s has format %v; this Maestro reads format %d (retrain the model)", path, f, FormatVersion)
	}
	newNet := nethackagent.NewRewardNet
	if string(arch) == ArchDiff {
		newNet = nethackagent.NewRewardNetDiff
	}
	net, err := newNet(rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	p, err := d.GetDict("params")
	if err != nil {
		return nil, fmt.Errorf("motif: %s: %w", path, err)
	}
	if err := nn.SetParams(p, net.Params(), path); err != nil {
		return nil, err
	}
	norm, err1 := tensordict.GetAs[float64](d, "norm")
	q, err2 := tensordict.GetAs[float64](d, "quantiles")
	info, _ := tensordict.GetAs[uint8](d, "info")
	if err1 != nil || err2 != nil || len(norm) != 2 || len(q) != len(Quantiles) {
		return nil, fmt.Errorf("motif: %s lacks its normalisation statistics", path)
	}
	for _, x := range append(slices.Clone(norm), q...) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("motif: %s: normalisation statistics %v, quantiles %v are not all finite (NaN diffstats in its pairs?); retrain it", path, norm, q)
		}
	}
	if norm[1] <= 0 || !slices.IsSorted(q) {
		return nil, fmt.Errorf("motif: %s: reward std %v must be positive and the quantiles %v ascending; the file is corrupt", path, norm[1], q)
	}
	delta, _ := tensordict.GetAs[int64](d, "delta")
	rm := &RewardModel{Net: net, Mean: norm[0], Std: norm[1], Quant: slices.Clone(q), Info: string(info)}
	if len(delta) == 1 {
		rm.Delta = int(delta[0])
	}
	return rm, nil
}

// Score returns the raw rewards r(m) of n messages (n x 256 bytes) in batches of 512; diff
// holds their diffstats (n x 5) for MaestroMotif's variant and is ignored otherwise.
func (m *RewardModel) Score(g *nn.Graph, messages []uint8, diff []float32, out []float32) {
	n := len(messages) / nethackagent.MessageLen
	for lo := 0; lo < n; lo += 512 {
		hi := min(n, lo+512)
		g.Reset()
		out := out[lo:hi]
		if m.UsesDiffStats() {
			copy(out, m.Net.ForwardDiff(g, messages[lo*nethackagent.MessageLen:hi*nethackagent.MessageLen], diff[lo*nethackagent.DiffStats:hi*nethackagent.DiffStats]).Data)
		} else {
			copy(out, m.Net.Forward(g, messages[lo*nethackagent.MessageLen:hi*nethackagent.MessageLen]).Data)
		}
	}
}

// TrainOptions configure TrainRewardModel. Zero values mean Motif's: 10 epochs of batches of
// 1024 pairs, Adam lr 1e-5, 20% of the pairs held out.
type TrainOptions struct {
	Epochs, Batch int
	LR            float64
	ValFraction   float64
	Seed          uint64
	// Progress, when set, is called after each epoch.
	Progress func(epoch int, r TrainResult)
}

// Validate reports an option out of range: Epochs and Batch at least 1 (0: the defaults), LR
// finite and not below 0 (0: the default), ValFraction in [0, 1).
func (o TrainOptions) Validate() error {
	switch {
	case o.Epochs < 0 || o.Batch < 0:
		return fmt.Errorf("motif: TrainOptions.Epochs %d and Batch %d must not be negative", o.Epochs, o.Batch)
	case math.IsNaN(o.LR) || math.IsInf(o.LR, 0) || o.LR < 0:
		return fmt.Errorf("motif: TrainOptions.LR %v must be finite and at least 0", o.LR)
	case math.IsNaN(o.ValFraction) || o.ValFraction < 0 || o.ValFraction >= 1:
		return fmt.Errorf("motif: TrainOptions.ValFraction %v must be in [0, 1)", o.ValFraction)
	}
	return nil
}

// TrainResult reports training.
type TrainResult struct {
	Train, Val         int     // pairs used (unknown labels dropped)
	Dropped            int     // pairs with unknown labels
	TrainLoss, ValLoss float64 // mean Bradley-Terry loss of the last epoch
	// TrainAcc and ValAcc: the share of non-tie pairs whose preferred message scores higher.
	TrainAcc, ValAcc float64
}

// TrainRewardModel trains Motif's reward model on a labelled pair dataset (first/message,
// second/message, label): soft Bradley-Terry loss (targets [1, 0], [0, 1], [0.5, 0.5]),
// unknown labels dropped, a held-out split; then the normalisation statistics: mean and
// standard deviation of r over every message of the training pairs, and quantiles of the
// normalised reward over their distinct messages. Transition pairs (first/diffstats, from
// MakeTransitionPairs) train MaestroMotif's diffstats model instead, distinct entries being
// (message, diffstats).
func TrainRewardModel(pairs *tensordict.Dict, o TrainOptions) (*RewardModel, TrainResult, error) {
	if err := o.Validate(); err != nil {
		return nil, TrainResult{}, err
	}
	if o.Epochs <= 0 {
		o.Epochs = 10
	}
	if o.Batch <= 0 {
		o.Batch = 1024
	}
	if o.LR <= 0 {
		o.LR = 1e-5
	}
	if o.ValFraction <= 0 || o.ValFraction >= 1 {
		o.ValFraction = 0.2
	}
	var res TrainResult
	m1, err1 := tensordict.GetAs[uint8](pairs, "first/message")
	m2, err2 := tensordict.GetAs[uint8](pairs, "second/message")
	labels, err3 := tensordict.GetAs[int8](pairs, "label")
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, res, fmt.Errorf("motif: a pair dataset needs first/message, second/message and label (make one with `annotate pairs` and label it with `annotate label`)")
	}
	L, D := nethackagent.MessageLen, nethackagent.DiffStats
	// MaestroMotif's transition pairs carry diffstats: then the diffstats model is trained.
	var d1, d2 []float32
	delta := 0
	transitions, err := IsTransitionPairs(pairs)
	if err != nil {
		return nil, res, err
	}
	if transitions {
		d1, err1 = tensordict.GetAs[float32](pairs, "first/diffstats")
		d2, err2 = tensordict.GetAs[float32](pairs, "second/diffstats")
		if err1 != nil || err2 != nil {
			return nil, res, fmt.Errorf("motif: transition pairs need first/diffstats and second/diffstats")
		}
		if ds, err := tensordict.GetAs[int64](pairs, "delta"); err == nil && len(ds) > 0 {
			delta = int(ds[0])
		}
	}
	var idx []int
	for i, l := range labels {
		if l == Unknown {
			res.Dropped++
			continue
		}
		if l < First || l > Unknown {
			return nil, res, fmt.Errorf("motif: pair %d has label %d; labels are 0 (first), 1 (second), 2 (tie), 3 (unknown)", i, l)
		}
		idx = append(idx, i)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x4d))
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	nVal := int(math.Round(float64(len(idx)) * o.ValFraction))
	val, train := idx[:nVal], idx[nVal:]
	res.Train, res.Val = len(train), len(val)
	if len(train) < 2 {
		return nil, res, fmt.Errorf("motif: %d labelled pairs to train on (%d unknown dropped); label more pairs", len(train), res.Dropped)
	}
	newNet := nethackagent.NewRewardNet
	if d1 != nil {
		newNet = nethackagent.NewRewardNetDiff
	}
	net, err := newNet(rng)
	if err != nil {
		return nil, res, err
	}
	opt, err := nn.NewAdam(net.Params(), nn.AdamOptions{LR: o.LR})
	if err != nil {
		return nil, res, err
	}
	g := nn.NewGraph()
	bs := min(o.Batch, len(train))
	msgs := make([]uint8, 2*bs*L)
	diffs := make([]float32, 2*bs*D)
	target := make([]float32, 2*bs)
	// pass runs the pairs in set through the model (learning when learn is set) and returns
	// the mean loss and the accuracy on non-tie pairs.
	pass := func(set []int, learn bool) (loss, acc float64) {
		var n, right, decisive int
		for lo := 0; lo < len(set); lo += bs {
			b := set[lo:min(len(set), lo+bs)]
			k := len(b)
			for j, i := range b {
				copy(msgs[j*L:(j+1)*L], m1[i*L:(i+1)*L])
				copy(msgs[(k+j)*L:(k+j+1)*L], m2[i*L:(i+1)*L])
				if d1 != nil {
					copy(diffs[j*D:(j+1)*D], d1[i*D:(i+1)*D])
					copy(diffs[(k+j)*D:(k+j+1)*D], d2[i*D:(i+1)*D])
				}
				switch labels[i] {
				case First:
					target[2*j], target[2*j+1] = 1, 0
				case Second:
					target[2*j], target[2*j+1] = 0, 1
				default:
					target[2*j], target[2*j+1] = 0.5, 0.5
				}
			}
			g.Reset()
			var r *nn.Value
			if d1 != nil {
				r = net.ForwardDiff(g, msgs[:2*k*L], diffs[:2*k*D])
			} else {
				r = net.Forward(g, msgs[:2*k*L])
			}
			logits := g.Concat(g.SliceRows(r, 0, k), g.SliceRows(r, k, 2*k)) // [k, 2]: r(first), r(second)
			l := g.SoftCrossEntropy(logits, g.Input(target[:2*k], k, 2))
			if learn {
				g.Backward(l)
				if err := nn.CheckGrads(net.Params()); err == nil {
					opt.Step()
				}
				nn.ZeroGrad(net.Params())
			}
			loss += float64(l.Data[0]) * float64(k)
			n += k
			for j, i := range b {
				if labels[i] == Tie {
					continue
				}
				decisive++
				if (labels[i] == First) == (logits.Data[2*j] > logits.Data[2*j+1]) {
					right++
				}
			}
		}
		if decisive > 0 {
			acc = float64(right) / float64(decisive)
		}
		return loss / float64(max(n, 1)), acc
	}
	for e := 0; e < o.Epochs; e++ {
		rng.Shuffle(len(train), func(i, j int) { train[i], train[j] = train[j], train[i] })
		res.TrainLoss, res.TrainAcc = pass(train, true)
		if len(val) > 0 {
			res.ValLoss, res.ValAcc = pass(val, false)
		}
		if o.Progress != nil {
			o.Progress(e+1, res)
		}
	}
	// Normalisation over every message of the training pairs (repeats weigh as often as they
	// occur), quantiles over the distinct ones.
	all := make([]uint8, 0, 2*len(train)*L)
	var allDiff []float32
	for _, i := range train {
		all = append(all, m1[i*L:(i+1)*L]...)
		all = append(all, m2[i*L:(i+1)*L]...)
		if d1 != nil {
			allDiff = append(append(allDiff, d1[i*D:(i+1)*D]...), d2[i*D:(i+1)*D]...)
		}
	}
	rm := &RewardModel{Net: net, Delta: delta}
	scores := make([]float32, len(all)/L)
	rm.Score(g, all, allDiff, scores)
	var mean, sq float64
	for _, s := range scores {
		mean += float64(s)
	}
	mean /= float64(len(scores))
	for _, s := range scores {
		sq += (float64(s) - mean) * (float64(s) - mean)
	}
	rm.Mean, rm.Std = mean, math.Sqrt(sq/float64(len(scores)))+1e-8
	seen := map[string]bool{}
	var distinct []float64
	for k, s := range scores {
		msg := string(all[k*L : (k+1)*L])
		if allDiff != nil {
			msg += fmt.Sprint(allDiff[k*D : (k+1)*D])
		}
		if !seen[msg] {
			seen[msg] = true
			distinct = append(distinct, (float64(s)-rm.Mean)/rm.Std)
		}
	}
	slices.Sort(distinct)
	for _, q := range Quantiles {
		rm.Quant = append(rm.Quant, quantile(distinct, q))
	}
	return rm, res, nil
}

// quantile interpolates linearly between order statistics (numpy's default).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(lo)
	return sorted[lo]*(1-f) + sorted[lo+1]*f
}
