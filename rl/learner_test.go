package rl

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensordict"
)

// TestPPOSolvesCartPole trains PPO on 4 cart-poles and requires a mean return of at least 475
// over the last 20 finished episodes (CartPole-v1's limit is 500).
func TestPPOSolvesCartPole(t *testing.T) {
	learnCartPole(t, opts(PPO, func(o *Options) { o.LR = 1e-3 }), 475)
}

// TestA2CAndAPPOLearnCartPole requires a mean of at least 195 over the last 20 episodes.
func TestA2CAndAPPOLearnCartPole(t *testing.T) {
	t.Run("a2c", func(t *testing.T) { learnCartPole(t, opts(A2C, func(o *Options) { o.LR = 1e-3 }), 195) })
	t.Run("appo", func(t *testing.T) { learnCartPole(t, opts(APPO, func(o *Options) { o.LR = 1e-3 }), 195) })
}

// opts are DefaultOptions(algo) changed by set.
func opts(algo Algo, set func(*Options)) Options {
	o := DefaultOptions(algo)
	set(&o)
	return o
}

func learnCartPole(t *testing.T, o Options, goal float64) {
	var children []envs.Env
	for i := range 4 {
		c, err := cartpole.NewEnv(cartpole.Options{Seed: uint64(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		children = append(children, c)
	}
	b, _ := envs.Serial(children...)
	env, _ := envs.Compose(b, envs.RewardSum)
	net, err := nn.NewActorCritic(4, 2, 64, rand.New(rand.NewPCG(seedOf(), 1)))
	if err != nil {
		t.Fatal(err)
	}
	o.Seed = seedOf()
	ppo, err := NewLearner(NewFeedForward(net, cartpole.KeyObservation), o)
	if err != nil {
		t.Fatal(err)
	}
	c, err := collectors.NewSync(env, ppo, collectors.Options{FramesPerBatch: 4 * 128, StateKeys: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var returns []float64
	const maxFrames = 300_000
	sched := nn.LinearSchedule(o.LR, 0, maxFrames)
	for c.Frames() < maxFrames {
		batch, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		done, _ := tensordict.GetAs[bool](batch, "next/done")
		ep, _ := tensordict.GetAs[float32](batch, "next/episode_reward")
		for i, d := range done {
			if d {
				returns = append(returns, float64(ep[i]))
			}
		}
		if len(returns) >= 20 {
			last := returns[len(returns)-20:]
			s := 0.0
			for _, r := range last {
				s += r
			}
			if s/20 >= goal {
				t.Logf("solved after %d frames, %d episodes: mean of the last 20 returns %.1f", c.Frames(), len(returns), s/20)
				return
			}
		}
		ppo.Optimizer().SetLR(sched(c.Frames()))
		if err := ppo.Update(batch); err != nil {
			t.Fatal(err)
		}
	}
	n := min(20, len(returns))
	s := 0.0
	for _, r := range returns[len(returns)-n:] {
		s += r
	}
	t.Fatalf("not solved in %d frames: mean of the last %d returns %.1f (stats %v)", maxFrames, n, s/float64(n), ppo.Stats)
}

func seedOf() uint64 {
	seed := uint64(1)
	if s := os.Getenv("MAESTRO_PPO_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	return seed
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
