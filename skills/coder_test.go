package skills

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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
		{"```Python3 \ndef m():\n    return 2\n```\nThat is all.", "def m():\n    return 2\n"},
	} {
		if got := ExtractCode(c.in); got != c.want {
			t.Errorf("ExtractCode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestHarnesses(t *testing.T) {
	spec, _ := DefaultSpec()
	ctx := context.Background()
	p, err := Load("t.star", goodTermination, []Signature{TerminationSig}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range TerminationHarness(ctx, p, spec) {
		if !c.Passed {
			t.Errorf("good termination failed %s: %s", c.Name, c.Detail)
		}
	}
	p, err = Load("p.star", goodPolicy, []Signature{PolicySig}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range PolicyHarness(ctx, p, spec) {
		if !c.Passed {
			t.Errorf("good policy failed %s: %s", c.Name, c.Detail)
		}
	}
	p, err = Load("i.star", goodInitiation, []Signature{InitiationSig}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ic := InitiationHarness(ctx, p, spec)
	for _, c := range ic {
		if !c.Passed {
			t.Errorf("good initiation failed %s: %s", c.Name, c.Detail)
		}
	}
	lax, _ := Load("l.star", "def can_start(skill, obs):\n    return True\n", []Signature{InitiationSig}, Limits{})
	failed := 0
	for _, c := range InitiationHarness(ctx, lax, spec) {
		if !c.Passed {
			failed++
		}
	}
	if len(ic) != 12 || failed != 4 {
		t.Errorf("%d initiation cases; an always-true can_start fails %d, want 12 and 4", len(ic), failed)
	}
	bad, _ := Load("b.star", "def select_skill(obs, state):\n    return ('descender', state)\n", []Signature{PolicySig}, Limits{})
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
	if testing.Short() {
		t.Skip("about 56 s on 2 cores; make test (no -short) runs it")
	}
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
	// The tree search with the model's own unit tests: one answer of tests, two drafts, one fix.
	res, err = WriteCode(context.Background(), c, spec, "termination", CoderOptions{Rounds: 3, MaxTokens: 200, Search: "tree", Population: 2, Tests: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Candidates); n == 0 || n > 3 || res.Tests == "" || (res.Best.Score < 1 && n == 3 && res.Candidates[2].Parent < 0) {
		t.Errorf("tree search: %d candidates, tests %q; want at most 3, the last a fix of a draft", n, res.Tests)
	}
	t.Logf("embedded coder, tree search: best score %.2f by %s; its tests: %q", res.Best.Score, res.Best.Operator, res.TestsError)
}

// TestSearchPolicies runs evolution and tree search against a scripted coder (answers in a
// fixed order) and checks which candidate each operator started from.
func TestSearchPolicies(t *testing.T) {
	spec, _ := DefaultSpec()
	broken := "```python\ndef should_stop(skill, start, now, turns)\n    return True\n```"
	wrong := "```python" + strings.Replace(goodTermination, "turns >= 500", "turns >= 50", 1) + "```"
	wrong2 := "```python" + strings.Replace(goodTermination, "turns >= 10000", "turns >= 100", 1) + "```"
	good := "```python" + goodTermination + "```"
	for _, c := range []struct {
		search  string
		replies []string
		ops     []string
		parents []int
	}{
		// Evolution, population 2: two drafts; the generation fixes the best (improve the
		// wrong one: still wrong) and the next best (debug the broken one: right).
		{"evolution", []string{broken, wrong, wrong2, good}, []string{"draft", "draft", "improve", "debug"}, []int{-1, -1, 1, 0}},
		// Tree, two drafts: debug the crashed leaf first (still wrong), then improve the best
		// node (the first wrong draft, earlier among equals): right.
		{"tree", []string{broken, wrong, wrong, good}, []string{"draft", "draft", "debug", "improve"}, []int{-1, -1, 0, 1}},
	} {
		cl, convs := scriptedCoder(t, c.replies...)
		res, err := WriteCode(context.Background(), cl, spec, "termination", CoderOptions{Rounds: 6, Search: c.search, Population: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Candidates) != 4 || res.Best.Score != 1 || res.Best.Round != 4 {
			t.Fatalf("%s: %d candidates, best round %d score %g; want 4, 4, 1", c.search, len(res.Candidates), res.Best.Round, res.Best.Score)
		}
		for i, cand := range res.Candidates {
			if cand.Operator != c.ops[i] || cand.Parent != c.parents[i] {
				t.Errorf("%s: candidate %d made by %s from %d, want %s from %d", c.search, i, cand.Operator, cand.Parent, c.ops[i], c.parents[i])
			}
		}
		// A fix starts from a fresh context: the task, the parent's code, its failures.
		fix := convs.Conversations()[2]
		parent := res.Candidates[c.parents[2]]
		if len(fix) != 3 || !strings.Contains(fix[1].Content, strings.TrimSpace(parent.Code)) || !strings.Contains(fix[2].Content, feedback(parent)) {
			t.Errorf("%s: the third request does not hold the parent's code and failures: %+v", c.search, fix)
		}
	}
	// Equal candidates: the tree improves each in turn rather than one forever.
	cl, _ := scriptedCoder(t, wrong)
	res, err := WriteCode(context.Background(), cl, spec, "termination", CoderOptions{Rounds: 5, Search: "tree", Population: 2})
	if err != nil {
		t.Fatal(err)
	}
	var parents []int
	for _, c := range res.Candidates {
		parents = append(parents, c.Parent)
	}
	if !slices.Equal(parents, []int{-1, -1, 0, 1, 2}) {
		t.Errorf("tree over equal candidates improved %v; want each once: [-1 -1 0 1 2]", parents)
	}
	if _, err := WriteCode(context.Background(), nil, spec, "termination", CoderOptions{Search: "random"}); err == nil || !strings.Contains(err.Error(), "greedy, evolution or tree") {
		t.Errorf("unknown search: %v", err)
	}
}

// TestLLMWrittenTests: the coder first writes unit tests (one right, one wrong); every
// candidate runs them next to the harness, failures are reported and fed back, and only the
// harness scores. Tests that do not load are reported and left out.
func TestLLMWrittenTests(t *testing.T) {
	spec, _ := DefaultSpec()
	tests := "```python\n" + `def test_discoverer_stops(should_stop):
    obs = {"depth": 1, "dungeon": "main", "turn": 0, "gold": 0, "hp": 10, "message": ""}
    if not should_stop("discoverer", obs, obs, 500):
        fail("discoverer should stop after 500 turns")

def test_wrong(should_stop):
    obs = {"depth": 1, "dungeon": "main", "turn": 0, "gold": 0, "hp": 10, "message": ""}
    if not should_stop("merchant", obs, obs, 5):
        fail("merchant should stop after 5 turns")
` + "```"
	wrong := "```python" + strings.Replace(goodTermination, "turns >= 500", "turns >= 5000", 1) + "```"
	cl, convs := scriptedCoder(t, tests, wrong, "```python"+goodTermination+"```")
	res, err := WriteCode(context.Background(), cl, spec, "termination", CoderOptions{Rounds: 3, Tests: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.TestsError != "" || !strings.Contains(res.Tests, "test_wrong") || len(res.Candidates) != 2 || res.Best.Score != 1 {
		t.Fatalf("tests error %q, %d candidates, best %g", res.TestsError, len(res.Candidates), res.Best.Score)
	}
	first := res.Candidates[0].Tests
	if len(first) != 2 || first[0].Name != "test_discoverer_stops" || first[0].Passed || first[1].Passed {
		t.Errorf("the wrong code's test results: %+v; want both to fail", first)
	}
	if best := res.Best.Tests; len(best) != 2 || !best[0].Passed || best[1].Passed || !strings.Contains(best[1].Detail, "merchant should stop") {
		t.Errorf("the right code's test results: %+v; want the right test to pass and the wrong one to fail", best)
	}
	if second := convs.Conversations()[2]; !strings.Contains(second[len(second)-1].Content, "your own 2 unit tests") {
		t.Errorf("the LLM's failed tests are not fed back: %s", second[len(second)-1].Content)
	}
	cl, _ = scriptedCoder(t, "```python\ndef test_x(f)\n```", "```python"+goodTermination+"```")
	res, err = WriteCode(context.Background(), cl, spec, "termination", CoderOptions{Rounds: 2, Tests: true})
	if err != nil || res.TestsError == "" || res.Best.Score != 1 || res.Best.Tests != nil {
		t.Errorf("broken tests: error %q, best %g, tests %v, %v", res.TestsError, res.Best.Score, res.Best.Tests, err)
	}
}
