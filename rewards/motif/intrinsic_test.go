package motif

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func msgBytes(ms ...string) []uint8 {
	out := make([]uint8, len(ms)*nethackagent.MessageLen)
	for i, m := range ms {
		copy(out[i*nethackagent.MessageLen:], m)
	}
	return out
}

// handModel is a reward model whose normalised outputs the test sets: r_hat(A) = 2,
// r_hat(B) = 1, r_hat(C) = -1 (through the cache), eps = 0.6 at the 0.5 quantile.
func handIntrinsic(t *testing.T, o IntrinsicOptions) *Intrinsic {
	net, _ := nethackagent.NewRewardNet(rand.New(rand.NewPCG(1, 1)))
	quant := make([]float64, len(Quantiles))
	quant[9] = 0.6
	r, err := NewIntrinsic(&RewardModel{Net: net, Mean: 0, Std: 1, Quant: quant}, o)
	if err != nil {
		t.Fatal(err)
	}
	for m, v := range map[string]float64{"A": 2, "B": 1, "C": -1} {
		r.cache[0][string(msgBytes(m))] = v
	}
	return r
}

// TestIntrinsicHandComputed: two envs, four steps; env 0's episode ends after step 1.
//
//	env 0: A A | B A, r_env 1 0 5 0     env 1: B C B B, r_env 0 -200 0 0
//
// per episode (a1 = a2 = 0.1, beta 3, eps 0.6):
//
//	env 0: A n=1: 0.1*0.1 + 0.1*2 = 0.21; A n=2: 0.1*2/8 = 0.025; (reset) B n=1: 0.1*0.5 + 0.1*1
//	       = 0.15; A n=1: 0.2
//	env 1: B n=1: 0.1; C (below eps): 0.1*clip(-20) = -1; B n=2: 0.1/8 = 0.0125; B n=3: 0.1/27
//
// with an LRU of the last 2 messages (no reset at episode ends):
//
//	env 0: 0.21, 0.025, 0.15 (window A B), 0.2 (window B A: A n=1)
//	env 1: 0.1, -1, 0.1 (window C B: B n=1), 0.0125 (window B B)
func TestIntrinsicHandComputed(t *testing.T) {
	batch := func() *tensordict.Dict {
		d := tensordict.New(4, 2)
		m, _ := tensor.FromSlice(msgBytes("A", "B", "A", "C", "B", "B", "A", "B"), 4, 2, nethackagent.MessageLen) // [t][env]
		rw, _ := tensor.FromSlice([]float32{1, 0, 0, -200, 5, 0, 0, 0}, 4, 2)
		dn, _ := tensor.FromSlice([]bool{false, false, true, false, false, false, false, false}, 4, 2)
		d.Set("message", m)
		d.Set("next/reward", rw)
		d.Set("next/done", dn)
		return d
	}
	for _, c := range []struct {
		name string
		lru  int
		want []float64 // [t][env]
	}{
		{"episode", 0, []float64{0.21, 0.1, 0.025, -1, 0.15, 0.0125, 0.2, 0.1 / 27}},
		{"lru2", 2, []float64{0.21, 0.1, 0.025, -1, 0.15, 0.1, 0.2, 0.0125}},
	} {
		o := DefaultIntrinsic()
		o.LRU = c.lru
		r := handIntrinsic(t, o)
		out, err := r.Postproc(batch())
		if err != nil {
			t.Fatal(err)
		}
		got := tensor.MustData[float32](must(out.Get("next/reward")))
		for i, w := range c.want {
			if math.Abs(float64(got[i])-w) > 1e-6 {
				t.Errorf("%s: step %d env %d: reward %g, want %g", c.name, i/2, i%2, got[i], w)
			}
		}
		ex := tensor.MustData[float32](must(out.Get(KeyExtrinsic)))
		if ex[3] != -200 {
			t.Errorf("%s: extrinsic part %g, want the raw -200", c.name, ex[3])
		}
		in, err := EpisodeIntrinsic(out)
		if err != nil || len(in) != 1 || math.Abs(in[0]-2.25) > 1e-9 {
			t.Errorf("%s: finished episodes' intrinsic returns %v (%v); want [2.25]", c.name, in, err)
		}
	}
	// Intrinsic only (a2 = 0): the env's reward is gone.
	o := DefaultIntrinsic()
	o.A2 = 0
	out, _ := handIntrinsic(t, o).Postproc(batch())
	if got := tensor.MustData[float32](must(out.Get("next/reward"))); got[3] != 0 || math.Abs(float64(got[0])-0.2) > 1e-6 {
		t.Errorf("intrinsic only: rewards %v", got)
	}
}

// TestSkillIntrinsicHandComputed: two skills with their own models and thresholds, one env,
// three steps (a1 0.1, a2 0, beta 3, LRU 20):
//
//	skill   0  1  1   (next skill 1 1 0)
//	message A  A  B
//	model 0: r_hat(A) = 2, eps 0.6 (0.5 quantile); model 1: r_hat(A) = -1, r_hat(B) = 3, eps 2.5
//	(0.85 quantile)
//	rewards: 0.1*2/1 = 0.2; -1 < 2.5: 0; 0.1*3/1 = 0.3 (B's first count; A's count was 2)
//	segments: {skill 0, 1 step, return 2}, {skill 1, 2 steps, return 3}
func TestSkillIntrinsicHandComputed(t *testing.T) {
	net, _ := nethackagent.NewRewardNet(rand.New(rand.NewPCG(1, 1)))
	q0, q1 := make([]float64, len(Quantiles)), make([]float64, len(Quantiles))
	q0[9], q1[16] = 0.6, 2.5
	models := []*RewardModel{{Net: net, Mean: 0, Std: 1, Quant: q0}, {Net: net, Mean: 0, Std: 1, Quant: q1}}
	o := DefaultIntrinsic()
	o.A2, o.LRU = 0, 20
	r, err := NewSkillIntrinsic(models, []float64{0.5, 0.85}, "skill", o)
	if err != nil {
		t.Fatal(err)
	}
	r.cache[0][string(msgBytes("A"))] = 2
	r.cache[1][string(msgBytes("A"))] = -1
	r.cache[1][string(msgBytes("B"))] = 3
	d := tensordict.New(3)
	m, _ := tensor.FromSlice(msgBytes("A", "A", "B"), 3, nethackagent.MessageLen)
	d.Set("message", m)
	d.Set("next/reward", tensor.Zeros(tensor.Float32, 3))
	d.Set("next/done", tensor.Zeros(tensor.Bool, 3))
	d.Set("skill", tensor.Of([]int64{0, 1, 1}))
	d.Set("next/skill", tensor.Of([]int64{1, 1, 0}))
	out, err := r.Postproc(d)
	if err != nil {
		t.Fatal(err)
	}
	got := tensor.MustData[float32](must(out.Get("next/reward")))
	for i, w := range []float64{0.2, 0, 0.3} {
		if math.Abs(float64(got[i])-w) > 1e-6 {
			t.Errorf("step %d: reward %g, want %g", i, got[i], w)
		}
	}
	segs, err := Segments(out, "skill")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Segment{{0, 1, 2}, {1, 2, 3}}; len(segs) != 2 || segs[0] != want[0] || segs[1] != want[1] {
		t.Errorf("segments %+v, want %+v", segs, want)
	}
	// Skill 1 stopped and chosen again after step 1 (next/skill_steps 0 there): two segments.
	d2 := tensordict.New(3)
	d2.Set("message", m)
	d2.Set("next/reward", tensor.Zeros(tensor.Float32, 3))
	d2.Set("next/done", tensor.Zeros(tensor.Bool, 3))
	d2.Set("skill", tensor.Of([]int64{1, 1, 1}))
	d2.Set("next/skill", tensor.Of([]int64{1, 1, 1}))
	d2.Set("next/skill_steps", tensor.Of([]int64{3, 0, 1}))
	out2, err := r.Postproc(d2)
	if err != nil {
		t.Fatal(err)
	}
	if segs, _ := Segments(out2, "skill"); len(segs) != 1 || segs[0].Skill != 1 || segs[0].Steps != 2 {
		t.Errorf("segments with a restart: %+v, want one of skill 1 over 2 steps (the third runs on)", segs)
	}
	// A skill without a model, and a batch without skills, are refused with the reason.
	d.Set("skill", tensor.Of([]int64{0, 2, 1}))
	if _, err := r.Postproc(d); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("skill 2 of 2 models: %v", err)
	}
	if _, err := r.Postproc(d.Exclude("skill")); err == nil || !strings.Contains(err.Error(), "skills.Controller") {
		t.Errorf("no skill key: %v", err)
	}
	if _, err := NewSkillIntrinsic(models, []float64{0.5}, "skill", o); err == nil {
		t.Error("two models with one threshold accepted")
	}
}

// TestNormalizedUsesTheModel checks r_hat = (r(m) - mean) / std through the network: with the
// last layer's weights zero its output is its bias.
func TestNormalizedUsesTheModel(t *testing.T) {
	net, _ := nethackagent.NewRewardNet(rand.New(rand.NewPCG(1, 1)))
	last := net.MLP[len(net.MLP)-1]
	clear(last.W.Data)
	last.B.Data[0] = 3
	quant := make([]float64, len(Quantiles))
	r, err := NewIntrinsic(&RewardModel{Net: net, Mean: 1, Std: 4, Quant: quant}, DefaultIntrinsic())
	if err != nil {
		t.Fatal(err)
	}
	got := r.Normalized(msgBytes("You kill the newt!", ""), nil)
	if math.Abs(got[0]-0.5) > 1e-6 || math.Abs(got[1]-0.5) > 1e-6 {
		t.Errorf("r_hat %v, want 0.5 = (3 - 1) / 4", got)
	}
	if _, err := NewIntrinsic(&RewardModel{Net: net, Quant: quant}, IntrinsicOptions{Threshold: 0.42}); err == nil {
		t.Error("a threshold that is not a stored quantile accepted")
	}
}
