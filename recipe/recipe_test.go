package recipe

import (
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/minihackagent"
	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/rl"
)

// TestBuild builds the three setups train runs and checks what each holds; bad options are
// errors naming the option.
func TestBuild(t *testing.T) {
	for _, c := range []struct {
		o      Options
		hack   bool
		skills int
	}{
		{Options{Algo: "ppo", Env: "cartpole", NumEnvs: 2, Seed: 1}, false, 0},
		{Options{Algo: "appo", Env: "score", NumEnvs: 2, Seed: 1}, true, 0},
		{Options{Algo: "appo", Env: "NetHackScore", NumEnvs: 2, Seed: 1, Skills: "default", SkillCode: "default"}, true, 5},
		{Options{Algo: "ppo", Env: "MiniHack-Room-5x5-v0", NumEnvs: 2, Seed: 1}, true, 0},
	} {
		s, err := Build(c.o)
		if err != nil {
			t.Fatalf("%+v: %v", c.o, err)
		}
		if bs := s.Env.BatchShape(); len(bs) != 1 || bs[0] != 2 || s.NetHack != c.hack || len(s.Controllers) != min(c.skills, 1)*2 || c.hack && len(s.Games) != 2 {
			t.Errorf("%+v: batch %v, NetHack %v, %d controllers", c.o, bs, s.NetHack, len(s.Controllers))
		}
		_, ff := s.Learner.Model().(*rl.FeedForward)
		hm, nh := s.Learner.Model().(*nethackagent.Model)
		_, mh := s.Learner.Model().(*minihackagent.Model)
		mini := s.MiniHack != ""
		if ff == c.hack || nh != (c.hack && !mini) || mh != mini || nh && hm.Net.Extra != c.skills {
			t.Errorf("%+v: model %T", c.o, s.Learner.Model())
		}
		s.Env.Close()
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Algo: "ppo", Env: "pong", NumEnvs: 1}, `unknown --env "pong"`},
		{Options{Algo: "ppo", Env: "cartpole", NumEnvs: 1, Skills: "default"}, "--skills plays NetHack"},
		{Options{Algo: "ppo", Env: "MiniHack-Room-5x5-v0", NumEnvs: 1, Skills: "default"}, "--skills plays NetHack"},
		{Options{Algo: "ppo", Env: "MiniHack-Room-6x6-v0", NumEnvs: 1}, "MiniHack-Room-5x5-v0"},
		{Options{Algo: "dqn", Env: "cartpole", NumEnvs: 1}, `Options.Algo "dqn"`},
		{Options{Algo: "ppo", Env: "cartpole"}, "NumEnvs 0"},
	} {
		if _, err := Build(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.o, err, c.want)
		}
	}
}

// TestPlayEpisodesShares: each env contributes a fixed share of the episodes (its first ones),
// not whichever finish first, so that short episodes are not over-sampled.
func TestPlayEpisodesShares(t *testing.T) {
	s, err := Build(Options{Algo: "ppo", Env: "CartPole", NumEnvs: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Env.Close()
	eps, err := s.PlayEpisodes(envs.PolicyFunc(s.Learner.Act), 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 10 {
		t.Fatalf("%d episodes, want 10", len(eps))
	}
	per := make([][]int, 4)
	for _, ep := range eps {
		per[ep.Env] = append(per[ep.Env], ep.Index)
	}
	for e, want := range []int{3, 3, 2, 2} {
		if len(per[e]) != want {
			t.Errorf("env %d contributed %d episodes (%v), want %d", e, len(per[e]), per[e], want)
		}
		for k, idx := range per[e] {
			if idx != k {
				t.Errorf("env %d's episodes %v: want its first ones, 0..%d", e, per[e], want-1)
				break
			}
		}
	}
}
