package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
	"github.com/maestro-rl/maestro/skills"
)

// miniHackReport is compose.json for a MiniHack task.
type miniHackReport struct {
	Task       string     `json:"task"`
	Run        string     `json:"run"`
	TrainedOn  string     `json:"trained_on"`
	Episodes   int        `json:"episodes"`
	Successes  int        `json:"successes"`
	Rate       float64    `json:"success_rate"`
	Interval   [2]float64 `json:"wilson_95"`
	MeanReturn float64    `json:"mean_return"`
	Returns    []float64  `json:"returns"`
}

// evaluateMiniHack plays a MiniHack run's agent zero-shot on another (or its own) MiniHack task
// with the same actions, --episodes episodes on --envs envs seeded from --seed, and reports the
// success rate (NLE's end status) with a 95% Wilson interval, in o.out/compose.json.
func evaluateMiniHack(o options, rc *runConfig) error {
	if rc == nil {
		return fmt.Errorf("--task %s is a MiniHack task: give the MiniHack run to play with --skills RUN-DIR (skills are NetHack's; MiniHack runs are played as they are)", o.task)
	}
	if o.code != "" || rc.Skills != "" {
		return fmt.Errorf("--task %s: MiniHack tasks are played by a run trained on MiniHack as it is, without --code or skills", o.task)
	}
	if !minihack.IsTask(rc.Env) {
		return fmt.Errorf("--skills %s was trained on %s, not on a MiniHack task: its agent does not read MiniHack's observations", rc.dir, rc.Env)
	}
	from, _ := minihack.Spec(rc.Env)
	to, _ := minihack.Spec(o.task)
	if len(from.Actions) != len(to.Actions) || string(from.Actions) != string(to.Actions) {
		return fmt.Errorf("--task %s has %d actions, the run's %s %d: a zero-shot transfer needs the same action set (e.g. navigation tasks with navigation tasks)", o.task, len(to.Actions), rc.Env, len(from.Actions))
	}
	s, err := recipe.Build(recipe.Options{Algo: rc.Algo, Env: o.task, NumEnvs: o.envs, Seed: o.seed})
	if err != nil {
		return err
	}
	if err := nn.LoadParams(filepath.Join(rc.dir, "params.mtd"), s.Learner.Params()); err != nil {
		s.Env.Close()
		return fmt.Errorf("--skills %s: %w", rc.dir, err)
	}
	fmt.Printf("compose: playing %d episodes of %s with %s (trained on %s)\n", o.episodes, o.task, rc.dir, rc.Env)
	eps, err := s.PlayEpisodes(envs.PolicyFunc(s.Learner.Act), o.episodes, 64)
	s.Env.Close()
	if err != nil {
		return err
	}
	r := miniHackReport{Task: o.task, Run: rc.dir, TrainedOn: rc.Env, Episodes: len(eps)}
	for _, ep := range eps {
		if ep.Success != nil && *ep.Success {
			r.Successes++
		}
		r.Returns = append(r.Returns, ep.Return)
		r.MeanReturn += ep.Return / float64(len(eps))
	}
	r.Rate = float64(r.Successes) / float64(r.Episodes)
	r.Interval[0], r.Interval[1] = skills.Wilson(r.Successes, r.Episodes)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.out, "compose.json"), append(b, '\n')); err != nil {
		return err
	}
	fmt.Printf("compose: %s: success in %d of %d episodes: %.1f%% (95%% Wilson interval %.1f%% to %.1f%%), mean return %.2f; report in %s\n",
		o.task, r.Successes, r.Episodes, 100*r.Rate, 100*r.Interval[0], 100*r.Interval[1], r.MeanReturn, filepath.Join(o.out, "compose.json"))
	return nil
}
