package nethackagent

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// ObservationKeys are the observations the agent reads (make the env with them).
var ObservationKeys = []string{"tty_chars", "tty_colors", "blstats", "message"}

// KeySkill is the skill a skill-conditioned agent (NewSkillAgent) plays: an int64 observation
// in [0, skills) that the model turns into the one-hot the network reads (skills.Controller
// writes it).
const KeySkill = "skill"

// Model is the rl.Model of an Agent: it reads ObservationKeys (and KeySkill for a
// skill-conditioned agent), crops the terminal around the hero (nethack.CropTTY), normalises
// the bottom line (nethack.NormalizeBlstats) and scales the message to [0, 1].
type Model struct {
	Net    *Agent
	in     Input
	unroll nn.GRUUnroll
	chars  []uint8
	cols   []int8
}

// NewModel returns the model of net.
func NewModel(net *Agent) *Model {
	return &Model{Net: net, chars: make([]uint8, CropSize*CropSize), cols: make([]int8, CropSize*CropSize)}
}

// Params returns the network's parameters.
func (m *Model) Params() []*nn.Param { return m.Net.Params() }

// StateSize is the core's state size (512).
func (m *Model) StateSize() int { return m.Net.Hidden }

// Clone returns a model of the same architecture with fresh weights.
func (m *Model) Clone() (*Model, error) {
	net, err := NewSkillAgent(m.Net.Actions, m.Net.Extra, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	return NewModel(net), nil
}

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
	var ts [4]*tensor.Tensor
	for i, k := range ObservationKeys {
		if ts[i], err = td.Get(prefix + k); err != nil {
			return o, fmt.Errorf("nethackagent: the NetHack agent reads %s: %w (make the env with these observation keys: %v)", prefix+k, err, ObservationKeys)
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
		return o, fmt.Errorf("nethackagent: NetHack observations: %w", err)
	}
	n := 1
	for _, d := range td.BatchShape() {
		n *= d
	}
	tty := nethack.TermRows * nethack.TermCols
	if len(o.chars) != n*tty || len(o.colors) != n*tty || len(o.blstats) != n*nethack.NumBlstats || len(o.message) != n*nethack.MessageLen {
		return o, fmt.Errorf("nethackagent: NetHack observations under %q hold %d tty chars, %d colours, %d blstats, %d message bytes over %d rows; want %d, %d, %d, %d per row",
			prefix, len(o.chars), len(o.colors), len(o.blstats), len(o.message), n, tty, tty, nethack.NumBlstats, nethack.MessageLen)
	}
	if skills > 0 {
		if o.skill, err = tensordict.GetAs[int64](td, prefix+KeySkill); err != nil {
			return o, fmt.Errorf("nethackagent: the skill-conditioned agent reads %s: %w (wrap the env in skills.Controller)", prefix+KeySkill, err)
		}
		if len(o.skill) != n {
			return o, fmt.Errorf("nethackagent: %s holds %d values over %d rows; want one per row", prefix+KeySkill, len(o.skill), n)
		}
		for _, k := range o.skill {
			if k < 0 || int(k) >= skills {
				return o, fmt.Errorf("nethackagent: %s %d out of range: the agent knows %d skills", prefix+KeySkill, k, skills)
			}
		}
	}
	return o, nil
}

// Observe prepares the given rows of d's observations under prefix (all rows when rows is
// nil), in that order.
func (m *Model) Observe(d *tensordict.Dict, prefix string, rows []int) error {
	o, err := readObs(d, prefix, m.Net.Extra)
	if err != nil {
		return err
	}
	n := len(o.blstats) / nethack.NumBlstats
	if rows != nil {
		n = len(rows)
	}
	cells, tty := CropSize*CropSize, nethack.TermRows*nethack.TermCols
	in := &m.in
	in.N = n
	in.Chars, in.Colors = resize(in.Chars, n*cells), resize(in.Colors, n*cells)
	in.Blstats, in.Message = resize(in.Blstats, n*nethack.NumBlstats), resize(in.Message, n*nethack.MessageLen)
	K := m.Net.Extra
	in.Extra = resize(in.Extra, n*K)
	clear(in.Extra)
	for k := 0; k < n; k++ {
		i := k
		if rows != nil {
			i = rows[k]
		}
		bl := o.blstats[i*nethack.NumBlstats : (i+1)*nethack.NumBlstats]
		nethack.CropTTY(m.chars, m.cols, o.chars[i*tty:(i+1)*tty], o.colors[i*tty:(i+1)*tty], bl, CropSize)
		for j := range cells {
			in.Chars[k*cells+j], in.Colors[k*cells+j] = int(m.chars[j]), int(m.cols[j])
		}
		nethack.NormalizeBlstats(in.Blstats[k*nethack.NumBlstats:(k+1)*nethack.NumBlstats], bl)
		for j, c := range o.message[i*nethack.MessageLen : (i+1)*nethack.MessageLen] {
			in.Message[k*nethack.MessageLen+j] = float32(c) / 255
		}
		if K > 0 {
			in.Extra[k*K+int(o.skill[i])] = 1
		}
	}
	return nil
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Step runs the observed rows one step from their states h [n, 512].
func (m *Model) Step(g *nn.Graph, h []float32) (logits, value, next *nn.Value) {
	return m.Net.Forward(g, m.in, g.Input(h, m.in.N, m.Net.Hidden))
}

// Unroll runs the observed rows as T steps of b envs (time-major) from the states h0,
// zeroing env j's state after each step t with ended[t*b+j]. The encoders and the core's input
// projection run on all T*b rows in one product each.
func (m *Model) Unroll(g *nn.Graph, T, b int, h0 []float32, ended []bool) (logits, value *nn.Value) {
	gi := m.Net.Core.InputProjection(g, m.Net.Encode(g, m.in)) // all T steps in one product
	return m.Net.Heads(g, m.unroll.Run(g, m.Net.Core, gi, T, b, h0, ended))
}
