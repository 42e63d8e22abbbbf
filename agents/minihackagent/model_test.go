package minihackagent

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/internal/replaytest"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func roomEnvs(t *testing.T, n, maxSteps int) envs.Env {
	t.Helper()
	var children []envs.Env
	for i := 0; i < n; i++ {
		seed := uint64(10 + i)
		e, err := minihack.NewEnv(minihack.Options{Task: "MiniHack-Room-Random-5x5-v0", ObservationKeys: ObservationKeys,
			MaxEpisodeSteps: maxSteps, Seed: &seed})
		if err != nil {
			t.Fatal(err)
		}
		children = append(children, e)
	}
	env, err := envs.Serial(children...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestModelReplaysActing checks the recurrent state end to end on MiniHack: a batch collected
// by the agent (episodes of at most 7 steps ending inside 16-step batches, the state carried
// over from the previous batch) replayed through Unroll from the stored first state, zeroed
// after episode ends, gives back the acting log-probabilities and values; replays that skip
// the resets or start from zeros do not. Then one PPO update of one minibatch and one epoch
// sees ratios of exactly 1.
func TestModelReplaysActing(t *testing.T) {
	const T, B = 16, 3
	agent, err := NewAgent(8, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	o := rl.DefaultOptions(rl.PPO)
	o.Epochs, o.Minibatches, o.Seed = 1, 1, 3
	p, err := rl.NewLearner(NewModel(agent), o)
	if err != nil {
		t.Fatal(err)
	}
	env := roomEnvs(t, B, 7)
	defer env.Close()
	batch := replaytest.Collect(t, env, p, T, B, Hidden)
	replaytest.Check(t, p, func() rl.Model { return NewModel(agent) }, batch, T, B, Hidden)
}

// TestObserveRejects checks that Observe names a missing key, a crop of the wrong size and a
// glyph outside the tables.
func TestObserveRejects(t *testing.T) {
	env := roomEnvs(t, 1, 0)
	defer env.Close()
	td, err := env.Reset()
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel(must(NewAgent(8, rand.New(rand.NewPCG(1, 1)))))
	if err := m.Observe(td, "", nil); err != nil {
		t.Fatalf("a MiniHack reset: %v", err)
	}
	check := func(name string, d *tensordict.Dict, want string) {
		t.Helper()
		err := m.Observe(d, "", nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, want)
		}
	}
	missing := td.Clone()
	if err := missing.Delete("glyphs_crop"); err != nil {
		t.Fatal(err)
	}
	check("no crop", missing, "glyphs_crop")
	small := td.Clone()
	if err := small.Set("glyphs_crop", must(tensor.New(tensor.Int16, 1, 5, 5))); err != nil {
		t.Fatal(err)
	}
	check("5x5 crop", small, "9x9 crop")
	bad := td.Clone()
	must(tensordict.GetAs[int16](bad, "glyphs"))[40] = 9999
	check("glyph 9999", bad, "out of range")
}

// TestAPPORecomputedValues: with RecomputeValues APPO's V-trace reads the learner's own values
// over the stored sequences. On a batch acted with the same weights those equal the acting
// values (the replay test shows Unroll equals acting step by step), so an update with and
// without it gives the same weights; with the batch's recorded values corrupted, the update
// with RecomputeValues is unchanged and the one without it (the old behaviour, still the
// default) is not.
func TestAPPORecomputedValues(t *testing.T) {
	const T, B = 16, 3
	learner := func(recompute bool) *rl.Learner {
		agent, err := NewAgent(8, rand.New(rand.NewPCG(4, 5)))
		if err != nil {
			t.Fatal(err)
		}
		o := rl.DefaultOptions(rl.APPO)
		o.Minibatches, o.Seed, o.RecomputeValues = 1, 3, recompute
		p, err := rl.NewLearner(NewModel(agent), o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := roomEnvs(t, B, 7)
	defer env.Close()
	batch := replaytest.Collect(t, env, learner(true), T, B, Hidden)
	// Noise, not a shift: Adam's first step follows the gradients' signs only, and normalised
	// advantages hide a constant.
	corrupt := batch.Clone()
	noise := rand.New(rand.NewPCG(8, 8))
	for i := range must(tensordict.GetAs[float32](corrupt, rl.KeyValue)) {
		must(tensordict.GetAs[float32](corrupt, rl.KeyValue))[i] += float32(5 * noise.NormFloat64())
	}
	after := func(recompute bool, b *tensordict.Dict) []float32 {
		p := learner(recompute)
		if err := p.Update(b.Clone()); err != nil {
			t.Fatal(err)
		}
		var w []float32
		for _, q := range p.Params() {
			w = append(w, q.Data...)
		}
		return w
	}
	maxDiff := func(a, b []float32) float64 {
		d := 0.0
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		}
		return d
	}
	recomputed, acting := after(true, batch), after(false, batch)
	if d := maxDiff(recomputed, acting); d > 1e-5 {
		t.Errorf("same weights for acting and learning: updates with and without recomputed values differ by %g", d)
	}
	if d := maxDiff(after(true, corrupt), recomputed); d > 1e-6 {
		t.Errorf("recomputed values: corrupting the recorded values changed the update by %g; it should not read them", d)
	}
	if d := maxDiff(after(false, corrupt), acting); d < 1e-6 {
		t.Errorf("acting values: corrupting the recorded values left the update unchanged (%g): the old behaviour is gone", d)
	}
}
