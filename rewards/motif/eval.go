package motif

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/nn"
)

// EvalPair is a caption pair whose answer is known: which caption a judge that follows the
// goal must prefer.
type EvalPair struct {
	First, Second string
	// Preferred is First or Second.
	Preferred int8
	// Category groups pairs in reports ("kill", "gold", ...); "" when the file has none.
	Category string
	// Line is the pair's line in its file (1-based).
	Line int
}

// DefaultEvalName names the shipped evaluation set in reports.
const DefaultEvalName = "rewards/motif/testdata/judge-eval.tsv"

//go:embed testdata/judge-eval.tsv
var defaultEval []byte

// DefaultEvalPairs returns the shipped evaluation set: caption pairs of real NLE messages
// (from Maestro's own collected games) whose preference under Motif's default goal is
// obvious, hand-checked, covering Motif's categories, each order of preference equally
// often. It is a test of the judge, never training data.
func DefaultEvalPairs() ([]EvalPair, error) {
	return ReadEvalPairs(bytes.NewReader(defaultEval), DefaultEvalName)
}

// HeldOutEvalName names the shipped held-out set in reports.
const HeldOutEvalName = "rewards/motif/testdata/judge-heldout.tsv"

//go:embed testdata/judge-heldout.tsv
var heldOutEval []byte

// HeldOutEvalPairs returns the shipped held-out set: pairs of the same categories drawn by
// fixed patterns from other games' messages, none of them in the main set, so that a
// template, protocol or weight chosen on the main set's results is measured on messages it
// was not tuned on.
func HeldOutEvalPairs() ([]EvalPair, error) {
	return ReadEvalPairs(bytes.NewReader(heldOutEval), HeldOutEvalName)
}

// ReadEvalPairs reads an evaluation set: one pair per line, tab-separated
//
//	caption1 <TAB> caption2 <TAB> preferred [<TAB> category]
//
// with preferred 1 or 2; an empty field is an empty caption. Blank lines and lines starting
// with # are skipped. Errors name the file (name) and the line: a wrong column count, a
// preferred value other than 1 or 2, two identical captions (no answer to know), a caption
// longer than NLE's 256-byte message.
func ReadEvalPairs(r io.Reader, name string) ([]EvalPair, error) {
	var out []EvalPair
	err := scanTSV(r, name, func(n int, f []string) error {
		if len(f) != 3 && len(f) != 4 {
			return fmt.Errorf("%d tab-separated columns; want caption1, caption2, preferred (1 or 2) and optionally a category", len(f))
		}
		p := EvalPair{First: strings.TrimSpace(f[0]), Second: strings.TrimSpace(f[1]), Line: n}
		switch strings.TrimSpace(f[2]) {
		case "1":
			p.Preferred = First
		case "2":
			p.Preferred = Second
		default:
			return fmt.Errorf("preferred is %q; want 1 (the first caption) or 2 (the second)", f[2])
		}
		if len(f) == 4 {
			p.Category = strings.TrimSpace(f[3])
		}
		if p.First == p.Second {
			what := fmt.Sprintf("identical captions %q", p.First)
			if p.First == "" {
				what = "empty captions on both sides"
			}
			return fmt.Errorf("%s; a pair needs two different captions to have a known answer", what)
		}
		for _, c := range []string{p.First, p.Second} {
			what, msgs := "a caption", []string{c}
			if prev, cur, _, ok := ParseTransitionCaption(c); ok { // MaestroMotif's: two messages
				what, msgs = "a transition caption with a message", []string{prev, cur}
			}
			for _, m := range msgs {
				if len(m) > nethack.MessageLen {
					return fmt.Errorf("%s of %d bytes; NLE's messages hold at most %d", what, len(m), nethack.MessageLen)
				}
			}
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("motif: %s holds no pairs (lines: caption1<TAB>caption2<TAB>1 or 2)", name)
	}
	return out, nil
}

// scanTSV calls each with the tab-separated fields of every line of r that is neither blank
// nor a # comment, numbering lines from 1; an error from each is returned naming the file
// (name) and the line.
func scanTSV(r io.Reader, name string, each func(line int, fields []string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := each(n, strings.Split(line, "\t")); err != nil {
			return fmt.Errorf("motif: %s line %d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("motif: %s: %w", name, err)
	}
	return nil
}

// EvalCategory counts one category's results.
type EvalCategory struct {
	Name         string `json:"name"`
	Pairs        int    `json:"pairs"`
	Right        int    `json:"right"`
	Wrong        int    `json:"wrong"`
	Undecided    int    `json:"undecided"` // tie or unknown
	JudgeUnknown int    `json:"unknown"`
}

// JudgeEval is a judge's result on an evaluation set.
type JudgeEval struct {
	Model string `json:"model"`
	Mode  string `json:"mode"`
	// Accuracy is right / all pairs: a tie or an unknown answer counts as wrong.
	Accuracy float64 `json:"accuracy"`
	// Decisive is the share of pairs labelled first or second (not tie, not unknown).
	Decisive     float64 `json:"decisive"`
	PositionBias float64 `json:"position_bias"`
	Seconds      float64 `json:"seconds"`
	// PairsPerSec is pairs / Seconds, 0 when every answer came from the journal.
	PairsPerSec float64 `json:"pairs_per_second"`
	// Labels are the judge's labels in the set's order.
	Labels     []int8         `json:"labels"`
	Categories []EvalCategory `json:"categories"`
	Summary    Summary        `json:"summary"`
	// Ratings are the pointwise ratings by caption (pointwise mode; unrated captions absent).
	Ratings map[string]float64 `json:"ratings,omitempty"`
	// Harm are the harm aspect's p(yes) by caption (with a harm template; unanswered absent):
	// the labels compared Ratings - HarmWeight * Harm.
	Harm map[string]float64 `json:"harm,omitempty"`
}

// EvalJudge labels the pairs with the judge through Annotate (the same template, goal, mode,
// journal and combination of both orders as `annotate label`) and scores the labels against
// the known answers. The time counts only the requests sent (answers found in j cost none).
func EvalJudge(ctx context.Context, c *llm.Client, j *Journal, pairs []EvalPair, o AnnotateOptions) (JudgeEval, error) {
	caps := make([][2]string, len(pairs))
	for i, p := range pairs {
		caps[i] = [2]string{p.First, p.Second}
	}
	start := time.Now()
	labels, sum, err := Annotate(ctx, c, j, caps, o)
	el := time.Since(start).Seconds()
	if err != nil {
		return JudgeEval{}, err
	}
	mode := o.Mode
	if mode == "" {
		mode = Generative
	}
	e := JudgeEval{Model: c.Model(), Mode: mode, PositionBias: sum.PositionBias, Seconds: el, Labels: labels, Summary: sum}
	if sum.Asked > 0 && el > 0 { // a rate only when the judge was asked (not all from the journal)
		e.PairsPerSec = float64(len(pairs)) / el
	}
	if mode == Pointwise {
		e.Ratings = map[string]float64{}
		for _, p := range caps {
			for _, c1 := range p {
				if a, ok := j.Get(key(c.Model(), o, c1, "")); ok && a.OK {
					e.Ratings[c1] = a.Rating
				}
				if !o.harmed() {
					continue
				}
				if e.Harm == nil {
					e.Harm = map[string]float64{}
				}
				if a, ok := j.Get(harmKey(c.Model(), o, c1)); ok && a.OK {
					e.Harm[c1] = a.Harm
				}
			}
		}
	}
	right, decisive := 0, 0
	cats := map[string]*EvalCategory{}
	for i, p := range pairs {
		cat := category(cats, p.Category)
		switch l := labels[i]; {
		case l == p.Preferred:
			right++
			decisive++
			cat.Right++
		case l == First || l == Second:
			decisive++
			cat.Wrong++
		default:
			cat.Undecided++
			if l == Unknown {
				cat.JudgeUnknown++
			}
		}
	}
	e.Accuracy = float64(right) / float64(len(pairs))
	e.Decisive = float64(decisive) / float64(len(pairs))
	e.Categories = sortedCategories(cats)
	return e, nil
}

// category returns the counts of a category, created on first use, with one more pair.
func category(m map[string]*EvalCategory, name string) *EvalCategory {
	c := m[name]
	if c == nil {
		c = &EvalCategory{Name: name}
		m[name] = c
	}
	c.Pairs++
	return c
}

func sortedCategories(m map[string]*EvalCategory) []EvalCategory {
	out := make([]EvalCategory, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b EvalCategory) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// RewardModelEval is a reward model's result on an evaluation set.
type RewardModelEval struct {
	// Accuracy is the share of pairs whose preferred caption the model scores strictly higher.
	Accuracy   float64        `json:"accuracy"`
	Categories []EvalCategory `json:"categories"`
	// Scores are the raw rewards r(first), r(second) of each pair.
	Scores [][2]float32 `json:"-"`
}

// EvalRewardModel scores both captions of every pair with m and counts the pairs whose
// preferred caption gets the strictly higher reward. MaestroMotif's diffstats models score
// transitions: every caption must then be a transition caption (TransitionCaption's form, as
// in rewards/motif/testdata/transitions-*.tsv), scored by its current message and diffstats
// as the model sees them in play; a Motif model scores single captions.
func EvalRewardModel(m *RewardModel, pairs []EvalPair) (RewardModelEval, error) {
	const L, D = nethackagent.MessageLen, nethackagent.DiffStats
	msgs := make([]uint8, 2*len(pairs)*L)
	var diff []float32
	if m.UsesDiffStats() {
		diff = make([]float32, 2*len(pairs)*D)
	}
	for i, p := range pairs {
		for s, c := range []string{p.First, p.Second} {
			j := 2*i + s
			if diff == nil {
				if _, _, _, ok := ParseTransitionCaption(c); ok {
					return RewardModelEval{}, fmt.Errorf("motif: evaluation line %d holds transition captions but the reward model scores single captions (Motif's); a transition set needs a diffstats model (a skill's, trained on pairs from annotate pairs --delta)", p.Line)
				}
				copy(msgs[j*L:(j+1)*L], c)
				continue
			}
			_, cur, d, ok := ParseTransitionCaption(c)
			if !ok {
				return RewardModelEval{}, fmt.Errorf("motif: evaluation line %d: %q is not a transition caption, and the reward model scores transitions (MaestroMotif's diffstats model); evaluate it on a transition set such as rewards/motif/testdata/transitions-descender.tsv", p.Line, c)
			}
			copy(msgs[j*L:(j+1)*L], cur)
			copy(diff[j*D:(j+1)*D], d[:])
		}
	}
	r := make([]float32, 2*len(pairs))
	g := nn.NewGraph()
	g.SetNoGrad(true)
	m.Score(g, msgs, diff, r)
	e := RewardModelEval{Scores: make([][2]float32, len(pairs))}
	right := 0
	cats := map[string]*EvalCategory{}
	for i, p := range pairs {
		cat := category(cats, p.Category)
		a, b := r[2*i], r[2*i+1]
		e.Scores[i] = [2]float32{a, b}
		if p.Preferred == Second {
			a, b = b, a
		}
		switch {
		case a > b:
			right++
			cat.Right++
		case a < b:
			cat.Wrong++
		default:
			cat.Undecided++
		}
	}
	e.Accuracy = float64(right) / float64(len(pairs))
	e.Categories = sortedCategories(cats)
	return e, nil
}
