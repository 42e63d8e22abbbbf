package motif

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/llm/llmtest"
)

// TestMain lets the kill test run an annotation job in a child process (the test binary
// itself) that SIGKILLs itself midway.
func TestMain(m *testing.M) {
	if os.Getenv("MOTIF_CHILD_JOURNAL") != "" {
		childAnnotate()
		os.Exit(3) // not killed: the parent reports it
	}
	os.Exit(m.Run())
}

var testCaptions = []string{"", "You kill the newt!", "You see here 4 gold pieces.", "The jackal bites!",
	"There is a staircase down here.", "You hear some noises in the distance.", "Welcome to experience level 2.",
	"You find a hidden passage.", "It's a wall.", "You are hit by a dart."}

// testPairs draws n caption pairs with Motif-like repetition, and two identical pairs.
func testPairs(n int) [][2]string {
	rng := rand.New(rand.NewPCG(5, 5))
	out := [][2]string{{"It's a wall.", "It's a wall."}, {"", ""}}
	for len(out) < n {
		a, b := testCaptions[rng.IntN(len(testCaptions))], testCaptions[rng.IntN(len(testCaptions))]
		if a != b {
			out = append(out, [2]string{a, b})
		}
	}
	return out
}

func scoredOptions(t testing.TB) AnnotateOptions {
	tp, err := LoadTemplate("judge")
	if err != nil {
		t.Fatal(err)
	}
	return AnnotateOptions{Template: tp, Goal: Goals["default"], Mode: Scored, Concurrency: 2}
}

func childAnnotate() {
	killAt, _ := strconv.Atoi(os.Getenv("MOTIF_CHILD_KILL_AT"))
	c, err := llm.New(llm.Options{URLs: []string{os.Getenv("MOTIF_CHILD_URL")}, Model: os.Getenv("MOTIF_CHILD_MODEL")})
	if err != nil {
		panic(err)
	}
	j, err := OpenJournal(os.Getenv("MOTIF_CHILD_JOURNAL"))
	if err != nil {
		panic(err)
	}
	o := scoredOptions(&testing.T{})
	o.Progress = func(p Progress) {
		if p.Done == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	if _, _, err := Annotate(context.Background(), c, j, testPairs(20), o); err != nil {
		panic(err)
	}
}

// TestAnnotateKilledAndResumed labels 20 pairs with the real embedded server: a child process
// is SIGKILLed after 9 answers; the rerun asks exactly the requests the journal lacks, a third
// run asks nothing and gives the same labels, and the compacted journal holds each request once.
func TestAnnotateKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("about 42 s on 2 cores; make test (no -short) runs it")
	}
	srv, err := llm.StartServer(context.Background(), llm.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	path := filepath.Join(t.TempDir(), "labels.journal")
	cmd := exec.Command(os.Args[0])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "MOTIF_CHILD_JOURNAL="+path, "MOTIF_CHILD_KILL_AT=9", "MOTIF_CHILD_URL="+srv.URL(), "MOTIF_CHILD_MODEL="+srv.Name())
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed: %v\n%s", err, out.String())
	}
	pairs := testPairs(20)
	unique := map[[2]string]bool{}
	for _, p := range pairs {
		if p[0] != p[1] {
			unique[p], unique[[2]string{p[1], p[0]}] = true, true
		}
	}
	requests := len(unique) // both orders of each distinct pair
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	before := j.Len()
	if before < 9 || before >= requests {
		t.Fatalf("the killed job left %d answers of %d; want at least the 9 reported", before, requests)
	}
	c, err := llm.New(llm.Options{URLs: []string{srv.URL()}, Model: srv.Name()})
	if err != nil {
		t.Fatal(err)
	}
	labels, s, err := Annotate(context.Background(), c, j, pairs, scoredOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Cached != before || s.Asked != requests-before || int(c.Requests.Load()) != requests-before {
		t.Errorf("resume: %d cached, %d asked, %d sent; want %d cached and %d asked", s.Cached, s.Asked, c.Requests.Load(), before, requests-before)
	}
	if labels[0] != Tie || labels[1] != Tie || s.Identical != 2 {
		t.Errorf("identical captions labelled %s, %s (%d identical); want ties", LabelName(labels[0]), LabelName(labels[1]), s.Identical)
	}
	sum := 0
	for _, n := range s.Labels {
		sum += n
	}
	if sum != len(pairs) || s.Unique*2 != requests {
		t.Errorf("summary %+v for %d pairs and %d requests", s, len(pairs), requests)
	}
	// The same pair in the other order gets the opposite label.
	for i, p := range pairs {
		for k, q := range pairs {
			if p[0] == q[1] && p[1] == q[0] && p[0] != p[1] && labels[i] != flip(labels[k]) {
				t.Errorf("pairs %d and %d are one pair in both orders but labelled %s and %s", i, k, LabelName(labels[i]), LabelName(labels[k]))
			}
		}
	}
	if err := j.Compact(); err != nil {
		t.Fatal(err)
	}
	j.Close()
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n")); n != requests {
		t.Errorf("compacted journal has %d lines, want %d", n, requests)
	}
	j, _ = OpenJournal(path)
	defer j.Close()
	again, s2, err := Annotate(context.Background(), c, j, pairs, scoredOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if s2.Asked != 0 || fmt.Sprint(again) != fmt.Sprint(labels) {
		t.Errorf("a third run asked %d and labelled %v; want 0 and %v", s2.Asked, again, labels)
	}
	t.Logf("labels %v; summary %+v", labels, s)
}

// TestJournalTornLine: a line cut by a kill is dropped, the rest read, and appends go on.
func TestJournalTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	os.WriteFile(path, []byte(`{"k":"a","l":0,"ok":true}`+"\n"+`{"k":"b","l":1,"o`), 0o644)
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if j.Len() != 1 {
		t.Fatalf("%d answers, want 1", j.Len())
	}
	if err := j.Add(Answer{Key: "c", Label: Second, OK: true}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, _ = OpenJournal(path)
	if _, ok := j.Get("c"); !ok || j.Len() != 2 {
		t.Errorf("after reopening: %d answers, c present %v", j.Len(), ok)
	}
}

func TestCombine(t *testing.T) {
	a := func(l int8) Answer { return Answer{Label: l, OK: true} }
	for _, c := range []struct {
		x, y Answer
		want int8
		bias int
	}{
		{a(First), a(Second), First, 0},  // (a,b) says a, (b,a) says a (position 2): agree
		{a(First), a(First), Tie, 1},     // each picked position 1: bias, tie
		{a(Second), a(First), Second, 0}, // both say b
		{a(First), Answer{}, First, 0},   // one usable answer
		{Answer{}, Answer{}, Unknown, 0}, // none
		{a(Tie), a(Tie), Tie, 0},         // both ties
		{a(First), a(Tie), Tie, 0},       // a tie and a preference
		{Answer{}, a(First), Second, 0},  // (b,a) picked b
	} {
		l, _, biased := combineGenerative(c.x, c.y, 0, 0)
		if l != c.want || biased != c.bias {
			t.Errorf("combine(%v, %v) = %s, bias %d; want %s, %d", c.x, c.y, LabelName(l), biased, LabelName(c.want), c.bias)
		}
	}
	s := func(m float64) Answer { return Answer{Margin: m, OK: true} }
	if l, d, b := combineScored(s(2), s(-1), 0, 0, 0); l != First || d != 1 || b != 0 {
		t.Errorf("scored 2, -1: %s %d %d", LabelName(l), d, b)
	}
	if l, _, b := combineScored(s(1), s(3), 0, 0, 0); l != Second || b != 1 {
		t.Errorf("scored 1, 3 (position 1 both times, stronger the second): %s bias %d", LabelName(l), b)
	}
}

// TestGenerativeRetryTurn uses a stand-in server (a real model cannot be made to ramble on
// demand): the first answer states no choice, so the annotator asks once more in the same
// conversation, with the model's answer and the format reminder; the second answer decides.
// A pair whose retry also fails is unknown.
func TestGenerativeRetryTurn(t *testing.T) {
	srv := llmtest.Start(t, func(_ int, msgs []openai.ChatCompletionMessage) string {
		line := func(k string) string { // the prompt's line holding message k
			p := msgs[0].Content
			p = p[strings.Index(p, "Message "+k+":"):]
			return p[:strings.IndexByte(p, '\n')]
		}
		if len(msgs) == 3 { // the retry turn: answer when one message mentions gold
			switch {
			case strings.Contains(line("1"), "gold"):
				return "best_message: 1"
			case strings.Contains(line("2"), "gold"):
				return "best_message: 2"
			}
		}
		return "Both messages are interesting in their own way."
	})
	c := srv.Client(t, 1)
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	tp, _ := LoadTemplate("judge")
	labels, s, err := Annotate(context.Background(), c, j, [][2]string{{"You see here 5 gold pieces.", "You kill the newt!"}, {"It's a wall.", "Hello."}},
		AnnotateOptions{Template: tp, Goal: Goals["gold"], Mode: Generative, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if labels[0] != First || labels[1] != Unknown {
		t.Errorf("labels %s %s; want first (gold, after the retry) and unknown (no choice twice)", LabelName(labels[0]), LabelName(labels[1]))
	}
	convs := srv.Conversations()
	if s.Retried != 4 || len(convs) != 8 {
		t.Errorf("%d retry turns and %d requests; want 4 and 8 (2 pairs x 2 orders x 2 turns)", s.Retried, len(convs))
	}
	for _, m := range convs {
		if len(m) == 3 && (m[1].Role != openai.ChatMessageRoleAssistant || m[1].Content != "Both messages are interesting in their own way." || m[2].Content != retryPrompt) {
			t.Errorf("retry conversation %+v; want the prompt, the model's answer and the reminder", m)
		}
	}
}

// TestHarmKeySharedAcrossGoals: the built-in harm question ignores the goal, so its journal key
// is one for every skill's goal (a shared journal asks it once per caption), while a harm
// template that uses the goal keys each goal apart.
func TestHarmKeySharedAcrossGoals(t *testing.T) {
	harm, err := LoadTemplate("harm")
	if err != nil {
		t.Fatal(err)
	}
	rate, err := LoadTemplate("rate")
	if err != nil {
		t.Fatal(err)
	}
	a := AnnotateOptions{Template: rate, Mode: Pointwise, Harm: harm, HarmWeight: 5, Goal: Goals["default"]}
	b := a
	b.Goal = "go down the stairs"
	if harmKey("m", a, "You die...") != harmKey("m", b, "You die...") {
		t.Error("built-in harm question keyed apart for two goals; it never reads the goal")
	}
	if harmKey("m", a, "You die...") == harmKey("m", a, "You kill the newt!") || harmKey("m", a, "x") == harmKey("m2", a, "x") {
		t.Error("harm keys collide across captions or models")
	}
	if key("m", a, "x", "") == key("m", b, "x", "") {
		t.Error("the rating's key ignores the goal")
	}
	g, err := ParseTemplate("goal-harm", `Goal: {{.Goal}}. Was the hero harmed in "{{.Message}}"? Answer yes or no.`)
	if err != nil {
		t.Fatal(err)
	}
	a.Harm, b.Harm = g, g
	if harmKey("m", a, "x") == harmKey("m", b, "x") {
		t.Error("a harm template that reads the goal shares one key across goals")
	}
}
