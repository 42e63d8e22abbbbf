package skills

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/llm/llmtest"
)

const goodTermination = `
def should_stop(skill, start, now, turns):
    if skill == "discoverer":
        return turns >= 500
    if skill == "descender":
        return now["depth"] > start["depth"]
    if skill == "ascender":
        return now["depth"] < start["depth"]
    return turns >= 10000
`

const goodInitiation = `
def can_start(skill, obs):
    seen = "".join(obs["window"])
    others = seen.count("@") > 1
    if skill == "worshipper":
        return "_" in seen and obs["new_items"] > 0
    if skill == "merchant":
        return others and obs["new_items"] > 0
    return True
`

const goodPolicy = `
def select_skill(obs, state):
    if "merchant" in obs["startable"]:
        return ("merchant", state)
    explored = state.get("explored", [])
    if obs["depth"] not in explored:
        return ("discoverer", {"explored": explored + [obs["depth"]]})
    return ("descender", {"explored": explored})
`

func TestExtractCode(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Here:\n```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1\n"},
		{"```\nx = 1\n```\nand\n```starlark\ndef g(a):\n    return a\n```", "def g(a):\n    return a\n"},
		{"def h():\n    pass", "def h():\n    pass\n"},
		{"Sure!\n```python\ndef k():\n    return", "def k():\n    return\n"},
	} {
		if got := ExtractCode(c.in); got != c.want {
			t.Errorf("ExtractCode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHarnesses(t *testing.T) {
	spec, _ := DefaultSpec()
	ctx := context.Background()
	p, err := Load("t.star", goodTermination, []Signature{TerminationSig}, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range TerminationHarness(ctx, p, spec) {
		if !c.Passed {
			t.Errorf("good termination failed %s: %s", c.Name, c.Detail)
		}
	}
	p, err = Load("p.star", goodPolicy, []Signature{PolicySig}, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range PolicyHarness(ctx, p, spec) {
		if !c.Passed {
			t.Errorf("good policy failed %s: %s", c.Name, c.Detail)
		}
	}
	p, err = Load("i.star", goodInitiation, []Signature{InitiationSig}, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ic := InitiationHarness(ctx, p, spec)
	for _, c := range ic {
		if !c.Passed {
			t.Errorf("good initiation failed %s: %s", c.Name, c.Detail)
		}
	}
	lax, _ := Load("l.star", "def can_start(skill, obs):\n    return True\n", []Signature{InitiationSig}, nil, Limits{})
	failed := 0
	for _, c := range InitiationHarness(ctx, lax, spec) {
		if !c.Passed {
			failed++
		}
	}
	if len(ic) != 12 || failed != 4 {
		t.Errorf("%d initiation cases; an always-true can_start fails %d, want 12 and 4", len(ic), failed)
	}
	bad, _ := Load("b.star", "def select_skill(obs, state):\n    return ('descender', state)\n", []Signature{PolicySig}, nil, Limits{})
	cases := PolicyHarness(ctx, bad, spec)
	if len(cases) != 4 || cases[1].Passed || !strings.Contains(cases[1].Detail, "descender twice") || cases[3].Passed || !strings.Contains(cases[3].Detail, "call 11 chose descender") {
		t.Errorf("always-descend policy: %+v; want the exploration and the merchant cases to fail", cases)
	}
}

// TestReferenceCodePassesTheHarnesses: the code Maestro ships passes every case of the three
// harnesses the coder's answers are scored on.
func TestReferenceCodePassesTheHarnesses(t *testing.T) {
	spec, _ := DefaultSpec()
	code, err := ReferenceCode(Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for kind, cases := range map[string][]CaseResult{"initiation": InitiationHarness(ctx, code.Initiation, spec),
		"termination": TerminationHarness(ctx, code.Termination, spec), "policy": PolicyHarness(ctx, code.Policy, spec)} {
		if len(cases) == 0 {
			t.Errorf("%s: no cases", kind)
		}
		for _, c := range cases {
			if !c.Passed {
				t.Errorf("reference %s fails %s: %s", kind, c.Name, c.Detail)
			}
		}
	}
}

// scriptedCoder is a stand-in LLM (a real model cannot be made to write known-bad code on
// demand) that answers with the given replies in turn.
func scriptedCoder(t *testing.T, replies ...string) (*llm.Client, *llmtest.Server) {
	srv := llmtest.Start(t, func(n int, _ []openai.ChatCompletionMessage) string { return replies[min(n, len(replies)-1)] })
	return srv.Client(t, 1), srv
}

// TestRefinementLoop: a syntax error, then wrong logic, then right code; the loop feeds each
// failure back, stops at the first candidate that passes everything, and saves it.
func TestRefinementLoop(t *testing.T) {
	spec, _ := DefaultSpec()
	wrong := strings.Replace(goodTermination, "turns >= 500", "turns >= 50", 1)
	c, convs := scriptedCoder(t, "```python\ndef should_stop(skill, start, now, turns)\n    return True\n```",
		"```python"+wrong+"```", "Fixed:\n```python"+goodTermination+"```", "never asked")
	dir := t.TempDir()
	res, err := WriteCode(context.Background(), c, spec, "termination", CoderOptions{Rounds: 5, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) != 3 || res.Best.Round != 3 || res.Best.Score != 1 {
		t.Fatalf("%d candidates, best round %d score %g; want 3, 3, 1", len(res.Candidates), res.Best.Round, res.Best.Score)
	}
	if res.Candidates[0].Error == "" || res.Candidates[1].Score >= 1 || res.Candidates[1].Score <= 0.5 {
		t.Errorf("round 1 error %q, round 2 score %g", res.Candidates[0].Error, res.Candidates[1].Score)
	}
	second, third := convs.Conversations()[1], convs.Conversations()[2]
	if !strings.Contains(second[len(second)-1].Content, "did not load") || !strings.Contains(third[len(third)-1].Content, "discoverer: start depth 1, now depth 1, 499 turns") {
		t.Errorf("feedback:\n%s\n---\n%s", second[len(second)-1].Content, third[len(third)-1].Content)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "termination.star")); err != nil || string(b) != ExtractCode("```python"+goodTermination+"```") {
		t.Errorf("saved code %q, %v", b, err)
	}
	// A coder that never gets it right: the budget ends the loop and the best candidate stays.
	c, _ = scriptedCoder(t, "```python"+wrong+"```")
	res, err = WriteCode(context.Background(), c, spec, "termination", CoderOptions{Rounds: 2})
	if err != nil || len(res.Candidates) != 2 || res.Best.Score >= 1 {
		t.Errorf("%d candidates, best %g, %v", len(res.Candidates), res.Best.Score, err)
	}
}

// TestCoderSmoke asks the real embedded model for a policy over skills: a 135M model will not
// write working code, but the loop must run its budget and report without failing.
func TestCoderSmoke(t *testing.T) {
	srv, err := llm.StartServer(context.Background(), llm.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := llm.New(llm.Options{URLs: []string{srv.URL()}, Model: srv.Name()})
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := DefaultSpec()
	res, err := WriteCode(context.Background(), c, spec, "policy", CoderOptions{Rounds: 2, MaxTokens: 200, Task: "reach the Gnomish Mines"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) == 0 || len(res.Candidates) > 2 {
		t.Errorf("%d candidates for a budget of 2", len(res.Candidates))
	}
	t.Logf("embedded coder: best score %.2f in round %d; error %q", res.Best.Score, res.Best.Round, res.Best.Error)
}
