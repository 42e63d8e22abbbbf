package motif

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func TestReadEvalPairsRejects(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"columns", "a\tb\n", "line 1: 2 tab-separated columns"},
		{"five columns", "# c\na\tb\t1\tkill\textra\n", "line 2: 5 tab-separated columns"},
		{"preferred", "a\tb\t3\n", `line 1: preferred is "3"`},
		{"preferred word", "\n\na\tb\tfirst\n", "line 3: preferred is"},
		{"both empty", "\t\t1\n", "line 1: empty captions on both sides"},
		{"identical", "You kill the newt!\tYou kill the newt!\t2\n", "line 1: identical captions"},
		{"too long", "a\t" + strings.Repeat("x", 300) + "\t1\n", "line 1: a caption of 300 bytes"},
		{"no pairs", "# only a comment\n\n", "holds no pairs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadEvalPairs(strings.NewReader(c.in), "set.tsv")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "set.tsv") {
				t.Errorf("got %v, want an error naming set.tsv and %q", err, c.want)
			}
		})
	}
}

func TestReadEvalPairs(t *testing.T) {
	in := "# comment\n\nYou kill the newt!\t\t1\tkill\r\n\tThe jackal bites!\t1\n"
	got, err := ReadEvalPairs(strings.NewReader(in), "x")
	if err != nil {
		t.Fatal(err)
	}
	want := []EvalPair{{First: "You kill the newt!", Second: "", Preferred: First, Category: "kill", Line: 3},
		{First: "", Second: "The jackal bites!", Preferred: First, Line: 4}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestDefaultEvalSet checks the shipped set's promises: at least 200 pairs, every category
// the issue names, each order of preference equally often, no pair twice.
func TestDefaultEvalSet(t *testing.T) {
	pairs, err := DefaultEvalPairs()
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) < 200 {
		t.Errorf("%d pairs, want at least 200", len(pairs))
	}
	cats, first, empty := map[string]int{}, 0, 0
	seen := map[[2]string]bool{}
	for _, p := range pairs {
		cats[p.Category]++
		if p.Preferred == First {
			first++
		}
		if p.First == "" || p.Second == "" {
			empty++
		}
		k := [2]string{min(p.First, p.Second), max(p.First, p.Second)}
		if seen[k] {
			t.Errorf("line %d: the pair %q / %q appears twice", p.Line, p.First, p.Second)
		}
		seen[k] = true
	}
	for _, c := range []string{"kill", "gold", "item", "descend", "levelup", "eat", "danger", "pet", "altar"} {
		if cats[c] < 10 {
			t.Errorf("category %s has %d pairs, want at least 10", c, cats[c])
		}
	}
	if 2*first != len(pairs) {
		t.Errorf("%d of %d pairs prefer the first caption; want half", first, len(pairs))
	}
	if empty < 20 {
		t.Errorf("%d pairs hold an empty caption, want at least 20", empty)
	}
}

// TestRateAnswer checks the pointwise rating against a hand-computed example: p(7) = 0.5,
// p(8) = 0.25, p(" 3") = 0.05 and a non-digit token: mass 0.8, rating (3.5 + 2 + 0.15) / 0.8.
func TestRateAnswer(t *testing.T) {
	top := map[string]float64{"7": math.Log(0.5), "8": math.Log(0.25), " 3": math.Log(0.05), "The": math.Log(0.2),
		"10": math.Log(0.01), "9": math.NaN(), "2": math.Inf(1), "1": 1e308}
	r, mass, ok := RateAnswer(top)
	if !ok || math.Abs(mass-0.8) > 1e-12 || math.Abs(r-7.0625) > 1e-12 {
		t.Errorf("got rating %v mass %v ok %v, want 7.0625, 0.8, true", r, mass, ok)
	}
	if _, mass, ok := RateAnswer(map[string]float64{"The": -0.01, "5": math.Log(0.04)}); ok || math.Abs(mass-0.04) > 1e-12 {
		t.Errorf("mass %v below MinRatingMass: got ok %v", mass, ok)
	}
	if _, _, ok := RateAnswer(nil); ok {
		t.Error("no tokens: got ok")
	}
}

func TestScoreAnswerIgnoresGarbage(t *testing.T) {
	m, ok := ScoreAnswer(map[string]float64{"1": 1e308, "2": -0.5})
	if !ok || m != -50 {
		t.Errorf("got %v %v, want -50 (only 2 is valid), true", m, ok)
	}
	if _, ok := ScoreAnswer(map[string]float64{"1": math.Inf(1), "2": math.NaN()}); ok {
		t.Error("no valid log-probability: got ok")
	}
}

// offlineJudge is a client whose server is never contacted (every answer is already in the
// journal it comes with) and an empty journal in a temporary folder.
func offlineJudge(t *testing.T) (*llm.Client, *Journal) {
	t.Helper()
	c, err := llm.New(llm.Options{URLs: []string{"http://127.0.0.1:1/v1"}, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return c, j
}

// TestPointwiseLabels runs Annotate in pointwise mode over answers already in its journal (no
// request is sent: the server's URL is never contacted): identical captions are ties, the
// ratings decide the rest with the tie margin, and an unrated caption makes its pairs unknown.
func TestPointwiseLabels(t *testing.T) {
	c, j := offlineJudge(t)
	tp, err := LoadTemplate("rate")
	if err != nil {
		t.Fatal(err)
	}
	o := AnnotateOptions{Template: tp, Goal: "g", Mode: Pointwise, TieMargin: 0.5}
	for cap, a := range map[string]Answer{"kill": {Rating: 8, OK: true}, "wall": {Rating: 5, OK: true},
		"wall2": {Rating: 5.4, OK: true}, "bite": {Rating: 2, OK: true}, "junk": {OK: false}} {
		a.Key = key("m", o, cap, "")
		if err := j.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	pairs := [][2]string{{"kill", "wall"}, {"wall", "kill"}, {"wall", "wall2"}, {"bite", "wall2"}, {"kill", "kill"}, {"junk", "kill"}}
	labels, s, err := Annotate(context.Background(), c, j, pairs, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []int8{First, Second, Tie, Second, Tie, Unknown}
	for i := range want {
		if labels[i] != want[i] {
			t.Errorf("pair %v: got %s, want %s", pairs[i], LabelName(labels[i]), LabelName(want[i]))
		}
	}
	if s.Asked != 0 || s.Rated != 5 || s.Cached != 5 || s.RatedUnknown != 1 || s.PositionBias != 0 {
		t.Errorf("summary %+v: want 0 asked, 5 rated and cached, 1 unrated, no position bias", s)
	}
	// A pairwise template in pointwise mode is refused, naming the right one.
	pw, _ := LoadTemplate("judge")
	o.Template = pw
	if _, _, err := Annotate(context.Background(), c, j, pairs, o); err == nil || !strings.Contains(err.Error(), "rate") {
		t.Errorf("pairwise template in pointwise mode: got %v", err)
	}
}

// TestHarmAnswer checks the harm aspect's reading against a hand-computed example: p("Yes") =
// 0.3 and p(" yes") = 0.2 (the likelier spelling counts: 0.3), p("no") = 0.45: mass 0.75,
// p(harm) 0.3 / 0.75 = 0.4.
func TestHarmAnswer(t *testing.T) {
	top := map[string]float64{"Yes": math.Log(0.3), " yes": math.Log(0.2), "no": math.Log(0.45), "maybe": math.Log(0.05), "No": math.NaN()}
	p, mass, ok := HarmAnswer(top)
	if !ok || math.Abs(mass-0.75) > 1e-12 || math.Abs(p-0.4) > 1e-12 {
		t.Errorf("got p %v mass %v ok %v, want 0.4, 0.75, true", p, mass, ok)
	}
	if _, _, ok := HarmAnswer(map[string]float64{"The": -0.01, "yes": math.Log(0.01)}); ok {
		t.Error("mass 0.01 below MinRatingMass: got ok")
	}
}

// TestPointwiseHarmLabels runs Annotate with the harm aspect over answers already in its
// journal (no request is sent). Hand-computed with weight 5 and margin 0.1: "bite" rates 4.6
// with p(harm) 0.6, so 4.6 - 3 = 1.6; "wall" 4.2 - 5 * 0.1 = 3.7; "kill" 8 - 5 * 0.5 = 5.5;
// "pet" 4.4 - 5 * 0.14 = 3.7 (a tie with "wall"); "odd" has no harm answer and keeps 4.5.
// Without the aspect "bite" (4.6) would beat "wall" (4.2).
func TestPointwiseHarmLabels(t *testing.T) {
	c, j := offlineJudge(t)
	tp, _ := LoadTemplate("rate")
	harm, err := LoadTemplate("harm")
	if err != nil {
		t.Fatal(err)
	}
	o := AnnotateOptions{Template: tp, Goal: "g", Mode: Pointwise, TieMargin: 0.1, Harm: harm, HarmWeight: 5}
	for _, a := range []struct {
		cap          string
		rating, harm float64
		harmOK       bool
	}{{"bite", 4.6, 0.6, true}, {"wall", 4.2, 0.1, true}, {"kill", 8, 0.5, true}, {"pet", 4.4, 0.14, true}, {"odd", 4.5, 0, false}} {
		if err := j.Add(Answer{Key: key("m", o, a.cap, ""), Rating: a.rating, Mass: 1, OK: true}); err != nil {
			t.Fatal(err)
		}
		if err := j.Add(Answer{Key: harmKey("m", o, a.cap), Harm: a.harm, Mass: 0.9, OK: a.harmOK}); err != nil {
			t.Fatal(err)
		}
	}
	pairs := [][2]string{{"bite", "wall"}, {"wall", "kill"}, {"pet", "wall"}, {"odd", "kill"}, {"bite", "odd"}}
	labels, s, err := Annotate(context.Background(), c, j, pairs, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []int8{Second, Second, Tie, Second, Second}
	for i := range want {
		if labels[i] != want[i] {
			t.Errorf("pair %v: got %s, want %s", pairs[i], LabelName(labels[i]), LabelName(want[i]))
		}
	}
	if s.Asked != 0 || s.Rated != 5 || s.Cached != 10 || s.HarmUnknown != 1 {
		t.Errorf("summary %+v: want 0 asked, 5 rated, 10 cached (a rating and a harm answer each), 1 harm unanswered", s)
	}
	// The same journal without the aspect: the ratings alone.
	o.Harm, o.HarmWeight = nil, 0
	if labels, _, _ := Annotate(context.Background(), c, j, pairs[:1], o); labels[0] != First {
		t.Errorf("without the harm aspect: got %s, want first (4.6 > 4.2)", LabelName(labels[0]))
	}
	// A weight without a template, or outside pointwise mode, is refused.
	for _, bad := range []AnnotateOptions{{Template: tp, Mode: Pointwise, HarmWeight: 5},
		{Template: tp, Mode: Scored, Harm: harm, HarmWeight: 5}, {Template: tp, Mode: Pointwise, Harm: harm, HarmWeight: -1}} {
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "HarmWeight") {
			t.Errorf("%+v: got %v, want an error naming HarmWeight", bad, err)
		}
	}
}

// TestHeldOutEvalSet checks the held-out set: readable, each order of preference about equally
// often, and not one caption shared with the main set (so that what was tuned on the main set
// is measured on messages it never saw).
func TestHeldOutEvalSet(t *testing.T) {
	main, err := DefaultEvalPairs()
	if err != nil {
		t.Fatal(err)
	}
	held, err := HeldOutEvalPairs()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, p := range main {
		used[p.First], used[p.Second] = true, true
	}
	first := 0
	for _, p := range held {
		for _, c := range []string{p.First, p.Second} {
			if c != "" && used[c] {
				t.Errorf("line %d: %q is also in the main set", p.Line, c)
			}
		}
		if p.Preferred == First {
			first++
		}
	}
	if len(held) < 100 || math.Abs(float64(2*first-len(held))) > 1 {
		t.Errorf("%d pairs, %d preferring the first: want at least 100, half each way", len(held), first)
	}
}

// TestTransitionEvalSets checks the skills' transition sets: every caption is a transition
// caption, each order of preference about equally often, and each pair's answer follows from
// its category's rule on the diffstats (0 depth, 1 gold, 2 HP, 3 XP level, 4 hunger).
func TestTransitionEvalSets(t *testing.T) {
	same := func(d [5]float32) bool { return d == [5]float32{} }
	rules := map[string]func(good, bad [5]float32) bool{
		"descend": func(g, b [5]float32) bool { return g[0] == 1 && g[2] >= 0 && same(b) },
		"danger":  func(g, b [5]float32) bool { return same(g) && b[2] <= -4 && b[1] <= 0 && b[3] <= 0 },
		"gain":    func(g, b [5]float32) bool { return g[0] == 0 && g[2] >= 0 && g[4] <= 0 && same(b) },
		"stay":    func(g, b [5]float32) bool { return same(g) && b[0] == 1 },
	}
	for _, skill := range []string{"descender", "discoverer"} {
		path := filepath.Join("testdata", "transitions-"+skill+".tsv")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		pairs, err := ReadEvalPairs(f, path)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		first := 0
		for _, p := range pairs {
			good, bad := p.First, p.Second
			if p.Preferred == Second {
				good, bad = bad, good
			} else {
				first++
			}
			_, _, dg, ok1 := ParseTransitionCaption(good)
			_, _, db, ok2 := ParseTransitionCaption(bad)
			rule, known := rules[p.Category]
			switch {
			case !ok1 || !ok2:
				t.Errorf("%s line %d: not two transition captions", path, p.Line)
			case !known:
				t.Errorf("%s line %d: category %q has no rule", path, p.Line, p.Category)
			case !rule(dg, db):
				t.Errorf("%s line %d: %s pair with diffstats %v preferred over %v breaks its rule", path, p.Line, p.Category, dg, db)
			}
		}
		if len(pairs) < 50 || math.Abs(float64(2*first-len(pairs))) > 1 {
			t.Errorf("%s: %d pairs, %d preferring the first: want at least 50, half each way", path, len(pairs), first)
		}
	}
}

func TestReadProbeFacts(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"pets\tfact\tkitten\n", "line 1: 3 tab-separated columns"},
		{"pets\tmaybe\tkitten\tkitten\n", `line 1: kind "maybe"`},
		{"# x\n\tfact\tkitten\tkitten\n", "line 2: no topic"},
		{"pets\tfact\tkitten\tkit(ten\n", "line 1: pattern"},
		{"# nothing\n", "holds no facts"},
	} {
		if _, err := ReadProbeFacts(strings.NewReader(c.in), "f.tsv"); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.tsv") {
			t.Errorf("%q: got %v, want an error naming f.tsv and %q", c.in, err, c.want)
		}
	}
	facts, err := DefaultProbeFacts()
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]int{}
	for _, f := range facts {
		if !f.False {
			topics[f.Topic]++
		}
	}
	for _, want := range []string{"the Gnomish Mines", "Elbereth", "prayer", "shops", "pets", "corpses", "stairs"} {
		if topics[want] < 3 {
			t.Errorf("topic %q has %d facts, want at least 3", want, topics[want])
		}
	}
}

// TestScoreProbe scores a hand-written account: of the three facts two are stated, and one of
// the four lines makes the false claim.
func TestScoreProbe(t *testing.T) {
	facts, err := ReadProbeFacts(strings.NewReader("pets\tfact\tkitten\tkitten|little dog\n"+
		"pets\tfact\tsteal\tsteal\npets\tfact\tgrow\tgrow\npets\tfalse\timmortal\tpets? (cannot|never) die\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	answer := "- You start with a Kitten.\n\n- Pets cannot die.\n- Pets can steal from shops.\n- Feed them."
	got := scoreProbe("pets", facts, answer)
	if got.Facts != 3 || got.Recalled != 2 || got.Claims != 4 || got.Contradicted != 1 || len(got.Missed) != 1 || got.Missed[0] != "grow" {
		t.Errorf("got %+v; want 3 facts, 2 recalled, 4 claims, 1 contradicted, grow missed", got)
	}
}

// FuzzReadEvalPairs: any input either fails with an error naming the file or gives pairs that
// keep the reader's promises (two different captions of at most 256 bytes, preferred 1 or 2).
func FuzzReadEvalPairs(f *testing.F) {
	f.Add("a\tb\t1\tkill\n")
	f.Add("# c\n\tThe jackal bites!\t1\n")
	f.Add("a\ta\t2\n")
	f.Add("a\tb\t3\nx")
	f.Fuzz(func(t *testing.T, in string) {
		pairs, err := ReadEvalPairs(strings.NewReader(in), "fuzz.tsv")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.tsv") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for _, p := range pairs {
			if p.First == p.Second || len(p.First) > 256 || len(p.Second) > 256 || (p.Preferred != First && p.Preferred != Second) {
				t.Fatalf("line %d: %+v", p.Line, p)
			}
		}
	})
}

// FuzzReadProbeFacts: any input either fails naming the file or gives facts with a topic and
// a compiled pattern.
func FuzzReadProbeFacts(f *testing.F) {
	f.Add("pets\tfact\tkitten\tkitten|dog\n")
	f.Add("pets\tfalse\tx\t(\n")
	f.Fuzz(func(t *testing.T, in string) {
		facts, err := ReadProbeFacts(strings.NewReader(in), "fuzz.tsv")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.tsv") {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for _, x := range facts {
			if x.Topic == "" || x.Pattern == nil {
				t.Fatalf("line %d: %+v", x.Line, x)
			}
		}
	})
}

// TestJournalDropsImpossibleAnswers: a journal line with a label outside 0..3 (which indexed
// past the label counts and panicked before), a rating off the 1-9 scale or a mass above 1 is
// dropped and counted, so its request is asked again; sound lines stay.
func TestJournalDropsImpossibleAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	lines := `{"k":"a","l":7,"ok":true}
{"k":"b","l":3,"s":42,"p":0.9,"ok":true}
{"k":"c","l":3,"s":6.5,"p":1.7,"ok":true}
{"k":"d","l":-1,"ok":true}
{"k":"e","l":0,"ok":true}
{"k":"f","l":3,"s":6.5,"p":0.8,"ok":true}
{"k":"g","l":3,"m":-3.25,"ok":true}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.Len() != 3 || j.Invalid() != 4 {
		t.Errorf("got %d answers and %d invalid, want 3 and 4", j.Len(), j.Invalid())
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, ok := j.Get(k); ok {
			t.Errorf("impossible answer %s kept", k)
		}
	}
	if a, ok := j.Get("f"); !ok || a.Rating != 6.5 {
		t.Errorf("sound answer f: %+v %v", a, ok)
	}
}

// TestJournalSkipsNonFiniteAnswers: an answer with an infinite margin (scored-mode
// log-probabilities of +-1e308 once ended every rerun with "json: unsupported value: +Inf") is
// unknown for this run and not journaled, so a rerun asks again; the journal stays readable.
func TestJournalSkipsNonFiniteAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Answer{{Key: "inf", Margin: math.Inf(1), OK: true}, {Key: "nan", Rating: math.NaN(), Mass: 0.5, OK: true}, {Key: "ok", Margin: 2.5, OK: true}} {
		if err := j.Add(a); err != nil {
			t.Fatalf("Add(%s): %v", a.Key, err)
		}
	}
	if a, _ := j.Get("inf"); a.OK || a.Label != Unknown {
		t.Errorf("an infinite margin gave %+v; want an unknown answer", a)
	}
	j.Close()
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	_, inf := j.Get("inf")
	_, nan := j.Get("nan")
	if a, ok := j.Get("ok"); inf || nan || !ok || a.Margin != 2.5 {
		t.Errorf("reopened journal: inf %v nan %v ok %+v; want only the finite answer", inf, nan, a)
	}
}

// TestLoadDatasetChecksLeaves: a pair file whose message leaf holds 10 bytes per row instead of
// 256 (PairCaptions and TrainRewardModel indexed past it and panicked), blstats of another
// dtype, or a label outside 0..3 is refused at load, naming the leaf and both shapes.
func TestLoadDatasetChecksLeaves(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, key string
		leaf      *tensor.Tensor
		want      string
	}{
		{"short message", "first/message", tensor.Zeros(tensor.Uint8, 3, 10), "leaf first/message is uint8 [3 10]"},
		{"blstats dtype", "second/blstats", tensor.Zeros(tensor.Float32, 3, 27), "leaf second/blstats is float32"},
		{"label", "label", tensor.Of([]int8{0, 7, 1}, 3), "label 7 of pair 1 is outside 0..3"},
		{"tty", "first/tty_chars", tensor.Zeros(tensor.Uint8, 3, 24, 79), "[3 24 79]"},
		{"NaN diffstats", "second/diffstats", tensor.Of([]float32{0, 0, 0, 0, 0, 0, 0, float32(math.NaN()), 0, 0, 0, 0, 0, 0, 0}, 3, 5), "second/diffstats holds NaN at row 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := tensordict.New(3)
			if err := d.Set(c.key, c.leaf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, c.name+".mtd")
			if err := SaveDataset(path, KindPairs, d); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDataset(path, KindPairs)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want an error naming %s and %q", err, path, c.want)
			}
		})
	}
	good := tensordict.New(2)
	good.Set("first/message", tensor.Zeros(tensor.Uint8, 2, 256))
	good.Set("label", tensor.Of([]int8{0, 3}, 2))
	path := filepath.Join(dir, "good.mtd")
	if err := SaveDataset(path, KindPairs, good); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDataset(path, KindPairs); err != nil {
		t.Errorf("a sound file: %v", err)
	}
}
