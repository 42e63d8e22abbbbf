package rl

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensordict"
)

func nethackEnvs(t *testing.T, n, maxSteps int) envs.Env {
	t.Helper()
	var children []envs.Env
	for i := 0; i < n; i++ {
		e, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore, MaxEpisodeSteps: maxSteps,
			Game: nethack.GameOptions{ObservationKeys: AgentObservationKeys}})
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

// TestAgentLearnerReplaysActing checks the recurrent state end to end: a batch collected by
// the agent (episodes of 7 steps ending inside 16-step batches, the state carried over from
// the previous batch) replayed through the core from the stored first state, zeroed after
// episode ends, gives back the acting log-probabilities and values; replays that skip the
// resets or start from zeros do not. Then an Update of one minibatch and one epoch sees
// ratios of exactly 1.
func TestAgentLearnerReplaysActing(t *testing.T) {
	const T, B = 16, 3
	agent, err := nn.NewNetHackAgent(23, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewAgentLearner(agent, Options{Algo: PPO, Epochs: 1, Minibatches: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	col, err := collectors.NewSync(nethackEnvs(t, B, 7), p, collectors.Options{FramesPerBatch: T * B})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	var batch *tensordict.Dict
	for range 2 {
		if batch, err = col.Next(); err != nil {
			t.Fatal(err)
		}
	}
	hidden := must(tensordict.GetAs[float32](batch, KeyHidden))
	done := must(tensordict.GetAs[bool](batch, "next/done"))
	logp := must(tensordict.GetAs[float32](batch, KeyLogProb))
	value := must(tensordict.GetAs[float32](batch, KeyValue))
	acts64 := must(tensordict.GetAs[int64](batch, "action"))
	acts := make([]int, len(acts64))
	for i, a := range acts64 {
		acts[i] = int(a)
	}
	nonzero, ends := 0, 0
	for _, h := range hidden[:B*agent.Hidden] {
		if h != 0 {
			nonzero++
		}
	}
	for _, d := range done[:(T-1)*B] {
		if d {
			ends++
		}
	}
	if nonzero == 0 || ends == 0 {
		t.Fatalf("the batch should start from carried states and hold episode ends: %d non-zero state values, %d ends", nonzero, ends)
	}
	replay := func(h0 []float32, ended []bool) (dLogp, dValue float64) {
		o, err := readObs(batch, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		p.prepare(o, T*B, nil)
		g := nn.NewGraph()
		logits, v := p.sequences(g, T, B, h0, ended)
		lp := nn.Categorical{LogP: g.LogSoftmax(logits)}.LogProb(g, acts)
		for i := range acts {
			dLogp = math.Max(dLogp, math.Abs(float64(lp.Data[i]-logp[i])))
			dValue = math.Max(dValue, math.Abs(float64(v.Data[i]-value[i])))
		}
		return dLogp, dValue
	}
	if dl, dv := replay(hidden[:B*agent.Hidden], done); dl > 1e-4 || dv > 1e-4 {
		t.Errorf("replay differs from acting: log-prob by %g, value by %g", dl, dv)
	}
	if dl, dv := replay(hidden[:B*agent.Hidden], make([]bool, T*B)); dl < 1e-4 && dv < 1e-4 {
		t.Errorf("a replay without resets matches acting too (%g, %g): the test cannot see resets", dl, dv)
	}
	if dl, dv := replay(make([]float32, B*agent.Hidden), done); dl < 1e-4 && dv < 1e-4 {
		t.Errorf("a replay from zero states matches acting too (%g, %g): the test cannot see carried states", dl, dv)
	}
	if err := p.Update(batch); err != nil {
		t.Fatal(err)
	}
	if p.Stats["approx_kl"] > 1e-8 || p.Stats["clip_fraction"] != 0 {
		t.Errorf("one minibatch, one epoch: approx KL %g, clip fraction %g; want 0 (ratios of 1)", p.Stats["approx_kl"], p.Stats["clip_fraction"])
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
