package minihackagent

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// ObservationKeys are the observations the agent reads (make the MiniHack env with them); the
// message is also what Motif's reward reads.
var ObservationKeys = []string{"glyphs", "glyphs_crop", "blstats", "message"}

// Model is the rl.Model of an Agent: it reads ObservationKeys, normalises the bottom line
// (nethack.NormalizeBlstats) and scales the message to [0, 1].
type Model struct {
	Net    *Agent
	in     Input
	unroll nn.GRUUnroll
}

// NewModel returns the model of net.
func NewModel(net *Agent) *Model { return &Model{Net: net} }

// Params returns the network's parameters.
func (m *Model) Params() []*nn.Param { return m.Net.Params() }

// StateSize is the core's state size.
func (m *Model) StateSize() int { return Hidden }

// Clone returns a model of the same architecture with fresh weights.
func (m *Model) Clone() (*Model, error) {
	net, err := NewAgent(m.Net.Actions, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	return NewModel(net), nil
}

// Observe prepares the given rows of d's observations under prefix (all rows when rows is
// nil), in that order.
func (m *Model) Observe(d *tensordict.Dict, prefix string, rows []int) error {
	var ts [4]*tensor.Tensor
	var err error
	for i, k := range ObservationKeys {
		if ts[i], err = d.Get(prefix + k); err != nil {
			return fmt.Errorf("minihackagent: the MiniHack agent reads %s: %w (make the env with these observation keys: %v)", prefix+k, err, ObservationKeys)
		}
	}
	glyphs, err1 := tensor.Data[int16](ts[0])
	crop, err2 := tensor.Data[int16](ts[1])
	blstats, err3 := tensor.Data[int64](ts[2])
	message, err4 := tensor.Data[uint8](ts[3])
	for _, e := range []error{err1, err2, err3, err4} {
		if e != nil {
			return fmt.Errorf("minihackagent: MiniHack observations: %w", e)
		}
	}
	n := 1
	for _, s := range d.BatchShape() {
		n *= s
	}
	cells, cc := nethack.Rows*nethack.Cols, CropSize*CropSize
	if len(glyphs) != n*cells || len(crop) != n*cc || len(blstats) != n*nethack.NumBlstats || len(message) != n*nethack.MessageLen {
		return fmt.Errorf("minihackagent: observations under %q hold %d glyphs, %d crop glyphs, %d blstats, %d message bytes over %d rows; want %d, %d (a %dx%d crop), %d, %d per row",
			prefix, len(glyphs), len(crop), len(blstats), len(message), n, cells, cc, CropSize, CropSize, nethack.NumBlstats, nethack.MessageLen)
	}
	if rows != nil {
		n = len(rows)
	}
	in := &m.in
	in.N = n
	in.Map, in.Crop = resize(in.Map, n*cells), resize(in.Crop, n*cc)
	in.Blstats, in.Message = resize(in.Blstats, n*nethack.NumBlstats), resize(in.Message, n*nethack.MessageLen)
	for k := 0; k < n; k++ {
		i := k
		if rows != nil {
			i = rows[k]
		}
		if err := glyphIDs(in.Map[k*cells:(k+1)*cells], glyphs[i*cells:(i+1)*cells]); err != nil {
			return fmt.Errorf("minihackagent: %sglyphs row %d: %w", prefix, i, err)
		}
		if err := glyphIDs(in.Crop[k*cc:(k+1)*cc], crop[i*cc:(i+1)*cc]); err != nil {
			return fmt.Errorf("minihackagent: %sglyphs_crop row %d: %w", prefix, i, err)
		}
		nethack.NormalizeBlstats(in.Blstats[k*nethack.NumBlstats:(k+1)*nethack.NumBlstats], blstats[i*nethack.NumBlstats:(i+1)*nethack.NumBlstats])
		for j, c := range message[i*nethack.MessageLen : (i+1)*nethack.MessageLen] {
			in.Message[k*nethack.MessageLen+j] = float32(c) / 255
		}
	}
	return nil
}

// glyphIDs copies glyph ids into dst, refusing any outside the embedding tables.
func glyphIDs(dst []int, src []int16) error {
	for j, v := range src {
		if v < 0 || int(v) >= Glyphs {
			return fmt.Errorf("glyph %d out of range [0, %d]", v, Glyphs-1)
		}
		dst[j] = int(v)
	}
	return nil
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Step runs the observed rows one step from their states h [n, Hidden].
func (m *Model) Step(g *nn.Graph, h []float32) (logits, value, next *nn.Value) {
	return m.Net.Forward(g, m.in, g.Input(h, m.in.N, Hidden))
}

// Unroll runs the observed rows as T steps of b envs (time-major) from the states h0,
// zeroing env j's state after each step t with ended[t*b+j]; the encoders and the core's input
// projection run on all T*b rows at once.
func (m *Model) Unroll(g *nn.Graph, T, b int, h0 []float32, ended []bool) (logits, value *nn.Value) {
	gi := m.Net.Core.InputProjection(g, m.Net.Encode(g, m.in))
	return m.Net.Heads(g, m.unroll.Run(g, m.Net.Core, gi, T, b, h0, ended))
}
