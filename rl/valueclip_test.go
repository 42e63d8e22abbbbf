package rl

import (
	"math"
	"testing"

	"github.com/maestro-rl/maestro/nn"
)

// TestClipValueLoss checks CleanRL's clipped value loss on hand-computed values: v = (1.0, 0.0),
// targets (2.0, 1.0), acting values v_old (0.8, 0.3), clip 0.1. v - v_old = (0.2, -0.3) clips
// to (0.1, -0.1): clipped values (0.9, 0.2). Squared errors: unclipped (1.0, 1.0), clipped
// (1.21, 0.64); the larger of each, (1.21, 1.0), has mean 1.105 (without the option: 1.0). The
// gradient: row 1 takes the clipped branch, constant in v (0); row 2 the unclipped one,
// d/dv (v - 1)^2 / 2 = -1.
func TestClipValueLoss(t *testing.T) {
	for _, c := range []struct {
		clip bool
		want float64
	}{{false, 1.0}, {true, 1.105}} {
		o := DefaultOptions(PPO)
		o.Clip, o.ClipValueLoss = 0.1, c.clip
		g := nn.NewGraph()
		logits := g.Input([]float32{0, 0, 0, 0}, 2, 2)
		v := g.Param(nn.NewParam("v", 2, 1))
		copy(v.Data, []float32{1, 0})
		tr := o.objective(g, logits, v, []int{0, 1}, []float32{float32(math.Log(0.5)), float32(math.Log(0.5))},
			[]float32{0, 0}, []float32{2, 1}, []float32{0.8, 0.3})
		if got := float64(tr.value.Data[0]); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("ClipValueLoss %v: value loss %.6f, want %.6f", c.clip, got, c.want)
		}
		if c.clip {
			g.Backward(tr.value)
			if v.Grad[0] != 0 || math.Abs(float64(v.Grad[1])+1) > 1e-6 {
				t.Errorf("clipped value loss gradient %v, want [0 -1]", v.Grad)
			}
		}
	}
}
