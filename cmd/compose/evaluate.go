package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/skills"
)

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
	var games []*nethack.Env // each env's game, for the recordings' paths
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
		games = append(games, ne)
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
		if src := games[w.env].Task().TTYRecPath(w.episode); src != "" {
			rel := filepath.Join("ttyrec", fmt.Sprintf("episode%02d.ttyrec3.bz2", i))
			if err := os.Rename(src, filepath.Join(o.out, rel)); err == nil {
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
