package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
	"github.com/maestro-rl/maestro/rl"
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
	fs.StringVar(&o.task, "task", "", "a task of the spec by name (e.g. gnomish-mines, delphi) or a description in words (required; a description has no success check, so only returns and timelines are reported)")
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

// report is compose.json.
type report struct {
	Task        string             `json:"task"`
	Description string             `json:"description"`
	Run         string             `json:"run"`
	Policy      string             `json:"policy"`
	Skills      []string           `json:"skills"`
	Episodes    int                `json:"episodes"`
	Checked     bool               `json:"success_checked"`
	Successes   int                `json:"successes"`
	Rate        float64            `json:"success_rate"`
	Interval    [2]float64         `json:"wilson_95"`
	SkillShare  map[string]float64 `json:"skill_share"`
	MeanReturn  float64            `json:"mean_return"`
	// MeanMaxDepth is the mean over episodes of the deepest level reached; DepthCounts counts
	// the episodes by deepest level; MinesEpisodes those that entered the Gnomish Mines.
	MeanMaxDepth  float64        `json:"mean_max_depth"`
	DepthCounts   map[int]int    `json:"episodes_by_max_depth"`
	MinesEpisodes int            `json:"episodes_in_mines"`
	CodeErrors    map[string]int `json:"code_errors,omitempty"`
	// Incomplete says why play stopped before all episodes were played (an interrupt, a
	// failed env); empty when it did not.
	Incomplete string                 `json:"incomplete,omitempty"`
	Results    []skills.EpisodeResult `json:"results"`
	lo, hi     float64
}

func evaluate(ctx context.Context, o options, spec *skills.Spec, task skills.Task, rc *runConfig, code *skills.Code, source string) error {
	nt, err := nethack.ParseTask(rc.Env)
	if err != nil {
		return fmt.Errorf("--skills %s: env %q: %w", rc.dir, rc.Env, err)
	}
	maxSteps := spec.MaxSteps
	if o.maxSteps > 0 {
		maxSteps = o.maxSteps
	}
	recDir := filepath.Join(o.out, "ttyrec-tmp")
	os.RemoveAll(recDir)
	var judges []*skills.Judge
	var children []envs.Env
	closeAll := func() {
		for _, e := range children {
			e.Close()
		}
	}
	check := task.Success
	if check == nil { // a described task: play it, with nothing to check
		check = &skills.Check{StatAtMost: &skills.StatRule{Stat: "depth", Value: -1}}
	}
	for i := 0; i < o.envs; i++ {
		var sp *skills.Spec
		if code != nil { // the skills' character and actions (a baseline keeps its task's), as train --skills
			sp = spec
		}
		eo := recipe.EnvOptions(nt, sp)
		eo.MaxEpisodeSteps, eo.TTYRecDir = maxSteps, filepath.Join(recDir, fmt.Sprintf("env%d", i))
		ne, err := nethack.NewEnv(eo)
		if err != nil {
			closeAll()
			return err
		}
		var played envs.Env = ne
		if code != nil {
			played, err = skills.NewController(ne, spec, code)
		}
		var j *skills.Judge
		if err == nil {
			j, err = skills.NewJudge(played, skills.Task{Name: task.Name, Description: task.Description, Success: check})
		}
		if err == nil { // every episode seeded: two policies compared with one --seed play the same games
			env := uint64(i)
			j.BeforeReset = func(episode int) error {
				s := o.seed*1_000_000 + env*10_000 + uint64(episode)*2
				return ne.Task().Seed(nethack.Seeds{Core: s, Disp: s + 1})
			}
		}
		if err != nil {
			ne.Close()
			closeAll()
			return err
		}
		judges, children = append(judges, j), append(children, j)
	}
	env, err := envs.Serial(children...)
	if err != nil {
		closeAll()
		return err
	}
	nSkills := 0
	if code != nil {
		nSkills = len(spec.Skills)
	}
	net, err := nethackagent.NewSkillAgent(env.Specs().Action.(envs.Categorical).N, nSkills, rand.New(rand.NewPCG(o.seed, 1)))
	if err == nil {
		err = nn.LoadParams(filepath.Join(rc.dir, "params.mtd"), net.Params())
	}
	// Acting only: a policy (no optimizer), sampling from the generator a learner seeded with
	// --seed would use, so compositions repeat those made before policies stood alone.
	agent := rl.NewPolicy(nethackagent.NewModel(net), rand.New(rand.NewPCG(o.seed, 0x991)))
	if err != nil {
		env.Close()
		return fmt.Errorf("--skills %s: %w", rc.dir, err)
	}
	col, err := collectors.NewSync(env, agent, collectors.Options{FramesPerBatch: o.envs * 64})
	if err != nil {
		env.Close()
		return err
	}
	finished := func() int {
		n := 0
		for _, j := range judges {
			n += len(j.Results)
		}
		return n
	}
	fmt.Printf("compose: playing %d episodes of %q (up to %d steps each) with %s\n", o.episodes, task.Name, maxSteps, rc.dir)
	shown := -1
	var stopped error // why play stopped early; the episodes finished by then are reported
	for finished() < o.episodes {
		if stopped = ctx.Err(); stopped != nil {
			break
		}
		if _, stopped = col.Next(); stopped != nil {
			break
		}
		if n := min(finished(), o.episodes); n != shown {
			shown = n
			fmt.Printf("\rcompose: %d/%d episodes", n, o.episodes)
		}
	}
	fmt.Println()
	r := report{Task: task.Name, Description: task.Description, Run: rc.dir, Policy: source, SkillShare: map[string]float64{},
		Checked: task.Success != nil, CodeErrors: map[string]int{}, DepthCounts: map[int]int{}}
	want := min(o.episodes, finished())
	if stopped != nil {
		r.Incomplete = fmt.Sprintf("stopped after %d of %d episodes: %v", want, o.episodes, stopped)
	}
	for _, sk := range spec.Skills {
		if code != nil {
			r.Skills = append(r.Skills, sk.Name)
		}
	}
	type at struct{ env, episode int }
	var where []at
	for k := 0; len(r.Results) < want; k++ { // round robin over the envs' episodes
		for e, j := range judges {
			if k < len(j.Results) && len(r.Results) < want {
				r.Results = append(r.Results, j.Results[k])
				where = append(where, at{e, j.Results[k].Episode})
			}
		}
	}
	for _, j := range judges {
		if ctl := j.Controller(); ctl != nil {
			for k, n := range ctl.Stats().Errors {
				r.CodeErrors[k] += n
			}
		}
	}
	col.Close() // completes the ttyrecs
	steps := 0
	for _, res := range r.Results {
		if res.Success {
			r.Successes++
		}
		r.MeanReturn += res.Return / float64(len(r.Results))
		r.MeanMaxDepth += float64(res.MaxDepth) / float64(len(r.Results))
		r.DepthCounts[res.MaxDepth]++
		if slices.Contains(res.Dungeons, "mines") {
			r.MinesEpisodes++
		}
		for _, s := range res.Skills {
			r.SkillShare[spec.Skills[s].Name]++
		}
		steps += len(res.Skills)
	}
	for k := range r.SkillShare {
		r.SkillShare[k] /= float64(max(steps, 1))
	}
	r.Episodes = len(r.Results)
	r.Rate = float64(r.Successes) / float64(max(r.Episodes, 1))
	r.lo, r.hi = skills.Wilson(r.Successes, r.Episodes)
	r.Interval = [2]float64{r.lo, r.hi}
	if err := os.MkdirAll(filepath.Join(o.out, "ttyrec"), 0o755); err != nil {
		return err
	}
	for i, w := range where { // each reported episode's recording, by its place in the report
		src, _ := filepath.Glob(filepath.Join(recDir, fmt.Sprintf("env%d", w.env), fmt.Sprintf("nle.*.%d.ttyrec3.bz2", w.episode)))
		if len(src) == 1 {
			rel := filepath.Join("ttyrec", fmt.Sprintf("episode%02d.ttyrec3.bz2", i))
			if err := os.Rename(src[0], filepath.Join(o.out, rel)); err == nil {
				r.Results[i].TTYRec = rel
			}
		}
	}
	os.RemoveAll(recDir)
	if !r.Checked {
		r.Successes, r.Rate, r.Interval = 0, 0, [2]float64{}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(o.out, "compose.json"), append(b, '\n')); err != nil {
		return err
	}
	if code != nil {
		if err := plotTimeline(filepath.Join(o.out, "timeline.png"), &r); err != nil {
			return err
		}
	}
	if r.Checked {
		fmt.Printf("compose: %s: success in %d of %d episodes: %.1f%% (95%% Wilson interval %.1f%% to %.1f%%)\n", task.Name, r.Successes, r.Episodes, 100*r.Rate, 100*r.lo, 100*r.hi)
	} else {
		fmt.Printf("compose: %q has no success check (not a task of the spec); mean return %.2f over %d episodes\n", task.Description, r.MeanReturn, r.Episodes)
	}
	fmt.Printf("compose: deepest level reached: mean %.2f, episodes by deepest level %v, %d of %d episodes entered the Gnomish Mines\n",
		r.MeanMaxDepth, r.DepthCounts, r.MinesEpisodes, r.Episodes)
	if code != nil {
		var share []string
		for _, sk := range r.Skills {
			share = append(share, fmt.Sprintf("%s %.0f%%", sk, 100*r.SkillShare[sk]))
		}
		fmt.Printf("compose: skills' share of the steps: %s; report, timeline.png and ttyrecs in %s\n", strings.Join(share, ", "), o.out)
	} else {
		fmt.Printf("compose: report and ttyrecs in %s\n", o.out)
	}
	if len(r.CodeErrors) > 0 {
		fmt.Printf("compose: the skill code failed at run time (contained, see compose.json): %v\n", r.CodeErrors)
	}
	if stopped != nil {
		return fmt.Errorf("compose: %s (compose.json reports them)", r.Incomplete)
	}
	return nil
}
