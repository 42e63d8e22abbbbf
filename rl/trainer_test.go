package rl

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensordict"
)

func cartTrainer(t *testing.T) (*Trainer, func()) {
	t.Helper()
	var children []envs.Env
	for i := range 2 {
		children = append(children, must(cartpole.NewEnv(cartpole.Options{Seed: uint64(i)})))
	}
	env := must(envs.Compose(must(envs.Serial(children...)), envs.RewardSum))
	l := must(NewLearner(NewFeedForward(must(nn.NewActorCritic(4, 2, 16, rand.New(rand.NewPCG(1, 1)))), cartpole.KeyObservation), opts(PPO, func(o *Options) { o.Seed = 1 })))
	c := must(collectors.NewSync(env, l, collectors.Options{FramesPerBatch: 2 * 64, StateKeys: []string{}}))
	return &Trainer{Collector: c, Learner: l, TotalFrames: 1024}, func() { c.Close() }
}

// TestTrainerHooks: hooks run in order around each batch, the learning rate follows the frames
// before each batch, ErrStop ends the run without an error, other errors end it with theirs.
func TestTrainerHooks(t *testing.T) {
	tr, done := cartTrainer(t)
	defer done()
	var events []string
	var lrs []float64
	tr.LR = func(frames int) float64 { return 1e-3 * (1 - float64(frames)/1024) }
	tr.BeforeBatch = []BeforeBatch{func(frames int) error {
		events = append(events, "before")
		if frames >= 512 {
			return ErrStop
		}
		return nil
	}}
	tr.AfterCollect = []AfterCollect{func(b *tensordict.Dict) error {
		events = append(events, "collect")
		lrs = append(lrs, tr.Learner.Optimizer().LR())
		return nil
	}}
	var steps []Step
	tr.AfterUpdate = []AfterUpdate{func(s Step) error {
		events = append(events, "update")
		steps = append(steps, s)
		return nil
	}}
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	want := []string{"before", "collect", "update", "before", "collect", "update", "before", "collect", "update", "before", "collect", "update", "before"}
	if !slices.Equal(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
	if len(steps) != 4 || steps[3].Frames != 512 || steps[3].Batches != 4 || steps[0].Stats.Loss == 0 {
		t.Errorf("steps: %d, last %d frames %d batches, first loss %v", len(steps), steps[3].Frames, steps[3].Batches, steps[0].Stats.Loss)
	}
	for i, s := range steps { // 128 cart-pole steps and an update each take some time
		if s.Collect <= 0 || s.Update <= 0 {
			t.Errorf("step %d: collect %v, update %v; want both timed", i, s.Collect, s.Update)
		}
	}
	if lrs[0] != 1e-3 || lrs[3] != 1e-3*(1-384.0/1024) {
		t.Errorf("learning rates %v", lrs)
	}
	boom := errors.New("boom")
	tr.BeforeBatch = nil
	tr.AfterUpdate = []AfterUpdate{func(Step) error { return boom }}
	if err := tr.Run(); !errors.Is(err, boom) {
		t.Errorf("a failing hook: %v, want boom", err)
	}
}
