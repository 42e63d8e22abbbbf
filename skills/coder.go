package skills

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	openai "github.com/sashabaranov/go-openai"
	"go.starlark.net/starlark"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/llm"
)

// The code MaestroMotif's coder writes, as Starlark functions:
//
//	should_stop(skill, start, now, turns) -> bool
//	    whether the running skill ends: start and now are observations (dicts: depth, dungeon,
//	    turn, gold, hp, message) when the skill started and now, turns the game turns since.
//	select_skill(obs, state) -> (skill, state)
//	    the policy over skills: the next skill's name and the state (a dict) for the next call.
//	can_start(skill, obs) -> bool
//	    whether the skill may start now: obs also holds window, the 7x7 characters around the
//	    hero as 7 strings, and new_items, the non-food items picked up since the last sale or
//	    altar visit.
var (
	TerminationSig = Signature{"should_stop", []string{"skill", "start", "now", "turns"}}
	PolicySig      = Signature{"select_skill", []string{"obs", "state"}}
	InitiationSig  = Signature{"can_start", []string{"skill", "obs"}}
)

// CaseResult is one harness case (or LLM-written test) and whether the code passed it.
type CaseResult struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// Candidate is one answer's code with how it fared.
type Candidate struct {
	Round int `json:"round"`
	// Operator made it: refine (greedy's conversation), draft (from scratch), debug (fix a
	// candidate that failed to load or crashed) or improve (fix a candidate's failed cases);
	// Parent is the index of the candidate it started from (-1 for none).
	Operator string       `json:"operator"`
	Parent   int          `json:"parent"`
	Code     string       `json:"code"`
	Prompt   string       `json:"prompt"`
	Error    string       `json:"error,omitempty"` // why it did not load (Cases nil) or how it failed in a case
	Cases    []CaseResult `json:"cases"`
	Score    float64      `json:"score"` // share of harness cases passed
	// Tests are the LLM-written unit tests' results (reported and fed back, not scored: a
	// test written by the LLM can itself be wrong).
	Tests  []CaseResult `json:"llm_tests,omitempty"`
	Tokens int          `json:"tokens"`
}

// CodeResult is the outcome of a coding job: the best candidate and all of them.
type CodeResult struct {
	Kind       string      `json:"kind"`
	Model      string      `json:"model"`
	Search     string      `json:"search"`
	Best       Candidate   `json:"best"`
	Candidates []Candidate `json:"candidates"`
	// Tests is the LLM-written test code (CoderOptions.Tests) and TestsError why it could not
	// be used, if so.
	Tests      string `json:"llm_tests_code,omitempty"`
	TestsError string `json:"llm_tests_error,omitempty"`
}

// CoderOptions configure WriteCode.
type CoderOptions struct {
	// Rounds is the budget of code answers; 0 means 4.
	Rounds int
	// Search is the search policy over candidates: "greedy" (default: one conversation, each
	// answer refining the last with its failures fed back), "evolution" (a population of
	// drafts, each generation's best Population candidates debugged or improved) or "tree"
	// (AIDE's tree search: a few drafts, then debug the best crashed node or improve the best
	// one, each from its own context).
	Search string
	// Population is evolution's population and tree's number of drafts; 0 means 3.
	Population int
	// Tests has the LLM first write unit tests for the function (one more answer), run on
	// every candidate next to the harness; their failures are fed back.
	Tests bool
	// Temperature of the coder; 0 means 0.2 (MaestroMotif's).
	Temperature float32
	// MaxTokens of an answer; 0 means 1024.
	MaxTokens int
	// Task describes the goal for the policy over skills.
	Task string
	// Dir, when set, receives <kind>.star (the best code) and <kind>.json (the CodeResult).
	Dir string
	// Limits of each call into the code.
	Limits Limits
}

// Validate reports an option out of range: a known Search, counts not below 0 (0: the
// defaults), a finite temperature not below 0, and Limits valid.
func (o CoderOptions) Validate() error {
	switch {
	case o.Search != "" && o.Search != "greedy" && o.Search != "evolution" && o.Search != "tree":
		return fmt.Errorf("skills: CoderOptions.Search %q: use greedy, evolution or tree", o.Search)
	case o.Rounds < 0 || o.Population < 0 || o.MaxTokens < 0:
		return fmt.Errorf("skills: CoderOptions.Rounds %d, Population %d and MaxTokens %d must not be negative (0: 4, 3, 1024)", o.Rounds, o.Population, o.MaxTokens)
	case o.Temperature < 0 || o.Temperature != o.Temperature || o.Temperature > 1e30:
		return fmt.Errorf("skills: CoderOptions.Temperature %v must be finite and at least 0", o.Temperature)
	}
	return o.Limits.Validate()
}

var fenceRE = regexp.MustCompile("(?s)```[^\n]*\n(.*?)```") // any tag: python, Python, python3, starlark ...

// ExtractCode returns the code in an answer: the longest fenced block, what follows an unclosed
// fence (an answer cut by its token limit), or the whole answer when it has no fence.
func ExtractCode(answer string) string {
	best := ""
	for _, m := range fenceRE.FindAllStringSubmatch(answer, -1) {
		if len(m[1]) > len(best) {
			best = m[1]
		}
	}
	if best == "" {
		best = answer
		if i := strings.Index(answer, "```"); i >= 0 { // an unclosed fence: a truncated answer
			best = answer[i+3:]
			if nl := strings.IndexByte(best, '\n'); nl >= 0 {
				best = best[nl+1:]
			}
		}
	}
	return strings.TrimSpace(best) + "\n"
}

// coder is one WriteCode job.
type coder struct {
	ctx     context.Context
	c       *llm.Client
	o       CoderOptions
	sig     Signature
	kind    string
	prompt  string
	harness func(*Program) []CaseResult
	tests   *Program // LLM-written tests, nil without
	res     *CodeResult
}

// WriteCode has the LLM write the initiation function ("initiation"), the termination
// function ("termination") or the policy over skills ("policy") for spec, runs every answer on
// the harness in the sandbox (and on the LLM's own unit tests with Tests), and searches over
// candidates with the chosen policy within the budget, feeding errors and failed cases back.
// It stops early when a candidate passes every case and keeps the best.
func WriteCode(ctx context.Context, c *llm.Client, spec *Spec, kind string, o CoderOptions) (*CodeResult, error) {
	if o.Rounds <= 0 {
		o.Rounds = 4
	}
	if o.Temperature == 0 {
		o.Temperature = 0.2
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = 1024
	}
	if o.Population <= 0 {
		o.Population = 3
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	switch o.Search {
	case "":
		o.Search = "greedy"
	case "greedy", "evolution", "tree":
	default:
		return nil, fmt.Errorf("skills: unknown search %q; use greedy, evolution or tree", o.Search)
	}
	cd := &coder{ctx: ctx, c: c, o: o, kind: kind}
	switch kind {
	case "termination":
		cd.sig, cd.harness = TerminationSig, func(p *Program) []CaseResult { return TerminationHarness(ctx, p, spec) }
	case "policy":
		cd.sig, cd.harness = PolicySig, func(p *Program) []CaseResult { return PolicyHarness(ctx, p, spec) }
	case "initiation":
		cd.sig, cd.harness = InitiationSig, func(p *Program) []CaseResult { return InitiationHarness(ctx, p, spec) }
	default:
		return nil, fmt.Errorf("skills: unknown code kind %q; use initiation, termination or policy", kind)
	}
	cd.prompt = codePrompt(spec, kind, cd.sig, o.Task)
	cd.res = &CodeResult{Kind: kind, Model: c.Model(), Search: o.Search, Best: Candidate{Score: -1}}
	var err error
	if o.Tests {
		if err = cd.writeTests(); err != nil {
			return cd.res, err
		}
	}
	switch o.Search {
	case "greedy":
		err = cd.greedy()
	case "evolution":
		err = cd.evolution()
	case "tree":
		err = cd.tree()
	}
	if err != nil {
		return cd.res, err
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return cd.res, err
		}
		b, _ := json.MarshalIndent(cd.res, "", "  ")
		if err := atomicfile.WriteFile(filepath.Join(o.Dir, kind+".json"), append(b, '\n')); err != nil {
			return cd.res, err
		}
		if err := atomicfile.WriteFile(filepath.Join(o.Dir, kind+".star"), []byte(cd.res.Best.Code)); err != nil {
			return cd.res, err
		}
	}
	return cd.res, nil
}

const rewriteAsk = "\n\nRewrite the whole function so that every case passes. Reply with one ```python code block."

// ask sends a conversation and returns the answer.
func (cd *coder) ask(msgs []openai.ChatCompletionMessage) (llm.Reply, error) {
	r, err := cd.c.Chat(cd.ctx, llm.Request{Messages: msgs, MaxTokens: cd.o.MaxTokens, Temperature: cd.o.Temperature})
	if err != nil {
		return r, fmt.Errorf("skills: coder answer %d: %w", len(cd.res.Candidates)+1, err)
	}
	return r, nil
}

// try asks for code with msgs, evaluates the answer and records the candidate; done says
// whether it passes every case or the budget is spent.
func (cd *coder) try(msgs []openai.ChatCompletionMessage, op string, parent int) (cand Candidate, text string, done bool, err error) {
	r, err := cd.ask(msgs)
	if err != nil {
		return cand, "", true, err
	}
	cand = cd.evaluate(ExtractCode(r.Text))
	cand.Round, cand.Operator, cand.Parent = len(cd.res.Candidates)+1, op, parent
	cand.Prompt, cand.Tokens = msgs[len(msgs)-1].Content, r.Tokens
	cd.res.Candidates = append(cd.res.Candidates, cand)
	if best := cd.res.Best; cand.Score > best.Score || (cand.Score == best.Score && best.Cases == nil && cand.Cases != nil) {
		cd.res.Best = cand // among equals, code that loads
	}
	return cand, r.Text, cand.Score == 1 || len(cd.res.Candidates) >= cd.o.Rounds, nil
}

// evaluate loads code and runs the harness and the LLM's tests on it.
func (cd *coder) evaluate(code string) Candidate {
	cand := Candidate{Code: code}
	prog, err := Load(cd.kind+".star", code, []Signature{cd.sig}, cd.o.Limits)
	if err != nil {
		cand.Error = err.Error()
		return cand
	}
	cand.Cases = cd.harness(prog)
	passed := 0
	for _, cr := range cand.Cases {
		if cr.Passed {
			passed++
		} else if cand.Error == "" && strings.Contains(cr.Detail, "skills: ") {
			cand.Error = cr.Detail // it crashed: debug rather than improve
		}
	}
	cand.Score = float64(passed) / float64(max(len(cand.Cases), 1))
	if cd.tests != nil {
		cand.Tests = cd.runTests(prog)
	}
	return cand
}

// feedback describes a candidate's failures for the next answer.
func feedback(cand Candidate) string {
	if cand.Cases == nil {
		return "The code did not load: " + cand.Error
	}
	var failed []string
	for _, cr := range cand.Cases {
		if !cr.Passed {
			failed = append(failed, "- "+cr.Name+": "+cr.Detail)
		}
	}
	s := fmt.Sprintf("The code ran but failed %d of %d test cases:\n%s", len(failed), len(cand.Cases), strings.Join(failed, "\n"))
	var tf []string
	for _, cr := range cand.Tests {
		if !cr.Passed {
			tf = append(tf, "- "+cr.Name+": "+cr.Detail)
		}
	}
	if len(tf) > 0 {
		s += fmt.Sprintf("\nIt also failed %d of your own %d unit tests (a test may be wrong; the cases above are not):\n%s", len(tf), len(cand.Tests), strings.Join(tf, "\n"))
	}
	return s
}

// greedy is one conversation: each answer's failures are fed back for the next.
func (cd *coder) greedy() error {
	msgs := []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: cd.prompt}}
	for {
		cand, text, done, err := cd.try(msgs, "refine", len(cd.res.Candidates)-1)
		if err != nil || done {
			return err
		}
		msgs = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: text},
			openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: feedback(cand) + rewriteAsk})
	}
}

// fix asks for a repaired version of candidate i, from a fresh context holding the task, the
// code and its failures: debug for code that did not load or crashed, improve otherwise.
func (cd *coder) fix(i int) (Candidate, bool, error) {
	parent := cd.res.Candidates[i]
	op := "improve"
	if parent.Error != "" {
		op = "debug"
	}
	msgs := []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: cd.prompt},
		{Role: openai.ChatMessageRoleAssistant, Content: "```python\n" + parent.Code + "```"},
		{Role: openai.ChatMessageRoleUser, Content: feedback(parent) + rewriteAsk}}
	cand, _, done, err := cd.try(msgs, op, i)
	return cand, done, err
}

func (cd *coder) draft() (bool, error) {
	_, _, done, err := cd.try([]openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: cd.prompt}}, "draft", -1)
	return done, err
}

// drafts makes the searches' Population first drafts; done as for try.
func (cd *coder) drafts() (bool, error) {
	for i := 0; i < cd.o.Population; i++ {
		if done, err := cd.draft(); err != nil || done {
			return true, err
		}
	}
	return false, nil
}

// ranked returns the candidates' indices best first (score, then earlier).
func (cd *coder) ranked() []int {
	idx := make([]int, len(cd.res.Candidates))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return cd.res.Candidates[idx[a]].Score > cd.res.Candidates[idx[b]].Score })
	return idx
}

// evolution drafts a population, then each generation fixes the best Population candidates
// so far (each one child), until a candidate passes or the budget is spent.
func (cd *coder) evolution() error {
	if done, err := cd.drafts(); err != nil || done {
		return err
	}
	for {
		parents := cd.ranked()[:cd.o.Population]
		for _, p := range parents {
			if _, done, err := cd.fix(p); err != nil || done {
				return err
			}
		}
	}
}

// tree is AIDE's search: Population drafts, then at each step debug the best crashed leaf
// (a candidate with an error that has not been fixed yet, up to 3 debug steps deep), else
// improve the best candidate (among equals, the one improved least).
func (cd *coder) tree() error {
	if done, err := cd.drafts(); err != nil || done {
		return err
	}
	for {
		next := -1
		fixed := map[int]bool{}
		for _, c := range cd.res.Candidates {
			if c.Parent >= 0 {
				fixed[c.Parent] = true
			}
		}
		for _, i := range cd.ranked() {
			if c := cd.res.Candidates[i]; c.Error != "" && !fixed[i] && cd.debugDepth(i) < 3 {
				next = i
				break
			}
		}
		if next < 0 {
			next = cd.bestLeastExpanded()
		}
		if _, done, err := cd.fix(next); err != nil || done {
			return err
		}
	}
}

// bestLeastExpanded returns, among the best-scoring candidates, the one fixed the fewest
// times (then the earliest): ties spread the search instead of refining one node forever.
func (cd *coder) bestLeastExpanded() int {
	children := make([]int, len(cd.res.Candidates))
	for _, c := range cd.res.Candidates {
		if c.Parent >= 0 {
			children[c.Parent]++
		}
	}
	r := cd.ranked()
	best := r[0]
	for _, i := range r[1:] {
		if cd.res.Candidates[i].Score < cd.res.Candidates[r[0]].Score {
			break
		}
		if children[i] < children[best] {
			best = i
		}
	}
	return best
}

// debugDepth counts the debug steps that led to candidate i.
func (cd *coder) debugDepth(i int) int {
	n := 0
	for c := cd.res.Candidates[i]; c.Operator == "debug" && c.Parent >= 0; c = cd.res.Candidates[c.Parent] {
		n++
	}
	return n
}

// writeTests has the LLM write unit tests for the function: Starlark functions
// test_<what>(fn) that call fn (the function under test) and call fail(message) when a check
// does not hold. Tests that do not load are reported and left out.
func (cd *coder) writeTests() error {
	prompt := cd.prompt + fmt.Sprintf("\n\nDo not write the function yet. First write unit tests for it: Starlark functions named test_<what>(%s) that each call %s (passed in as the argument) on an example and call fail(\"what went wrong\") when the result is not what the description above asks for. Write 3 to 6 tests. Reply with one ```python code block.", cd.sig.Name, cd.sig.Name)
	r, err := cd.ask([]openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: prompt}})
	if err != nil {
		return err
	}
	cd.res.Tests = ExtractCode(r.Text)
	p, err := Load(cd.kind+"_tests.star", cd.res.Tests, nil, cd.o.Limits)
	if err == nil && len(testNames(p)) == 0 {
		err = errors.New("no test_ functions")
	}
	if err != nil {
		cd.res.TestsError = err.Error()
		return nil
	}
	cd.tests = p
	return nil
}

func testNames(p *Program) []string {
	var names []string
	for _, name := range p.Functions() {
		if strings.HasPrefix(name, "test_") {
			names = append(names, name)
		}
	}
	return names
}

// runTests runs every LLM-written test on prog's function.
func (cd *coder) runTests(prog *Program) []CaseResult {
	var out []CaseResult
	for _, name := range testNames(cd.tests) {
		err := cd.tests.callWith(cd.ctx, name, prog, cd.sig.Name)
		cr := CaseResult{Name: name, Passed: err == nil}
		if err != nil {
			cr.Detail = err.Error()
		}
		out = append(out, cr)
	}
	return out
}

func codePrompt(spec *Spec, kind string, sig Signature, task string) string {
	var b strings.Builder
	b.WriteString("You write code for an agent that plays NetHack with skills. Each skill is trained to do one thing:\n")
	for _, s := range spec.Skills {
		fmt.Fprintf(&b, "- %s: %s\n", s.Name, s.Description)
	}
	b.WriteString("\nObservations are dicts with the keys depth (dungeon level, 1 at the top), dungeon (\"main\" or \"mines\"), turn (game turns), gold, hp and message (the last game message).\n")
	b.WriteString("Write Starlark, a subset of Python: no imports, no classes, no recursion, no I/O; use dicts, lists, if, for and while.\n\n")
	switch kind {
	case "termination":
		fmt.Fprintf(&b, "Write def %s: return True when the running skill should stop. skill is its name, start the observation when it started, now the current one, turns the game turns since it started. Discoverer should stop after 500 turns, Descender once it is deeper than at its start, Ascender once it is shallower, and Worshipper and Merchant after 10000 turns.\n", sig)
	case "initiation":
		fmt.Fprintf(&b, "Write def %s: return True when the skill may start now. obs also has window, the 7x7 characters around the hero as a list of 7 strings (the hero is '@' in the middle; an altar is '_', a shopkeeper another '@'), and new_items, the number of non-food items picked up since the last sale or altar visit. Worshipper may start only with an altar in view and new items; Merchant only with a shopkeeper in view and new items; the other skills always.\n", sig)
	case "policy":
		fmt.Fprintf(&b, "Write def %s: choose the next skill for this task: %s\nReturn a tuple (skill_name, new_state); state is a dict you design (empty {} on the first call) and get back on the next call. obs also has startable, the names of the skills that may start now (merchant and worshipper only near a shopkeeper or an altar with items to use). Explore each new level with discoverer before going deeper with descender.\n", sig, task)
	}
	b.WriteString("Reply with one ```python code block.")
	return b.String()
}

func obsValue(depth, turn int, dungeon string) starlark.Value {
	v, _ := ToValue(map[string]any{"depth": depth, "dungeon": dungeon, "turn": turn, "gold": 0, "hp": 12, "message": ""})
	return v
}

// TerminationHarness runs should_stop on scripted cases: for MaestroMotif's skills the
// reference's rules (Discoverer after 500 turns, Descender deeper, Ascender shallower,
// Worshipper and Merchant after 10,000 turns); for other skills only that it returns a bool.
func TerminationHarness(ctx context.Context, p *Program, spec *Spec) []CaseResult {
	type tc struct {
		skill               string
		depth0, depth, turn int
		want                bool
	}
	known := []tc{
		{"discoverer", 1, 1, 499, false}, {"discoverer", 1, 1, 500, true}, {"discoverer", 2, 2, 10, false},
		{"descender", 1, 1, 50, false}, {"descender", 1, 2, 50, true}, {"descender", 3, 4, 1, true},
		{"ascender", 3, 3, 50, false}, {"ascender", 3, 2, 50, true},
		{"worshipper", 1, 1, 9999, false}, {"worshipper", 1, 1, 10000, true},
		{"merchant", 2, 2, 100, false}, {"merchant", 2, 2, 10000, true},
	}
	var out []CaseResult
	for _, sk := range spec.Skills {
		cases := []tc{{sk.Name, 1, 1, 1, false}}
		for _, k := range known {
			if k.skill == sk.Name {
				cases = append(cases, k)
			}
		}
		for i, k := range cases {
			name := fmt.Sprintf("%s: start depth %d, now depth %d, %d turns", k.skill, k.depth0, k.depth, k.turn)
			v, err := p.Call(ctx, "should_stop", starlark.String(k.skill), obsValue(k.depth0, 0, "main"), obsValue(k.depth, k.turn, "main"), starlark.MakeInt(k.turn))
			switch b, ok := v.(starlark.Bool); {
			case err != nil:
				out = append(out, CaseResult{name, false, err.Error()})
			case !ok:
				out = append(out, CaseResult{name, false, fmt.Sprintf("returned %s, want a bool", v.Type())})
			case i == 0 && len(cases) == 1: // unknown skill rules: any bool passes
				out = append(out, CaseResult{name, true, ""})
			case i == 0:
				continue // the sanity case is covered by the rule cases
			case bool(b) != k.want:
				out = append(out, CaseResult{name, false, fmt.Sprintf("returned %v, want %v", b, k.want)})
			default:
				out = append(out, CaseResult{name, true, ""})
			}
		}
	}
	return out
}

// PolicyHarness plays select_skill through a scripted game of 40 skill choices, in which
// descender takes the hero one level down, ascender one level up and other skills stay: every
// call must return a known skill and a dict state, and the policy must explore before it
// descends (no two descents in a row), reach depth 3, and (when the spec has a merchant) choose
// merchant at the two calls where obs["startable"] says it may start.
func PolicyHarness(ctx context.Context, p *Program, spec *Spec) []CaseResult {
	depth, turn := 1, 0
	state := starlark.Value(starlark.NewDict(0))
	prev, maxDepth := "", 1
	var trace []string
	res := CaseResult{Name: "40 choices return known skills and a dict state", Passed: true}
	order := CaseResult{Name: "explores a level (another skill) between two descents", Passed: true}
	interrupt := CaseResult{Name: "lets merchant interrupt when it may start (calls 11 and 26)", Passed: true}
	_, err := spec.Skill("merchant")
	hasMerchant := err == nil
	for step := 0; step < 40; step++ {
		obs := obsValue(depth, turn, "main").(*starlark.Dict)
		shop := hasMerchant && (step == 10 || step == 25) // a shopkeeper in view, with items to sell
		var startable []starlark.Value
		for _, sk := range spec.Skills {
			if (sk.Name != "merchant" || shop) && sk.Name != "worshipper" {
				startable = append(startable, starlark.String(sk.Name))
			}
		}
		obs.SetKey(starlark.String("startable"), starlark.NewList(startable))
		v, err := p.Call(ctx, "select_skill", obs, state)
		if err != nil {
			res = CaseResult{res.Name, false, fmt.Sprintf("call %d: %v", step+1, err)}
			break
		}
		tup, ok := v.(starlark.Tuple)
		if !ok || len(tup) != 2 {
			res = CaseResult{res.Name, false, fmt.Sprintf("call %d returned %s, want (skill, state)", step+1, v)}
			break
		}
		name, ok := starlark.AsString(tup[0])
		if _, err := spec.Skill(name); !ok || err != nil {
			res = CaseResult{res.Name, false, fmt.Sprintf("call %d chose %s, not a skill of the spec", step+1, tup[0])}
			break
		}
		if _, ok := tup[1].(*starlark.Dict); !ok {
			res = CaseResult{res.Name, false, fmt.Sprintf("call %d returned state %s, want a dict", step+1, tup[1].Type())}
			break
		}
		state = tup[1]
		if shop && name != "merchant" && interrupt.Passed {
			interrupt = CaseResult{interrupt.Name, false, fmt.Sprintf("call %d chose %s while merchant could start", step+1, name)}
		}
		if name == "descender" && prev == "descender" && order.Passed {
			order = CaseResult{order.Name, false, fmt.Sprintf("descender twice in a row at calls %d and %d (trace: %s)", step, step+1, strings.Join(trace, " "))}
		}
		switch name {
		case "descender":
			depth++
		case "ascender":
			depth = max(1, depth-1)
		}
		maxDepth = max(maxDepth, depth)
		turn += 100
		prev = name
		trace = append(trace, fmt.Sprintf("%s@%d", name, depth))
	}
	deep := CaseResult{Name: "reaches depth 3 within 40 choices", Passed: maxDepth >= 3}
	if !deep.Passed {
		deep.Detail = fmt.Sprintf("deepest level %d (trace: %s)", maxDepth, strings.Join(trace, " "))
	}
	if !res.Passed {
		return []CaseResult{res}
	}
	if hasMerchant {
		return []CaseResult{res, order, deep, interrupt}
	}
	return []CaseResult{res, order, deep}
}

// InitiationHarness runs can_start on scripted windows: MaestroMotif's rules (Worshipper needs
// an altar '_' in view and new items, Merchant a shopkeeper '@' besides the hero and new items,
// the others may always start).
func InitiationHarness(ctx context.Context, p *Program, spec *Spec) []CaseResult {
	plain := []string{"       ", " ..... ", " ..... ", " ..@.. ", " ..... ", " ..... ", "       "}
	altar := []string{"       ", " ..... ", " ._... ", " ..@.. ", " ..... ", " ..... ", "       "}
	shop := []string{"       ", " ..... ", " ..... ", " ..@.@ ", " ..... ", " ..... ", "       "}
	type tc struct {
		skill  string
		window []string
		items  int
		want   bool
	}
	known := map[string][]tc{
		"worshipper": {{"worshipper", altar, 2, true}, {"worshipper", altar, 0, false}, {"worshipper", plain, 3, false}},
		"merchant":   {{"merchant", shop, 1, true}, {"merchant", shop, 0, false}, {"merchant", plain, 2, false}},
	}
	var out []CaseResult
	for _, sk := range spec.Skills {
		cases, ok := known[sk.Name]
		if !ok {
			cases = []tc{{sk.Name, plain, 0, true}, {sk.Name, altar, 1, true}}
		}
		for _, k := range cases {
			name := fmt.Sprintf("%s: window %q, %d new items", k.skill, strings.Join(k.window, "|"), k.items)
			obs, _ := ToValue(map[string]any{"depth": 1, "dungeon": "main", "turn": 100, "gold": 0, "hp": 12, "message": "",
				"window": k.window, "new_items": k.items})
			v, err := p.Call(ctx, "can_start", starlark.String(k.skill), obs)
			switch b, ok := v.(starlark.Bool); {
			case err != nil:
				out = append(out, CaseResult{name, false, err.Error()})
			case !ok:
				out = append(out, CaseResult{name, false, fmt.Sprintf("returned %s, want a bool", v.Type())})
			case bool(b) != k.want:
				out = append(out, CaseResult{name, false, fmt.Sprintf("returned %v, want %v", b, k.want)})
			default:
				out = append(out, CaseResult{name, true, ""})
			}
		}
	}
	return out
}
