package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/skills"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "compose:", err)
		os.Exit(1)
	}
}

type options struct {
	spec, task, out, urls, model, runDir, code, search, functions string
	rounds, episodes, envs, maxSteps, population                  int
	seed                                                          uint64
	tests                                                         bool
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("compose", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.spec, "spec", "default", "skills spec (YAML; default: MaestroMotif's five skills and nine tasks); with --skills, the run's spec is used")
	fs.StringVar(&o.task, "task", "", "a task of the spec by name (e.g. gnomish-mines, delphi) or a description in words (required; a description has no success check, so only returns and timelines are reported); or a MiniHack task (MiniHack-Room-Monster-15x15-v0, ...) on which --skills plays a MiniHack run zero-shot")
	fs.StringVar(&o.runDir, "skills", "", "a finished `train --skills` run folder: play the composed policy with its agent and skill code and report the task's success rate (a run trained without skills is played as it is, as a baseline)")
	fs.StringVar(&o.code, "code", "", "folder with a policy.star to play instead of asking the LLM (and optionally initiation.star, termination.star to replace the run's)")
	fs.IntVar(&o.episodes, "episodes", 20, "with --skills: evaluation episodes")
	fs.IntVar(&o.envs, "envs", 2, "with --skills: games played side by side")
	fs.IntVar(&o.maxSteps, "max-steps", 0, "with --skills: episode length limit (0: the spec's max_steps)")
	fs.Uint64Var(&o.seed, "seed", 777, "with --skills: seed of the evaluation games (each episode its own, the same for every agent and policy) and of the agent's sampling")
	fs.StringVar(&o.out, "out", "", "folder for the code, reports, timeline and ttyrecs (default runs/compose-<task>)")
	fs.StringVar(&o.urls, "llm-url", "", "OpenAI-compatible coder server(s), comma-separated; empty starts the embedded llama-server (a 135M model: expect code that does not pass)")
	fs.StringVar(&o.model, "llm-model", "", "the coder model's name (required with --llm-url)")
	fs.IntVar(&o.rounds, "rounds", 4, "code answers per function (the search's budget)")
	fs.StringVar(&o.search, "search", "greedy", "search over candidate code: greedy (one conversation refining its last answer), evolution (a population of drafts, the best debugged or improved each generation) or tree (AIDE: drafts, then debug the best crashed node or improve the best)")
	fs.IntVar(&o.population, "population", 3, "evolution's population and tree's drafts")
	fs.StringVar(&o.functions, "functions", "", "comma-separated functions the LLM writes: initiation, termination, policy (default: all three, or only the policy with --skills, whose run has the others)")
	fs.BoolVar(&o.tests, "tests", false, "the LLM first writes unit tests for each function; they run next to the harness and their failures are fed back (one more answer per function)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `compose: build behaviour for a task from skills (MaestroMotif).

Usage:
  compose --task NAME|DESCRIPTION [flags]                 an LLM writes the skill code
  compose --task NAME --skills RUN-DIR [--episodes N]     ... and plays it with a trained run

Examples:
  compose --task gnomish-mines --llm-url http://gpu:8000/v1 --llm-model meta-llama/Llama-3.1-405B-Instruct
  compose --task delphi --skills runs/nethackscore-appo-skills-1 --code my-policy/ --episodes 50
  compose --task MiniHack-Room-Monster-15x15-v0 --skills runs/minihack-room-random-15x15-v0-ppo-extrinsic-1

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.task == "" {
		return errors.New("--task is required (a task name of the spec or a description)")
	}
	if o.episodes < 1 || o.envs < 1 || o.maxSteps < 0 {
		return errors.New("--episodes and --envs must be positive, --max-steps not negative")
	}
	var rc *runConfig
	if o.runDir != "" {
		var err error
		if rc, err = readRun(o.runDir); err != nil {
			return err
		}
		if rc.Skills != "" {
			o.spec = rc.Skills
		}
	}
	if minihack.IsTask(o.task) { // a MiniHack run played zero-shot on a MiniHack task
		if o.out == "" {
			o.out = filepath.Join("runs", "compose-"+o.task)
		}
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return err
		}
		return evaluateMiniHack(o, rc)
	}
	spec, err := skills.LoadSpec(o.spec)
	if err != nil {
		return err
	}
	task := skills.Task{Name: "custom", Description: o.task}
	for _, t := range spec.Tasks {
		if t.Name == o.task {
			task = t
		}
	}
	if o.out == "" {
		o.out = filepath.Join("runs", "compose-"+task.Name)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if rc != nil && rc.Skills == "" { // an agent without skills, judged on the task as a baseline
		if task.Success == nil || o.code != "" {
			return fmt.Errorf("--skills %s was trained without skills: it can only be judged as it is on a task of the spec (a name, without --code)", o.runDir)
		}
		return evaluate(ctx, o, spec, task, rc, nil, "the run's own agent (trained without skills)")
	}
	if rc == nil && o.code != "" {
		return errors.New("--code plays a policy over skills with a trained run: add --skills RUN-DIR")
	}
	code, source, err := writeCode(ctx, o, spec, task, rc)
	if err != nil || rc == nil {
		return err
	}
	return evaluate(ctx, o, spec, task, rc, code, source)
}

// writeCode returns the code to play: --code's files, or the LLM's (the policy for the task;
// with a run, the initiation and termination functions are the run's). Without a run it
// writes all three and returns nil.
func writeCode(ctx context.Context, o options, spec *skills.Spec, task skills.Task, rc *runConfig) (*skills.Code, string, error) {
	base := "default"
	if rc != nil {
		base = rc.SkillCode
	}
	if o.code != "" {
		if _, err := os.Stat(filepath.Join(o.code, "policy.star")); err != nil {
			return nil, "", fmt.Errorf("--code: %v (the folder holds the policy over skills, policy.star)", err)
		}
		c, err := loadOver(base, o.code, skills.CodeKinds)
		return c, "policy.star from " + o.code, err
	}
	c, stopLLM, err := llm.Connect(ctx, o.urls, o.model, llm.SmokeModel, 1, os.Stderr,
		"compose: starting the embedded llama-server (SmolLM2-135M: too small to write working code; use --llm-url for a real coder)")
	if err != nil {
		return nil, "", err
	}
	defer stopLLM()
	kinds := skills.CodeKinds
	if rc != nil {
		kinds = []string{"policy"} // the skills' own functions come from the run
	}
	if o.functions != "" {
		kinds = strings.Split(o.functions, ",")
		for _, k := range kinds {
			if !slices.Contains(skills.CodeKinds, k) {
				return nil, "", fmt.Errorf("--functions: unknown function %q; use initiation, termination, policy", k)
			}
		}
		if rc != nil && !slices.Contains(kinds, "policy") {
			return nil, "", errors.New("--functions: with --skills the LLM writes at least the policy")
		}
	}
	var policy *skills.CodeResult
	for _, kind := range kinds {
		res, err := skills.WriteCode(ctx, c, spec, kind, skills.CoderOptions{Rounds: o.rounds, Search: o.search, Population: o.population, Tests: o.tests, Task: task.Description, Dir: o.out})
		if err != nil {
			return nil, "", err
		}
		status := "passes every harness case"
		switch {
		case res.Best.Cases == nil:
			status = "does not load: " + res.Best.Error
		case res.Best.Score < 1:
			status = fmt.Sprintf("passes %.0f%% of the harness cases", 100*max(res.Best.Score, 0))
			if res.Best.Error != "" {
				status += " (it failed in one: " + res.Best.Error + ")"
			}
		}
		fmt.Printf("compose: %s: best of %d answers (%s search; answer %d, by %s) %s; %s\n", kind, len(res.Candidates), res.Search, res.Best.Round, res.Best.Operator, status, filepath.Join(o.out, kind+".star"))
		if kind == "policy" {
			policy = res
		}
	}
	if rc == nil {
		fmt.Printf("compose: code and reports in %s; play it with a trained run: compose --task %s --skills RUN-DIR --code %s\n", o.out, task.Name, o.out)
		return nil, "", nil
	}
	if policy.Best.Cases == nil {
		return nil, "", fmt.Errorf("the coder's best policy does not load (%s); use a stronger coder (--llm-url) or pass --code with a policy.star", policy.Best.Error)
	}
	code, err := loadOver(base, o.out, kinds)
	return code, fmt.Sprintf("policy.star written by %s (harness score %.2f)", policy.Model, policy.Best.Score), err
}

// loadOver loads the code of folder base (or the reference code) with the files of over for
// the given kinds replacing it (other files in over, e.g. from an earlier run, are not used).
func loadOver(base, over string, kinds []string) (*skills.Code, error) {
	b, err := skills.LoadCode(base, skills.Limits{})
	if err != nil {
		return nil, err
	}
	src := map[string]string{}
	for _, k := range skills.CodeKinds {
		src[k] = b.Sources[k]
		if !slices.Contains(kinds, k) {
			continue
		}
		if f, err := os.ReadFile(filepath.Join(over, k+".star")); err == nil {
			src[k] = string(f)
		}
	}
	return skills.ParseCode(src, skills.Limits{})
}

// runConfig is what compose reads of a train run (ckpt/train.json's config).
type runConfig struct {
	Algo      string `json:"algo"`
	Env       string `json:"env"`
	Skills    string `json:"skills"`
	SkillCode string `json:"skill_code"`
	dir       string
}

func readRun(dir string) (*runConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, "ckpt", "train.json"))
	if err != nil {
		return nil, fmt.Errorf("--skills %s: not a train run folder (no ckpt/train.json): %v", dir, err)
	}
	var st struct {
		Config runConfig `json:"config"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("--skills %s: ckpt/train.json: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "params.mtd")); err != nil {
		return nil, fmt.Errorf("--skills %s has no final weights (params.mtd): finish it with train --resume", dir)
	}
	st.Config.dir = dir
	return &st.Config, nil
}
