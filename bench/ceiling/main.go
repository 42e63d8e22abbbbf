// Command ceiling measures how far `make train` is from what this machine's cores allow
// (make bench BENCH=ceiling; issue #18). It counts the Motif agent's floating-point operations
// per frame from its layer shapes (acting: one forward; learning: forward and backward over the
// batch), times single-threaded sgemm at the shapes those layers need (the learner's products
// over the whole batch, the recurrent state's one step at a time, acting over the envs' rows),
// and so gets the frames/s at which the two cores would do nothing but those products. Then it
// runs the real job (recipe's APPO learner, 8 NetHackScore envs, rollouts of 32, sequentially:
// collect, then learn) with nn's products traced, and reports the products Maestro actually
// runs, their sgemm time, and the job's measured time split into collecting and learning.
//
// Output: tables on stdout, then `RESULT ceiling ...` with the figures bench/run.sh combines
// with the overlapped `train` run's frames/s.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/bench/internal/benchutil"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
)

// layer is one of the agent's products in nominal terms (as PyTorch would run the network):
// rows x in -> rows x out per frame-row, for acting and learning.
type layer struct {
	name    string
	rows    int // output rows per frame (spatial positions of a convolution, 1 for a linear layer)
	in, out int // reduction size (C*k*k for a convolution) and output features
	// recurrent: the product depends on the previous step's output (the GRU's state), so
	// it runs one time step at a time over the envs' rows, in acting and learning alike.
	recurrent bool
	// noInputGrad: the learner needs no gradient for this product's input.
	noInputGrad bool
}

// agentLayers returns the products of nethackagent.Agent a, from its layers' shapes.
func agentLayers(a *nethackagent.Agent) []layer {
	var ls []layer
	side := nethackagent.CropSize
	for i, c := range a.Convs {
		O, C, k := c.W.Shape[0], c.W.Shape[1], c.W.Shape[2]
		s := c.OutSize(side)
		ls = append(ls, layer{name: fmt.Sprintf("crop_conv%d", i), rows: s * s, in: C * k * k, out: O})
		side = s
	}
	lin := func(name string, l *nn.LinearLayer) layer {
		return layer{name: name, rows: 1, in: l.W.Shape[1], out: l.W.Shape[0]}
	}
	ls = append(ls, lin("crop_fc", a.CropFC), lin("blstats0", a.Blstats[0]), lin("blstats1", a.Blstats[1]),
		lin("message0", a.Message[0]), lin("message1", a.Message[1]))
	// The first layers of each input need no gradient for their input (the observations), but
	// the embeddings under crop_conv0 do; blstats0 and message0 read observations.
	for i := range ls {
		if ls[i].name == "blstats0" || ls[i].name == "message0" {
			ls[i].noInputGrad = true
		}
	}
	ls = append(ls, layer{name: "gru_ih", rows: 1, in: a.Core.Wih.Shape[1], out: a.Core.Wih.Shape[0]},
		layer{name: "gru_hh", rows: 1, in: a.Core.Whh.Shape[1], out: a.Core.Whh.Shape[0], recurrent: true},
		lin("policy", a.Policy), lin("value", a.Value))
	return ls
}

// macs returns the layer's multiply-adds per frame in one forward pass.
func (l layer) macs() float64 { return float64(l.rows * l.in * l.out) }

// products returns the best-shaped products that compute the layer for one batch of T steps of
// B envs: acting (forward, one step of B rows at a time) and learning (forward over T*B rows,
// the input gradient and the weight gradient; a recurrent layer's forward and input gradient
// one step of B rows at a time, its weight gradient in one product over all steps; and the
// bootstrap step over B rows), each with its count per batch.
func (l layer) products(T, B int) (act, learn []nn.GEMM) {
	act = []nn.GEMM{{TransB: true, M: B * l.rows, N: l.out, K: l.in, Count: T}}
	R, n := T*B*l.rows, 1
	if l.recurrent {
		R, n = B*l.rows, T
	}
	learn = []nn.GEMM{{TransB: true, M: R, N: l.out, K: l.in, Count: n}} // forward
	if !l.noInputGrad {
		dx := n // dX = dY W; the recurrent state's first input (the stored state) needs none
		if l.recurrent {
			dx = T - 1
		}
		learn = append(learn, nn.GEMM{M: R, N: l.in, K: l.out, Count: dx})
	}
	learn = append(learn, nn.GEMM{TransA: true, M: l.out, N: l.in, K: T * B * l.rows, Count: 1}) // dW = dY^T X
	// The bootstrap values: one step of the network on the next observations of (at least) the
	// batch's last step.
	learn = append(learn, nn.GEMM{TransB: true, M: B * l.rows, N: l.out, K: l.in, Count: 1})
	return act, learn
}

// timed is a list of products with their measured time per batch.
type timed struct {
	flops float64
	secs  float64
}

func timeAll(ps []nn.GEMM, reps int) timed {
	var t timed
	for _, p := range ps {
		t.flops += p.FLOPs()
		if reps > 0 {
			t.secs += nn.TimeGEMM(p, reps).Seconds() * float64(p.Count)
		}
	}
	return t
}

func main() {
	env := flag.String("env", "NetHackScore", "the NetHack task the job trains on")
	numEnvs := flag.Int("num-envs", 8, "envs stepped together (make train: 8)")
	T := flag.Int("frames-per-batch", 32, "steps per env per batch (make train: 32)")
	batches := flag.Int("batches", 20, "batches of the measured job (after one warm-up batch)")
	reps := flag.Int("reps", 15, "timings per product shape (the median counts; 0: none, to profile the job alone: no ceiling)")
	verbose := flag.Bool("v", false, "print every traced product shape")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measured job here")
	flag.Parse()
	nn.SetBLASThreads(1)
	fmt.Fprintln(os.Stderr, "ceiling: BLAS", nn.BLASDescription())
	if *reps <= 0 {
		fmt.Fprintln(os.Stderr, "ceiling: -reps 0: no product is timed, so the ceiling and GFLOP/s figures below are meaningless; the job's times and profile are not")
	}
	B := *numEnvs
	frames := float64(*T * B)

	s, err := recipe.Build(recipe.Options{Algo: "appo", Env: *env, NumEnvs: B, Seed: 1})
	if err != nil {
		benchutil.Fail("ceiling", err)
	}
	defer s.Env.Close()
	m, ok := s.Learner.Model().(*nethackagent.Model)
	if !ok {
		benchutil.Fail("ceiling", fmt.Errorf("--env %s does not train the NetHack agent", *env))
	}

	// 1. The nominal count and the best-shaped products' time.
	fmt.Printf("# the Motif agent (%d actions): multiply-adds per frame, forward\n", m.Net.Actions)
	fmt.Printf("%-11s %10s  %s\n", "layer", "MACs", "product (rows x in x out per frame)")
	var fwd float64
	var act, learn []nn.GEMM
	for _, l := range agentLayers(m.Net) {
		fwd += l.macs()
		fmt.Printf("%-11s %10.0f  %d x %d x %d\n", l.name, l.macs(), l.rows, l.in, l.out)
		a, le := l.products(*T, B)
		act, learn = append(act, a...), append(learn, le...)
	}
	ideal := struct{ act, learn timed }{timeAll(act, *reps), timeAll(learn, *reps)}
	fmt.Printf("forward: %.2f MFLOP per frame; acting %.2f, learning %.2f (forward + backward) MFLOP per frame\n",
		2*fwd/1e6, ideal.act.flops/frames/1e6, ideal.learn.flops/frames/1e6)
	rate := func(t timed) float64 { return t.flops / t.secs / 1e9 }
	fmt.Printf("best-shaped products, one core: acting %.1f GFLOP/s (%.1f us per frame), learning %.1f GFLOP/s (%.1f us per frame)\n",
		rate(ideal.act), ideal.act.secs/frames*1e6, rate(ideal.learn), ideal.learn.secs/frames*1e6)
	var wbytes float64 // the weights acting reads each env step
	for _, l := range agentLayers(m.Net) {
		wbytes += 4 * float64(l.in*l.out)
	}
	fmt.Printf("acting reads %.1f MB of weights per env step of %d envs: %.1f GB/s of weight traffic at the best-shaped products' time (timed with the weights warm in cache)\n",
		wbytes/1e6, B, wbytes/(ideal.act.secs/float64(*T))/1e9)
	cores := runtime.NumCPU()
	ceilingFPS := float64(cores) * frames / (ideal.act.secs + ideal.learn.secs)
	learnerFPS := frames / ideal.learn.secs
	fmt.Printf("ceiling: %.0f frames/s on %d cores doing only these products (%.0f frames/s for the learner alone on one core)\n\n",
		ceilingFPS, cores, learnerFPS)

	// 2. The real job, traced: what Maestro runs.
	col, err := collectors.NewSync(s.Env, s.Learner, collectors.Options{FramesPerBatch: B * *T})
	if err != nil {
		benchutil.Fail("ceiling", err)
	}
	batch, err := col.Next() // warm-up: buffers allocated on the first pass
	if err == nil {
		err = s.Learner.Update(batch)
	}
	if err != nil {
		benchutil.Fail("ceiling", err)
	}
	stop, err := benchutil.StartCPUProfile(*cpuprofile)
	if err != nil {
		benchutil.Fail("ceiling", err)
	}
	var collectT, learnT time.Duration
	var ms0, ms1 runtime.MemStats
	var learnAllocs uint64
	actG, err := nn.TraceGEMM(func() error {
		for range *batches {
			t0 := time.Now()
			if batch, err = col.Next(); err != nil {
				return err
			}
			collectT += time.Since(t0)
			runtime.ReadMemStats(&ms0)
			t0 = time.Now()
			if err := s.Learner.Update(batch); err != nil {
				return err
			}
			learnT += time.Since(t0)
			runtime.ReadMemStats(&ms1)
			learnAllocs += ms1.Mallocs - ms0.Mallocs
		}
		return nil
	})
	stop()
	if err != nil {
		benchutil.Fail("ceiling", err)
	}
	// The trace holds both phases; trace them apart once more on one batch for the split.
	var actOnly []nn.GEMM
	if actOnly, err = nn.TraceGEMM(func() error { batch, err = col.Next(); return err }); err != nil {
		benchutil.Fail("ceiling", err)
	}
	learnOnly, err := nn.TraceGEMM(func() error { return s.Learner.Update(batch) })
	if err != nil {
		benchutil.Fail("ceiling", err)
	}
	got := struct{ act, learn timed }{timeAll(actOnly, *reps), timeAll(learnOnly, *reps)}
	if *verbose {
		fmt.Println("# products traced in one batch (learning): transA transB M N K count GFLOP/s")
		for _, p := range learnOnly {
			fmt.Printf("%v %v %d %d %d %d %.1f\n", p.TransA, p.TransB, p.M, p.N, p.K, p.Count, 2*float64(p.M*p.N*p.K)/nn.TimeGEMM(p, *reps).Seconds()/1e9)
		}
		fmt.Println()
	}
	var total float64
	for _, p := range actG {
		total += p.FLOPs()
	}
	nb := float64(*batches)
	fmt.Printf("# the job as Maestro runs it (%d batches of %d frames, one thread, collect then learn)\n", *batches, int(frames))
	fmt.Printf("products run: acting %.2f MFLOP per frame (%d shapes), learning %.2f (%d shapes); %.2f in all over the traced batches\n",
		got.act.flops/frames/1e6, len(actOnly), got.learn.flops/frames/1e6, len(learnOnly), total/(nb*frames)/1e6)
	fmt.Printf("their sgemm time alone: acting %.1f us per frame (%.1f GFLOP/s), learning %.1f us per frame (%.1f GFLOP/s)\n",
		got.act.secs/frames*1e6, rate(got.act), got.learn.secs/frames*1e6, rate(got.learn))
	cps, lps := collectT.Seconds()/(nb*frames), learnT.Seconds()/(nb*frames)
	fmt.Printf("measured: collecting %.1f us per frame (env steps, acting, batch), learning %.1f us per frame; %.0f frames/s on one core\n",
		cps*1e6, lps*1e6, 1/(cps+lps))
	fmt.Printf("allocations per learner update: %.1f\n", float64(learnAllocs)/nb)
	fmt.Printf("learning: %.0f%% of its time in products, whose shapes run at %.0f%% of the best shapes' rate\n\n",
		100*got.learn.secs/frames/lps, 100*rate(got.learn)/rate(ideal.learn))
	fmt.Println(strings.Join([]string{
		fmt.Sprintf("RESULT ceiling ceiling_fps=%.0f", ceilingFPS),
		fmt.Sprintf("learner_ceiling_fps_1core=%.0f", learnerFPS),
		fmt.Sprintf("mflop_act=%.2f mflop_learn=%.2f", ideal.act.flops/frames/1e6, ideal.learn.flops/frames/1e6),
		fmt.Sprintf("gflops_best_act=%.1f gflops_best_learn=%.1f", rate(ideal.act), rate(ideal.learn)),
		fmt.Sprintf("gflops_run_act=%.1f gflops_run_learn=%.1f", rate(got.act), rate(got.learn)),
		fmt.Sprintf("collect_us=%.1f learn_us=%.1f learn_gemm_us=%.1f", cps*1e6, lps*1e6, got.learn.secs/frames*1e6),
		fmt.Sprintf("seq_fps_1core=%.0f learn_allocs=%.0f act_weights_mb=%.1f", 1/(cps+lps), float64(learnAllocs)/nb, wbytes/1e6),
	}, " "))
}
