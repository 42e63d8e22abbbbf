package nn

import (
	"fmt"
	"math/rand/v2"
)

// CropSize is the side of the hero-centred terminal crop the NetHack agent sees.
const CropSize = 12

// AgentInput is one batch of NetHack observations prepared for the agent (N rows):
// Chars and Colors are the hero-centred crops [N][12][12] (nethack.CropTTY), Blstats the
// normalised bottom-line statistics [N][27] (nethack.NormalizeBlstats), Message the message
// bytes scaled to [0, 1] [N][256], Extra the agent's extra features [N][Extra] (a skill's
// one-hot for MaestroMotif; nil when the agent has none).
type AgentInput struct {
	N       int
	Chars   []int // values 0..255
	Colors  []int // values 0..31
	Blstats []float32
	Message []float32
	Extra   []float32
}

// NetHackAgent is a Motif-style actor-critic for NetHack (reference/motif.md §10) in its
// char+colour variant: the 12 x 12 crop goes through character and colour embeddings
// (16 + 8 channels) and three 3x3 convolutions (32, 64, 64 channels; strides 1, 2, 2; ELU) to
// 512 features, where Motif renders the crop to a 3 x 72 x 72 image; the blstats MLP
// (27 -> 128 -> 128, ELU) is concatenated with the raw statistics; the message MLP
// (256 -> 128 -> 128, ELU); then a GRU of 512 and linear policy and value heads.
//
// An agent made with NewSkillAgent also reads Extra features appended to the statistics (in
// the MLP's input and in the raw copy): MaestroMotif's skill one-hot, which conditions one
// network on the skill it plays.
type NetHackAgent struct {
	CharEmb, ColorEmb *EmbeddingLayer
	Convs             []*Conv2dLayer
	CropFC            *LinearLayer
	Blstats, Message  []*LinearLayer
	Core              *GRUCell
	Policy, Value     *LinearLayer
	Actions, Hidden   int
	// Extra is the number of features appended to the statistics (0 for NewNetHackAgent).
	Extra int
	cidx  []int
}

// NewNetHackAgent returns an agent over the given number of actions.
func NewNetHackAgent(actions int, rng *rand.Rand) (*NetHackAgent, error) {
	return NewSkillAgent(actions, 0, rng)
}

// NewSkillAgent returns an agent that also reads extra features (AgentInput.Extra) next to
// the statistics: MaestroMotif's skill-conditioned agent with extra = the number of skills.
func NewSkillAgent(actions, extra int, rng *rand.Rand) (*NetHackAgent, error) {
	if actions <= 0 {
		return nil, fmt.Errorf("nn: the agent needs at least one action, got %d", actions)
	}
	if extra < 0 {
		return nil, fmt.Errorf("nn: the agent's extra features must not be negative, got %d", extra)
	}
	a := &NetHackAgent{Actions: actions, Hidden: 512, Extra: extra}
	var err error
	must := func(l *LinearLayer, e error) *LinearLayer {
		if e != nil && err == nil {
			err = e
		}
		return l
	}
	if a.CharEmb, err = NewEmbedding("char_emb", 256, 16, -1, rng); err != nil {
		return nil, err
	}
	if a.ColorEmb, err = NewEmbedding("color_emb", 32, 8, -1, rng); err != nil {
		return nil, err
	}
	for i, c := range [][4]int{{24, 32, 1, 1}, {32, 64, 2, 1}, {64, 64, 2, 1}} {
		l, e := NewConv2d(fmt.Sprintf("crop_conv%d", i), c[0], c[1], 3, c[2], c[3], rng)
		if e != nil {
			return nil, e
		}
		a.Convs = append(a.Convs, l)
	}
	a.CropFC = must(NewLinear("crop_fc", 64*3*3, 512, rng))
	a.Blstats = []*LinearLayer{must(NewLinear("blstats0", 27+extra, 128, rng)), must(NewLinear("blstats1", 128, 128, rng))}
	a.Message = []*LinearLayer{must(NewLinear("message0", 256, 128, rng)), must(NewLinear("message1", 128, 128, rng))}
	a.Policy = must(NewLinear("policy", 512, actions, rng))
	a.Value = must(NewLinear("value", 512, 1, rng))
	if err != nil {
		return nil, err
	}
	if a.Core, err = NewGRUCell("core", a.EncodedSize(), 512, rng); err != nil {
		return nil, err
	}
	return a, nil
}

// Params returns every parameter in a fixed order.
func (a *NetHackAgent) Params() []*Param {
	ps := append(a.CharEmb.Params(), a.ColorEmb.Params()...)
	for _, c := range a.Convs {
		ps = append(ps, c.Params()...)
	}
	ps = append(ps, a.CropFC.Params()...)
	for _, l := range append(append([]*LinearLayer{}, a.Blstats...), a.Message...) {
		ps = append(ps, l.Params()...)
	}
	ps = append(ps, a.Core.Params()...)
	return append(append(ps, a.Policy.Params()...), a.Value.Params()...)
}

// Forward runs one step: logits [N, actions], value [N, 1] and the next hidden state [N, 512]
// from the input and the hidden state h [N, 512] (zero rows start episodes: multiply by a keep
// mask before calling). It is Heads(Core(Encode(in), h)).
func (a *NetHackAgent) Forward(g *Graph, in AgentInput, h *Value) (logits, value, next *Value) {
	next = a.Core.Forward(g, a.Encode(g, in), h)
	logits, value = a.Heads(g, next)
	return logits, value, next
}

// EncodedSize is the width of Encode's output for an agent without extra features: crop 512
// + blstats MLP 128 + raw blstats 27 + message 128.
const EncodedSize = 512 + 128 + 27 + 128

// EncodedSize is the width of a's Encode output: EncodedSize plus its extra features.
func (a *NetHackAgent) EncodedSize() int { return EncodedSize + a.Extra }

// Encode runs the feed-forward encoders on every row of in: [N, EncodedSize], the core's
// input. A recurrent learner encodes a whole [T*B] sequence batch at once and then steps
// the core through time.
func (a *NetHackAgent) Encode(g *Graph, in AgentInput) *Value {
	n, cells := in.N, CropSize*CropSize
	if len(in.Chars) != n*cells || len(in.Colors) != n*cells || len(in.Blstats) != n*27 || len(in.Message) != n*256 || len(in.Extra) != n*a.Extra {
		panic(fmt.Sprintf("nn: agent input of %d rows with %d chars, %d colours, %d blstats, %d message values, %d extra features (the agent takes %d per row)",
			n, len(in.Chars), len(in.Colors), len(in.Blstats), len(in.Message), len(in.Extra), a.Extra))
	}
	// The embeddings and the first convolution in one op (the same function as embedding,
	// concatenating to 24 channels and convolving).
	x := g.ELU(g.EmbeddingConv2d([]*EmbeddingLayer{a.CharEmb, a.ColorEmb}, [][]int{in.Chars, in.Colors}, n, CropSize, CropSize, a.Convs[0]))
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
func (a *NetHackAgent) Heads(g *Graph, h *Value) (logits, value *Value) {
	return a.Policy.Forward(g, h), a.Value.Forward(g, h)
}

// ActorCritic is an MLP actor-critic for small vector observations (CartPole): separate actor
// and critic bodies of two Tanh layers each (as CleanRL's PPO: a shared body lets the value
// loss, whose targets reach ~100, swamp the policy's gradients), policy logits and a value.
type ActorCritic struct {
	Actor, Critic *MLP
}

// NewActorCritic returns an actor-critic from obs features to actions with hidden layers of
// the given size, orthogonally initialised as PPO implementations do (gain sqrt(2) for hidden
// layers, 0.01 for the policy output, 1 for the value output; zero biases).
func NewActorCritic(obs, actions, hidden int, rng *rand.Rand) (*ActorCritic, error) {
	actor, err := NewMLP("actor", []int{obs, hidden, hidden, actions}, (*Graph).Tanh, rng)
	if err != nil {
		return nil, err
	}
	critic, err := NewMLP("critic", []int{obs, hidden, hidden, 1}, (*Graph).Tanh, rng)
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		mlp  *MLP
		last float64
	}{{actor, 0.01}, {critic, 1}} {
		for i, l := range m.mlp.Layers {
			gain := 1.4142135623730951
			if i == len(m.mlp.Layers)-1 {
				gain = m.last
			}
			if err := Orthogonal(l.W, gain, rng); err != nil {
				return nil, err
			}
			clear(l.B.Data)
		}
	}
	return &ActorCritic{Actor: actor, Critic: critic}, nil
}

// Params returns every parameter.
func (ac *ActorCritic) Params() []*Param { return append(ac.Actor.Params(), ac.Critic.Params()...) }

// Forward returns logits [N, actions] and values [N, 1] for obs [N, features].
func (ac *ActorCritic) Forward(g *Graph, obs *Value) (logits, value *Value) {
	return ac.Actor.Forward(g, obs), ac.Critic.Forward(g, obs)
}
