package main

import (
	"context"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/llm/llmtest"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/skills"
)

// TestCompose runs compose against a stand-in coder that answers with working code (a real
// small model cannot write it on demand): both functions pass their harnesses and are saved.
func TestCompose(t *testing.T) {
	srv := llmtest.Start(t, func(_ int, msgs []openai.ChatCompletionMessage) string {
		if strings.Contains(msgs[0].Content, "def can_start") {
			return "```python\ndef can_start(skill, obs):\n    seen = ''.join(obs['window'])\n    if skill == 'worshipper':\n        return '_' in seen and obs['new_items'] > 0\n    if skill == 'merchant':\n        return seen.count('@') > 1 and obs['new_items'] > 0\n    return True\n```"
		}
		if strings.Contains(msgs[0].Content, "def should_stop") {
			return "```python\ndef should_stop(skill, start, now, turns):\n    if skill == 'descender':\n        return now['depth'] > start['depth']\n    if skill == 'ascender':\n        return now['depth'] < start['depth']\n    if skill == 'discoverer':\n        return turns >= 500\n    return turns >= 10000\n```"
		}
		return "```python\ndef select_skill(obs, state):\n    if 'merchant' in obs['startable']:\n        return ('merchant', state)\n    seen = state.get('seen', [])\n    if obs['depth'] in seen:\n        return ('descender', state)\n    return ('discoverer', {'seen': seen + [obs['depth']]})\n```"
	})
	out := filepath.Join(t.TempDir(), "c")
	if err := run(context.Background(), []string{"--task", "gnomish-mines", "--llm-url", srv.URL, "--llm-model", "stand-in", "--out", out, "--search", "tree"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"initiation.star", "termination.star", "termination.json", "policy.star", "policy.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	for _, kind := range []string{"initiation", "termination", "policy"} {
		if b, _ := os.ReadFile(filepath.Join(out, kind+".json")); !strings.Contains(string(b), `"score": 1`) {
			t.Errorf("%s report:\n%s", kind, b)
		}
	}
	one := filepath.Join(t.TempDir(), "one")
	if err := run(context.Background(), []string{"--task", "delphi", "--functions", "termination", "--llm-url", srv.URL, "--llm-model", "stand-in", "--out", one}); err != nil {
		t.Fatal(err)
	}
	if got, _ := filepath.Glob(filepath.Join(one, "*.star")); len(got) != 1 || filepath.Base(got[0]) != "termination.star" {
		t.Errorf("--functions termination wrote %v", got)
	}
	if err := run(context.Background(), []string{"--task", "delphi", "--functions", "policy,juggling", "--llm-url", srv.URL, "--llm-model", "stand-in", "--out", one}); err == nil || !strings.Contains(err.Error(), "juggling") {
		t.Errorf("--functions juggling: %v", err)
	}
	if err := run(context.Background(), []string{"--llm-url", srv.URL}); err == nil || !strings.Contains(err.Error(), "--task") {
		t.Errorf("no task: %v", err)
	}
}

// fakeRun writes what compose reads of a `train --skills` run: ckpt/train.json and the final
// weights, here of an untrained skill-conditioned agent (compose's test is about playing and
// reporting, not about how well the agent plays).
func fakeRun(t *testing.T, skillsSpec string) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ckpt"), 0o755)
	cfg := map[string]any{"config": map[string]any{"algo": "appo", "env": "NetHackScore", "skills": skillsSpec, "skill_code": "default"}}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "ckpt", "train.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	actions, nSkills := 28, 5
	if skillsSpec == "" { // an agent trained without skills: the task's 23 actions
		actions, nSkills = 23, 0
	}
	agent, err := nethackagent.NewSkillAgent(actions, nSkills, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveParams(filepath.Join(dir, "params.mtd"), agent.Params()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestComposePlaysARun plays a policy over skills with a run's agent on real games and checks
// the report: 3 episodes of at most 40 steps (far too short to reach the Gnomish Mines, so no
// success and the Wilson interval of 0 in 3), each step's skill, the recordings and the
// timeline; then a described task (no success check) with the policy from a stand-in coder.
func TestComposePlaysARun(t *testing.T) {
	runDir := fakeRun(t, "default")
	code := t.TempDir()
	ref, _ := skills.ReferenceCode(skills.Limits{})
	os.WriteFile(filepath.Join(code, "policy.star"), []byte(ref.Sources["policy"]), 0o644)
	out := filepath.Join(t.TempDir(), "mines")
	if err := run(context.Background(), []string{"--task", "gnomish-mines", "--skills", runDir, "--code", code, "--episodes", "3", "--envs", "2", "--max-steps", "40", "--out", out}); err != nil {
		t.Fatal(err)
	}
	r := readReport(t, filepath.Join(out, "compose.json"))
	if r.DepthCounts[1]+r.DepthCounts[2] != 3 || r.MinesEpisodes != 0 || r.MeanMaxDepth < 1 {
		t.Errorf("depths: %v, mean %g, %d in the mines; want 3 episodes at depth 1 or 2, none in the mines", r.DepthCounts, r.MeanMaxDepth, r.MinesEpisodes)
	}
	if r.Episodes != 3 || len(r.Results) != 3 || !r.Checked || r.Successes != 0 || r.Interval[0] != 0 || math.Abs(r.Interval[1]-0.5615) > 1e-3 {
		t.Errorf("report: %d episodes, checked %v, %d successes, interval %v; want 3, true, 0, [0 0.5615]", r.Episodes, r.Checked, r.Successes, r.Interval)
	}
	share := 0.0
	for _, v := range r.SkillShare {
		share += v
	}
	if math.Abs(share-1) > 1e-9 || r.SkillShare["discoverer"] == 0 {
		t.Errorf("skill shares %v: want discoverer playing and shares summing to 1", r.SkillShare)
	}
	for i, res := range r.Results {
		if res.Steps == 0 || res.Steps > 40 || len(res.Skills) != res.Steps || !strings.Contains(res.Overview, "The Dungeons of Doom") || res.MaxDepth < 1 || !slices.Equal(res.Dungeons, []string{"main"}) {
			t.Errorf("episode %d: %d steps, %d skills, overview %q", i, res.Steps, len(res.Skills), res.Overview)
		}
		if st, err := os.Stat(filepath.Join(out, res.TTYRec)); res.TTYRec == "" || err != nil || st.Size() == 0 {
			t.Errorf("episode %d: recording %q: %v", i, res.TTYRec, err)
		}
	}
	f, err := os.Open(filepath.Join(out, "timeline.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Errorf("timeline.png: %v", err)
	}
	f.Close()

	// A described task: the stand-in coder writes the policy, compose plays it unchecked.
	srv := llmtest.Start(t, func(int, []openai.ChatCompletionMessage) string {
		return "```python\ndef select_skill(obs, state):\n    return ('descender', state)\n```"
	})
	out2 := filepath.Join(t.TempDir(), "down")
	if err := run(context.Background(), []string{"--task", "go down as fast as you can", "--skills", runDir, "--llm-url", srv.URL, "--llm-model", "stand-in",
		"--rounds", "1", "--episodes", "1", "--envs", "1", "--max-steps", "20", "--out", out2}); err != nil {
		t.Fatal(err)
	}
	r = readReport(t, filepath.Join(out2, "compose.json"))
	if r.Checked || r.Episodes != 1 || r.SkillShare["descender"] != 1 || !strings.Contains(r.Policy, "stand-in") {
		t.Errorf("described task: %+v; want an unchecked episode played by descender with the coder's policy", r)
	}
	// A run without skills is judged as it is: the baseline.
	out3 := filepath.Join(t.TempDir(), "base")
	if err := run(context.Background(), []string{"--task", "gnomish-mines", "--skills", fakeRun(t, ""), "--episodes", "2", "--envs", "1", "--max-steps", "20", "--out", out3}); err != nil {
		t.Fatal(err)
	}
	r = readReport(t, filepath.Join(out3, "compose.json"))
	if !r.Checked || r.Episodes != 2 || len(r.Skills) != 0 || r.Results[0].Steps != 20 || r.Results[0].Skills != nil || !strings.Contains(r.Policy, "without skills") {
		t.Errorf("baseline: %+v", r)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--task", "delphi", "--skills", t.TempDir()}, "not a train run folder"},
		{[]string{"--task", "delphi", "--skills", fakeRun(t, ""), "--code", code}, "trained without skills"},
		{[]string{"--task", "delphi", "--skills", runDir, "--code", t.TempDir()}, "policy.star"},
		{[]string{"--task", "delphi", "--code", code}, "--skills"},
	} {
		if err := run(context.Background(), append(bad.args, "--out", t.TempDir())); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v; want an error about %q", bad.args, err, bad.want)
		}
	}
}
