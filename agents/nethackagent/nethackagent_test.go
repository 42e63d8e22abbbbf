package nethackagent

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/nn"
)

func TestRewardModelMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/rewardmodel.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Msg     []uint8     `json:"msg"`
		Target  []float32   `json:"target"`
		Rewards []float32   `json:"rewards"`
		Loss    float32     `json:"loss"`
		Head    [][]float32 `json:"grad_head"`
		AbsSum  []float64   `json:"grad_abs_sum"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	m, err := NewRewardNet(rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	n := 0
	for i, p := range ps {
		fillParam(p, 7919*int64(i))
		n += p.Len()
	}
	if n != 306945 {
		t.Errorf("the reward model has %d parameters, Motif's has 306,945", n)
	}
	g := nn.NewGraph()
	r := g.Reshape(m.Forward(g, ref.Msg), 3, 2)
	loss := g.SoftCrossEntropy(r, g.Input(ref.Target, 3, 2))
	g.Backward(loss)
	closeTo(t, "rewards", r.Data, ref.Rewards, 1e-4)
	closeTo(t, "loss", loss.Data, []float32{ref.Loss}, 1e-4)
	for i, p := range ps {
		closeTo(t, "grad "+p.Name, p.Grad[:len(ref.Head[i])], ref.Head[i], 2e-3)
		s := 0.0
		for _, v := range p.Grad {
			s += math.Abs(float64(v))
		}
		if math.Abs(s-ref.AbsSum[i]) > 1e-3*(1+ref.AbsSum[i]) {
			t.Errorf("sum |grad %s| = %v, PyTorch %v", p.Name, s, ref.AbsSum[i])
		}
	}
}

// BenchmarkRewardModelStep is a Motif reward-model training step: pairs of messages, the
// Bradley-Terry loss, backward and Adam. MAESTRO_RM_PAIRS sets the batch (default 64 pairs;
// the figure is 1024).
func BenchmarkRewardModelStep(b *testing.B) {
	pairs := 64
	if s := os.Getenv("MAESTRO_RM_PAIRS"); s != "" {
		fmt.Sscan(s, &pairs)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	m, _ := NewRewardNet(rng)
	opt, _ := nn.NewAdam(m.Params(), nn.AdamOptions{LR: 1e-5})
	msgs := make([]uint8, 2*pairs*MessageLen)
	for i := range msgs {
		if i%MessageLen < 40 {
			msgs[i] = uint8(32 + rng.IntN(90))
		}
	}
	target := make([]float32, 2*pairs)
	for i := 0; i < pairs; i++ {
		target[2*i] = 1
	}
	g := nn.NewGraph()
	b.ReportAllocs()
	for b.Loop() {
		g.Reset()
		r := g.Reshape(m.Forward(g, msgs), pairs, 2)
		g.Backward(g.SoftCrossEntropy(r, g.Input(target, pairs, 2)))
		opt.Step()
	}
}

func agentInput(rng *rand.Rand, n int) Input {
	in := Input{N: n, Chars: make([]int, n*144), Colors: make([]int, n*144), Blstats: make([]float32, n*27), Message: make([]float32, n*256)}
	for i := range in.Chars {
		in.Chars[i], in.Colors[i] = 32+rng.IntN(90), rng.IntN(16)
	}
	for i := range in.Blstats {
		in.Blstats[i] = float32(rng.Float64())
	}
	for i := 0; i < n*256; i++ {
		if i%256 < 30 {
			in.Message[i] = float32(32+rng.IntN(90)) / 255
		}
	}
	return in
}

// The plain agent and the skill-conditioned one (5 skills: one-hots appended to blstats).
func TestAgentGradientsAndAllocations(t *testing.T) {
	for _, extra := range []int{0, 5} {
		t.Run(fmt.Sprintf("extra=%d", extra), func(t *testing.T) { testAgentGradients(t, extra) })
	}
}

func testAgentGradients(t *testing.T, extra int) {
	rng := rand.New(rand.NewPCG(5, 5))
	a, err := NewSkillAgent(23, extra, rng)
	if err != nil {
		t.Fatal(err)
	}
	in := agentInput(rng, 4)
	if extra > 0 {
		in.Extra = make([]float32, 4*extra)
		for r := range 4 {
			in.Extra[r*extra+r%extra] = 1
		}
		// Another skill gives another policy: the features reach the output.
		other := in
		other.Extra = make([]float32, 4*extra)
		for r := range 4 {
			other.Extra[r*extra+(r+1)%extra] = 1
		}
		g0, g1 := nn.NewGraph(), nn.NewGraph()
		l0, _, _ := a.Forward(g0, in, g0.Input(make([]float32, 4*512), 4, 512))
		l1, _, _ := a.Forward(g1, other, g1.Input(make([]float32, 4*512), 4, 512))
		if slices.Equal(l0.Data, l1.Data) {
			t.Error("the skill one-hot does not change the logits")
		}
		if w := a.Blstats[0].W; w.Shape[1] != 27+extra { // [out, in], as PyTorch
			t.Errorf("blstats0 weight %v, want an input of 27+%d", w.Shape, extra)
		}
	}
	h0 := make([]float32, 4*512)
	actions := []int{1, 5, 22, 0}
	loss := func(g *nn.Graph) *nn.Value {
		h := g.Input(h0, 4, 512)
		logits, value, next := a.Forward(g, in, h)
		logits2, value2, _ := a.Forward(g, in, next) // two steps through the GRU
		d := nn.Categorical{LogP: g.LogSoftmax(g.Add(logits, logits2))}
		return g.Add(g.Mean(d.LogProb(g, actions)), g.Mean(g.Mul(g.Add(value, value2), g.Add(value, value2))))
	}
	g := nn.NewGraph()
	nn.ZeroGrad(a.Params())
	l := loss(g)
	g.Backward(l)
	for _, p := range a.Params() {
		s := 0.0
		for _, v := range p.Grad {
			s += math.Abs(float64(v))
		}
		if s == 0 && p.Name != "char_emb.weight" && p.Name != "color_emb.weight" {
			t.Errorf("no gradient reaches %s", p.Name)
		}
	}
	// Finite differences on a few entries of each parameter.
	for _, p := range a.Params() {
		for _, i := range []int{0, p.Len() / 2, p.Len() - 1} {
			if p.Name == "char_emb.weight" || p.Name == "color_emb.weight" {
				i = 16 * (32 + i%90) // rows the input uses
				if p.Name == "color_emb.weight" {
					i = 8 * (i % 16)
				}
			}
			old := p.Data[i]
			const h = 1e-2
			p.Data[i] = old + h
			up := float64(loss(nn.NewGraph()).Data[0])
			p.Data[i] = old - h
			down := float64(loss(nn.NewGraph()).Data[0])
			p.Data[i] = old
			fd := (up - down) / (2 * h)
			if math.Abs(fd-float64(p.Grad[i])) > 3e-2*(1+math.Abs(fd)) {
				t.Errorf("d loss / d %s[%d] = %v, finite differences %v", p.Name, i, p.Grad[i], fd)
			}
		}
	}
	step := func() {
		g.Reset()
		g.Backward(loss(g))
	}
	step()
	if allocs := testing.AllocsPerRun(5, step); allocs > 0 {
		t.Errorf("an agent training step allocates %v times, want 0", allocs)
	}
	// Split across goroutines (products and element-wise kernels), the same gradients and
	// still no allocation.
	nn.ZeroGrad(a.Params())
	step()
	want := make([][]float32, 0)
	for _, p := range a.Params() {
		want = append(want, slices.Clone(p.Grad))
	}
	nn.SetBLASThreads(2)
	defer nn.SetBLASThreads(0)
	nn.ZeroGrad(a.Params())
	step()
	for i, p := range a.Params() {
		closeTo(t, "split grad "+p.Name, p.Grad, want[i], 1e-4)
	}
	if allocs := testing.AllocsPerRun(5, step); allocs > 0 {
		t.Errorf("a split agent training step allocates %v times, want 0", allocs)
	}
}

// The diffstats reward model: its size and gradients through both branches.
func TestRewardModelDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("about 4 s on 2 cores; make test (no -short) runs it")
	}
	rng := rand.New(rand.NewPCG(4, 4))
	m, err := NewRewardNetDiff(rng)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range m.Params() {
		n += p.Len()
	}
	if n != 291201 {
		t.Errorf("%d parameters, want 291,201", n)
	}
	msgs := make([]uint8, 2*MessageLen)
	copy(msgs, "You kill the newt!")
	copy(msgs[MessageLen:], "You see here 3 gold pieces.")
	diff := []float32{0, 3, -1, 0, 0, 1, 0, 2, 1, -1}
	w := []float32{1, -0.5}
	// Finite differences on the diffstats and joint layers (the trunk is checked elsewhere).
	var params []*nn.Param
	for _, l := range append(append([]*nn.LinearLayer{}, m.Diff...), m.Joint...) {
		params = append(params, l.Params()...)
	}
	// diff0, the start of the new branch (every entry costs two passes of the trunk).
	fdCheckH(t, "diffstats reward model", params[:2], func(g *nn.Graph) *nn.Value {
		return g.Sum(g.Mul(m.ForwardDiff(g, msgs, diff), g.Input(w, 2, 1)))
	}, 1e-3) // small steps: with diffstats of 3 a step of 1e-2 moves a pre-activation by 0.03, across ReLU kinks the check cannot see
}

// BenchmarkAgentForward is the acting step of the NetHack agent at batch 32 (bench/nn's
// agent_fwd_b32).
func BenchmarkAgentForward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, err := NewAgent(23, rng)
	if err != nil {
		b.Fatal(err)
	}
	const n = 32
	in := agentInput(rng, n)
	h := make([]float32, n*512)
	g := nn.NewGraph()
	g.SetNoGrad(true)
	b.ReportAllocs()
	for b.Loop() {
		g.Reset()
		a.Forward(g, in, g.Input(h, n, 512))
	}
}

// TestNoGrad checks that a graph with gradients off computes the same agent outputs, keeps
// no gradient buffers, does not allocate once warm, and refuses Backward.
func TestNoGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	a, err := NewAgent(23, rng)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	in := agentInput(rng, n)
	h := make([]float32, n*512)
	g, ng := nn.NewGraph(), nn.NewGraph()
	ng.SetNoGrad(true)
	l1, v1, h1 := a.Forward(g, in, g.Input(h, n, 512))
	l2, v2, h2 := a.Forward(ng, in, ng.Input(h, n, 512))
	closeTo(t, "logits", l2.Data, l1.Data, 0)
	closeTo(t, "value", v2.Data, v1.Data, 0)
	closeTo(t, "hidden", h2.Data, h1.Data, 0)
	if l2.Grad != nil || h2.Grad != nil || l1.Grad == nil {
		t.Errorf("gradient buffers: no-grad logits %v, hidden %v; with gradients %v", l2.Grad != nil, h2.Grad != nil, l1.Grad != nil)
	}
	fwd := func() {
		ng.Reset()
		a.Forward(ng, in, ng.Input(h, n, 512))
	}
	if allocs := testing.AllocsPerRun(5, fwd); allocs > 0 {
		t.Errorf("a no-grad forward allocates %v times", allocs)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "SetNoGrad") {
			t.Errorf("Backward on a no-grad graph: %v, want a panic naming SetNoGrad", r)
		}
	}()
	ng.Backward(ng.Sum(l2))
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, PyTorch %v", what, i, got[i], want[i])
		}
	}
}

// fillParam reproduces gen_rewardmodel.py's fill: exact integer arithmetic, then one division.
func fillParam(p *nn.Param, salt int64) {
	fanIn := p.Len()
	if len(p.Shape) > 1 {
		fanIn = p.Shape[1]
		if len(p.Shape) > 2 {
			fanIn *= p.Shape[2]
		}
	}
	for i := range p.Data {
		k := float64((int64(i)*2654435761 + salt) % 1000)
		p.Data[i] = float32((k/1000 - 0.5) / math.Sqrt(float64(fanIn)))
	}
}

// fdCheckH checks gradients against finite differences with step h (nn.GradCheck).
func fdCheckH(t *testing.T, what string, params []*nn.Param, f func(g *nn.Graph) *nn.Value, h float32) {
	t.Helper()
	if _, err := nn.GradCheck(params, f, h); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
