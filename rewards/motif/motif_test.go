package motif

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

var update = flag.Bool("update", false, "rewrite the golden prompt files in testdata/golden")

func TestParseAnswer(t *testing.T) {
	for _, c := range []struct {
		text string
		want int8
		ok   bool
	}{
		{"best_message: 1", First, true},
		{"Best_Message: 2", Second, true},
		{"BEST MESSAGE = None", Tie, true},
		{"best_description: 2", Second, true},
		{"Message 2 mentions gold.\n\nbest_message: 2\n", Second, true},
		{"```\nbest_message: 1\n```", First, true},
		{`{"best_message": 2}`, Second, true},
		{`{"best_message": "1"}`, First, true},
		{"**best_message**: 1", First, true},
		{"best-message:null", Tie, true},
		{"I must write best_message: 1 or 2. Message 2 is better.\nbest_message: 2", Second, true}, // the last one wins
		{"best_description: 1\nbest_message: 2", Second, true},
		{"best_message: 12", Unknown, false}, // not a choice
		{"Message 2 is better.", Unknown, false},
		{"", Unknown, false},
		{"best_message:", Unknown, false},
		{"best message 3", Unknown, false},
	} {
		got, ok := ParseAnswer(c.text)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseAnswer(%q) = %s, %v; want %s, %v", c.text, LabelName(got), ok, LabelName(c.want), c.ok)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{"best_message: 1", "```json\n{\"best_description\": 2}\n```", "best_message: None", "", "best"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := ParseAnswer(s)
		if ok != (l != Unknown) || l < First || l > Unknown {
			t.Fatalf("ParseAnswer(%q) = %d, %v", s, l, ok)
		}
		if ok && !strings.Contains(strings.ToLower(s), "best") {
			t.Fatalf("ParseAnswer(%q) found a choice without the key", s)
		}
	})
}

func TestScoreAnswer(t *testing.T) {
	if m, ok := ScoreAnswer(map[string]float64{" 1": -0.5, "2": -2, "The": -0.1}); !ok || math.Abs(m-1.5) > 1e-12 {
		t.Errorf("margin %v %v, want 1.5", m, ok)
	}
	if m, ok := ScoreAnswer(map[string]float64{"2": -3}); !ok || m != -50 {
		t.Errorf("only 2 listed: %v %v, want -50", m, ok)
	}
	if _, ok := ScoreAnswer(map[string]float64{"The": -0.1}); ok {
		t.Error("neither 1 nor 2 listed but ok")
	}
}

// TestPromptGolden renders every built-in template with every goal in both modes and compares
// with the files in testdata/golden (go test -run Golden -update rewrites them; review the
// diff).
func TestPromptGolden(t *testing.T) {
	for _, name := range BuiltinTemplates() {
		tp, err := LoadTemplate(name)
		if err != nil {
			t.Fatal(err)
		}
		modes := []string{Generative, Scored}
		if tp.Pointwise {
			modes = []string{Pointwise}
		}
		for _, goal := range GoalNames() {
			for _, mode := range modes {
				got, err := tp.Render(Goals[goal], "You see here 3 gold pieces.", "", mode)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", name+"_"+goal+"_"+mode+".txt")
				if *update {
					os.WriteFile(path, []byte(got), 0o644)
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -run Golden -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("%s changed:\n%s\nwant:\n%s", path, got, want)
				}
			}
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	if _, err := ParseTemplate("x.tmpl", "Compare {{.First}} with nothing"); err == nil || !strings.Contains(err.Error(), ".Second") {
		t.Errorf("template without .Second: %v", err)
	}
	if _, err := ParseTemplate("x.tmpl", "{{.First}} {{.Second}} {{.Score}}"); err == nil {
		t.Error("template with an unknown slot accepted")
	}
	if _, err := LoadTemplate("nosuch"); err == nil || !strings.Contains(err.Error(), "judge") {
		t.Errorf("unknown built-in: %v; want the list of built-ins", err)
	}
}

func TestCaption(t *testing.T) {
	msg := make([]uint8, 256)
	copy(msg, "  You kill the newt!  ")
	if c := Caption(msg); c != "You kill the newt!" {
		t.Errorf("Caption = %q", c)
	}
	if c := Caption(make([]uint8, 256)); c != "" {
		t.Errorf("empty message caption %q", c)
	}
}

func TestDatasetFiles(t *testing.T) {
	dir := t.TempDir()
	d := tensordict.New(3)
	d.Set("label", tensor.Of([]int8{0, 1, 2}))
	p := filepath.Join(dir, "pairs.mtd")
	if err := SaveDataset(p, KindPairs, d); err != nil {
		t.Fatal(err)
	}
	back, err := LoadDataset(p, KindPairs)
	if err != nil || back.BatchShape()[0] != 3 {
		t.Fatalf("%v %v", back, err)
	}
	if _, err := LoadDataset(p, KindObservations); err == nil || !strings.Contains(err.Error(), KindObservations) {
		t.Errorf("pairs read as observations: %v", err)
	}
	root := tensordict.New()
	root.Set("format", tensor.Scalar(int64(FormatVersion+1)))
	root.Set("kind", tensor.Of([]uint8(KindPairs)))
	root.SetDict("data", d)
	tensordict.SaveFile(p, root)
	if _, err := LoadDataset(p, KindPairs); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("a newer format read: %v", err)
	}
}
