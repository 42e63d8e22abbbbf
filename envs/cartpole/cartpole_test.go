package cartpole_test

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/envs/envtest"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func TestCartPoleContract(t *testing.T) {
	e, err := cartpole.NewEnv(cartpole.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	envtest.Check(t, e, 2000)
	for _, mk := range []func(...envs.Env) (*envs.Batched, error){envs.Serial, envs.Parallel} {
		var children []envs.Env
		for i := range 4 {
			c, _ := cartpole.NewEnv(cartpole.Options{Seed: uint64(i)})
			children = append(children, c)
		}
		b, err := mk(children...)
		if err != nil {
			t.Fatal(err)
		}
		envtest.Check(t, b, 1000)
		b.Close()
	}
}

// TestMatchesGymnasium replays transitions recorded from Gymnasium's CartPole-v1
// (testdata/gymnasium_cartpole.jsonl, made by testdata/gen_cartpole.py) from the same states
// and actions and requires the same next states and flags.
func TestMatchesGymnasium(t *testing.T) {
	f, err := os.Open("testdata/gymnasium_cartpole.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e, _ := cartpole.New(cartpole.Options{})
	obs := e.Specs().Observation.Zero()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			State      [4]float64 `json:"state"`
			Action     int64      `json:"action"`
			Next       [4]float64 `json:"next"`
			Terminated bool       `json:"terminated"`
			Reward     float64    `json:"reward"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		e.SetState(rec.State)
		r, term, _, err := e.StepInto(tensor.Scalar(rec.Action), obs)
		if err != nil {
			t.Fatal(err)
		}
		got := e.State()
		for i := range got {
			if math.Abs(got[i]-rec.Next[i]) > 1e-12 {
				t.Fatalf("transition %d: state %v, Gymnasium %v", n, got, rec.Next)
			}
		}
		o, _ := tensordict.GetAs[float32](obs, cartpole.KeyObservation)
		if o[2] != float32(rec.Next[2]) || term != rec.Terminated || r != rec.Reward {
			t.Fatalf("transition %d: obs %v term %v reward %v; Gymnasium %v %v %v", n, o, term, r, rec.Next, rec.Terminated, rec.Reward)
		}
		n++
	}
	if n < 1000 {
		t.Fatalf("only %d transitions in the reference file", n)
	}
}

func TestRolloutStopsAtDone(t *testing.T) {
	e, _ := cartpole.NewEnv(cartpole.Options{Seed: 1})
	pushRight := envs.PolicyFunc(func(td *tensordict.Dict) error { return td.Set(envs.KeyAction, tensor.Scalar[int64](1)) })
	ro, err := envs.Rollout(e, pushRight, 500, envs.RolloutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	T := ro.BatchShape()[0]
	term, _ := tensordict.GetAs[bool](ro, "next/terminated")
	if T >= 500 || !term[T-1] || term[T-2] {
		t.Fatalf("always pushing right: rollout of %d steps, terminated flags at the end %v", T, term[max(0, T-3):])
	}
	// Observations chain: next/observation at t equals observation at t+1.
	obs, _ := ro.Get("observation")
	nobs, _ := ro.Get("next/observation")
	if !tensor.Equal(obs.Slice(1, T), nobs.Slice(0, T-1)) {
		t.Error("observation[t+1] != next/observation[t]")
	}
	if _, err := e.Step(ro.Clone()); err == nil {
		t.Error("stepping a finished episode succeeded")
	}
}
