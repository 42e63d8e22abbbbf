package nethackagent

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/nn"
)

// MessageLen is the length of NetHack's message buffer, the reward model's input.
const MessageLen = 256

// RewardNet is Motif's reward model over the message line (reference/motif.md §6): byte
// embedding (256 x 32, padding 0), Conv1d(32->64, 7) ReLU MaxPool3, Conv1d(64->64, 7) ReLU
// MaxPool3, 4 x [Conv1d(64->64, 3) ReLU], MaxPool3, flatten (320), Linear 320->128 ReLU,
// 128->256 ReLU, 256->512 ReLU, 512->1; linear layers orthogonal (gain 1) with zero bias.
// 306,945 parameters.
type RewardNet struct {
	Emb   *nn.EmbeddingLayer
	Convs []*nn.Conv1dLayer
	MLP   []*nn.LinearLayer
	// Diff and Joint are set in MaestroMotif's variant (NewRewardNetDiff).
	Diff, Joint []*nn.LinearLayer
	idx         []int
}

// DiffStats is the width of the diffstats input: the changes in dungeon depth, gold, hit
// points, experience level and hunger state between two observations.
const DiffStats = 5

// NewRewardNetDiff returns MaestroMotif's skill reward model: the same message trunk up to
// Linear 320->128 ReLU, a diffstats MLP 5->128->128 (ReLU), their concatenation 256 -> 512
// ReLU -> 1; orthogonal linear layers with zero bias: 291,201 parameters (reference/motif.md
// quotes ~357k for the original, whose exact head widths it does not give).
func NewRewardNetDiff(rng *rand.Rand) (*RewardNet, error) {
	m, err := NewRewardNet(rng)
	if err != nil {
		return nil, err
	}
	m.MLP = m.MLP[:1]
	mk := func(name string, in, out int) *nn.LinearLayer {
		l, e := nn.NewLinear(name, in, out, rng)
		if e == nil {
			e = nn.Orthogonal(l.W, 1, rng)
		}
		if e != nil && err == nil {
			err = e
		}
		if l != nil {
			clear(l.B.Data)
		}
		return l
	}
	m.Diff = []*nn.LinearLayer{mk("diff0", DiffStats, 128), mk("diff1", 128, 128)}
	m.Joint = []*nn.LinearLayer{mk("joint0", 256, 512), mk("joint1", 512, 1)}
	return m, err
}

// NewRewardNet returns a freshly initialised reward model.
func NewRewardNet(rng *rand.Rand) (*RewardNet, error) {
	m := &RewardNet{}
	var err error
	if m.Emb, err = nn.NewEmbedding("embed", 256, 32, 0, rng); err != nil {
		return nil, err
	}
	convs := [][3]int{{32, 64, 7}, {64, 64, 7}, {64, 64, 3}, {64, 64, 3}, {64, 64, 3}, {64, 64, 3}}
	for i, c := range convs {
		l, err := nn.NewConv1d(fmt.Sprintf("conv%d", i), c[0], c[1], c[2], rng)
		if err != nil {
			return nil, err
		}
		m.Convs = append(m.Convs, l)
	}
	sizes := []int{320, 128, 256, 512, 1}
	for i := 0; i+1 < len(sizes); i++ {
		l, err := nn.NewLinear(fmt.Sprintf("fc%d", i), sizes[i], sizes[i+1], rng)
		if err != nil {
			return nil, err
		}
		if err := nn.Orthogonal(l.W, 1, rng); err != nil {
			return nil, err
		}
		clear(l.B.Data)
		m.MLP = append(m.MLP, l)
	}
	return m, nil
}

// Params returns every parameter in a fixed order.
func (m *RewardNet) Params() []*nn.Param {
	ps := m.Emb.Params()
	for _, c := range m.Convs {
		ps = append(ps, c.Params()...)
	}
	for _, l := range append(append(append([]*nn.LinearLayer{}, m.MLP...), m.Diff...), m.Joint...) {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// ForwardDiff scores messages with their diffstats (n x DiffStats) in MaestroMotif's variant.
func (m *RewardNet) ForwardDiff(g *nn.Graph, messages []uint8, diff []float32) *nn.Value {
	if m.Diff == nil {
		panic("nethackagent: ForwardDiff on a reward model without the diffstats branch")
	}
	x := m.Forward(g, messages) // [n, 128] from the trunk and fc0
	n := x.Shape[0]
	if len(diff) != n*DiffStats {
		panic(fmt.Sprintf("nethackagent: %d diffstats values for %d messages", len(diff), n))
	}
	d := g.Input(diff, n, DiffStats)
	for _, l := range m.Diff {
		d = g.ReLU(l.Forward(g, d))
	}
	y := g.ReLU(m.Joint[0].Forward(g, g.Concat(g.ReLU(x), d)))
	return m.Joint[1].Forward(g, y)
}

// Forward scores messages (n x 256 bytes, row-major) and returns [n, 1] rewards (in the
// diffstats variant: the trunk's [n, 128] features before the ReLU; use ForwardDiff).
func (m *RewardNet) Forward(g *nn.Graph, messages []uint8) *nn.Value {
	if len(messages)%MessageLen != 0 || len(messages) == 0 {
		panic(fmt.Sprintf("nethackagent: reward model input of %d bytes is not a whole number of %d-byte messages", len(messages), MessageLen))
	}
	n := len(messages) / MessageLen
	m.idx = m.idx[:0]
	for _, b := range messages {
		m.idx = append(m.idx, int(b))
	}
	x := g.Reshape(m.Emb.Forward(g, m.idx), n, MessageLen, 32)
	x = g.Transpose12(x) // [n, 32, 256]
	x = g.MaxPool1d(g.ReLU(m.Convs[0].Forward(g, x)), 3)
	x = g.MaxPool1d(g.ReLU(m.Convs[1].Forward(g, x)), 3)
	for _, c := range m.Convs[2:] {
		x = g.ReLU(c.Forward(g, x))
	}
	x = g.Reshape(g.MaxPool1d(x, 3), n, -1)
	for i, l := range m.MLP {
		x = l.Forward(g, x)
		if i+1 < len(m.MLP) {
			x = g.ReLU(x)
		}
	}
	return x
}
