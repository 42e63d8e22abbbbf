package minihackagent

import (
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
