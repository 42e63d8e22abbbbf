package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/tensordict"
)

type reference struct {
	Inputs map[string][]float32 `json:"inputs"`
	Acts   map[string]struct {
		Logits []float32   `json:"logits"`
		Loss   float32     `json:"loss"`
		Grads  [][]float32 `json:"grads"`
		DX     []float32   `json:"dx"`
	}
	Adam  [][]float32 `json:"adam"`
	AdamW [][]float32 `json:"adamw"`
}

func loadRef(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw["inputs"], &r.Inputs)
	json.Unmarshal(raw["adam"], &r.Adam)
	json.Unmarshal(raw["adamw"], &r.AdamW)
	r.Acts = map[string]struct {
		Logits []float32   `json:"logits"`
		Loss   float32     `json:"loss"`
		Grads  [][]float32 `json:"grads"`
		DX     []float32   `json:"dx"`
	}{}
	for _, k := range []string{"relu", "tanh", "sigmoid", "elu"} {
		var a struct {
			Logits []float32   `json:"logits"`
			Loss   float32     `json:"loss"`
			Grads  [][]float32 `json:"grads"`
			DX     []float32   `json:"dx"`
		}
		json.Unmarshal(raw[k], &a)
		r.Acts[k] = a
	}
	return r
}

func param(name string, data []float32, shape ...int) *Param {
	p := NewParam(name, shape...)
	copy(p.Data, data)
	return p
}

var actNames = []string{"relu", "tanh", "sigmoid", "elu"}

var acts = map[string]func(*Graph, *Value) *Value{"relu": (*Graph).ReLU, "tanh": (*Graph).Tanh, "sigmoid": (*Graph).Sigmoid, "elu": (*Graph).ELU}

// network is the reference network of testdata/gen_reference.py.
func network(g *Graph, act func(*Graph, *Value) *Value, x *Value, ps []*Param, target, reg, mask *Value) *Value {
	h := act(g, g.Linear(x, ps[0], ps[1]))
	logits := g.Linear(h, ps[2], ps[3])
	loss := g.Add(g.SoftCrossEntropy(logits, target), g.MSE(logits, reg))
	return g.Add(loss, g.Sum(g.Mul(g.Softmax(logits), mask)))
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

func TestMatchesPyTorch(t *testing.T) {
	r := loadRef(t)
	in := r.Inputs
	mask := make([]float32, 12)
	for i := 0; i < 4; i++ {
		mask[i*3] = 1
	}
	for name, act := range acts {
		ps := []*Param{param("w1", in["w1"], 6, 5), param("b1", in["b1"], 6), param("w2", in["w2"], 3, 6), param("b2", in["b2"], 3)}
		g := NewGraph()
		x := g.value(true, 4, 5)
		copy(x.Data, in["x"])
		loss := network(g, act, x, ps, g.Input(in["target"], 4, 3), g.Input(in["reg"], 4, 3), g.Input(mask, 4, 3))
		g.Backward(loss)
		want := r.Acts[name]
		closeTo(t, name+" loss", loss.Data, []float32{want.Loss}, 1e-5)
		for i, p := range ps {
			closeTo(t, name+" grad "+p.Name, p.Grad, want.Grads[i], 1e-4)
		}
		closeTo(t, name+" dx", x.Grad, want.DX, 1e-4)
	}
}

func TestAdamMatchesPyTorch(t *testing.T) {
	r := loadRef(t)
	in := r.Inputs
	for _, decoupled := range []bool{false, true} {
		ps := []*Param{param("w1", in["w1"], 6, 5), param("b1", in["b1"], 6)}
		opt, err := NewAdam(ps, AdamOptions{LR: 0.01, Beta1: 0.9, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1, Decoupled: decoupled})
		if err != nil {
			t.Fatal(err)
		}
		g := NewGraph()
		for step := 0; step < 3; step++ {
			g.Reset()
			y := g.Linear(g.Input(in["x"], 4, 5), ps[0], ps[1])
			loss := g.Mean(g.Mul(y, y))
			loss.Data[0] *= float32(step + 1) // PyTorch scales the loss by step+1
			loss.Grad[0] = 0
			g.Backward(scaled(g, loss, float32(step+1)))
			opt.Step()
		}
		want := r.Adam
		if decoupled {
			want = r.AdamW
		}
		for i, p := range ps {
			closeTo(t, "adam "+p.Name, p.Data, want[i], 2e-5)
		}
	}
}

// scaled returns a scalar whose gradient into loss is k (so Backward(loss*k)).
func scaled(g *Graph, loss *Value, k float32) *Value {
	return g.Mul(loss, g.Input([]float32{k}, 1))
}

// TestFiniteDifferences checks every op's gradient against central differences.
func TestFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	randv := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	target := make([]float32, 12)
	for i := range target {
		target[i] = rng.Float32()
	}
	for _, name := range actNames { // a fixed order: the inputs drawn for each are fixed too
		act := acts[name]
		w1, w2 := param("w1", randv(30), 6, 5), param("w2", randv(18), 3, 6)
		b1, b2 := param("b1", randv(6), 6), param("b2", randv(3), 3)
		ps := []*Param{w1, b1, w2, b2}
		xdata, reg, mask := randv(20), randv(12), randv(12)
		f := func() float64 {
			g := NewGraph()
			x := g.Input(xdata, 4, 5)
			loss := network(g, act, x, ps, g.Input(target, 4, 3), g.Input(reg, 4, 3), g.Input(mask, 4, 3))
			return float64(loss.Data[0])
		}
		g := NewGraph()
		ZeroGrad(ps)
		loss := network(g, act, g.Input(xdata, 4, 5), ps, g.Input(target, 4, 3), g.Input(reg, 4, 3), g.Input(mask, 4, 3))
		g.Backward(loss)
		for _, p := range ps {
			for i := range p.Data {
				old := p.Data[i]
				const h = 1e-2
				p.Data[i] = old + h
				up := f()
				p.Data[i] = old - h
				down := f()
				p.Data[i] = old
				fd := (up - down) / (2 * h)
				if d := math.Abs(fd - float64(p.Grad[i])); d > 2e-2*(1+math.Abs(fd)) {
					t.Fatalf("%s: d loss / d %s[%d] = %v, finite differences %v", name, p.Name, i, p.Grad[i], fd)
				}
			}
		}
	}
	// Concat, reached through a two-branch network.
	w := param("w", randv(12), 3, 4)
	b := param("b", randv(3), 3)
	xa, xb := randv(6), randv(6)
	f := func() (*Graph, *Value) {
		g := NewGraph()
		y := g.Linear(g.Concat(g.Tanh(g.Linear(g.Input(xa, 3, 2), param("p", []float32{1, 0.5, -1, 2}, 2, 2), nil)), g.Input(xb, 3, 2)), w, b)
		return g, g.Mean(g.Mul(y, y))
	}
	g, loss := f()
	ZeroGrad([]*Param{w, b})
	g.Backward(loss)
	for i := range w.Data {
		old := w.Data[i]
		w.Data[i] = old + 1e-2
		_, up := f()
		w.Data[i] = old - 1e-2
		_, down := f()
		w.Data[i] = old
		fd := float64(up.Data[0]-down.Data[0]) / 2e-2
		if d := math.Abs(fd - float64(w.Grad[i])); d > 2e-2*(1+math.Abs(fd)) {
			t.Fatalf("concat network: d/dw[%d] = %v, finite differences %v", i, w.Grad[i], fd)
		}
	}
}

func TestMLPLearnsAndAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := NewMLP("mlp", []int{2, 32, 32, 1}, (*Graph).Tanh, rng)
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := NewAdam(m.Params(), AdamOptions{LR: 3e-3})
	xs := make([]float32, 256*2)
	ys := make([]float32, 256)
	for i := range ys {
		a, b := rng.Float64()*2-1, rng.Float64()*2-1
		xs[2*i], xs[2*i+1] = float32(a), float32(b)
		ys[i] = float32(math.Sin(3*a) * b)
	}
	g := NewGraph()
	step := func() float32 {
		g.Reset()
		loss := g.MSE(m.Forward(g, g.Input(xs, 256, 2)), g.Input(ys, 256, 1))
		g.Backward(loss)
		opt.Step()
		return loss.Data[0]
	}
	first := step()
	var last float32
	for range 1500 {
		last = step()
	}
	if last > first/20 {
		t.Errorf("MSE went from %v to %v in 1500 steps; want a 20x drop", first, last)
	}
	allocs := testing.AllocsPerRun(20, func() { step() })
	if allocs > 0 {
		t.Errorf("a training step allocates %v times in steady state, want 0", allocs)
	}
	if err := CheckGrads(m.Params()); err != nil {
		t.Fatal(err)
	}
	m.Params()[0].Grad[3] = float32(math.NaN())
	if err := CheckGrads(m.Params()); err == nil || !strings.Contains(err.Error(), "mlp.0.weight") {
		t.Errorf("NaN gradient not reported by name: %v", err)
	}
}

func TestClipAndOrthogonal(t *testing.T) {
	p := NewParam("p", 2, 2)
	copy(p.Grad, []float32{3, 4, 0, 0})
	if n := ClipGradNorm([]*Param{p}, 1); math.Abs(n-5) > 1e-9 {
		t.Errorf("norm %v, want 5", n)
	}
	if math.Abs(float64(p.Grad[0])-0.6) > 1e-5 || math.Abs(float64(p.Grad[1])-0.8) > 1e-5 {
		t.Errorf("clipped grads %v, want [0.6 0.8 0 0]", p.Grad)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for _, sh := range [][2]int{{4, 4}, {3, 7}, {7, 3}} {
		q := NewParam("q", sh[0], sh[1])
		if err := Orthogonal(q, 2, rng); err != nil {
			t.Fatal(err)
		}
		r, c := sh[0], sh[1]
		// The fewer of rows/columns are orthogonal with norm gain.
		if r <= c {
			for i := 0; i < r; i++ {
				for j := 0; j < r; j++ {
					d := 0.0
					for k := 0; k < c; k++ {
						d += float64(q.Data[i*c+k] * q.Data[j*c+k])
					}
					want := 0.0
					if i == j {
						want = 4
					}
					if math.Abs(d-want) > 1e-4 {
						t.Fatalf("%v: rows %d,%d dot %v, want %v", sh, i, j, d, want)
					}
				}
			}
		} else {
			for i := 0; i < c; i++ {
				for j := 0; j < c; j++ {
					d := 0.0
					for k := 0; k < r; k++ {
						d += float64(q.Data[k*c+i] * q.Data[k*c+j])
					}
					want := 0.0
					if i == j {
						want = 4
					}
					if math.Abs(d-want) > 1e-4 {
						t.Fatalf("%v: columns %d,%d dot %v, want %v", sh, i, j, d, want)
					}
				}
			}
		}
	}
}

// BenchmarkMLPStep is the mlp_step: an MLP 512-512-16 training step at batch 256
// (forward, MSE, backward, Adam).
func BenchmarkMLPStep(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, _ := NewMLP("mlp", []int{512, 512, 16}, (*Graph).ReLU, rng)
	opt, _ := NewAdam(m.Params(), AdamOptions{})
	xs := make([]float32, 256*512)
	ys := make([]float32, 256*16)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	g := NewGraph()
	b.ReportAllocs()
	for b.Loop() {
		g.Reset()
		loss := g.MSE(m.Forward(g, g.Input(xs, 256, 512)), g.Input(ys, 256, 16))
		g.Backward(loss)
		opt.Step()
	}
}

func TestCategoricalMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/categorical.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Logits  []float32 `json:"logits"`
		Actions []int     `json:"actions"`
		Adv     []float32 `json:"adv"`
		Loss    float32   `json:"loss"`
		Grad    []float32 `json:"grad"`
		Entropy []float32 `json:"entropy"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	g := NewGraph()
	logits := g.value(true, 5, 4)
	copy(logits.Data, ref.Logits)
	d := Categorical{LogP: g.LogSoftmax(logits)}
	ent := d.Entropy(g)
	closeTo(t, "entropy", ent.Data, ref.Entropy, 1e-5)
	pg := g.Mean(g.Mul(d.LogProb(g, ref.Actions), g.Input(ref.Adv, 5)))
	loss := g.Add(g.Mul(pg, g.Input([]float32{-1}, 1)), g.Mul(g.Mean(ent), g.Input([]float32{-0.01}, 1)))
	g.Backward(loss)
	closeTo(t, "loss", loss.Data, []float32{ref.Loss}, 1e-5)
	closeTo(t, "d loss / d logits", logits.Grad, ref.Grad, 1e-4)

	// Sampling follows the probabilities; the mode is the argmax; masked actions never come.
	rng := rand.New(rand.NewPCG(9, 9))
	counts := make([]int, 4)
	acts := make([]int, 5)
	for range 20000 {
		d.Sample(rng, acts)
		counts[acts[0]]++
	}
	for j := range counts {
		p := math.Exp(float64(d.LogP.Data[j]))
		if got := float64(counts[j]) / 20000; math.Abs(got-p) > 0.02 {
			t.Errorf("action %d sampled with frequency %.3f, probability %.3f", j, got, p)
		}
	}
	d.Mode(acts)
	for r, a := range acts {
		row := ref.Logits[r*4 : (r+1)*4]
		for j := range row {
			if row[j] > row[a] {
				t.Errorf("mode of row %d is %d, but logit %d is larger", r, a, j)
			}
		}
	}
	g2 := NewGraph()
	ml := g2.Input(ref.Logits, 5, 4)
	MaskLogits(ml, []bool{false, true, true, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true})
	md := Categorical{LogP: g2.LogSoftmax(ml)}
	for range 1000 {
		md.Sample(rng, acts)
		if acts[0] == 0 || acts[0] == 3 {
			t.Fatalf("sampled masked action %d", acts[0])
		}
	}
}

func TestSaveLoadResumesBitExactly(t *testing.T) {
	dir := t.TempDir()
	mk := func() (*MLP, *Adam) {
		m, _ := NewMLP("net", []int{3, 8, 2}, (*Graph).Tanh, rand.New(rand.NewPCG(4, 4)))
		opt, _ := NewAdam(m.Params(), AdamOptions{LR: 1e-2})
		return m, opt
	}
	xs := []float32{1, 2, 3, -1, 0.5, 0, 2, 2, 2, 0, 0, 1}
	ys := []float32{1, 0, 0, 1, 1, 1, 0, 0}
	train := func(m *MLP, opt *Adam, steps int) {
		g := NewGraph()
		for range steps {
			g.Reset()
			g.Backward(g.MSE(m.Forward(g, g.Input(xs, 4, 3)), g.Input(ys, 4, 2)))
			opt.Step()
		}
	}
	a, aopt := mk()
	train(a, aopt, 10)
	if err := SaveParams(dir+"/params.mtd", a.Params()); err != nil {
		t.Fatal(err)
	}
	st, _ := aopt.State()
	if err := tensordict.SaveFile(dir+"/opt.mtd", st); err != nil {
		t.Fatal(err)
	}
	train(a, aopt, 10) // the uninterrupted run

	b, bopt := mk()
	if err := LoadParams(dir+"/params.mtd", b.Params()); err != nil {
		t.Fatal(err)
	}
	ost, err := tensordict.LoadFile(dir + "/opt.mtd")
	if err != nil {
		t.Fatal(err)
	}
	if err := bopt.SetState(ost); err != nil {
		t.Fatal(err)
	}
	train(b, bopt, 10) // the resumed run
	for i, p := range a.Params() {
		if !slices.Equal(p.Data, b.Params()[i].Data) {
			t.Fatalf("parameter %s differs between the resumed and the uninterrupted run", p.Name)
		}
	}
	other, _ := NewMLP("net", []int{3, 9, 2}, nil, rand.New(rand.NewPCG(1, 1)))
	err = LoadParams(dir+"/params.mtd", other.Params())
	if err == nil || !strings.Contains(err.Error(), "net.0.weight") || !strings.Contains(err.Error(), "[9 3]") || !strings.Contains(err.Error(), "[8 3]") {
		t.Errorf("loading into another architecture: %v; want the first mismatching parameter with both shapes", err)
	}
}

// TestLoadRefusesCorruptParams: a parameter file with a NaN or infinite weight (the hostile
// run's "mean return 468.2 from a NaN params.mtd"), or a flipped byte in a weight, is refused
// naming the parameter, and the network keeps its weights.
func TestLoadRefusesCorruptParams(t *testing.T) {
	dir := t.TempDir()
	m, _ := NewMLP("net", []int{3, 4, 2}, (*Graph).Tanh, rand.New(rand.NewPCG(4, 4)))
	keep := slices.Clone(m.Params()[0].Data)
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		src, _ := NewMLP("net", []int{3, 4, 2}, (*Graph).Tanh, rand.New(rand.NewPCG(5, 5)))
		src.Params()[2].Data[1] = bad
		path := dir + "/params.mtd"
		if err := SaveParams(path, src.Params()); err != nil {
			t.Fatal(err)
		}
		err := LoadParams(path, m.Params())
		if err == nil || !strings.Contains(err.Error(), src.Params()[2].Name) || !strings.Contains(err.Error(), "index 1") {
			t.Errorf("a %v weight: %v; want an error naming %s at index 1", bad, err, src.Params()[2].Name)
		}
		if !slices.Equal(m.Params()[0].Data, keep) {
			t.Errorf("a refused file changed the network's weights")
		}
	}
	src, _ := NewMLP("net", []int{3, 4, 2}, (*Graph).Tanh, rand.New(rand.NewPCG(5, 5)))
	path := dir + "/flipped.mtd"
	if err := SaveParams(path, src.Params()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	b[len(b)-3] ^= 0x10 // inside the last weight blob
	os.WriteFile(path, b, 0o644)
	if err := LoadParams(path, m.Params()); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a flipped byte in a weight: %v; want a checksum error", err)
	}
}

func TestLayersMatchPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/layers.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		GRU   [][]float32 `json:"gru"`
		LN    [][]float32 `json:"ln"`
		Emb   []float32   `json:"emb"`
		X1    []float32   `json:"x1"`
		X2    []float32   `json:"x2"`
		H0    []float32   `json:"h0"`
		Keep  []float32   `json:"keep"`
		WOut  []float32   `json:"w_out"`
		WLN   []float32   `json:"w_ln"`
		WE    []float32   `json:"w_emb"`
		Idx   []int       `json:"idx"`
		H2    []float32   `json:"h2"`
		Y     []float32   `json:"y"`
		Loss  float32     `json:"loss"`
		Grads struct {
			GRU [][]float32 `json:"gru"`
			LN  [][]float32 `json:"ln"`
			Emb []float32   `json:"emb"`
		} `json:"grads"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	const N, IN, H, V, D = 3, 4, 5, 6, 4
	rng := rand.New(rand.NewPCG(1, 1))
	gru, _ := NewGRUCell("gru", IN, H, rng)
	for i, p := range gru.Params() {
		copy(p.Data, ref.GRU[i])
	}
	ln, _ := NewLayerNorm("ln", H)
	copy(ln.Gamma.Data, ref.LN[0])
	copy(ln.Beta.Data, ref.LN[1])
	emb, _ := NewEmbedding("emb", V, D, 0, rng)
	copy(emb.W.Data, ref.Emb)

	g := NewGraph()
	h1 := gru.Forward(g, g.Input(ref.X1, N, IN), g.Input(ref.H0, N, H))
	h2 := gru.Forward(g, g.Input(ref.X2, N, IN), g.Mul(h1, g.Input(ref.Keep, N, H)))
	y := ln.Forward(g, h2)
	e := emb.Forward(g, ref.Idx)
	loss := g.Add(g.Add(g.Sum(g.Mul(h2, g.Input(ref.WOut, N, H))), g.Sum(g.Mul(y, g.Input(ref.WLN, N, H)))), g.Sum(g.Mul(e, g.Input(ref.WE, 4, D))))
	g.Backward(loss)
	closeTo(t, "gru h2", h2.Data, ref.H2, 1e-5)
	closeTo(t, "layernorm y", y.Data, ref.Y, 1e-5)
	closeTo(t, "loss", loss.Data, []float32{ref.Loss}, 1e-5)
	for i, p := range gru.Params() {
		closeTo(t, "grad "+p.Name, p.Grad, ref.Grads.GRU[i], 1e-4)
	}
	closeTo(t, "grad ln.weight", ln.Gamma.Grad, ref.Grads.LN[0], 1e-4)
	closeTo(t, "grad ln.bias", ln.Beta.Grad, ref.Grads.LN[1], 1e-4)
	closeTo(t, "grad emb.weight", emb.W.Grad, ref.Grads.Emb, 1e-4)
}

// fdCheck compares the gradients of loss (built by f on a fresh graph) with respect to params
// against central differences. Where the one-sided differences disagree, the perturbation
// crossed a kink (ReLU at 0, a max-pool winner changing) and the point is skipped; more than a
// tenth of the points skipped fails the check.
func fdCheck(t *testing.T, what string, params []*Param, f func(g *Graph) *Value) {
	fdCheckH(t, what, params, f, 1e-2)
}

// fdCheckH is fdCheck with step h.
func fdCheckH(t *testing.T, what string, params []*Param, f func(g *Graph) *Value, h float32) {
	t.Helper()
	if _, err := GradCheck(params, f, h); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestFiniteDifferencesRecurrentAndNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	gru, _ := NewGRUCell("gru", 3, 4, rng)
	ln, _ := NewLayerNorm("ln", 4)
	for i := range ln.Gamma.Data {
		ln.Gamma.Data[i] = float32(0.5 + rng.Float64())
		ln.Beta.Data[i] = float32(rng.NormFloat64())
	}
	emb, _ := NewEmbedding("emb", 5, 3, 1, rng)
	xs := make([]float32, 2*3)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	w := make([]float32, 2*4)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	params := append(append(gru.Params(), ln.Params()...), emb.Params()...)
	fdCheck(t, "gru+layernorm+embedding", params, func(g *Graph) *Value {
		x := g.Add(g.Input(xs, 2, 3), emb.Forward(g, []int{2, 4}))
		h := gru.Forward(g, x, g.Input(make([]float32, 8), 2, 4))
		h = gru.Forward(g, x, g.Sub(h, g.SliceCols(g.Concat(h, h), 4, 8)))
		h = gru.Forward(g, x, h)
		return g.Sum(g.Mul(ln.Forward(g, h), g.Input(w, 2, 4)))
	})
	// The padding row (index 1) gets no gradient even when it is looked up, as in PyTorch.
	ZeroGrad(emb.Params())
	g := NewGraph()
	g.Backward(g.Sum(emb.Forward(g, []int{1, 1, 3})))
	if emb.W.Grad[3] != 0 || emb.W.Grad[4] != 0 || emb.W.Grad[5] != 0 || emb.W.Grad[9] != 1 {
		t.Errorf("embedding grads %v: want none on the padding row 1 and 1s on row 3", emb.W.Grad)
	}
}

func TestConv2dMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/conv.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Params [][]float32 `json:"params"`
		X      []float32   `json:"x"`
		W      []float32   `json:"w"`
		Y      []float32   `json:"y"`
		Loss   float32     `json:"loss"`
		Grads  [][]float32 `json:"grads"`
		DX     []float32   `json:"dx"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	c1, _ := NewConv2d("c1", 3, 4, 4, 2, 1, rng)
	c2, _ := NewConv2d("c2", 4, 5, 3, 1, 0, rng)
	ps := append(c1.Params(), c2.Params()...)
	for i, p := range ps {
		copy(p.Data, ref.Params[i])
	}
	g := NewGraph()
	x := g.value(true, 2, 3, 10, 10)
	copy(x.Data, ref.X)
	y := g.Reshape(c2.Forward(g, g.ELU(c1.Forward(g, x))), 2, -1)
	loss := g.Sum(g.Mul(y, g.Input(ref.W, y.Shape...)))
	g.Backward(loss)
	closeTo(t, "conv output", y.Data, ref.Y, 1e-5)
	closeTo(t, "loss", loss.Data, []float32{ref.Loss}, 1e-5)
	for i, p := range ps {
		closeTo(t, "grad "+p.Name, p.Grad, ref.Grads[i], 1e-4)
	}
	closeTo(t, "dx", x.Grad, ref.DX, 1e-4)
	fdCheck(t, "conv", ps, func(g *Graph) *Value {
		y := g.Reshape(c2.Forward(g, g.Tanh(c1.Forward(g, g.Input(ref.X, 2, 3, 10, 10)))), 2, -1)
		return g.Sum(g.Mul(y, g.Input(ref.W, y.Shape...)))
	})
	if _, err := NewConv2d("bad", 3, 4, 0, 1, 0, rng); err == nil {
		t.Error("kernel size 0 accepted")
	}
}

func TestFiniteDifferencesConv1d(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	emb, _ := NewEmbedding("emb", 10, 3, 0, rng)
	c, _ := NewConv1d("c", 3, 4, 3, rng)
	idx := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 4, 6, 8, 1, 3, 5}
	w := make([]float32, 2*4*2)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	fdCheckH(t, "embedding+conv1d+maxpool", append(emb.Params(), c.Params()...), func(g *Graph) *Value {
		x := g.Transpose12(g.Reshape(emb.Forward(g, idx), 2, 8, 3)) // [2, 3, 8]
		y := g.MaxPool1d(g.Tanh(c.Forward(g, x)), 3)                // [2, 4, 2]
		return g.Sum(g.Mul(y, g.Input(w, 2, 4, 2)))
	}, 2e-3)
}

func TestActorCriticInit(t *testing.T) {
	ac, err := NewActorCritic(4, 2, 64, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	g := NewGraph()
	logits, value := ac.Forward(g, g.Input([]float32{0.1, -0.2, 0.05, 0.3}, 1, 4))
	if logits.Len() != 2 || value.Len() != 1 {
		t.Fatalf("shapes %v %v", logits.Shape, value.Shape)
	}
	// Gain 0.01 on the policy head: the first policy is nearly uniform.
	if d := math.Abs(float64(logits.Data[0] - logits.Data[1])); d > 0.05 {
		t.Errorf("initial logits %v differ by %v; the policy head's small gain should make them close", logits.Data, d)
	}
}

func TestExtraOpsFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	p := NewParam("p", 3, 4)
	q := NewParam("q", 3, 4)
	for i := range p.Data {
		p.Data[i] = float32(rng.NormFloat64())
		q.Data[i] = float32(rng.NormFloat64())
	}
	target := make([]float32, 12)
	for i := range target {
		target[i] = float32(rng.NormFloat64())
	}
	fdCheck(t, "huber/clamp/min/max/exp", []*Param{p, q}, func(g *Graph) *Value {
		a, b := g.Param(p), g.Param(q)
		ratio := g.Exp(g.Sub(a, b))
		surr := g.Minimum(g.Mul(ratio, g.Input(target, 3, 4)), g.Mul(g.Clamp(ratio, 0.8, 1.2), g.Input(target, 3, 4)))
		return g.Add(g.Mean(surr), g.Add(g.Huber(a, g.Input(target, 3, 4), 1), g.Mean(g.Maximum(a, b))))
	})
	// Dropout: the kept fraction and the scaling.
	g := NewGraph()
	x := g.Input(slices.Repeat([]float32{1}, 10000), 10000)
	y := g.Dropout(x, 0.25, rand.New(rand.NewPCG(1, 1)))
	kept := 0
	for _, v := range y.Data {
		if v != 0 {
			kept++
			if math.Abs(float64(v)-4.0/3) > 1e-6 {
				t.Fatalf("kept element %v, want 4/3", v)
			}
		}
	}
	if math.Abs(float64(kept)/10000-0.75) > 0.02 {
		t.Errorf("dropout kept %d of 10000, want about 7500", kept)
	}
	lin := LinearSchedule(1, 0, 10)
	cos := CosineSchedule(1, 0, 10)
	if lin(5) != 0.5 || lin(20) != 0 || math.Abs(cos(5)-0.5) > 1e-12 || cos(0) != 1 {
		t.Errorf("schedules: linear(5)=%v linear(20)=%v cosine(5)=%v cosine(0)=%v", lin(5), lin(20), cos(5), cos(0))
	}
	w := NewParam("w", 64, 32)
	XavierUniform(w, 1, rng)
	bound := math.Sqrt(6.0 / 96)
	for _, v := range w.Data {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("xavier value %v beyond %v", v, bound)
		}
	}
}

func TestLSTMAndMaxPool2dMatchPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/lstm.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Params [][]float32 `json:"params"`
		X1     []float32   `json:"x1"`
		X2     []float32   `json:"x2"`
		H0     []float32   `json:"h0"`
		C0     []float32   `json:"c0"`
		Img    []float32   `json:"img"`
		W1     []float32   `json:"w1"`
		W2     []float32   `json:"w2"`
		H2     []float32   `json:"h2"`
		C2     []float32   `json:"c2"`
		Pooled []float32   `json:"pooled"`
		Loss   float32     `json:"loss"`
		Grads  [][]float32 `json:"grads"`
		DImg   []float32   `json:"dimg"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	cell, _ := NewLSTMCell("lstm", 3, 4, rand.New(rand.NewPCG(1, 1)))
	for i, p := range cell.Params() {
		copy(p.Data, ref.Params[i])
	}
	g := NewGraph()
	h1, c1 := cell.Forward(g, g.Input(ref.X1, 2, 3), g.Input(ref.H0, 2, 4), g.Input(ref.C0, 2, 4))
	h2, c2 := cell.Forward(g, g.Input(ref.X2, 2, 3), h1, c1)
	img := g.value(true, 2, 3, 5, 6)
	copy(img.Data, ref.Img)
	pooled := g.MaxPool2d(img, 2)
	loss := g.Add(g.Add(g.Sum(g.Mul(h2, g.Input(ref.W1, 2, 4))), g.Sum(c2)), g.Sum(g.Mul(pooled, g.Input(ref.W2, 2, 3, 2, 3))))
	g.Backward(loss)
	closeTo(t, "h2", h2.Data, ref.H2, 1e-5)
	closeTo(t, "c2", c2.Data, ref.C2, 1e-5)
	closeTo(t, "pooled", pooled.Data, ref.Pooled, 1e-6)
	closeTo(t, "loss", loss.Data, []float32{ref.Loss}, 1e-5)
	for i, p := range cell.Params() {
		closeTo(t, "grad "+p.Name, p.Grad, ref.Grads[i], 1e-4)
	}
	closeTo(t, "d img", img.Grad, ref.DImg, 1e-6)
}

// SliceRows and ConcatRows, as a recurrent learner uses them: a time-major [T*B] value cut
// into steps, each through a GRU, the steps stacked again.
func TestFiniteDifferencesRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	gru, _ := NewGRUCell("gru", 3, 4, rng)
	lin, _ := NewLinear("lin", 4, 2, rng)
	const T, B = 3, 2
	xs := make([]float32, T*B*3)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	w := make([]float32, T*B*2)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	fdCheck(t, "slice rows + concat rows", append(gru.Params(), lin.Params()...), func(g *Graph) *Value {
		x := lin.Forward(g, gru.Forward(g, g.Input(xs, T*B, 3), g.Input(make([]float32, T*B*4), T*B, 4))) // [6, 2]
		_ = x
		enc := g.Tanh(g.Input(xs, T*B, 3))
		h := g.Input(make([]float32, B*4), B, 4)
		var hs []*Value
		for s := 0; s < T; s++ {
			h = gru.Forward(g, g.SliceRows(enc, s*B, (s+1)*B), h)
			hs = append(hs, h)
		}
		out := lin.Forward(g, g.ConcatRows(hs...))
		return g.Add(g.Sum(g.Mul(out, g.Input(w, T*B, 2))), g.Sum(g.Mul(g.SliceRows(x, 1, 4), g.Input(w[:6], 3, 2))))
	})
	g := NewGraph()
	v := g.Input([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	if r := g.ConcatRows(g.SliceRows(v, 2, 3), g.SliceRows(v, 0, 1)); !slices.Equal(r.Data, []float32{5, 6, 1, 2}) || !slices.Equal(r.Shape, []int{2, 2}) {
		t.Errorf("ConcatRows(SliceRows) = %v %v, want [5 6 1 2] [2 2]", r.Data, r.Shape)
	}
}

// unfusedEmbConv is what EmbeddingConv2d computes, by the layers it fuses: embeddings,
// channel concatenation, [n*h*w, C] to [n, C, h, w], and Conv2d.
func unfusedEmbConv(g *Graph, embs []*EmbeddingLayer, idx [][]int, n, h, w int, conv *Conv2dLayer) *Value {
	var parts []*Value
	for i, e := range embs {
		parts = append(parts, e.Forward(g, idx[i]))
	}
	x := parts[0]
	if len(parts) > 1 {
		x = g.Concat(parts...)
	}
	C := x.Shape[1]
	x = g.Reshape(g.Transpose12(g.Reshape(x, n, h*w, C)), n, C, h, w)
	return conv.Forward(g, x)
}

// TestEmbeddingConv2d checks the fused op against the layers it fuses (outputs and every
// gradient: the NetHack agent's shape, a strided one with a padding row and a table looked up by
// no cell, and the MiniHack agent's map, a table of 5,977 glyphs most of which no cell looks
// up), and against finite differences on a small case.
func TestEmbeddingConv2d(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, c := range []struct {
		vocab, dims      []int
		pad              []int
		n, h, w          int
		o, k, s, padding int
	}{
		{[]int{256, 32}, []int{16, 8}, []int{-1, -1}, 3, 12, 12, 32, 3, 1, 1},
		{[]int{7, 5, 9}, []int{3, 2, 4}, []int{2, -1, 0}, 2, 6, 5, 4, 3, 2, 0},
		{[]int{5977}, []int{16}, []int{-1}, 2, 21, 79, 16, 3, 2, 1},
	} {
		var embs []*EmbeddingLayer
		var idx [][]int
		for i, v := range c.vocab {
			e, err := NewEmbedding(fmt.Sprintf("emb%d", i), v, c.dims[i], c.pad[i], rng)
			if err != nil {
				t.Fatal(err)
			}
			embs = append(embs, e)
			plane := make([]int, c.n*c.h*c.w)
			for j := range plane {
				plane[j] = rng.IntN(v)
				if v > 1000 { // a map: a few dozen glyphs, spread over the table
					plane[j] = rng.IntN(40) * 149
				}
			}
			idx = append(idx, plane)
		}
		C := 0
		for _, d := range c.dims {
			C += d
		}
		conv, err := NewConv2d("conv", C, c.o, c.k, c.s, c.padding, rng)
		if err != nil {
			t.Fatal(err)
		}
		params := conv.Params()
		for _, e := range embs {
			params = append(params, e.Params()...)
		}
		oh, ow := conv.OutSize(c.h), conv.OutSize(c.w)
		r := make([]float32, c.n*c.o*oh*ow)
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		run := func(fused bool) ([]float32, [][]float32) {
			ZeroGrad(params)
			g := NewGraph()
			var y *Value
			if fused {
				y = g.EmbeddingConv2d(embs, idx, c.n, c.h, c.w, conv)
			} else {
				y = unfusedEmbConv(g, embs, idx, c.n, c.h, c.w, conv)
			}
			g.Backward(g.Sum(g.Mul(y, g.Input(r, y.Shape...))))
			var grads [][]float32
			for _, p := range params {
				grads = append(grads, slices.Clone(p.Grad))
			}
			return slices.Clone(y.Data), grads
		}
		y1, g1 := run(true)
		y0, g0 := run(false)
		closeTo(t, "fused output", y1, y0, 1e-5)
		for i, p := range params {
			closeTo(t, "fused grad "+p.Name, g1[i], g0[i], 1e-4)
		}
		for i, e := range embs {
			if e.PaddingIdx >= 0 {
				d := e.W.Shape[1]
				if row := g1[2+i][e.PaddingIdx*d : (e.PaddingIdx+1)*d]; slices.ContainsFunc(row, func(v float32) bool { return v != 0 }) {
					t.Errorf("table %d's padding row got gradient %v", i, row)
				}
			}
		}
		if c.vocab[0] < 10 {
			// Finite differences see the padding rows (the output depends on them), which by
			// design get no gradient: check without padding rows.
			for _, e := range embs {
				e.PaddingIdx = -1
			}
			fdCheck(t, "EmbeddingConv2d", params, func(g *Graph) *Value {
				y := g.EmbeddingConv2d(embs, idx, c.n, c.h, c.w, conv)
				return g.Sum(g.Mul(y, g.Input(r, y.Shape...)))
			})
		}
	}
}

// TestGRUGatesMatchesComposition checks the fused gates against the same function built from
// graph ops (outputs and the gradients of all three inputs), and with no gradient on h.
func TestGRUGatesMatchesComposition(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const N, H = 3, 5
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(2 * rng.NormFloat64())
		}
		return s
	}
	giD, ghD, hD, w := rnd(N*3*H), rnd(N*3*H), rnd(N*H), rnd(N*H)
	run := func(fused, hGrad bool) (y []float32, grads [][]float32) {
		g := NewGraph()
		mk := func(d []float32, grad bool, shape ...int) *Value {
			v := g.value(grad, shape...)
			copy(v.Data, d)
			return v
		}
		gi, gh, h := mk(giD, true, N, 3*H), mk(ghD, true, N, 3*H), mk(hD, hGrad, N, H)
		var out *Value
		if fused {
			out = g.GRUGates(gi, gh, h)
		} else {
			r := g.Sigmoid(g.Add(g.SliceCols(gi, 0, H), g.SliceCols(gh, 0, H)))
			z := g.Sigmoid(g.Add(g.SliceCols(gi, H, 2*H), g.SliceCols(gh, H, 2*H)))
			n := g.Tanh(g.Add(g.SliceCols(gi, 2*H, 3*H), g.Mul(r, g.SliceCols(gh, 2*H, 3*H))))
			out = g.Add(n, g.Mul(z, g.Sub(h, n)))
		}
		g.Backward(g.Sum(g.Mul(out, g.Input(w, N, H))))
		return slices.Clone(out.Data), [][]float32{slices.Clone(gi.Grad), slices.Clone(gh.Grad), slices.Clone(h.Grad)}
	}
	for _, hGrad := range []bool{true, false} {
		y1, g1 := run(true, hGrad)
		y0, g0 := run(false, hGrad)
		closeTo(t, "GRUGates output", y1, y0, 1e-6)
		for i, name := range []string{"d gi", "d gh", "d h"} {
			if (g1[i] == nil) != (g0[i] == nil) {
				t.Fatalf("%s: fused has a gradient %v, composition %v", name, g1[i] != nil, g0[i] != nil)
			}
			closeTo(t, "GRUGates "+name, g1[i], g0[i], 1e-5)
		}
	}
}

// TestGRUUnrollGradients checks GRUUnroll, whose state projection's weight gradient is one
// product over all steps, against the cell stepped one Linear at a time (the composition,
// episodes ending inside the sequence), and against finite differences.
func TestGRUUnrollGradients(t *testing.T) {
	const T, B, in, H = 5, 3, 4, 6
	rng := rand.New(rand.NewPCG(7, 7))
	cell, err := NewGRUCell("core", in, H, rng)
	if err != nil {
		t.Fatal(err)
	}
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	x, h0, w := rnd(T*B*in), rnd(B*H), rnd(T*B*H)
	ended := make([]bool, T*B)
	ended[1*B+0], ended[2*B+2], ended[3*B+0] = true, true, true
	var u GRUUnroll
	loss := func(g *Graph, unrolled bool) *Value {
		gi := cell.InputProjection(g, g.Input(x, T*B, in))
		var out *Value
		if unrolled {
			out = u.Run(g, cell, gi, T, B, h0, ended)
		} else {
			h := g.Input(h0, B, H)
			var hs []*Value
			for s := 0; s < T; s++ {
				if s > 0 {
					keep := make([]float32, B*H)
					for j := 0; j < B; j++ {
						if !ended[(s-1)*B+j] {
							for k := range H {
								keep[j*H+k] = 1
							}
						}
					}
					h = g.Mul(h, g.Input(keep, B, H))
				}
				h = cell.Step(g, g.SliceRows(gi, s*B, (s+1)*B), h)
				hs = append(hs, h)
			}
			out = g.ConcatRows(hs...)
		}
		return g.Sum(g.Mul(out, g.Input(w, T*B, H)))
	}
	grads := func(unrolled bool) [][]float32 {
		ZeroGrad(cell.Params())
		g := NewGraph()
		g.Backward(loss(g, unrolled))
		var gs [][]float32
		for _, p := range cell.Params() {
			gs = append(gs, slices.Clone(p.Grad))
		}
		return gs
	}
	want := grads(false)
	for rep := 0; rep < 2; rep++ { // the second pass reuses the unroll's buffers
		got := grads(true)
		for i, p := range cell.Params() {
			closeTo(t, "GRUUnroll d "+p.Name, got[i], want[i], 1e-5)
		}
	}
	if n, err := GradCheck(cell.Params(), func(g *Graph) *Value { return loss(g, true) }, 1e-2); err != nil {
		t.Fatalf("after %d points: %v", n, err)
	}
	g := NewGraph()
	step := func() {
		g.Reset()
		g.Backward(loss(g, true))
	}
	step()
	if allocs := testing.AllocsPerRun(5, step); allocs > 0 {
		t.Errorf("an unrolled training step allocates %v times in steady state, want 0", allocs)
	}
}
