package minihackagent

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
)

// CropSize is the side of the hero-centred glyph crop (MiniHack's default, 9).
const CropSize = 9

// Glyphs is the size of the glyph embeddings' tables: NLE's glyph ids 0..NoGlyph.
const Glyphs = nethack.NoGlyph + 1

// Sizes of the agent's parts.
const (
	GlyphDim   = 16  // each glyph's embedding
	MapOut     = 256 // the map encoder's features
	CropOut    = 256 // the crop encoder's features
	StatsOut   = 128 // the bottom-line MLP's features
	MessageOut = 64  // the message MLP's features
	Hidden     = 256 // the GRU core
	// EncodedSize is the width of Encode's output, the core's input.
	EncodedSize = MapOut + CropOut + StatsOut + MessageOut
)

// the map encoder's strided convolutions take 21 x 79 to 11 x 40 to 6 x 20.
const mapH, mapW = 6, 20

// Input is one batch of MiniHack observations prepared for the agent (N rows): Map the glyph
// ids of the whole map [N][21][79], Crop those of the crop [N][9][9], Blstats the normalised
// bottom line [N][27] (nethack.NormalizeBlstats), Message the message bytes scaled to [0, 1]
// [N][256].
type Input struct {
	N       int
	Map     []int
	Crop    []int
	Blstats []float32
	Message []float32
}

// Agent is the MiniHack actor-critic. As MiniHack's baseline (Samvelyan et al., 2021) it
// embeds the glyphs of the whole map and of the hero-centred crop and convolves each, with
// the bottom line through an MLP; here the map goes through two 3x3 convolutions of stride 2
// (16 channels, ELU) to 256 features, the crop through two 3x3 convolutions of stride 1 (32
// channels, ELU) to 256, the statistics through 27 -> 128 -> 128, the message through
// 256 -> 64, and a GRU of 256 feeds linear policy and value heads. Each encoder has its own
// embedding table.
type Agent struct {
	MapEmb, CropEmb *nn.EmbeddingLayer
	MapConvs        []*nn.Conv2dLayer
	CropConvs       []*nn.Conv2dLayer
	MapFC, CropFC   *nn.LinearLayer
	Blstats         []*nn.LinearLayer
	Message         *nn.LinearLayer
	Core            *nn.GRUCell
	Policy, Value   *nn.LinearLayer
	Actions         int
}

// NewAgent returns an agent over the given number of actions.
func NewAgent(actions int, rng *rand.Rand) (*Agent, error) {
	if actions <= 0 {
		return nil, fmt.Errorf("minihackagent: the agent needs at least one action, got %d", actions)
	}
	a := &Agent{Actions: actions}
	var err error
	lin := func(name string, in, out int) *nn.LinearLayer {
		l, e := nn.NewLinear(name, in, out, rng)
		if e != nil && err == nil {
			err = e
		}
		return l
	}
	conv := func(name string, in, out, stride int) *nn.Conv2dLayer {
		l, e := nn.NewConv2d(name, in, out, 3, stride, 1, rng)
		if e != nil && err == nil {
			err = e
		}
		return l
	}
	if a.MapEmb, err = nn.NewEmbedding("map_emb", Glyphs, GlyphDim, -1, rng); err != nil {
		return nil, err
	}
	if a.CropEmb, err = nn.NewEmbedding("crop_emb", Glyphs, GlyphDim, -1, rng); err != nil {
		return nil, err
	}
	a.MapConvs = []*nn.Conv2dLayer{conv("map_conv0", GlyphDim, 16, 2), conv("map_conv1", 16, 16, 2)}
	a.CropConvs = []*nn.Conv2dLayer{conv("crop_conv0", GlyphDim, 32, 1), conv("crop_conv1", 32, 32, 1)}
	a.MapFC = lin("map_fc", 16*mapH*mapW, MapOut)
	a.CropFC = lin("crop_fc", 32*CropSize*CropSize, CropOut)
	a.Blstats = []*nn.LinearLayer{lin("blstats0", nethack.NumBlstats, StatsOut), lin("blstats1", StatsOut, StatsOut)}
	a.Message = lin("message0", nethack.MessageLen, MessageOut)
	a.Policy = lin("policy", Hidden, actions)
	a.Value = lin("value", Hidden, 1)
	if err != nil {
		return nil, err
	}
	if a.Core, err = nn.NewGRUCell("core", EncodedSize, Hidden, rng); err != nil {
		return nil, err
	}
	return a, nil
}

// Params returns every parameter in a fixed order.
func (a *Agent) Params() []*nn.Param {
	ps := append(a.MapEmb.Params(), a.CropEmb.Params()...)
	for _, c := range append(append([]*nn.Conv2dLayer{}, a.MapConvs...), a.CropConvs...) {
		ps = append(ps, c.Params()...)
	}
	for _, l := range append([]*nn.LinearLayer{a.MapFC, a.CropFC}, append(a.Blstats, a.Message)...) {
		ps = append(ps, l.Params()...)
	}
	ps = append(ps, a.Core.Params()...)
	return append(append(ps, a.Policy.Params()...), a.Value.Params()...)
}

// Forward runs one step: logits [N, actions], value [N, 1] and the next hidden state [N, 256]
// from the input and the hidden state h [N, 256]. It is Heads(Core(Encode(in), h)).
func (a *Agent) Forward(g *nn.Graph, in Input, h *nn.Value) (logits, value, next *nn.Value) {
	next = a.Core.Forward(g, a.Encode(g, in), h)
	logits, value = a.Heads(g, next)
	return logits, value, next
}

// Encode runs the feed-forward encoders on every row of in: [N, EncodedSize].
func (a *Agent) Encode(g *nn.Graph, in Input) *nn.Value {
	n := in.N
	cells, crop := nethack.Rows*nethack.Cols, CropSize*CropSize
	if len(in.Map) != n*cells || len(in.Crop) != n*crop || len(in.Blstats) != n*nethack.NumBlstats || len(in.Message) != n*nethack.MessageLen {
		panic(fmt.Sprintf("minihackagent: agent input of %d rows with %d map glyphs, %d crop glyphs, %d blstats, %d message values",
			n, len(in.Map), len(in.Crop), len(in.Blstats), len(in.Message)))
	}
	m := g.ELU(g.EmbeddingConv2d([]*nn.EmbeddingLayer{a.MapEmb}, [][]int{in.Map}, n, nethack.Rows, nethack.Cols, a.MapConvs[0]))
	m = g.ELU(a.MapConvs[1].Forward(g, m))
	m = g.ELU(a.MapFC.Forward(g, g.Reshape(m, n, -1)))
	c := g.ELU(g.EmbeddingConv2d([]*nn.EmbeddingLayer{a.CropEmb}, [][]int{in.Crop}, n, CropSize, CropSize, a.CropConvs[0]))
	c = g.ELU(a.CropConvs[1].Forward(g, c))
	c = g.ELU(a.CropFC.Forward(g, g.Reshape(c, n, -1)))
	b := g.ELU(a.Blstats[1].Forward(g, g.ELU(a.Blstats[0].Forward(g, g.Input(in.Blstats, n, nethack.NumBlstats)))))
	msg := g.ELU(a.Message.Forward(g, g.Input(in.Message, n, nethack.MessageLen)))
	return g.Concat(m, c, b, msg)
}

// Heads returns the policy logits [N, actions] and the value [N, 1] of core outputs h.
func (a *Agent) Heads(g *nn.Graph, h *nn.Value) (logits, value *nn.Value) {
	return a.Policy.Forward(g, h), a.Value.Forward(g, h)
}
