package nethackagent

import (
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// TestOverlappedLagsOneUpdate trains an rl.APPO agent on NetHack with collection overlapping
// learning and checks which weights acted: batches 0 and 1 with the initial weights, batch k
// (k >= 2) with those after update k-1. The env holds the worker in the middle of each batch
// until the update before it and Refresh are done, so new weights arrive while a batch is
// being collected (and a second Refresh after some updates must leave the actor in use alone).
// The value stored at every step is recomputed from the step's observation and recurrent state
// with actors holding every weights snapshot: exactly one snapshot, the expected one, gives all
// of a batch's values back. Run under -race: the worker acts while the learner updates.
func TestOverlappedLagsOneUpdate(t *testing.T) {
	const T, B, batches = 8, 2, 5
	agent := must(NewAgent(len(nethack.TaskActions()), rand.New(rand.NewPCG(1, 1))))
	p := must(rl.NewLearner(NewModel(agent), opts(rl.APPO, func(o *rl.Options) { o.LR, o.Minibatches, o.Seed = 1e-3, 1, 1 })))
	actors := [2]*rl.Actor{must(newActor(t, p, 1)), must(newActor(t, p, 2))}
	env := &midBatchGate{Env: nethackEnvs(t, B, 50), T: T, gate: make(chan struct{})}
	ov := must(rl.NewOverlapped(env, actors, collectors.Options{FramesPerBatch: T * B}))
	defer ov.Close()
	defer close(env.gate)                           // (runs first) a worker held in the last batch goes on and stops
	snaps := []*rl.Actor{must(newActor(t, p, 100))} // snaps[k]: the weights after update k
	var got []*tensordict.Dict
	for k := 0; k < batches; k++ {
		b, err := ov.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.Clone())
		if err := p.Update(b); err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, must(newActor(t, p, uint64(101+k))))
		for range 1 + k%2 { // a second Refresh (odd k) must not touch the actor in use
			if err := ov.Refresh(); err != nil {
				t.Fatal(err)
			}
		}
		env.gate <- struct{}{} // the next batch, held halfway, goes on
	}
	if ov.Frames() != batches*T*B {
		t.Errorf("Frames %d after %d batches of %d", ov.Frames(), batches, T*B)
	}
	// And without the gate, acting and learning overlap freely (for -race).
	free := must(rl.NewOverlapped(nethackEnvs(t, B, 50), [2]*rl.Actor{must(newActor(t, p, 3)), must(newActor(t, p, 4))}, collectors.Options{FramesPerBatch: T * B}))
	defer free.Close()
	for range 4 {
		b, err := free.Next()
		if err == nil {
			err = p.Update(b)
		}
		if err == nil {
			err = free.Refresh()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for k, b := range got {
		want := max(k-1, 0)
		for j, s := range snaps {
			same := true
			for step := range T {
				row := must(b.Index(step))
				td := must(row.Select(append([]string{rl.KeyHidden}, ObservationKeys...)...))
				if err := s.Act(td); err != nil {
					t.Fatal(err)
				}
				same = same && tensor.Equal(must(td.Get(rl.KeyValue)), must(row.Get(rl.KeyValue)))
			}
			if same != (j == want) {
				t.Errorf("batch %d: values recomputed with the weights after update %d all match: %v (want a match only for update %d)", k, j, same, want)
			}
		}
	}
}

// midBatchGate holds the collector's worker at the middle of every batch after the first until
// the test sends on gate.
type midBatchGate struct {
	envs.Env
	T, n int
	gate chan struct{}
}

func (g *midBatchGate) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	if g.n >= g.T && g.n%g.T == g.T/2 {
		<-g.gate
	}
	g.n++
	return g.Env.Step(td)
}

func (g *midBatchGate) ResetSome(mask []bool, td *tensordict.Dict) error {
	return g.Env.(envs.PartialResetter).ResetSome(mask, td)
}
