package nethackagent

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/maestro-rl/maestro/agents/internal/replaytest"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func nethackEnvs(t *testing.T, n, maxSteps int) envs.Env {
	t.Helper()
	var children []envs.Env
	for i := 0; i < n; i++ {
		e, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore, MaxEpisodeSteps: maxSteps,
			Game: nethack.GameOptions{ObservationKeys: ObservationKeys}})
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

// TestModelReplaysActing checks the recurrent state end to end: a batch collected by
// the agent (episodes of 7 steps ending inside 16-step batches, the state carried over from
// the previous batch) replayed through the core from the stored first state, zeroed after
// episode ends, gives back the acting log-probabilities and values; replays that skip the
// resets or start from zeros do not. Then an Update of one minibatch and one epoch sees
// ratios of exactly 1.
//
// With skills (a skill-conditioned agent reading KeySkill, which the env here cycles through 3
// values step by step), the same holds, and a replay with the wrong skills does not match.
func TestModelReplaysActing(t *testing.T) {
	for _, skills := range []int{0, 3} {
		t.Run(fmt.Sprintf("skills=%d", skills), func(t *testing.T) { testReplay(t, skills) })
	}
}

// cycleSkills adds KeySkill to each of a single env's observations: 0 at reset, then the next
// of k values at each step.
type cycleSkills struct {
	envs.Env
	k     int
	skill int64
}

func (c *cycleSkills) Specs() envs.Specs {
	s := c.Env.Specs()
	s.Observation.Set(KeySkill, envs.Categorical{N: c.k})
	return s
}

func (c *cycleSkills) Reset() (*tensordict.Dict, error) {
	td, err := c.Env.Reset()
	if err != nil {
		return nil, err
	}
	c.skill = 0
	return td, td.Set(KeySkill, tensor.Scalar(c.skill))
}

func (c *cycleSkills) Step(td *tensordict.Dict) (*tensordict.Dict, error) {
	td, err := c.Env.Step(td)
	if err != nil {
		return nil, err
	}
	c.skill = (c.skill + 1) % int64(c.k)
	return td, td.Set("next/"+KeySkill, tensor.Scalar(c.skill))
}

func testReplay(t *testing.T, skills int) {
	const T, B = 16, 3
	agent, err := NewSkillAgent(23, skills, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := rl.NewLearner(NewModel(agent), opts(rl.PPO, func(o *rl.Options) { o.Epochs, o.Minibatches, o.Seed = 1, 1, 3 }))
	if err != nil {
		t.Fatal(err)
	}
	env := nethackEnvs(t, B, 7)
	if skills > 0 {
		var children []envs.Env
		for i := 0; i < B; i++ {
			e, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore, MaxEpisodeSteps: 7,
				Game: nethack.GameOptions{ObservationKeys: ObservationKeys}})
			if err != nil {
				t.Fatal(err)
			}
			children = append(children, &cycleSkills{Env: e, k: skills})
		}
		env.Close()
		if env, err = envs.Serial(children...); err != nil {
			t.Fatal(err)
		}
	}
	defer env.Close()
	batch := replaytest.Collect(t, env, p, T, B, agent.Hidden)
	if skills > 0 { // before Check's update changes the weights
		hidden := must(tensordict.GetAs[float32](batch, rl.KeyHidden))
		done := must(tensordict.GetAs[bool](batch, "next/done"))
		shifted := batch.Clone()
		sk := must(tensordict.GetAs[int64](shifted, KeySkill))
		for i := range sk {
			sk[i] = (sk[i] + 1) % int64(skills)
		}
		if dl, dv := replaytest.Replay(t, NewModel(agent), shifted, T, B, hidden[:B*agent.Hidden], done); dl < 1e-4 && dv < 1e-4 {
			t.Errorf("a replay with the wrong skills matches acting too (%g, %g): the skill does not reach the agent", dl, dv)
		}
	}
	replaytest.Check(t, p, func() rl.Model { return NewModel(agent) }, batch, T, B, agent.Hidden)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// opts are rl.DefaultOptions(algo) changed by set.
func opts(algo rl.Algo, set func(*rl.Options)) rl.Options {
	o := rl.DefaultOptions(algo)
	set(&o)
	return o
}

// newActor returns an actor of the learner's NetHack model, seeded by seed.
func newActor(t *testing.T, p *rl.Learner, seed uint64) (*rl.Actor, error) {
	t.Helper()
	m, err := p.Model().(*Model).Clone()
	if err != nil {
		return nil, err
	}
	return p.NewActor(m, seed)
}
