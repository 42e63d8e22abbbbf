package replaytest

import (
	"math"
	"testing"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/tensordict"
)

// Collect has p act on env for two batches of T x B steps and returns the second, after
// checking that it starts from carried states (of size H per env) and holds episode ends.
func Collect(t *testing.T, env envs.Env, p *rl.Learner, T, B, H int) *tensordict.Dict {
	t.Helper()
	col, err := collectors.NewSync(env, p, collectors.Options{FramesPerBatch: T * B})
	if err != nil {
		t.Fatal(err)
	}
	var batch *tensordict.Dict
	for range 2 {
		if batch, err = col.Next(); err != nil {
			t.Fatal(err)
		}
	}
	hidden := must(tensordict.GetAs[float32](batch, rl.KeyHidden))
	done := must(tensordict.GetAs[bool](batch, "next/done"))
	nonzero, ends := 0, 0
	for _, h := range hidden[:B*H] {
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
	return batch
}

// Replay observes batch with m, unrolls it as T x B steps from h0 with the given ends and
// returns the largest differences from the log-probabilities and values acting recorded.
func Replay(t *testing.T, m rl.Model, batch *tensordict.Dict, T, B int, h0 []float32, ended []bool) (dLogp, dValue float64) {
	t.Helper()
	logp := must(tensordict.GetAs[float32](batch, rl.KeyLogProb))
	value := must(tensordict.GetAs[float32](batch, rl.KeyValue))
	acts64 := must(tensordict.GetAs[int64](batch, "action"))
	acts := make([]int, len(acts64))
	for i, a := range acts64 {
		acts[i] = int(a)
	}
	if err := m.Observe(batch, "", nil); err != nil {
		t.Fatal(err)
	}
	g := nn.NewGraph()
	logits, v := m.Unroll(g, T, B, h0, ended)
	lp := nn.Categorical{LogP: g.LogSoftmax(logits)}.LogProb(g, acts)
	for i := range acts {
		dLogp = math.Max(dLogp, math.Abs(float64(lp.Data[i]-logp[i])))
		dValue = math.Max(dValue, math.Abs(float64(v.Data[i]-value[i])))
	}
	return dLogp, dValue
}

// Check replays batch with fresh models of the learner's network (newModel): from the stored
// states with the batch's ends it must match acting; without the resets, or from zero states,
// it must not (else the test could not see them). Then one update of one minibatch and one
// epoch must see ratios of exactly 1.
func Check(t *testing.T, p *rl.Learner, newModel func() rl.Model, batch *tensordict.Dict, T, B, H int) {
	t.Helper()
	hidden := must(tensordict.GetAs[float32](batch, rl.KeyHidden))
	done := must(tensordict.GetAs[bool](batch, "next/done"))
	if dl, dv := Replay(t, newModel(), batch, T, B, hidden[:B*H], done); dl > 1e-4 || dv > 1e-4 {
		t.Errorf("replay differs from acting: log-prob by %g, value by %g", dl, dv)
	}
	if dl, dv := Replay(t, newModel(), batch, T, B, hidden[:B*H], make([]bool, T*B)); dl < 1e-4 && dv < 1e-4 {
		t.Errorf("a replay without resets matches acting too (%g, %g): the test cannot see resets", dl, dv)
	}
	if dl, dv := Replay(t, newModel(), batch, T, B, make([]float32, B*H), done); dl < 1e-4 && dv < 1e-4 {
		t.Errorf("a replay from zero states matches acting too (%g, %g): the test cannot see carried states", dl, dv)
	}
	if err := p.Update(batch); err != nil {
		t.Fatal(err)
	}
	if p.Stats.ApproxKL > 1e-8 || p.Stats.ClipFraction != 0 {
		t.Errorf("one minibatch, one epoch: approx KL %g, clip fraction %g; want 0 (ratios of 1)", p.Stats.ApproxKL, p.Stats.ClipFraction)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
