package nethackagent

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/nn"
)

// CropSize is the side of the hero-centred terminal crop the NetHack agent sees.
const CropSize = 12

// Input is one batch of NetHack observations prepared for the agent (N rows):
// Chars and Colors are the hero-centred crops [N][12][12] (nethack.CropTTY), Blstats the
// normalised bottom-line statistics [N][27] (nethack.NormalizeBlstats), Message the message
// bytes scaled to [0, 1] [N][256], Extra the agent's extra features [N][Extra] (a skill's
// one-hot for MaestroMotif; nil when the agent has none).
type Input struct {
	N       int
	Chars   []int // values 0..255
	Colors  []int // values 0..31
	Blstats []float32
	Message []float32
	Extra   []float32
}

// Agent is a Motif-style actor-critic for NetHack (reference/motif.md §10) in its
// char+colour variant: the 12 x 12 crop goes through character and colour embeddings
// (16 + 8 channels) and three 3x3 convolutions (32, 64, 64 channels; strides 1, 2, 2; ELU) to
// 512 features, where Motif renders the crop to a 3 x 72 x 72 image; the blstats MLP
// (27 -> 128 -> 128, ELU) is concatenated with the raw statistics; the message MLP
// (256 -> 128 -> 128, ELU); then a GRU of 512 and linear policy and value heads.
//
// An agent made with NewSkillAgent also reads Extra features appended to the statistics (in
// the MLP's input and in the raw copy): MaestroMotif's skill one-hot, which conditions one
// network on the skill it plays.
type Agent struct {
	CharEmb, ColorEmb *nn.EmbeddingLayer
	Convs             []*nn.Conv2dLayer
	CropFC            *nn.LinearLayer
	Blstats, Message  []*nn.LinearLayer
	Core              *nn.GRUCell
	Policy, Value     *nn.LinearLayer
	Actions, Hidden   int
	// Extra is the number of features appended to the statistics (0 for NewAgent).
	Extra int
	cidx  []int
}

// NewAgent returns an agent over the given number of actions.
func NewAgent(actions int, rng *rand.Rand) (*Agent, error) {
	return NewSkillAgent(actions, 0, rng)
}

// NewSkillAgent returns an agent that also reads extra features (Input.Extra) next to
// the statistics: MaestroMotif's skill-conditioned agent with extra = the number of skills.
func NewSkillAgent(actions, extra int, rng *rand.Rand) (*Agent, error) {
	if actions <= 0 {
		return nil, fmt.Errorf("nethackagent: the agent needs at least one action, got %d", actions)
	}
	if extra < 0 {
		return nil, fmt.Errorf("nethackagent: the agent's extra features must not be negative, got %d", extra)
	}
	a := &Agent{Actions: actions, Hidden: 512, Extra: extra}
	var err error
	must := func(l *nn.LinearLayer, e error) *nn.LinearLayer {
		if e != nil && err == nil {
			err = e
		}
		return l
	}
	if a.CharEmb, err = nn.NewEmbedding("char_emb", 256, 16, -1, rng); err != nil {
		return nil, err
	}
	if a.ColorEmb, err = nn.NewEmbedding("color_emb", 32, 8, -1, rng); err != nil {
		return nil, err
	}
	for i, c := range [][4]int{{24, 32, 1, 1}, {32, 64, 2, 1}, {64, 64, 2, 1}} {
		l, e := nn.NewConv2d(fmt.Sprintf("crop_conv%d", i), c[0], c[1], 3, c[2], c[3], rng)
		if e != nil {
			return nil, e
		}
		a.Convs = append(a.Convs, l)
	}
	a.CropFC = must(nn.NewLinear("crop_fc", 64*3*3, 512, rng))
	a.Blstats = []*nn.LinearLayer{must(nn.NewLinear("blstats0", 27+extra, 128, rng)), must(nn.NewLinear("blstats1", 128, 128, rng))}
	a.Message = []*nn.LinearLayer{must(nn.NewLinear("message0", 256, 128, rng)), must(nn.NewLinear("message1", 128, 128, rng))}
	a.Policy = must(nn.NewLinear("policy", 512, actions, rng))
	a.Value = must(nn.NewLinear("value", 512, 1, rng))
	if err != nil {
		return nil, err
	}
	if a.Core, err = nn.NewGRUCell("core", a.EncodedSize(), 512, rng); err != nil {
		return nil, err
	}
	return a, nil
}

// Params returns every parameter in a fixed order.
func (a *Agent) Params() []*nn.Param {
	ps := append(a.CharEmb.Params(), a.ColorEmb.Params()...)
	for _, c := range a.Convs {
		ps = append(ps, c.Params()...)
	}
	ps = append(ps, a.CropFC.Params()...)
	for _, l := range append(append([]*nn.LinearLayer{}, a.Blstats...), a.Message...) {
		ps = append(ps, l.Params()...)
	}
	ps = append(ps, a.Core.Params()...)
	return append(append(ps, a.Policy.Params()...), a.Value.Params()...)
}

// Forward runs one step: logits [N, actions], value [N, 1] and the next hidden state [N, 512]
// from the input and the hidden state h [N, 512] (zero rows start episodes: multiply by a keep
// mask before calling). It is Heads(Core(Encode(in), h)).
func (a *Agent) Forward(g *nn.Graph, in Input, h *nn.Value) (logits, value, next *nn.Value) {
	next = a.Core.Forward(g, a.Encode(g, in), h)
	logits, value = a.Heads(g, next)
	return logits, value, next
}

// EncodedSize is the width of Encode's output for an agent without extra features: crop 512
// + blstats MLP 128 + raw blstats 27 + message 128.
const EncodedSize = 512 + 128 + 27 + 128

// EncodedSize is the width of a's Encode output: EncodedSize plus its extra features.
func (a *Agent) EncodedSize() int { return EncodedSize + a.Extra }

// Encode runs the feed-forward encoders on every row of in: [N, EncodedSize], the core's
// input. A recurrent learner encodes a whole [T*B] sequence batch at once and then steps
// the core through time.
func (a *Agent) Encode(g *nn.Graph, in Input) *nn.Value {
	n, cells := in.N, CropSize*CropSize
	if len(in.Chars) != n*cells || len(in.Colors) != n*cells || len(in.Blstats) != n*27 || len(in.Message) != n*256 || len(in.Extra) != n*a.Extra {
		panic(fmt.Sprintf("nethackagent: agent input of %d rows with %d chars, %d colours, %d blstats, %d message values, %d extra features (the agent takes %d per row)",
			n, len(in.Chars), len(in.Colors), len(in.Blstats), len(in.Message), len(in.Extra), a.Extra))
	}
	// The embeddings and the first convolution in one op (the same function as embedding,
	// concatenating to 24 channels and convolving).
	x := g.ELU(g.EmbeddingConv2d([]*nn.EmbeddingLayer{a.CharEmb, a.ColorEmb}, [][]int{in.Chars, in.Colors}, n, CropSize, CropSize, a.Convs[0]))
	for _, c := range a.Convs[1:] {
		x = g.ELU(c.Forward(g, x))
	}
	crop := g.ELU(a.CropFC.Forward(g, g.Reshape(x, n, -1)))
	bl := g.Input(in.Blstats, n, 27)
	if a.Extra > 0 {
		bl = g.Concat(bl, g.Input(in.Extra, n, a.Extra))
	}
	b := g.ELU(a.Blstats[1].Forward(g, g.ELU(a.Blstats[0].Forward(g, bl))))
	m := g.ELU(a.Message[1].Forward(g, g.ELU(a.Message[0].Forward(g, g.Input(in.Message, n, 256)))))
	return g.Concat(crop, b, bl, m)
}

// Heads returns the policy logits [N, actions] and the value [N, 1] of core outputs h.
func (a *Agent) Heads(g *nn.Graph, h *nn.Value) (logits, value *nn.Value) {
	return a.Policy.Forward(g, h), a.Value.Forward(g, h)
}
