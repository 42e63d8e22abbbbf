package recipe

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"

	"github.com/maestro-rl/maestro/agents/minihackagent"
	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/skills"
	"github.com/maestro-rl/maestro/tensordict"
)

// Options say what to train: the algorithm, the env and its copies, the seed, and for
// MaestroMotif the skills spec and code.
type Options struct {
	// Algo is rl's algorithm name (ppo, a2c, appo).
	Algo string
	// Env is "CartPole", a NetHack task's name (NetHackScore, score, staircase, ...) or a
	// MiniHack task's (MiniHack-Room-5x5-v0, ...; minihack.TaskNames).
	Env string
	// NumEnvs copies of the env are stepped together (at least 1).
	NumEnvs int
	// Seed seeds the envs (env i's episodes from Seed*1000+i), the network and the sampling.
	Seed uint64
	// LR is the learning rate; 0 means 1e-3 on CartPole and Motif's 1e-4 on NetHack.
	LR float64
	// Skills is a skills spec ("" for none; "default" for MaestroMotif's) and SkillCode the
	// folder of its code ("default": the reference code); NetHack only.
	Skills, SkillCode string
	// ResumedAt is the frame count a resumed run starts from: its envs draw new games (0: a
	// new run).
	ResumedAt int
	// TTYRecDir, when set, records every NetHack episode of env i under TTYRecDir/env<i>/.
	TTYRecDir string
	// ClipValueLoss and RecomputeValues set rl.Options' (NetHack and MiniHack learners).
	ClipValueLoss, RecomputeValues bool
	// LearnerOnly builds one env (for its specs) beside a learner sized for NumEnvs: a
	// learner fed by actors over a broker steps no env itself.
	LearnerOnly bool
}

// ParseEnv resolves o.Env's spelling: "CartPole" (isNetHack false), a NetHack task, or a
// MiniHack task (isNetHack true, task TaskStaircase: the game and agent are NetHack's).
func (o Options) ParseEnv() (name string, task nethack.Task, isNetHack bool, err error) {
	if strings.EqualFold(o.Env, "CartPole") {
		return "CartPole", 0, false, nil
	}
	if minihack.IsTask(o.Env) {
		return o.Env, nethack.TaskStaircase, true, nil
	}
	if task, err = nethack.ParseTask(o.Env); err != nil {
		return "", 0, false, fmt.Errorf("unknown --env %q; available: CartPole, a NetHack task (%v), or a MiniHack task (%s)", o.Env, err, strings.Join(minihack.TaskNames(), ", "))
	}
	return task.String(), task, true, nil
}

// DefaultLR is the learning rate LR 0 stands for.
func (o Options) DefaultLR() (float64, error) {
	_, _, hack, err := o.ParseEnv()
	if err != nil {
		return 0, err
	}
	if !hack {
		return 1e-3, nil
	}
	return rl.MotifOptions(rl.Algo(o.Algo)).LR, nil
}

// Setup is what Build makes: the batched env (episode returns under envs.KeyEpisodeReward), its
// learner, and with skills each env's controller and the spec.
type Setup struct {
	Env         envs.Env
	Learner     *rl.Learner
	Controllers []*skills.Controller
	Spec        *skills.Spec
	// Games are the NetHack games, one per env in order (nil for CartPole): what they record
	// and report (TaskEnv.TTYRecPath).
	Games []*nethack.TaskEnv
	// NetHack is set for a NetHack or MiniHack env (Task is a NetHack env's task); MiniHack
	// names the MiniHack task.
	NetHack  bool
	Task     nethack.Task
	MiniHack string
}

// Build makes the training setup o describes. CartPole trains an MLP actor-critic with rl's
// defaults for the algorithm; NetHack trains the Motif-style agent (nethackagent) with Motif's
// hyper-parameters, minibatches of whole env sequences (APPO: the whole batch at once, as
// sample-factory does; PPO and A2C as many as divide the env count, up to 4). With Skills, each
// NetHack env runs the spec's character, actions and episode length under a skills.Controller,
// and the agent reads the playing skill's one-hot. NetHack games are seeded from Seed, so runs
// repeat as far as NetHack allows (it also reads the clock: the moon phase, night and midnight
// change luck and a few events).
func Build(o Options) (*Setup, error) {
	if o.NumEnvs < 1 {
		return nil, fmt.Errorf("recipe: NumEnvs %d must be at least 1", o.NumEnvs)
	}
	name, task, hack, err := o.ParseEnv()
	if err != nil {
		return nil, err
	}
	if o.LR == 0 {
		if o.LR, err = o.DefaultLR(); err != nil {
			return nil, err
		}
	}
	mini := ""
	if minihack.IsTask(name) {
		mini = name
	}
	if o.Skills != "" && (!hack || mini != "") {
		return nil, fmt.Errorf("--skills plays NetHack's dungeon; use it with a NetHack --env, not %s", name)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	s := &Setup{NetHack: hack, Task: task, MiniHack: mini}
	var code *skills.Code
	if o.Skills != "" {
		if s.Spec, err = skills.LoadSpec(o.Skills); err != nil {
			return nil, fmt.Errorf("--skills: %w", err)
		}
		if code, err = skills.LoadCode(o.SkillCode, skills.Limits{}); err != nil {
			return nil, fmt.Errorf("--skill-code: %w", err)
		}
	}
	var children []envs.Env
	closeAll := func() {
		for _, e := range children {
			e.Close()
		}
	}
	n := o.NumEnvs
	if o.LearnerOnly {
		n = 1
	}
	for i := 0; i < n; i++ {
		e, err := s.newEnv(o, i, code)
		if err != nil {
			closeAll()
			return nil, err
		}
		children = append(children, e)
	}
	batched, err := envs.Serial(children...)
	if err != nil {
		closeAll()
		return nil, err
	}
	if s.Env, err = envs.Compose(batched, envs.RewardSum); err != nil {
		batched.Close()
		return nil, err
	}
	if s.Learner, err = s.newLearner(o, rng); err != nil {
		s.Env.Close()
		return nil, err
	}
	return s, nil
}

// EnvOptions are the options of a NetHack env the agent plays: its observations and, with a
// skills spec, MaestroMotif's character, actions and episode length, with every yes/no question
// left to the agent (dropping, quaffing and selling ask which item and whether to sell, which
// the skills must answer; NLE's tasks would cancel them).
func EnvOptions(task nethack.Task, spec *skills.Spec) nethack.EnvOptions {
	eo := nethack.EnvOptions{Task: task, Game: nethack.GameOptions{ObservationKeys: nethackagent.ObservationKeys}}
	if spec != nil {
		eo.Game.Character, eo.Actions, eo.MaxEpisodeSteps = spec.Character, skills.ActionSets[spec.Actions](), spec.MaxSteps
		eo.AllowAllYNQuestions = true
	}
	return eo
}

// newEnv makes env i.
func (s *Setup) newEnv(o Options, i int, code *skills.Code) (envs.Env, error) {
	if !s.NetHack {
		return cartpole.NewEnv(cartpole.Options{Seed: o.Seed*1000 + uint64(i)})
	}
	ttyrecs := ""
	if o.TTYRecDir != "" {
		ttyrecs = filepath.Join(o.TTYRecDir, fmt.Sprintf("env%d", i))
	}
	// Every episode of env i is seeded from seed; a resumed run draws new games.
	seed := o.Seed*1000 + uint64(i)
	if o.ResumedAt > 0 {
		seed = nethack.EpisodeSeeds(seed, o.ResumedAt).Core
	}
	if s.MiniHack != "" {
		// The level is drawn from the run's seed, the same for every env (MiniHack builds
		// one level per env from Python's random state).
		levelSeed := o.Seed
		keys := append(slices.Clone(minihackagent.ObservationKeys), minihack.KeyEndStatus) // success rates
		me, err := minihack.NewEnv(minihack.Options{Task: s.MiniHack, ObservationKeys: keys,
			Seed: &seed, LevelSeed: &levelSeed, TTYRecDir: ttyrecs})
		if err != nil {
			return nil, err
		}
		s.Games = append(s.Games, me.Task())
		return me, nil
	}
	eo := EnvOptions(s.Task, s.Spec)
	eo.TTYRecDir = ttyrecs
	eo.Seed = &seed
	ne, err := nethack.NewEnv(eo)
	if err != nil {
		return nil, err
	}
	s.Games = append(s.Games, ne.Task())
	if s.Spec == nil {
		return ne, nil
	}
	ctl, err := skills.NewController(ne, s.Spec, code)
	if err != nil {
		ne.Close()
		return nil, err
	}
	s.Controllers = append(s.Controllers, ctl)
	return ctl, nil
}

// newLearner makes the learner for the setup's env.
func (s *Setup) newLearner(o Options, rng *rand.Rand) (*rl.Learner, error) {
	algo := rl.Algo(o.Algo)
	if !s.NetHack {
		ro := rl.DefaultOptions(algo)
		ro.LR, ro.Seed = o.LR, o.Seed
		ro.ClipValueLoss, ro.RecomputeValues = o.ClipValueLoss, o.RecomputeValues
		net, err := nn.NewActorCritic(4, 2, 64, rng)
		if err != nil {
			return nil, err
		}
		return rl.NewLearner(rl.NewFeedForward(net, cartpole.KeyObservation), ro)
	}
	ro := rl.MotifOptions(algo)
	ro.LR, ro.Seed = o.LR, o.Seed
	ro.ClipValueLoss, ro.RecomputeValues = o.ClipValueLoss, o.RecomputeValues
	ro.Minibatches = 1
	for _, m := range []int{4, 2} {
		if o.NumEnvs%m == 0 && algo != rl.APPO {
			ro.Minibatches = m
			break
		}
	}
	actions := s.Env.Specs().Action.(envs.Categorical).N
	if s.MiniHack != "" {
		net, err := minihackagent.NewAgent(actions, rng)
		if err != nil {
			return nil, err
		}
		return rl.NewLearner(minihackagent.NewModel(net), ro)
	}
	nSkills := 0
	if s.Spec != nil {
		nSkills = len(s.Spec.Skills) // the skill's one-hot next to the statistics
	}
	net, err := nethackagent.NewSkillAgent(actions, nSkills, rng)
	if err != nil {
		return nil, err
	}
	return rl.NewLearner(nethackagent.NewModel(net), ro)
}

// NewOverlapped returns sample-factory's overlapped collector for an APPO setup on NetHack or MiniHack: two
// actors with copies of the learner's weights (seeded from seed; a resumed run draws a new
// action stream), the next batch collected while the caller learns from this one.
func (s *Setup) NewOverlapped(seed uint64, resumedAt int, co collectors.Options) (*rl.Overlapped, error) {
	var clone func() (rl.Model, error)
	switch m := s.Learner.Model().(type) {
	case *nethackagent.Model:
		clone = func() (rl.Model, error) { return m.Clone() }
	case *minihackagent.Model:
		clone = func() (rl.Model, error) { return m.Clone() }
	default:
		return nil, fmt.Errorf("recipe: overlapped collection needs the NetHack or the MiniHack agent")
	}
	var actors [2]*rl.Actor
	for i := range actors {
		as := seed*2 + uint64(i)
		if resumedAt > 0 { // not the action stream the run started with
			as = nethack.EpisodeSeeds(as, resumedAt).Disp
		}
		m, err := clone()
		if err == nil {
			actors[i], err = s.Learner.NewActor(m, as)
		}
		if err != nil {
			return nil, err
		}
	}
	return rl.NewOverlapped(s.Env, actors, co)
}

// Episode is a finished episode: its env, its index among that env's episodes, its return
// (envs.KeyEpisodeReward) and, on MiniHack, whether it ended in the task's success.
type Episode struct {
	Env, Index int
	Return     float64
	// Success is nil where the env does not report end statuses (minihack.KeyEndStatus).
	Success *bool
}

// PlayEpisodes plays policy on the setup's env until n episodes have finished (batches of
// framesPerEnv steps per env) and returns them in the order they finished: each of the B envs
// contributes its first n/B episodes (one more for the first n%B envs). A fixed share per env
// keeps the sample unbiased: taking the first n to finish anywhere would over-sample short
// episodes (on MiniHack, quick successes; on CartPole, early falls). It closes nothing:
// recordings complete when the caller closes the env.
func (s *Setup) PlayEpisodes(policy envs.Policy, n, framesPerEnv int) ([]Episode, error) {
	B := 1
	for _, d := range s.Env.BatchShape() {
		B *= d
	}
	col, err := collectors.NewSync(s.Env, policy, collectors.Options{FramesPerBatch: B * framesPerEnv})
	if err != nil {
		return nil, err
	}
	var out []Episode
	index := make([]int, B)
	quota := make([]int, B)
	for e := range quota {
		quota[e] = n / B
		if e < n%B {
			quota[e]++
		}
	}
	for len(out) < n {
		batch, err := col.Next()
		if err != nil {
			return out, err
		}
		done, err1 := tensordict.GetAs[bool](batch, envs.NextKey(envs.KeyDone))
		ret, err2 := tensordict.GetAs[float32](batch, envs.NextKey(envs.KeyEpisodeReward))
		if err := errors.Join(err1, err2); err != nil {
			return out, fmt.Errorf("recipe: episode returns: %w", err)
		}
		status, _ := tensordict.GetAs[int64](batch, envs.NextKey(minihack.KeyEndStatus)) // MiniHack only
		for i, d := range done {
			if !d {
				continue
			}
			e := i % B // [T, B] time-major
			if index[e] < quota[e] {
				ep := Episode{Env: e, Index: index[e], Return: float64(ret[i])}
				if status != nil {
					ok := minihack.Succeeded(status[i])
					ep.Success = &ok
				}
				out = append(out, ep)
			}
			index[e]++
		}
	}
	return out, nil
}

// Recording returns where the setup recorded episode ep ("" when it did not: CartPole, or no
// TTYRecDir).
func (s *Setup) Recording(ep Episode) string {
	if ep.Env >= len(s.Games) {
		return ""
	}
	return s.Games[ep.Env].TTYRecPath(ep.Index)
}
