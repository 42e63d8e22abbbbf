package collectors_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/replaybuffer"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// carts returns n cart-poles in a Serial batch, counting steps per episode.
func carts(t *testing.T, n int, seed uint64) envs.Env {
	t.Helper()
	var children []envs.Env
	for i := range n {
		children = append(children, must(cartpole.NewEnv(cartpole.Options{Seed: seed + uint64(i)})))
	}
	return must(envs.Compose(must(envs.Serial(children...)), envs.StepCounter(0)))
}

// counting is a recurrent policy whose state "hidden" counts the steps of the episode so far:
// it reads the state at the root (zero when absent) and writes state+1 under next.
// With a nil rng it always pushes right (action 1).
type counting struct{ rng *rand.Rand }

func (c counting) Act(td *tensordict.Dict) error {
	n := td.BatchShape()[0]
	next := tensor.Zeros(tensor.Int64, n)
	if h, err := tensordict.GetAs[int64](td, "hidden"); err == nil {
		for i, v := range h {
			tensor.MustData[int64](next)[i] = v + 1
		}
	} else {
		tensor.MustData[int64](next)[0] = 1
		for i := range n {
			tensor.MustData[int64](next)[i] = 1
		}
	}
	a := tensor.Zeros(tensor.Int64, n)
	for i := range n {
		tensor.MustData[int64](a)[i] = 1
		if c.rng != nil {
			tensor.MustData[int64](a)[i] = int64(c.rng.IntN(2))
		}
	}
	if err := td.Set("action", a); err != nil {
		return err
	}
	return td.Set("next/hidden", next)
}

// TestRecurrentStateResetAtEpisodeEnds checks, at every step of several batches, that the
// state the policy sees equals the env's own step count: zero exactly at episode starts and
// carried everywhere else, across batch boundaries too.
// With StateKeys nil the collector infers the state from what the policy writes under next.
func TestRecurrentStateResetAtEpisodeEnds(t *testing.T) {
	for _, keys := range [][]string{{"hidden"}, nil} {
		testRecurrent(t, keys, 0)
	}
	// Random first frames with a recurrent policy: the policy still runs (only its action is
	// replaced), so the state is there and right from the first batch on (it used to be missing
	// in the random batches, and inferring the state keys failed).
	testRecurrent(t, nil, 3*4*50)
}

func testRecurrent(t *testing.T, keys []string, random int) {
	env := carts(t, 4, 1)
	c := must(collectors.NewSync(env, counting{rand.New(rand.NewPCG(1, 1))}, collectors.Options{FramesPerBatch: 4 * 50, StateKeys: keys, InitRandomFrames: random}))
	defer c.Close()
	starts := 0
	for b := 0; b < 8; b++ {
		batch := must(c.Next())
		if !slices.Equal(batch.BatchShape(), []int{50, 4}) {
			t.Fatalf("batch shape %v, want [50 4]", batch.BatchShape())
		}
		steps := must(tensordict.GetAs[int64](batch, "step_count"))
		hidden, err := tensordict.GetAs[int64](batch, "hidden")
		if b == 0 && err != nil { // the very first step has no state yet: a zero state
			t.Fatalf("no state in the batch: %v", err)
		}
		for i := range steps {
			if hidden[i] != steps[i] {
				t.Fatalf("batch %d step %d env %d: state %d, but the episode is at step %d", b, i/4, i%4, hidden[i], steps[i])
			}
			if steps[i] == 0 {
				starts++
			}
		}
	}
	if starts < 8 {
		t.Errorf("only %d episode starts seen: the test needs resets inside batches", starts)
	}
}

func TestSyncFramesPostprocAndBuffer(t *testing.T) {
	buf := must(replaybuffer.New(replaybuffer.Options{Capacity: 10_000}))
	calls := 0
	c := must(collectors.NewSync(carts(t, 2, 3), nil, collectors.Options{
		FramesPerBatch: 64, TotalFrames: 256, InitRandomFrames: 1 << 30, Buffer: buf,
		Postproc: func(d *tensordict.Dict) (*tensordict.Dict, error) { calls++; return d, nil },
	}))
	defer c.Close()
	n := 0
	drain(t, c.Next, func(b *tensordict.Dict) {
		if !slices.Equal(b.BatchShape(), []int{32, 2}) {
			t.Fatalf("batch shape %v", b.BatchShape())
		}
		n++
	})
	if n != 4 || calls != 4 || c.Frames() != 256 || buf.Len() != 256 {
		t.Errorf("batches %d postproc calls %d frames %d buffer %d; want 4 4 256 256", n, calls, c.Frames(), buf.Len())
	}
	if _, err := collectors.NewSync(carts(t, 3, 1), nil, collectors.Options{FramesPerBatch: 64}); err == nil {
		t.Error("FramesPerBatch not a multiple of the env count accepted")
	}
}

func TestMaxFramesPerTraj(t *testing.T) {
	plain := must(envs.Serial(must(cartpole.NewEnv(cartpole.Options{Seed: 5})), must(cartpole.NewEnv(cartpole.Options{Seed: 6}))))
	c := must(collectors.NewSync(plain, nil, collectors.Options{FramesPerBatch: 2 * 40, MaxFramesPerTraj: 7, InitRandomFrames: 1 << 30}))
	defer c.Close()
	b := must(c.Next())
	trunc := must(tensordict.GetAs[bool](b, "next/truncated"))
	for i, v := range must(tensordict.GetAs[int64](b, "next/step_count")) {
		if v > 7 || v == 7 && !trunc[i] && !must(tensordict.GetAs[bool](b, "next/terminated"))[i] {
			t.Fatalf("step %d: an episode at step %d, truncated %v, with a 7-step limit", i, v, trunc[i])
		}
	}
}

func TestMultiSyncAndAsync(t *testing.T) {
	mk := func() []envs.Env { return []envs.Env{carts(t, 2, 10), carts(t, 2, 20), carts(t, 2, 30)} }
	policy := func(i int) envs.Policy { return counting{rand.New(rand.NewPCG(uint64(i), 1))} }
	m := must(collectors.NewMultiSync(mk(), policy, collectors.Options{FramesPerBatch: 20, TotalFrames: 120, StateKeys: []string{"hidden"}}))
	n := 0
	var prev *tensordict.Dict
	drain(t, m.Next, func(b *tensordict.Dict) {
		if !slices.Equal(b.BatchShape(), []int{3, 10, 2}) {
			t.Fatalf("multi-sync batch shape %v, want [3 10 2]", b.BatchShape())
		}
		obs := must(b.Get("observation"))
		if tensor.Equal(obs.Index(0), obs.Index(1)) {
			t.Fatal("two workers returned the same data")
		}
		// Each worker's episode goes on across batches: the first root of this batch is the
		// last "next" of the previous one (or a fresh start after an episode end).
		if prev != nil {
			first := must(tensordict.GetAs[int64](b, "step_count"))
			last := must(tensordict.GetAs[int64](prev, "next/step_count"))
			done := must(tensordict.GetAs[bool](prev, "next/done"))
			for w := 0; w < 3; w++ {
				for e := 0; e < 2; e++ {
					f := first[w*20+e]    // [w, t=0, e]
					l := last[w*20+9*2+e] // [w, t=9, e]
					d := done[w*20+9*2+e]
					if d && f != 0 || !d && f != l {
						t.Fatalf("worker %d env %d: batch starts at step %d after ending at %d (done %v)", w, e, f, l, d)
					}
				}
			}
		}
		prev = b.Clone()
		n++
	})
	if n != 2 {
		t.Errorf("%d multi-sync batches for 120 frames of 60, want 2", n)
	}
	m.Close()

	// Which worker is ready first is up to the scheduler: on a loaded machine one worker can
	// start so late (its thread descheduled by the OS) that the others deliver all ten batches,
	// as seen in CI. So every worker waits before its second batch until the caller has had a
	// batch from each: the test checks that Async serves every worker, not how fast they start.
	// (If Async never served a worker, this test would hang to go test's -timeout.)
	allSeen := make(chan struct{})
	gated := func(i int) envs.Policy {
		inner, steps := policy(i), 0
		return envs.PolicyFunc(func(td *tensordict.Dict) error {
			if steps++; steps == 11 { // the first step of the worker's second batch of 10
				<-allSeen
			}
			return inner.Act(td)
		})
	}
	a := must(collectors.NewAsync(mk(), gated, collectors.Options{FramesPerBatch: 20, TotalFrames: 200}))
	seen := map[int]int{}
	drainAsync(t, a, func(b *tensordict.Dict, w int) {
		if !slices.Equal(b.BatchShape(), []int{10, 2}) {
			t.Fatalf("async batch shape %v", b.BatchShape())
		}
		if seen[w]++; len(seen) == 3 && seen[w] == 1 {
			close(allSeen)
		}
	})
	if len(seen) != 3 {
		t.Errorf("async batches came from workers %v, want all 3", seen)
	}
	start := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("async: batches per worker %v; Close took %v", seen, time.Since(start))
}

func TestSplitTrajectories(t *testing.T) {
	c := must(collectors.NewSync(carts(t, 3, 2), nil, collectors.Options{FramesPerBatch: 3 * 60, InitRandomFrames: 1 << 30, SplitTrajs: true}))
	defer c.Close()
	b := must(c.Next())
	checkSplit(t, b, 180)
	if n := b.BatchShape()[0]; n <= 3 {
		t.Errorf("only %d trajectories in 60 random steps of 3 cart-poles", n)
	}
}

// Async and MultiSync split once, in the pool (workers used to split too, and Async then split
// the split batch again).
func TestSplitTrajectoriesInPools(t *testing.T) {
	a := must(collectors.NewAsync([]envs.Env{carts(t, 3, 2), carts(t, 3, 9)}, func(int) envs.Policy { return nil },
		collectors.Options{FramesPerBatch: 3 * 40, TotalFrames: 4 * 120, InitRandomFrames: 1 << 30, SplitTrajs: true}))
	defer a.Close()
	for k := 0; k < 4; k++ {
		b, _, err := a.Next()
		if err != nil {
			t.Fatal(err)
		}
		checkSplit(t, b, 120)
	}
	_, err := collectors.NewMultiSync([]envs.Env{carts(t, 1, 1)}, func(int) envs.Policy { return nil }, collectors.Options{FramesPerBatch: 8, SplitTrajs: true})
	if err == nil || !strings.Contains(err.Error(), "Async") {
		t.Errorf("MultiSync with SplitTrajs: %v, want a refusal naming Async", err)
	}
}

// checkSplit checks a split batch: real steps consecutive within each trajectory, zero padding,
// nothing after an episode end, and want real steps in all.
func checkSplit(t *testing.T, b *tensordict.Dict, want int) {
	t.Helper()
	bs := b.BatchShape()
	mask := must(tensordict.GetAs[bool](b, collectors.KeyMask))
	steps := must(tensordict.GetAs[int64](b, "step_count"))
	done := must(tensordict.GetAs[bool](b, "next/done"))
	total := 0
	for n := 0; n < bs[0]; n++ {
		L := 0
		for j := 0; j < bs[1]; j++ {
			k := n*bs[1] + j
			if !mask[k] {
				if steps[k] != 0 || done[k] {
					t.Fatalf("padding of trajectory %d is not zero", n)
				}
				continue
			}
			if j > 0 && steps[k] != steps[k-1]+1 {
				t.Fatalf("trajectory %d: step counts %v are not consecutive", n, steps[n*bs[1]:(n+1)*bs[1]])
			}
			if done[k] && j+1 < bs[1] && mask[k+1] {
				t.Fatalf("trajectory %d goes on after its episode ended", n)
			}
			L++
		}
		total += L
	}
	if total != want {
		t.Errorf("trajectories hold %d real steps, want all %d", total, want)
	}
}

// always picks action 1.
type always struct{}

func (always) Act(td *tensordict.Dict) error {
	a := tensor.Zeros(tensor.Int64, td.BatchShape()[0])
	for i := range tensor.MustData[int64](a) {
		tensor.MustData[int64](a)[i] = 1
	}
	return td.Set("action", a)
}

// InitRandomFrames counts the frames of all workers: with 2 workers of 20 frames per batch
// and 40 random frames, the first batch is random and the second is the policy's.
func TestInitRandomFramesAcrossWorkers(t *testing.T) {
	m := must(collectors.NewMultiSync([]envs.Env{carts(t, 2, 1), carts(t, 2, 5)}, func(int) envs.Policy { return always{} },
		collectors.Options{FramesPerBatch: 20, TotalFrames: 80, InitRandomFrames: 40}))
	defer m.Close()
	for k := 0; k < 2; k++ {
		b := must(m.Next())
		acts := must(tensordict.GetAs[int64](b, "action"))
		ones := 0
		for _, a := range acts {
			ones += int(a)
		}
		if random := ones < len(acts); random != (k == 0) {
			t.Errorf("batch %d: %d of %d actions are 1; want random actions only in batch 0", k, ones, len(acts))
		}
	}
}

// Slices sampled from what collectors write into a buffer are runs of one env's consecutive
// steps (step counts +1 each) for Sync, MultiSync and split batches; written time-major,
// neighbouring slots were different envs.
func TestBufferWritesKeepEnvsApart(t *testing.T) {
	for _, tc := range []struct {
		name string
		mk   func(buf *replaybuffer.Buffer) (func() error, func())
	}{
		{"sync", func(buf *replaybuffer.Buffer) (func() error, func()) {
			c := must(collectors.NewSync(carts(t, 3, 4), nil, collectors.Options{FramesPerBatch: 3 * 30, InitRandomFrames: 1 << 30, Buffer: buf}))
			return func() error { _, err := c.Next(); return err }, func() { c.Close() }
		}},
		{"split", func(buf *replaybuffer.Buffer) (func() error, func()) {
			c := must(collectors.NewSync(carts(t, 3, 7), nil, collectors.Options{FramesPerBatch: 3 * 30, InitRandomFrames: 1 << 30, Buffer: buf, SplitTrajs: true}))
			return func() error { _, err := c.Next(); return err }, func() { c.Close() }
		}},
		{"multisync", func(buf *replaybuffer.Buffer) (func() error, func()) {
			m := must(collectors.NewMultiSync([]envs.Env{carts(t, 2, 1), carts(t, 2, 9)}, func(int) envs.Policy { return nil },
				collectors.Options{FramesPerBatch: 2 * 30, InitRandomFrames: 1 << 30, Buffer: buf}))
			return func() error { _, err := m.Next(); return err }, func() { m.Close() }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := must(replaybuffer.NewSlice(4, 1))
			s.EndKey = collectors.KeyTrajEnd
			buf := must(replaybuffer.New(replaybuffer.Options{Capacity: 1000, Sampler: s}))
			next, closeFn := tc.mk(buf)
			defer closeFn()
			for range 4 {
				if err := next(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.name == "split" && buf.Len() != 4*90 {
				t.Fatalf("buffer holds %d items, want the 360 real steps (no padding)", buf.Len())
			}
			for range 50 {
				d, _, err := buf.Sample(32)
				if err != nil {
					t.Fatal(err)
				}
				steps := must(tensordict.GetAs[int64](d, "step_count"))
				for k := 0; k < 32; k += 4 {
					for j := 1; j < 4; j++ {
						if steps[k+j] != steps[k+j-1]+1 {
							t.Fatalf("slice step counts %v are not one env's consecutive steps", steps[k:k+4])
						}
					}
				}
			}
		})
	}
}

// faulty is a stand-in that injects a fault a real env cannot produce on demand: every Step
// from the failAfter-th on returns an error.
type faulty struct {
	envs.Env
	steps, failAfter int
}

func (f *faulty) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	if f.steps++; f.steps >= f.failAfter {
		return nil, errors.New("injected env failure")
	}
	return f.Env.Step(td)
}

func (f *faulty) ResetSome(mask []bool, td *tensordict.Dict) error {
	return f.Env.(envs.PartialResetter).ResetSome(mask, td)
}

// After a worker fails, Async's next call asks it again and reports its error instead of
// waiting forever for a batch no worker is making.
func TestAsyncAfterWorkerError(t *testing.T) {
	a := must(collectors.NewAsync([]envs.Env{&faulty{Env: carts(t, 1, 1), failAfter: 25}}, func(int) envs.Policy { return nil },
		collectors.Options{FramesPerBatch: 20, InitRandomFrames: 1 << 30}))
	defer a.Close()
	if _, _, err := a.Next(); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 2; k++ {
		if _, _, err := a.Next(); err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("call %d after the failure: %v, want the worker's error", k+2, err)
		}
	}
}

// An env that cannot save its state (NetHack's lives in the C library) still checkpoints: the
// collector keeps its frame count and starts new episodes after Restore.
func TestSnapshotWithoutEnvState(t *testing.T) {
	mk := func() *collectors.Sync {
		env := must(nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore, Game: nethack.GameOptions{ObservationKeys: []string{"blstats", "message"}}}))
		return must(collectors.NewSync(must(envs.Compose(env, envs.StepCounter(0))), nil, collectors.Options{FramesPerBatch: 10, InitRandomFrames: 1 << 30}))
	}
	c := mk()
	defer c.Close()
	must(c.Next())
	b, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := mk()
	defer r.Close()
	if err := r.Restore(b); err != nil {
		t.Fatal(err)
	}
	batch := must(r.Next())
	if r.Frames() != 20 {
		t.Errorf("restored collector at %d frames after one batch, want 20", r.Frames())
	}
	if steps := must(tensordict.GetAs[int64](batch, "step_count")); steps[0] != 0 {
		t.Errorf("restored collector's first step is step %d of an episode, want 0 (a new one)", steps[0])
	}
}

// TestMultiSyncRunAhead checks that workers running ahead collect exactly what a strictly
// synchronous collector does with the same envs and policies (the buffers used in turn never mix
// batches up; under -race, workers never write the batch the caller is reading), and that a new
// policy takes effect RunAhead batches later than without.
func TestMultiSyncRunAhead(t *testing.T) {
	mk := func() []envs.Env { return []envs.Env{carts(t, 2, 10), carts(t, 2, 20), carts(t, 2, 30)} }
	policy := func(i int) envs.Policy { return counting{rand.New(rand.NewPCG(uint64(i), 1))} }
	o := collectors.Options{FramesPerBatch: 20, TotalFrames: 300, StateKeys: []string{"hidden"}}
	collect := func(o collectors.Options, switchAfter int) []*tensordict.Dict {
		m := must(collectors.NewMultiSync(mk(), policy, o))
		defer m.Close()
		var got []*tensordict.Dict
		drain(t, m.Next, func(b *tensordict.Dict) {
			got = append(got, b.Clone())
			if len(got) == switchAfter {
				for i := range 3 {
					m.SetPolicy(i, counting{})
				}
			}
		})
		return got
	}
	strict := collect(o, 0)
	for _, n := range []int{1, 3} {
		o.RunAhead = n
		ahead := collect(o, 0)
		if len(strict) != 5 || len(ahead) != 5 {
			t.Fatalf("%d strict and %d run-ahead (%d) batches of 60 frames for 300, want 5", len(strict), len(ahead), n)
		}
		for k := range strict {
			for _, key := range strict[k].LeafKeys() {
				a, b := must(strict[k].Get(key)), must(ahead[k].Get(key))
				if !tensor.Equal(a, b) {
					t.Fatalf("run-ahead %d, batch %d, %q: %v, strict %v", n, k, key, b, a)
				}
			}
		}
	}

	allOnes := func(b *tensordict.Dict) bool {
		return !slices.Contains(must(tensordict.GetAs[int64](b, "action")), 0)
	}
	// SetPolicy after the first batch: strictly synchronous, the second batch has it; running
	// n ahead, batch 2+n is the first.
	for _, n := range []int{0, 1, 2} {
		o.RunAhead = n
		got := collect(o, 1)
		for k, b := range got {
			if want := k >= 1+n; allOnes(b) != want {
				t.Errorf("run-ahead %d: batch %d acted with the new policy: %v, want %v", n, k+1, allOnes(b), want)
			}
		}
	}
}

// TestMultiSyncRunAheadAfterError injects a policy failure (a stand-in fault: real envs do not
// fail on demand) into worker 0's second batch and checks that, running ahead, Next reports it
// and then goes on returning whole batches from the buffers in turn, each read while the
// workers fill the others (under -race, a buffer handed out while written would be reported).
func TestMultiSyncRunAheadAfterError(t *testing.T) {
	envList := []envs.Env{carts(t, 2, 10), carts(t, 2, 20)}
	policy := func(i int) envs.Policy {
		inner, calls := counting{rand.New(rand.NewPCG(uint64(i), 1))}, 0
		return envs.PolicyFunc(func(td *tensordict.Dict) error {
			if calls++; i == 0 && calls == 15 { // step 5 of worker 0's second batch of 10
				return errors.New("injected policy failure")
			}
			return inner.Act(td)
		})
	}
	m := must(collectors.NewMultiSync(envList, policy, collectors.Options{FramesPerBatch: 20, StateKeys: []string{"hidden"}, RunAhead: 1}))
	defer m.Close()
	var errs, ok int
	var prev *tensordict.Dict
	for range 6 {
		b, err := m.Next()
		if err != nil {
			if !strings.Contains(err.Error(), "injected") {
				t.Fatalf("Next: %v", err)
			}
			errs++
			prev = nil
			continue
		}
		ok++
		c := b.Clone() // reads the whole batch while the workers run ahead
		if prev != nil && b == prev {
			t.Fatal("two successive calls returned the same buffer")
		}
		prev = b
		if !slices.Equal(c.BatchShape(), []int{2, 10, 2}) {
			t.Fatalf("batch shape %v", c.BatchShape())
		}
	}
	if errs != 1 || ok != 5 {
		t.Errorf("%d errors and %d batches in 6 calls, want 1 and 5", errs, ok)
	}
}

// TestAsyncRunAhead checks that Async workers running ahead collect, worker by worker, exactly
// the batches they collect without (buffers used in turn never mix batches up; under -race,
// workers never write a batch the caller holds), that TotalFrames still counts, and that a
// worker goes on while the caller holds its batch: with one worker and RunAhead 2, holding the
// first batch, the env reaches the end of the third.
func TestAsyncRunAhead(t *testing.T) {
	mk := func() []envs.Env { return []envs.Env{carts(t, 2, 10), carts(t, 2, 20), carts(t, 2, 30)} }
	policy := func(i int) envs.Policy { return counting{rand.New(rand.NewPCG(uint64(i), 1))} }
	collect := func(n int) (map[int][]*tensordict.Dict, int) {
		a := must(collectors.NewAsync(mk(), policy, collectors.Options{FramesPerBatch: 20, TotalFrames: 600, StateKeys: []string{"hidden"}, RunAhead: n}))
		defer a.Close()
		got, total := map[int][]*tensordict.Dict{}, 0
		drainAsync(t, a, func(b *tensordict.Dict, w int) {
			got[w] = append(got[w], b.Clone())
			total++
		})
		return got, total
	}
	strict, n0 := collect(0)
	for _, n := range []int{1, 3} {
		ahead, nn := collect(n)
		if n0 != 30 || nn != 30 {
			t.Fatalf("%d batches without run-ahead and %d with %d, want 30 of 20 frames for 600", n0, nn, n)
		}
		for w, bs := range ahead {
			for k, b := range bs {
				if k >= len(strict[w]) {
					break // the workers' shares of the 30 batches differ from run to run
				}
				for _, key := range b.LeafKeys() {
					if x, y := must(strict[w][k].Get(key)), must(b.Get(key)); !tensor.Equal(x, y) {
						t.Fatalf("run-ahead %d, worker %d, batch %d, %q: %v, without %v", n, w, k, key, y, x)
					}
				}
			}
		}
	}

	var steps atomic.Int64
	env := &stepCount{Env: carts(t, 1, 1), n: &steps}
	random := envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 1)))
	a := must(collectors.NewAsync([]envs.Env{env}, func(int) envs.Policy { return random }, collectors.Options{FramesPerBatch: 10, RunAhead: 2}))
	defer a.Close()
	if _, _, err := a.Next(); err != nil {
		t.Fatal(err)
	}
	// The worker fills its two spare buffers while this batch is held. (Were it to wait for the
	// caller, this loop would spin to go test's -timeout.)
	for steps.Load() < 30 {
		runtime.Gosched()
	}

	// Running ahead stops at TotalFrames: three batches of 10 asked for, 30 steps taken by
	// Close. (A fourth batch asked for would be queued behind the third, so the worker would
	// most likely start it before Close.)
	var few atomic.Int64
	env = &stepCount{Env: carts(t, 1, 2), n: &few}
	random = envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 1)))
	b := must(collectors.NewAsync([]envs.Env{env}, func(int) envs.Policy { return random }, collectors.Options{FramesPerBatch: 10, TotalFrames: 30, RunAhead: 3}))
	drainAsync(t, b, func(*tensordict.Dict, int) {})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := few.Load(); n != 30 {
		t.Errorf("TotalFrames 30 with RunAhead 3: the env took %d steps, want 30", n)
	}
}

// stepCount counts an env's steps across goroutines.
type stepCount struct {
	envs.Env
	n *atomic.Int64
}

func (s *stepCount) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	s.n.Add(1)
	return s.Env.Step(td)
}

func (s *stepCount) ResetSome(mask []bool, td *tensordict.Dict) error {
	return s.Env.(envs.PartialResetter).ResetSome(mask, td)
}

// drain calls f with each batch next returns, until io.EOF.
func drain(t *testing.T, next func() (*tensordict.Dict, error), f func(b *tensordict.Dict)) {
	t.Helper()
	for {
		b, err := next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		f(b)
	}
}

// drainAsync calls f with each batch of a and the worker that made it, until io.EOF.
func drainAsync(t *testing.T, a *collectors.Async, f func(b *tensordict.Dict, worker int)) {
	t.Helper()
	w := 0
	drain(t, func() (*tensordict.Dict, error) {
		b, worker, err := a.Next()
		w = worker
		return b, err
	}, func(b *tensordict.Dict) { f(b, w) })
}

// TestPostprocSettingAKey: a Postproc that replaces next/reward (as Motif's intrinsic reward
// does) sees the env's own reward in every batch of every collector. Cart-pole pays 1 per
// step, so each batch's halved rewards sum to half its frames; were the Postproc to swap the
// buffer's leaf, the workers would write rewards where the next batch no longer looks, and it
// would halve the previous batch's halves again.
func TestPostprocSettingAKey(t *testing.T) {
	halve := func(b *tensordict.Dict) (*tensordict.Dict, error) {
		r := must(tensordict.GetAs[float32](b, "next/reward"))
		h := tensor.Zeros(tensor.Float32, must(b.Get("next/reward")).Shape()...)
		for i, v := range r {
			tensor.MustData[float32](h)[i] = v / 2
		}
		return b, b.Set("next/reward", h)
	}
	check := func(name string, k int, b *tensordict.Dict) {
		t.Helper()
		sum := 0.0
		for _, v := range must(tensordict.GetAs[float32](b, "next/reward")) {
			sum += float64(v)
		}
		if n := len(must(tensordict.GetAs[float32](b, "next/reward"))); sum != float64(n)/2 {
			t.Errorf("%s batch %d: halved rewards sum to %g over %d frames, want %g", name, k, sum, n, float64(n)/2)
		}
	}
	o := collectors.Options{FramesPerBatch: 20, Postproc: halve}
	s := must(collectors.NewSync(carts(t, 2, 1), always{}, o))
	defer s.Close()
	m := must(collectors.NewMultiSync([]envs.Env{carts(t, 2, 2), carts(t, 2, 3)}, func(int) envs.Policy { return always{} }, o))
	defer m.Close()
	o.RunAhead = 1
	a := must(collectors.NewAsync([]envs.Env{carts(t, 2, 4)}, func(int) envs.Policy { return always{} }, o))
	defer a.Close()
	for k := range 4 {
		check("Sync", k, must(s.Next()))
		check("MultiSync", k, must(m.Next()))
		b, _, err := a.Next()
		if err != nil {
			t.Fatal(err)
		}
		check("Async", k, b)
	}
}

// TestCollectorsDoNotGrow: after warming up (600 batches: buffers made, memories settled), the
// live heap sampled every 50 of 300 more batches of each collector (a recurrent policy, a
// Postproc that sets a key, run-ahead buffers) stays within 768 KB: batches are written into
// recycled buffers and nothing collected is kept. Were each batch's buffer kept, 300 batches
// of 40 frames would add over 1 MB; the rows of these batched envs, new at every step, once
// filled a shape-check memory of 4,096 per env (7.6 MB).
func TestCollectorsDoNotGrow(t *testing.T) {
	live := func() uint64 {
		runtime.GC()
		runtime.GC() // a second cycle empties sync.Pool's victim cache
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	policy := func(i int) envs.Policy { return counting{rand.New(rand.NewPCG(uint64(i), 9))} }
	o := collectors.Options{FramesPerBatch: 40, StateKeys: []string{"hidden"},
		Postproc: func(b *tensordict.Dict) (*tensordict.Dict, error) {
			return b, b.Set("seen", tensor.Zeros(tensor.Bool, b.BatchShape()...))
		}}
	s := must(collectors.NewSync(carts(t, 2, 1), policy(0), o))
	defer s.Close()
	o.RunAhead = 2
	m := must(collectors.NewMultiSync([]envs.Env{carts(t, 2, 2), carts(t, 2, 3)}, policy, o))
	defer m.Close()
	a := must(collectors.NewAsync([]envs.Env{carts(t, 2, 4), carts(t, 2, 5)}, policy, o))
	defer a.Close()
	next := map[string]func() error{
		"Sync":      func() error { _, err := s.Next(); return err },
		"MultiSync": func() error { _, err := m.Next(); return err },
		"Async":     func() error { _, _, err := a.Next(); return err },
	}
	for _, name := range []string{"Sync", "MultiSync", "Async"} {
		run := func(n int) {
			for range n {
				if err := next[name](); err != nil {
					t.Fatal(err)
				}
			}
		}
		run(600) // each env has stepped past its first 4,096 rows
		lo, hi := live(), uint64(0)
		lo0 := lo
		for range 6 { // sampled along the way: a cache that fills and empties shows too
			run(50)
			h := live()
			lo, hi = min(lo, h), max(hi, h)
		}
		if hi > lo+768<<10 {
			t.Errorf("%s: live heap between %d and %d KB over 300 batches after 600 (%d KB at the start)", name, lo>>10, hi>>10, lo0>>10)
		}
	}
}
