package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/maestro-rl/maestro/dist"
	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/tensor"
)

// provenance is written beside a labelled dataset (<pairs>.labels.json).
type provenance struct {
	Model       string        `json:"model"`
	URLs        []string      `json:"urls"`
	Template    string        `json:"template"`
	Goal        string        `json:"goal"`
	GoalText    string        `json:"goal_text"`
	Mode        string        `json:"mode"`
	TieMargin   float64       `json:"tie_margin"`
	Harm        string        `json:"harm_template,omitempty"`
	HarmWeight  float64       `json:"harm_weight,omitempty"`
	Summary     motif.Summary `json:"summary"`
	Seconds     float64       `json:"seconds"`
	PairsPerSec float64       `json:"pairs_per_second"`
}

func label(ctx context.Context, args []string) error {
	fs := newFlags("label", "annotate label --pairs data/pairs.mtd --goal default")
	pairsPath := fs.String("pairs", "", "pair dataset from `annotate pairs` (required); labels are written into it")
	out := fs.String("out", "", "write the labelled dataset here instead of into --pairs")
	jf := judgeFlags(fs)
	conc := fs.Int("concurrency", 2, "requests in flight (over all servers)")
	journalPath := fs.String("journal", "", "answer journal for resuming and caching (default: <out>.journal)")
	maxTokens := fs.Int("max-tokens", 512, "longest generative answer")
	skill := fs.String("skill", "", "label for one skill of --spec (MaestroMotif): the judge is told the skill and its preference; write each skill's labels to its own --out and train one reward model per skill")
	specPath := fs.String("spec", "default", "skills spec for --skill (default: MaestroMotif's five skills)")
	allowUnknown := fs.Bool("allow-unknown", false, "write the labels even when most are unknown (the judge gave no usable answer)")
	bc := brokerFlags(fs, true)
	withStats := fs.Bool("caption-stats", false, "append the bottom line in words to each caption (Motif's option: HP, gold, dungeon level, experience level, turn)")
	if err := parse(fs, args, "pairs"); err != nil {
		return err
	}
	if *out == "" {
		*out = *pairsPath
	}
	if *journalPath == "" {
		*journalPath = *out + ".journal"
	}
	p, err := motif.LoadDataset(*pairsPath, motif.KindPairs)
	if err != nil {
		return err
	}
	caps, err := motif.PairCaptions(p, *withStats)
	if err != nil {
		return err
	}
	transitions, err := motif.IsTransitionPairs(p)
	if err != nil {
		return err
	}
	tp, err := jf.template(transitions) // MaestroMotif's pairs of transitions have their own
	if err != nil {
		return err
	}
	harm, hw, err := jf.harm()
	if err != nil {
		return err
	}
	goalName, goalText, err := jf.goalFor(*specPath, *skill)
	if err != nil {
		return err
	}
	var (
		client  *llm.Client
		remote  func(context.Context, motif.Request) (motif.Answer, error)
		job     *dist.Job
		model   string
		urlList []string
	)
	if bc.url != "" {
		if model, err = remoteModel(jf); err != nil {
			return err
		}
		if !flagSet(fs, "concurrency") {
			*conc = 512 // requests queued at once for the workers
		}
		var stop func()
		if remote, job, stop, err = remoteAsker(ctx, bc, model); err != nil {
			return err
		}
		defer stop()
		urlList = []string{"broker " + dist.Redact(bc.url) + " job " + bc.job}
		fmt.Fprintf(os.Stderr, "label: queuing the requests on %s, job %s, for workers serving %s (annotate worker --broker %s --job %s)\n", dist.Redact(bc.url), bc.job, model, dist.Redact(bc.url), bc.job)
	} else {
		var stopLLM func()
		if client, stopLLM, err = jf.connect(ctx, *conc, "label"); err != nil {
			return err
		}
		defer stopLLM()
		urlList, model = client.URLs(), client.Model()
	}
	j, err := motif.OpenJournal(*journalPath)
	if err != nil {
		return err
	}
	defer j.Close()
	start := time.Now()
	fmt.Fprintf(os.Stderr, "label: %d pairs, %d answers already in %s\n", len(caps), j.Len(), *journalPath)
	if n := j.Invalid(); n > 0 {
		fmt.Fprintf(os.Stderr, "label: %d lines of %s held impossible answers (a label outside 0..3, a rating off the 1-9 scale); they are dropped and asked again\n", n, *journalPath)
	}
	labels, sum, err := motif.Annotate(ctx, client, j, caps, motif.AnnotateOptions{Template: tp, Goal: goalText, Mode: jf.mode, Concurrency: *conc, MaxTokens: *maxTokens, TieMargin: jf.tieMargin(), Harm: harm, HarmWeight: hw, Ask: remote, Model: model,
		Progress: func(pr motif.Progress) {
			bar("label", pr.Done, pr.Total, start, fmt.Sprintf(" %.0f tokens/s", float64(pr.Tokens)/time.Since(start).Seconds()))
		}})
	fmt.Fprintln(os.Stderr)
	if cerr := j.Compact(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if job != nil { // every answer is in the journal: the workers may go
		if err := job.Delete(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "label: %v (the answers are all in %s)\n", err, *journalPath)
		}
	}
	if unknown := sum.Labels[motif.Unknown]; unknown*2 > len(labels) && !*allowUnknown {
		return fmt.Errorf("label: the judge gave no usable answer on %d of %d pairs (answers kept in %s); labels not written. Check the judge with `annotate eval`, use another --mode or --llm-url, or pass --allow-unknown to write them anyway", unknown, len(labels), *journalPath)
	}
	if err := p.Set("label", tensor.Of(labels)); err != nil {
		return err
	}
	if err := motif.SaveDataset(*out, motif.KindPairs, p); err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	prov := provenance{Model: model, URLs: urlList, Template: tp.Name, Goal: goalName, GoalText: goalText, Mode: jf.mode, TieMargin: jf.tieMargin(), HarmWeight: hw, Summary: sum, Seconds: el, PairsPerSec: float64(len(caps)) / el}
	if harm != nil {
		prov.Harm = harm.Name
	}
	if jf.urls == "" && bc.url == "" {
		prov.URLs = []string{"embedded llama-server"}
	}
	b, _ := json.MarshalIndent(prov, "", "  ")
	if err := atomicfile.WriteFile(*out+".labels.json", append(b, '\n')); err != nil {
		return err
	}
	fmt.Printf("label: %d pairs in %.1fs (%.2f pairs/s, %d requests sent, %d cached, %d identical captions): first %d, second %d, tie %d, unknown %d; position bias %.2f; %d tokens; %s\n",
		len(caps), el, prov.PairsPerSec, sum.Asked, sum.Cached, sum.Identical, sum.Labels[0], sum.Labels[1], sum.Labels[2], sum.Labels[3], sum.PositionBias, sum.Tokens, *out)
	return nil
}
