package motif

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// Labels of a pair, as Motif stores them (int8).
const (
	First   int8 = 0 // the first observation is preferred
	Second  int8 = 1 // the second is preferred
	Tie     int8 = 2 // neither
	Unknown int8 = 3 // no usable answer
)

// LabelName names a label.
func LabelName(l int8) string {
	switch l {
	case First:
		return "first"
	case Second:
		return "second"
	case Tie:
		return "tie"
	}
	return "unknown"
}

// Goals are the goal variants of Motif's prompt: the player's goal as the judge is told it.
var Goals = map[string]string{
	"default":        "play well and reach a high in-game score: defeat monsters, pick up gold and useful items, and go down the stairs to deeper dungeon levels.",
	"zero-knowledge": "",
	"combat":         "fight and defeat monsters. Prefer messages about combat and kills; never prefer messages about gold or about taking the stairs.",
	"gold":           "collect as much gold as possible. Prefer messages about finding or picking up gold; never prefer messages about fighting or taking the stairs.",
	"stairs":         "go down the stairs to deeper levels as fast as possible. Prefer messages about stairs and new levels; never prefer messages about fighting or gold.",
}

// GoalNames lists the goal variants in a fixed order.
func GoalNames() []string {
	names := make([]string, 0, len(Goals))
	for k := range Goals {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Answer modes.
const (
	// Generative: the model reasons, then ends with "best_message: 1 | 2 | None".
	Generative = "generative"
	// Scored: one token; the log-probabilities of "1" and "2" decide (for small models).
	Scored = "scored"
	// Pointwise: each distinct caption is rated once on a 1-9 scale; its rating is the
	// expected value of the answer token's distribution over the digits (G-Eval's scoring),
	// and a pair is labelled by comparing its two ratings with a tie margin. No position
	// bias, and one request per distinct caption instead of two per pair.
	Pointwise = "pointwise"
)

// Modes lists the answer modes.
var Modes = []string{Generative, Scored, Pointwise}

// DefaultTemplate names the built-in template of a mode and pair kind: "rate" (or
// "rate-transition") for Pointwise, "judge" (or "judge-transition") otherwise.
func DefaultTemplate(mode string, transitions bool) string {
	name := "judge"
	if mode == Pointwise {
		name = "rate"
	}
	if transitions {
		name += "-transition"
	}
	return name
}

//go:embed prompts/*.tmpl
var builtin embed.FS

// Template is a prompt template: a text/template with the slots .Goal, .First, .Second and
// .Answer ("generative" or "scored") for a pairwise template, or .Goal and .Message for a
// pointwise one (Pointwise mode: one caption rated at a time).
type Template struct {
	Name string // "judge", "judge-reworded", "rate", ... or the file's path
	Text string
	// Pointwise: the template rates one caption (.Message) instead of comparing two.
	Pointwise bool
	t         *template.Template
}

// BuiltinTemplates lists the templates shipped with Maestro ("judge", "judge-reworded").
func BuiltinTemplates() []string {
	ents, _ := builtin.ReadDir("prompts")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".tmpl"))
	}
	return names
}

// LoadTemplate returns a built-in template by name or reads a template file (copy one of
// rewards/motif/prompts/*.tmpl to start). A template must use .First and .Second (pairwise)
// or .Message (pointwise).
func LoadTemplate(nameOrPath string) (*Template, error) {
	var text []byte
	var err error
	if !strings.ContainsAny(nameOrPath, "/.") {
		text, err = builtin.ReadFile("prompts/" + nameOrPath + ".tmpl")
		if err != nil {
			return nil, fmt.Errorf("motif: no built-in template %q (built-in: %s); or pass a file path", nameOrPath, strings.Join(BuiltinTemplates(), ", "))
		}
	} else if text, err = os.ReadFile(nameOrPath); err != nil {
		return nil, fmt.Errorf("motif: template: %w", err)
	}
	return ParseTemplate(nameOrPath, string(text))
}

// ParseTemplate checks and compiles a template's text.
func ParseTemplate(name, text string) (*Template, error) {
	t, err := template.New(filepath.Base(name)).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("motif: template %s: %w", name, err)
	}
	tp := &Template{Name: name, Text: text, t: t}
	if strings.Contains(text, ".Message") {
		if strings.Contains(text, ".First") || strings.Contains(text, ".Second") {
			return nil, fmt.Errorf("motif: template %s mixes {{.Message}} (a pointwise template) with {{.First}}/{{.Second}} (a pairwise one); use one kind", name)
		}
		tp.Pointwise = true
	} else {
		for _, slot := range []string{".First", ".Second"} {
			if !strings.Contains(text, slot) {
				return nil, fmt.Errorf("motif: template %s never uses %s; a pairwise template needs the slots {{.First}} and {{.Second}} (and may use {{.Goal}} and {{.Answer}}); a pointwise one {{.Message}}", name, slot)
			}
		}
	}
	if _, err := tp.Render("g", "a", "b", Generative); err != nil {
		return nil, err
	}
	return tp, nil
}

// Suits says whether the template can be asked in mode: the mode must be one of Modes, and
// Pointwise needs a pointwise template ({{.Message}}), the others a pairwise one. The error
// names both and a built-in template that fits.
func (t *Template) Suits(mode string) error {
	if !slices.Contains(Modes, mode) {
		return fmt.Errorf("motif: unknown answer mode %q; use %s", mode, strings.Join(Modes, ", "))
	}
	kind := map[bool]string{true: "pointwise", false: "pairwise"}
	if t.Pointwise != (mode == Pointwise) {
		return fmt.Errorf("motif: template %s is %s but mode %s needs a %s one (e.g. %s): pointwise mode rates one caption ({{.Message}}), the others compare two ({{.First}}, {{.Second}})",
			t.Name, kind[t.Pointwise], mode, kind[mode == Pointwise], DefaultTemplate(mode, false))
	}
	return nil
}

// Render fills the template. A pointwise template reads first as .Message.
func (t *Template) Render(goal, first, second, answer string) (string, error) {
	var b bytes.Buffer
	err := t.t.Execute(&b, struct{ Goal, First, Second, Message, Answer string }{goal, first, second, first, answer})
	if err != nil {
		return "", fmt.Errorf("motif: template %s: %w", t.Name, err)
	}
	return strings.TrimSpace(b.String()) + "\n", nil
}
