// Command gorgoniabench times gorgonia v0.9.18 on bench/nn's MLP case, for the record in `make
// bench BENCH=nn`: an MLP 512-512-16 (ReLU) training step at batch 256 (MSE loss, Adam), the
// same shapes as nnbench's mlp_step. It is its own module so that Maestro does not depend on
// gorgonia. Prints "gorgonia_mlp_step <ms/op> <allocs/op>".
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gorgoniabench:", err)
	os.Exit(1)
}

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		fail(err)
	}
	return n
}

func randTensor(rng *rand.Rand, r, c int) *tensor.Dense {
	d := make([]float32, r*c)
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return tensor.New(tensor.WithShape(r, c), tensor.WithBacking(d))
}

func main() {
	rng := rand.New(rand.NewPCG(1, 1))
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(256, 512), G.WithName("x"), G.WithValue(randTensor(rng, 256, 512)))
	y := G.NewMatrix(g, tensor.Float32, G.WithShape(256, 16), G.WithName("y"), G.WithValue(randTensor(rng, 256, 16)))
	w1 := G.NewMatrix(g, tensor.Float32, G.WithShape(512, 512), G.WithName("w1"), G.WithInit(G.GlorotU(1)))
	b1 := G.NewMatrix(g, tensor.Float32, G.WithShape(1, 512), G.WithName("b1"), G.WithInit(G.Zeroes()))
	w2 := G.NewMatrix(g, tensor.Float32, G.WithShape(512, 16), G.WithName("w2"), G.WithInit(G.GlorotU(1)))
	b2 := G.NewMatrix(g, tensor.Float32, G.WithShape(1, 16), G.WithName("b2"), G.WithInit(G.Zeroes()))
	h := must(G.Rectify(must(G.BroadcastAdd(must(G.Mul(x, w1)), b1, nil, []byte{0}))))
	out := must(G.BroadcastAdd(must(G.Mul(h, w2)), b2, nil, []byte{0}))
	loss := must(G.Mean(must(G.Square(must(G.Sub(out, y))))))
	learn := G.Nodes{w1, b1, w2, b2}
	if _, err := G.Grad(loss, learn...); err != nil {
		fail(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(learn...))
	defer vm.Close()
	solver := G.NewAdamSolver(G.WithLearnRate(1e-3))
	step := func() {
		if err := vm.RunAll(); err != nil {
			fail(err)
		}
		if err := solver.Step(G.NodesToValueGrads(learn)); err != nil {
			fail(err)
		}
		vm.Reset()
	}
	step() // warm-up
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			step()
		}
	})
	fmt.Printf("gorgonia_mlp_step %.3f %d\n", float64(r.T.Nanoseconds())/float64(r.N)/1e6, r.AllocsPerOp())
}
