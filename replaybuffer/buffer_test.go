package replaybuffer

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// items returns n items holding their own number in "i" (int64), an observation and a done
// flag ending an episode every episodeLen items (0: never).
func items(start, n, episodeLen int) *tensordict.Dict {
	d := tensordict.New(n)
	id := make([]int64, n)
	done := make([]bool, n)
	for k := range id {
		id[k] = int64(start + k)
		if episodeLen > 0 && (start+k+1)%episodeLen == 0 {
			done[k] = true
		}
	}
	d.Set("i", tensor.Of(id))
	d.Set("obs", tensor.Zeros(tensor.Float32, n, 3))
	d.Set("next/done", tensor.Of(done))
	return d
}

func ids(t *testing.T, d *tensordict.Dict) []int64 {
	t.Helper()
	v, err := tensordict.GetAs[int64](d, "i")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// chi2 returns the chi-square statistic of counts against expected frequencies.
func chi2(counts []int, expected []float64) float64 {
	s := 0.0
	for i, c := range counts {
		s += (float64(c) - expected[i]) * (float64(c) - expected[i]) / expected[i]
	}
	return s
}

// chi2Limit is a generous upper bound for a chi-square with k degrees of freedom (mean k,
// sd sqrt(2k)): 6 standard deviations.
func chi2Limit(k int) float64 { return float64(k) + 6*math.Sqrt(2*float64(k)) }

func TestUniformCoverage(t *testing.T) {
	b := must(New(Options{Capacity: 100, Seed: 1}))
	must(b.Extend(items(0, 100, 0)))
	counts := make([]int, 100)
	for range 1000 {
		d, _, err := b.Sample(100)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range ids(t, d) {
			counts[i]++
		}
	}
	exp := slices.Repeat([]float64{1000}, 100)
	if x := chi2(counts, exp); x > chi2Limit(99) {
		t.Errorf("uniform sampling chi2 = %.1f over 99 dof (limit %.1f)", x, chi2Limit(99))
	}
}

func TestWithoutReplacementEpochs(t *testing.T) {
	w := NewWithoutReplacement(2)
	b := must(New(Options{Capacity: 50, Sampler: w}))
	must(b.Extend(items(0, 50, 0)))
	var seen []int64
	for range 5 { // 5 batches of 30 = 3 epochs of 50
		d, _, err := b.Sample(30)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, ids(t, d)...)
	}
	for e := 0; e < 3; e++ {
		ep := slices.Clone(seen[e*50 : (e+1)*50])
		slices.Sort(ep)
		for i, v := range ep {
			if v != int64(i) {
				t.Fatalf("epoch %d is not a permutation of 0..49: %v", e, ep)
			}
		}
	}
	if slices.Equal(seen[:50], seen[50:100]) {
		t.Error("two epochs in the same order")
	}
}

func TestPrioritizedFrequenciesAndWeights(t *testing.T) {
	const n, alpha, beta = 10, 0.7, 0.5
	p := must(NewPrioritized(16, alpha, beta, 3))
	b := must(New(Options{Capacity: 16, Sampler: p}))
	must(b.Extend(items(0, n, 0)))
	prio := make([]float64, n)
	idx := make([]int, n)
	for i := range prio {
		prio[i], idx[i] = float64(i+1), i
	}
	if err := b.UpdatePriority(idx, prio); err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, v := range prio {
		sum += math.Pow(v+p.Eps, alpha)
	}
	counts := make([]int, n)
	const draws = 200_000
	for range draws / 100 {
		d, info, err := b.Sample(100)
		if err != nil {
			t.Fatal(err)
		}
		for k, i := range ids(t, d) {
			counts[i]++
			P := math.Pow(prio[i]+p.Eps, alpha) / sum
			Pmin := math.Pow(prio[0]+p.Eps, alpha) / sum
			want := math.Pow(n*P, -beta) / math.Pow(n*Pmin, -beta)
			if math.Abs(info.Weights[k]-want) > 1e-9 {
				t.Fatalf("weight of item %d = %v, want %v", i, info.Weights[k], want)
			}
		}
	}
	exp := make([]float64, n)
	for i := range exp {
		exp[i] = draws * math.Pow(prio[i]+p.Eps, alpha) / sum
	}
	if x := chi2(counts, exp); x > chi2Limit(n-1) {
		t.Errorf("prioritized frequencies chi2 = %.1f (limit %.1f): counts %v, expected %v", x, chi2Limit(n-1), counts, exp)
	}
	if err := b.UpdatePriority([]int{0}, []float64{math.NaN()}); err == nil {
		t.Error("NaN priority accepted")
	}
	// Slot 12 lies inside the sum tree (16 leaves) but holds no item; slot 1's valid update in
	// the same call must not be applied either.
	before := p.tree[p.leaves+1]
	if err := b.UpdatePriority([]int{1, 12}, []float64{50, 1}); err == nil {
		t.Error("priority for unwritten slot 12 accepted")
	}
	if err := b.UpdatePriority([]int{1, 3}, []float64{50, math.Inf(1)}); err == nil {
		t.Error("infinite priority accepted")
	}
	if p.tree[p.leaves+1] != before {
		t.Error("a rejected UpdatePriority changed slot 1's priority")
	}
}

func TestSliceNeverCrossesEpisodes(t *testing.T) {
	s := must(NewSlice(5, 4))
	b := must(New(Options{Capacity: 200, Sampler: s}))
	// Episodes of 7 steps, written in uneven chunks, wrapping the ring buffer once.
	for k := 0; k < 260; k += 13 {
		must(b.Extend(items(k, 13, 7)))
	}
	for range 200 {
		d, info, err := b.Sample(40)
		if err != nil {
			t.Fatal(err)
		}
		v := ids(t, d)
		done := must(tensordict.GetAs[bool](d, "next/done"))
		for sl := 0; sl < 8; sl++ {
			for j := 1; j < 5; j++ {
				k := sl*5 + j
				if v[k] != v[k-1]+1 {
					t.Fatalf("slice %d not contiguous: %v", sl, v[sl*5:sl*5+5])
				}
				if done[k-1] {
					t.Fatalf("slice %d crosses an episode end: %v (done %v)", sl, v[sl*5:sl*5+5], done[sl*5:sl*5+5])
				}
			}
			if v[sl*5]/7 != v[sl*5+4]/7 {
				t.Fatalf("slice %d spans episodes %d and %d", sl, v[sl*5]/7, v[sl*5+4]/7)
			}
		}
		if !slices.Equal(info.Mask, slices.Repeat([]bool{true}, 40)) {
			t.Fatal("full-length slices have padding")
		}
	}
	// Episodes of 3 steps are shorter than the slices: refused, or padded with AllowShort.
	s2 := must(NewSlice(5, 5))
	b2 := must(New(Options{Capacity: 30, Sampler: s2}))
	must(b2.Extend(items(0, 30, 3)))
	if _, _, err := b2.Sample(10); err == nil {
		t.Error("slices of 5 from 3-step episodes without AllowShort")
	}
	s2.AllowShort = true
	d, info, err := b2.Sample(10)
	if err != nil {
		t.Fatal(err)
	}
	v := ids(t, d)
	for sl := 0; sl < 2; sl++ {
		m := info.Mask[sl*5 : sl*5+5]
		if !slices.Equal(m, []bool{true, true, true, false, false}) && !slices.Equal(m[:3], []bool{true, true, true}) {
			t.Errorf("short slice mask %v", m)
		}
		if v[sl*5+3] != v[sl*5+2] || v[sl*5]/3 != v[sl*5+2]/3 {
			t.Errorf("short slice %v is not one episode padded with its last step", v[sl*5:sl*5+5])
		}
	}
}

func TestMaxValueWriterKeepsTopK(t *testing.T) {
	b := must(New(Options{Capacity: 5, Writer: &MaxValue{Key: "score"}}))
	rng := rand.New(rand.NewPCG(1, 1))
	var all []float64
	for range 4 {
		d := items(0, 5, 0)
		sc := make([]float32, 5)
		for i := range sc {
			sc[i] = float32(rng.IntN(1000))
			all = append(all, float64(sc[i]))
		}
		d.Set("score", tensor.Of(sc))
		must(b.Extend(d))
	}
	slices.Sort(all)
	kept := must(tensordict.GetAs[float32](b.Storage().Data(), "score"))
	got := make([]float64, 5)
	for i, v := range kept {
		got[i] = float64(v)
	}
	slices.Sort(got)
	if !slices.Equal(got, all[len(all)-5:]) {
		t.Errorf("kept %v, want the top 5 %v", got, all[len(all)-5:])
	}
}

func TestSaveLoadResumesSampling(t *testing.T) {
	dir := t.TempDir()
	mk := func() Options {
		return Options{Capacity: 64, Sampler: NewWithoutReplacement(9)}
	}
	a := must(New(mk()))
	must(a.Extend(items(0, 40, 0)))
	if _, _, err := a.Sample(7); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	b := must(Load(dir, mk()))
	if b.Len() != 40 {
		t.Fatalf("loaded %d items, want 40", b.Len())
	}
	for range 10 {
		da, _, _ := a.Sample(9)
		db, _, _ := b.Sample(9)
		if !slices.Equal(ids(t, da), ids(t, db)) {
			t.Fatal("a loaded buffer samples differently from the original")
		}
	}
	must(a.Extend(items(40, 30, 0))) // wraps
	must(b.Extend(items(40, 30, 0)))
	if !tensordict.Equal(a.Storage().Data(), b.Storage().Data()) {
		t.Error("the writer cursor was not restored")
	}
	if _, err := Load(dir, Options{Capacity: 64, Sampler: NewRandom(1)}); err == nil {
		t.Error("loading with another sampler kind succeeded")
	}
	if _, err := Load(dir, Options{Capacity: 32, Sampler: NewWithoutReplacement(9)}); err == nil {
		t.Error("loading into another capacity succeeded")
	}
}

// TestFileBackedSurvivesKill extends a file-backed buffer in a child process that then kills
// itself with SIGKILL, and reopens it: every acknowledged item is there.
func TestFileBackedSurvivesKill(t *testing.T) {
	if dir := os.Getenv("MAESTRO_RB_CHILD"); dir != "" {
		b := must(New(Options{Capacity: 1000, Dir: dir, Sampler: NewWithoutReplacement(1)}))
		for k := 0; k < 700; k += 70 {
			must(b.Extend(items(k, 70, 10)))
		}
		os.Stdout.WriteString("acknowledged 700\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	dir := filepath.Join(t.TempDir(), "rb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileBackedSurvivesKill$")
	cmd.Env = append(os.Environ(), "MAESTRO_RB_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	b := must(New(Options{Capacity: 1000, Dir: dir, Sampler: NewWithoutReplacement(1)}))
	defer b.Close()
	if b.Len() != 700 {
		t.Fatalf("reopened buffer holds %d items, want 700", b.Len())
	}
	got := must(tensordict.GetAs[int64](b.Storage().Data(), "i"))
	for i := 0; i < 700; i++ {
		if got[i] != int64(i) {
			t.Fatalf("item %d holds %d after the kill", i, got[i])
		}
	}
	must(b.Extend(items(700, 10, 10))) // and it goes on
	if b.Len() != 710 {
		t.Errorf("after reopening and extending: %d items", b.Len())
	}
	if _, err := New(Options{Capacity: 999, Dir: dir}); err == nil {
		t.Error("reopened with another capacity")
	}
}

func TestOneWriterManySamplers(t *testing.T) {
	b := must(New(Options{Capacity: 500, Sampler: NewRandom(3)}))
	must(b.Extend(items(0, 10, 0)))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, _, err := b.Sample(16)
				if err != nil {
					t.Error(err)
					return
				}
				for _, v := range ids(t, d) {
					if v < 0 || v >= 2000 {
						t.Errorf("sampled id %d", v)
						return
					}
				}
			}
		}()
	}
	for k := 10; k < 2000; k += 10 {
		must(b.Extend(items(k, 10, 0)))
	}
	close(stop)
	wg.Wait()
}

func TestBadInput(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("zero capacity accepted")
	}
	b := must(New(Options{Capacity: 4}))
	if _, _, err := b.Sample(2); err == nil {
		t.Error("sampling an empty buffer succeeded")
	}
	must(b.Extend(items(0, 2, 0)))
	other := tensordict.New(1)
	other.Set("x", tensor.Zeros(tensor.Float32, 1))
	if _, err := b.Extend(other); err == nil {
		t.Error("an item of another structure was stored")
	}
	if _, err := b.Extend(tensordict.New()); err == nil {
		t.Error("Extend without a batch dimension accepted")
	}
	if err := b.UpdatePriority([]int{0}, []float64{1}); err == nil {
		t.Error("UpdatePriority without a prioritized sampler accepted")
	}
}

func TestPrioritizedSlice(t *testing.T) {
	ps := must(NewPrioritizedSlice(64, 4, 1, 0.4, 7))
	b := must(New(Options{Capacity: 64, Sampler: ps}))
	must(b.Extend(items(0, 64, 8))) // 8 episodes of 8
	// All priority on step 21 (episode 2): every slice comes from episode 2 and covers step 21.
	idx := make([]int, 64)
	prio := make([]float64, 64)
	for i := range idx {
		idx[i] = i
	}
	prio[21] = 100
	if err := b.UpdatePriority(idx, prio); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		d, info, err := b.Sample(16)
		if err != nil {
			t.Fatal(err)
		}
		v := ids(t, d)
		for sl := 0; sl < 4; sl++ {
			s := v[sl*4 : sl*4+4]
			if s[0]/8 != 2 || s[3]/8 != 2 || !slices.Contains(s, 21) {
				t.Fatalf("slice %v does not cover step 21 inside episode 2", s)
			}
			for j := 1; j < 4; j++ {
				if s[j] != s[j-1]+1 {
					t.Fatalf("slice %v not contiguous", s)
				}
			}
		}
		if len(info.Weights) != 16 {
			t.Fatalf("%d weights for 16 items", len(info.Weights))
		}
	}
}

func TestSampleIntoMatchesSample(t *testing.T) {
	a := must(New(Options{Capacity: 100, Sampler: NewRandom(5)}))
	b := must(New(Options{Capacity: 100, Sampler: NewRandom(5)}))
	must(a.Extend(items(0, 100, 0)))
	must(b.Extend(items(0, 100, 0)))
	dst, _, err := b.Sample(16)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Sample(16); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		want, _, _ := a.Sample(16)
		if _, err := b.SampleInto(dst); err != nil {
			t.Fatal(err)
		}
		if !tensordict.Equal(want, dst) {
			t.Fatal("SampleInto and Sample differ on the same sampler state")
		}
	}
}

// The episode still being written is shorter than a slice and its steps carry the highest
// priority; samples must still succeed, with no slice taken from it.
func TestPrioritizedSliceSkipsShortTrajectories(t *testing.T) {
	ps := must(NewPrioritizedSlice(64, 4, 1, 0.4, 3))
	b := must(New(Options{Capacity: 64, Sampler: ps}))
	must(b.Extend(items(0, 42, 8))) // 5 episodes of 8, then 2 steps of the sixth
	idx, prio := make([]int, 42), make([]float64, 42)
	for i := range idx {
		idx[i], prio[i] = i, 1
	}
	prio[40], prio[41] = 1000, 1000
	if err := b.UpdatePriority(idx, prio); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		d, _, err := b.Sample(16)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range ids(t, d) {
			if v >= 40 {
				t.Fatalf("a slice includes step %d of the 2-step trajectory", v)
			}
		}
	}
	short := must(NewPrioritizedSlice(8, 4, 1, 0.4, 3))
	b2 := must(New(Options{Capacity: 8, Sampler: short}))
	must(b2.Extend(items(0, 6, 3)))
	if _, _, err := b2.Sample(8); err == nil || !strings.Contains(err.Error(), "AllowShort") {
		t.Errorf("only 3-step episodes for slices of 4: %v, want an error naming AllowShort", err)
	}
}

// TestFileBackedPrioritiesSurviveKill: a child process extends a file-backed prioritized
// buffer, updates priorities (after its last Extend) and SIGKILLs itself; the reopened buffer
// has those priorities, meta.json does not grow with the capacity, and Load of the folder
// into memory reads them too.
func TestFileBackedPrioritiesSurviveKill(t *testing.T) {
	const capacity = 1 << 15
	sampler := func() *Prioritized { return must(NewPrioritized(capacity, 0.6, 0.4, 5)) }
	upd := func() ([]int, []float64) {
		idx, pr := []int{3, 4, 5, 90, 91, 299}, []float64{7, 0.5, 2, 11, 0, 3.5}
		return idx, pr
	}
	if dir := os.Getenv("MAESTRO_RB_PRIO_CHILD"); dir != "" {
		b := must(New(Options{Capacity: capacity, Dir: dir, Sampler: sampler()}))
		must(b.Extend(items(0, 300, 10)))
		idx, pr := upd()
		if err := b.UpdatePriority(idx, pr); err != nil {
			panic(err)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	dir := filepath.Join(t.TempDir(), "rb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileBackedPrioritiesSurviveKill$")
	cmd.Env = append(os.Environ(), "MAESTRO_RB_PRIO_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	// What the priorities should be: the same operations on an in-memory buffer.
	ref := must(New(Options{Capacity: capacity, Sampler: sampler()}))
	must(ref.Extend(items(0, 300, 10)))
	idx, pr := upd()
	if err := ref.UpdatePriority(idx, pr); err != nil {
		t.Fatal(err)
	}
	want := ref.prioritized()
	s := sampler()
	b := must(New(Options{Capacity: capacity, Dir: dir, Sampler: s}))
	for i := 0; i < 400; i++ {
		if got, w := s.tree[s.leaves+i], want.tree[want.leaves+i]; math.Abs(got-w) > 1e-12 {
			t.Fatalf("slot %d: priority %v after reopening, want %v", i, got, w)
		}
	}
	if math.Abs(s.tree[1]-want.tree[1]) > 1e-9 || s.maxP != want.maxP {
		t.Errorf("sum %v maxP %v, want %v %v", s.tree[1], s.maxP, want.tree[1], want.maxP)
	}
	if st, _ := os.Stat(filepath.Join(dir, "meta.json")); st.Size() > 1024 {
		t.Errorf("meta.json is %d bytes for a capacity of %d: priorities should not be in it", st.Size(), capacity)
	}
	if err := b.Save(dir); err != nil {
		t.Fatal(err)
	}
	b.Close()
	s2 := sampler()
	mem, err := Load(dir, Options{Capacity: capacity, Sampler: s2})
	if err != nil {
		t.Fatal(err)
	}
	if mem.Len() != 300 || math.Abs(s2.tree[1]-want.tree[1]) > 1e-9 {
		t.Errorf("Load: %d items, priority sum %v, want 300 and %v", mem.Len(), s2.tree[1], want.tree[1])
	}
}
