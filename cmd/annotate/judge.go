package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/skills"
)

// Defaults of the judge, chosen by `annotate eval` on the shipped set (docs/judge.md).
const (
	defaultMode = motif.Pointwise
	// defaultPointwiseTie is the tie margin between two ratings (1-9 scale) in pointwise mode.
	defaultPointwiseTie = 0.1
	// defaultHarmWeight lowers a caption's rating by this times the judge's p(yes) that the hero
	// was harmed (pointwise mode, caption pairs). Chosen on the main set (annotate eval's
	// answers recombined: 0.829 at 0, 0.931 at 4, 0.939 at 5, 0.923 at 6) and checked on the
	// held-out set (0.835, 0.913, 0.921, 0.906). Transitions use it too: on the skills'
	// transition sets the judge scores 0.740 -> 0.900 (descender) and 0.583 -> 0.667
	// (discoverer) going from weight 0 to 5.
	defaultHarmWeight = 5
)

// judgeConfig holds the flags that choose and configure the judge, shared by label, eval and
// probe so that each asks the judge the same way.
type judgeConfig struct {
	urls, model, judge string
	mode, goal, tmpl   string
	tie                float64
	harmTmpl           string
	harmWeight         float64
}

// llmFlags are the flags that choose the LLM (label, eval, probe and worker).
func llmFlags(fs *flag.FlagSet, j *judgeConfig) {
	fs.StringVar(&j.urls, "llm-url", "", "OpenAI-compatible server(s) up to /v1, comma-separated; empty starts the embedded llama-server with --judge")
	fs.StringVar(&j.model, "llm-model", "", "the served model's name (required with --llm-url; with label --broker, the model the workers serve)")
	fs.StringVar(&j.judge, "judge", llm.DefaultJudge, "the embedded server's model when no --llm-url: "+strings.Join(llm.EmbeddedModelNames(), ", ")+", or a GGUF file (docs/judge.md measures each)")
}

func judgeFlags(fs *flag.FlagSet) *judgeConfig {
	j := &judgeConfig{}
	llmFlags(fs, j)
	fs.StringVar(&j.mode, "mode", defaultMode, "pointwise: each distinct caption rated 1-9 once, pairs compared by rating (no position bias); scored: one token per order, log p(1) vs log p(2); generative: the judge reasons, then answers best_message: 1|2|None")
	fs.StringVar(&j.goal, "goal", "default", "the player's goal the judge is told: "+strings.Join(motif.GoalNames(), ", ")+", or free text")
	fs.StringVar(&j.tmpl, "template", "", "prompt template: "+strings.Join(motif.BuiltinTemplates(), ", ")+", or a file (copy one of rewards/motif/prompts/); default: rate for pointwise, judge otherwise (-transition for transition pairs)")
	fs.Float64Var(&j.tie, "tie-margin", -1, fmt.Sprintf("pairs closer than this are ties: ratings in pointwise mode (default %.2f), summed log-probability margins in scored mode (default 0)", defaultPointwiseTie))
	fs.StringVar(&j.harmTmpl, "harm-template", "harm", "pointwise mode: the template that also asks, per caption, whether the hero was harmed (yes/no), or none")
	fs.Float64Var(&j.harmWeight, "harm-weight", -1, fmt.Sprintf("pointwise mode: a caption's rating is lowered by this times p(yes) of the harm question (default %d; 0 turns it off)", defaultHarmWeight))
	return j
}

// harm loads the harm aspect's template and weight: none outside pointwise mode, with
// --harm-template none or with a weight of 0.
func (j *judgeConfig) harm() (*motif.Template, float64, error) {
	w := j.harmWeight
	if w < 0 {
		w = 0
		if j.mode == motif.Pointwise {
			w = defaultHarmWeight
		}
	}
	if j.harmTmpl == "none" || w == 0 {
		return nil, 0, nil
	}
	if j.mode != motif.Pointwise {
		return nil, 0, fmt.Errorf("--harm-weight %g: the harm aspect is asked in pointwise mode only (--mode %s); drop it or use --mode pointwise", w, j.mode)
	}
	tp, err := motif.LoadTemplate(j.harmTmpl)
	if err != nil {
		return nil, 0, fmt.Errorf("--harm-template: %w", err)
	}
	if !tp.Pointwise {
		return nil, 0, fmt.Errorf("--harm-template %s asks about two captions; the harm question asks about one ({{.Message}}, like the built-in harm)", j.harmTmpl)
	}
	return tp, w, nil
}

// goalFor is the goal the judge is told, and its name in provenance: --goal's, or with a
// skill (MaestroMotif) that goal, the skill of the spec and its preference, and a clause
// against angering the god, named skill:<skill>.
func (j *judgeConfig) goalFor(specPath, skill string) (name, text string, err error) {
	if skill == "" {
		return j.goal, j.goalText(), nil
	}
	spec, err := skills.LoadSpec(specPath)
	if err != nil {
		return "", "", err
	}
	i, err := spec.Skill(skill)
	if err != nil {
		return "", "", err
	}
	return "skill:" + skill, fmt.Sprintf("%s The player is using the skill %q: %s Seek this preference: %s Never prefer angering the god.",
		j.goalText(), spec.Skills[i].Name, spec.Skills[i].Description, spec.Skills[i].Preference), nil
}

func (j *judgeConfig) goalText() string {
	if t, ok := motif.Goals[j.goal]; ok {
		return t
	}
	return j.goal // free text
}

func (j *judgeConfig) tieMargin() float64 {
	if j.tie >= 0 {
		return j.tie
	}
	if j.mode == motif.Pointwise {
		return defaultPointwiseTie
	}
	return 0
}

// template loads --template, or the mode's default for single captions or transitions.
func (j *judgeConfig) template(transitions bool) (*motif.Template, error) {
	name := j.tmpl
	if name == "" {
		name = motif.DefaultTemplate(j.mode, transitions)
	}
	if name == "harm" {
		return nil, fmt.Errorf("--template harm is the harm aspect's yes/no question, not a rating; pass it as --harm-template (the default) and pick a rating template such as rate")
	}
	tp, err := motif.LoadTemplate(name)
	if err != nil {
		return nil, err
	}
	if err := tp.Suits(j.mode); err != nil { // before a server starts
		return nil, err
	}
	return tp, nil
}

func (j *judgeConfig) connect(ctx context.Context, conc int, cmd string) (*llm.Client, func(), error) {
	return llm.Connect(ctx, j.urls, j.model, j.judge, conc, os.Stderr,
		cmd+": starting the embedded llama-server with {model} (docs/judge.md says how good it is; --llm-url for a real judge)")
}

// evalReport is what `annotate eval --json` writes.
type evalReport struct {
	Set         string                 `json:"set"`
	Pairs       int                    `json:"pairs"`
	Template    string                 `json:"template"`
	Goal        string                 `json:"goal"`
	TieMargin   float64                `json:"tie_margin"`
	Harm        string                 `json:"harm_template,omitempty"`
	HarmWeight  float64                `json:"harm_weight,omitempty"`
	Judge       *motif.JudgeEval       `json:"judge,omitempty"`
	RewardModel *motif.RewardModelEval `json:"reward_model,omitempty"`
	RMFile      string                 `json:"reward_model_file,omitempty"`
}

func eval(ctx context.Context, args []string, w io.Writer) error {
	fs := newFlags("eval", "annotate eval --tsv pairs.tsv --judge qwen2.5-coder-0.5b-instruct --reward-model default")
	tsv := fs.String("tsv", "", "caption pairs with known answers: caption1<TAB>caption2<TAB>1|2[<TAB>category] per line, # comments, or heldout for the shipped held-out set ("+motif.HeldOutEvalName+"; default: the shipped set, "+motif.DefaultEvalName+")")
	jf := judgeFlags(fs)
	conc := fs.Int("concurrency", 2, "requests in flight")
	rmPath := fs.String("reward-model", "default", "also score a reward model on the pairs: default (the shipped one), a file, or none")
	noJudge := fs.Bool("no-judge", false, "score only the reward model")
	journal := fs.String("journal", "", "answer journal to reuse (default: none, so every answer is asked and timed afresh)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	showWrong := fs.Int("show-wrong", 10, "list at most this many pairs the judge got wrong")
	skill := fs.String("skill", "", "judge as `annotate label --skill` does (MaestroMotif): the judge is told the skill and its preference, and the captions are transitions (the -transition template; e.g. --tsv rewards/motif/testdata/transitions-descender.tsv)")
	specPath := fs.String("spec", "default", "skills spec for --skill")
	if err := parse(fs, args); err != nil {
		return err
	}
	goalName, goalText, err := jf.goalFor(*specPath, *skill)
	if err != nil {
		return err
	}
	set, shipped := motif.DefaultEvalName, motif.DefaultEvalPairs
	switch *tsv {
	case "":
	case "heldout":
		set, shipped, *tsv = motif.HeldOutEvalName, motif.HeldOutEvalPairs, ""
	default:
		set = *tsv
	}
	pairs, err := readOrDefault("eval: --tsv", *tsv, shipped, motif.ReadEvalPairs)
	if err != nil {
		return err
	}
	tp, err := jf.template(*skill != "")
	if err != nil {
		return err
	}
	harm, hw, err := jf.harm()
	if err != nil {
		return err
	}
	rep := evalReport{Set: set, Pairs: len(pairs), Template: tp.Name, Goal: goalName, TieMargin: jf.tieMargin(), HarmWeight: hw}
	if harm != nil {
		rep.Harm = harm.Name
	}
	fmt.Fprintf(w, "eval: %d pairs from %s\n", len(pairs), set)
	if !*noJudge {
		c, stop, err := jf.connect(ctx, *conc, "eval")
		if err != nil {
			return err
		}
		defer stop()
		jpath := *journal
		if jpath == "" {
			dir, err := os.MkdirTemp("", "maestro-eval-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			jpath = filepath.Join(dir, "eval.journal")
		}
		j, err := motif.OpenJournal(jpath)
		if err != nil {
			return err
		}
		defer j.Close()
		start := time.Now()
		o := motif.AnnotateOptions{Template: tp, Goal: goalText, Mode: jf.mode, Concurrency: *conc, TieMargin: jf.tieMargin(), Harm: harm, HarmWeight: hw,
			Progress: func(p motif.Progress) { bar("eval", p.Done, p.Total, start, "") }}
		e, err := motif.EvalJudge(ctx, c, j, pairs, o)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return err
		}
		rep.Judge = &e
		printJudgeEval(w, pairs, e, *showWrong)
	}
	if *rmPath != "none" {
		rm, err := loadRewardModel(*rmPath)
		if err != nil {
			return err
		}
		e, err := motif.EvalRewardModel(rm, pairs)
		if err != nil {
			return err
		}
		rep.RewardModel, rep.RMFile = &e, *rmPath
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := atomicfile.WriteFile(*jsonOut, append(b, '\n')); err != nil {
			return err
		}
	}
	if rep.RewardModel != nil {
		fmt.Fprintf(w, "\nreward model %s by category:\n", *rmPath)
		printCategories(w, rep.RewardModel.Categories)
	}
	if e := rep.Judge; e != nil {
		fmt.Fprintf(w, "RESULT judge accuracy=%.3f decisive=%.3f position_bias=%.3f pairs_per_s=%.3f model=%s mode=%s\n", e.Accuracy, e.Decisive, e.PositionBias, e.PairsPerSec, e.Model, e.Mode)
	}
	if e := rep.RewardModel; e != nil {
		fmt.Fprintf(w, "RESULT reward_model accuracy=%.3f model=%s\n", e.Accuracy, *rmPath)
	}
	return nil
}

func printJudgeEval(w io.Writer, pairs []motif.EvalPair, e motif.JudgeEval, showWrong int) {
	fmt.Fprintf(w, "judge %s, mode %s: %d requests in %.1fs\n", e.Model, e.Mode, e.Summary.Asked, e.Seconds)
	if e.Mode == motif.Pointwise && e.Summary.RatedUnknown > 0 {
		fmt.Fprintf(w, "  %d of %d distinct captions got no usable rating\n", e.Summary.RatedUnknown, e.Summary.Rated)
	}
	printCategories(w, e.Categories)
	if e.Decisive < 0.5 {
		fmt.Fprintf(w, "warning: the judge decided only %.0f%% of the pairs (the rest tie or unknown): its labels would carry little signal\n", 100*e.Decisive)
	}
	shown := 0
	for i, p := range pairs {
		if e.Labels[i] == p.Preferred || shown >= showWrong {
			continue
		}
		if shown == 0 {
			fmt.Fprintf(w, "wrong or undecided (first %d):\n", showWrong)
		}
		shown++
		fmt.Fprintf(w, "  line %d: %q vs %q: want %s, judge said %s\n", p.Line, p.First, p.Second, motif.LabelName(p.Preferred), motif.LabelName(e.Labels[i]))
	}
}

func printCategories(w io.Writer, cats []motif.EvalCategory) {
	fmt.Fprintf(w, "  %-10s %6s %6s %6s %9s %8s\n", "category", "pairs", "right", "wrong", "undecided", "accuracy")
	var all motif.EvalCategory
	for _, c := range cats {
		name := c.Name
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(w, "  %-10s %6d %6d %6d %9d %8.3f\n", name, c.Pairs, c.Right, c.Wrong, c.Undecided, float64(c.Right)/float64(max(c.Pairs, 1)))
		all.Pairs += c.Pairs
		all.Right += c.Right
		all.Wrong += c.Wrong
		all.Undecided += c.Undecided
	}
	fmt.Fprintf(w, "  %-10s %6d %6d %6d %9d %8.3f\n", "all", all.Pairs, all.Right, all.Wrong, all.Undecided, float64(all.Right)/float64(max(all.Pairs, 1)))
}

func probe(ctx context.Context, args []string, w io.Writer) error {
	fs := newFlags("probe", "annotate probe --judge qwen2.5-coder-1.5b-instruct --json probe.json")
	topics := fs.String("topics", "", "fact list: topic<TAB>fact|false<TAB>words<TAB>pattern per line (default: the shipped one, "+motif.DefaultProbeName+")")
	jf := &judgeConfig{mode: motif.Pointwise}
	fs.StringVar(&jf.urls, "llm-url", "", "OpenAI-compatible server(s) up to /v1, comma-separated; empty starts the embedded llama-server with --judge")
	fs.StringVar(&jf.model, "llm-model", "", "the served model's name (required with --llm-url)")
	fs.StringVar(&jf.judge, "judge", llm.DefaultJudge, "the embedded server's model when no --llm-url: "+strings.Join(llm.EmbeddedModelNames(), ", ")+", or a GGUF file")
	maxTokens := fs.Int("max-tokens", 300, "longest account of a topic")
	jsonOut := fs.String("json", "", "also write the results, with every answer, as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	facts, err := readOrDefault("probe: --topics", *topics, motif.DefaultProbeFacts, motif.ReadProbeFacts)
	if err != nil {
		return err
	}
	c, stop, err := jf.connect(ctx, 1, "probe")
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	res, err := motif.Probe(ctx, c, facts, motif.ProbeOptions{MaxTokens: *maxTokens,
		Progress: func(done, total int) { bar("probe", done, total, start, "") }})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := atomicfile.WriteFile(*jsonOut, append(b, '\n')); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "probe: %s on %d topics\n  %-20s %6s %9s %7s %13s %14s\n", res.Model, len(res.Topics), "topic", "facts", "recalled", "claims", "contradicted", "self-estimate")
	for _, t := range res.Topics {
		fmt.Fprintf(w, "  %-20s %6d %9d %7d %13d %14.2f\n", t.Topic, t.Facts, t.Recalled, t.Claims, t.Contradicted, t.SelfEstimate)
	}
	fmt.Fprintf(w, "self-estimate %.2f of an expert's knowledge, facts stated %.2f: the judge's estimate of itself is %s\n", res.Estimated, res.Recall,
		map[string]string{"overestimates": "too high", "underestimates": "too low"}[res.Awareness]+map[bool]string{true: "about right"}[res.Awareness == "about right"])
	fmt.Fprintf(w, "RESULT probe recall=%.3f precision=%.3f self_estimate=%.3f awareness=%s model=%s\n", res.Recall, res.Precision, res.Estimated, strings.ReplaceAll(res.Awareness, " ", "_"), res.Model)
	return nil
}

// readOrDefault returns the shipped list when path is empty, else reads the file with read;
// what prefixes an error opening it (the command and the flag).
func readOrDefault[T any](what, path string, shipped func() ([]T, error), read func(io.Reader, string) ([]T, error)) ([]T, error) {
	if path == "" {
		return shipped()
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	return read(f, path)
}
