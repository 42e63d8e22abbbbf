package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/bench/internal/benchutil"
	"github.com/maestro-rl/maestro/nn"
)

func agentInput(rng *rand.Rand, n int) nethackagent.Input {
	in := nethackagent.Input{N: n, Chars: make([]int, n*144), Colors: make([]int, n*144), Blstats: make([]float32, n*27), Message: make([]float32, n*256)}
	for i := range in.Chars {
		in.Chars[i], in.Colors[i] = 32+rng.IntN(90), rng.IntN(16)
	}
	for i := range in.Blstats {
		in.Blstats[i] = float32(rng.Float64())
	}
	return in
}

// run measures f unless MAESTRO_NN_CASES (comma-separated case names) leaves it out.
func run(name string, f func()) {
	if cs := os.Getenv("MAESTRO_NN_CASES"); cs != "" && !slices.Contains(strings.Split(cs, ","), name) {
		return
	}
	f() // warm-up: buffers are allocated on the first pass
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
	fmt.Printf("%s %.3f %d\n", name, float64(r.T.Nanoseconds())/float64(r.N)/1e6, r.AllocsPerOp())
}

func main() {
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the cases run here")
	allocprofile := flag.String("allocprofile", "", "write a profile of the allocations of the cases run here")
	flag.Parse()
	writeAllocs := benchutil.StartAllocProfile(*allocprofile)
	defer func() {
		if err := writeAllocs(); err != nil {
			benchutil.Fail("nnbench", err)
		}
	}()
	stop, err := benchutil.StartCPUProfile(*cpuprofile)
	if err != nil {
		benchutil.Fail("nnbench", err)
	}
	defer stop()
	if s := os.Getenv("MAESTRO_BLAS_THREADS"); s != "" {
		var n int
		fmt.Sscan(s, &n)
		nn.SetBLASThreads(n)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	pairs := 1024
	if s := os.Getenv("MAESTRO_RM_PAIRS"); s != "" {
		fmt.Sscan(s, &pairs)
	}
	fmt.Fprintln(os.Stderr, "nnbench: BLAS", nn.BLASDescription())

	rm, _ := nethackagent.NewRewardNet(rng)
	ropt, _ := nn.NewAdam(rm.Params(), nn.AdamOptions{LR: 1e-5})
	msgs := make([]uint8, 2*pairs*nethackagent.MessageLen)
	for i := range msgs {
		if i%nethackagent.MessageLen < 40 {
			msgs[i] = uint8(32 + rng.IntN(90))
		}
	}
	target := make([]float32, 2*pairs)
	for i := 0; i < pairs; i++ {
		target[2*i] = 1
	}
	g := nn.NewGraph()
	run("rm_step", func() {
		g.Reset()
		r := g.Reshape(rm.Forward(g, msgs), pairs, 2)
		g.Backward(g.SoftCrossEntropy(r, g.Input(target, pairs, 2)))
		ropt.Step()
	})

	agent, _ := nethackagent.NewAgent(23, rng)
	aopt, _ := nn.NewAdam(agent.Params(), nn.AdamOptions{LR: 1e-4})
	in32 := agentInput(rng, 32)
	h32 := make([]float32, 32*512)
	ga := nn.NewGraph() // acting, as the peer's torch.no_grad()
	ga.SetNoGrad(true)
	run("agent_fwd_b32", func() {
		ga.Reset()
		agent.Forward(ga, in32, ga.Input(h32, 32, 512))
	})
	const T, B = 32, 64
	steps := make([]nethackagent.Input, T)
	for t := range steps {
		steps[t] = agentInput(rng, B)
	}
	h64 := make([]float32, B*512)
	actions := make([]int, B)
	run("agent_fwdbwd_b256", func() {
		g.Reset()
		h := g.Input(h64, B, 512)
		var loss *nn.Value
		for t := 0; t < T; t++ {
			logits, value, next := agent.Forward(g, steps[t], h)
			d := nn.Categorical{LogP: g.LogSoftmax(logits)}
			l := g.Add(g.Mean(d.LogProb(g, actions)), g.Mean(g.Mul(value, value)))
			if loss == nil {
				loss = l
			} else {
				loss = g.Add(loss, l)
			}
			h = next
		}
		g.Backward(loss)
		aopt.Step()
	})

	mlp, _ := nn.NewMLP("mlp", []int{512, 512, 16}, (*nn.Graph).ReLU, rng)
	mopt, _ := nn.NewAdam(mlp.Params(), nn.AdamOptions{})
	xs := make([]float32, 256*512)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	ys := make([]float32, 256*16)
	run("mlp_step", func() {
		g.Reset()
		g.Backward(g.MSE(mlp.Forward(g, g.Input(xs, 256, 512)), g.Input(ys, 256, 16)))
		mopt.Step()
	})
}
