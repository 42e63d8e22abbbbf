package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/tensordict"
)

// TestPipeline runs the whole offline pipeline through the commands: collect, pairs, label
// with the real embedded llama-server, inspect, train; then a rerun of label is served from
// the journal.
func TestPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("about 6 s on 2 cores; make test (no -short) runs it")
	}
	dir := t.TempDir()
	obs, pairsFile, rm := filepath.Join(dir, "obs.mtd"), filepath.Join(dir, "pairs.mtd"), filepath.Join(dir, "rm.mtd")
	ctx := context.Background()
	if err := collect(ctx, []string{"--task", "score", "--steps", "3000", "--envs", "2", "--out", obs}); err != nil {
		t.Fatal(err)
	}
	if err := pairs([]string{"--obs", obs, "--out", pairsFile, "--pairs", "40"}); err != nil {
		t.Fatal(err)
	}
	const key = "sk-maestro-test-key-do-not-write"
	t.Setenv("OPENAI_API_KEY", key) // the embedded server ignores it; no file may contain it
	if err := label(ctx, []string{"--pairs", pairsFile, "--judge", llm.SmokeModel}); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if b, _ := os.ReadFile(path); err == nil && !info.IsDir() && strings.Contains(string(b), key) {
			t.Errorf("%s contains the API key", path)
		}
		return nil
	})
	p, err := motif.LoadDataset(pairsFile, motif.KindPairs)
	if err != nil {
		t.Fatal(err)
	}
	labels := must(tensordict.GetAs[int8](p, "label"))
	decided := 0
	for _, l := range labels {
		if l != motif.Unknown {
			decided++
		}
	}
	if len(labels) != 40 || decided < 30 {
		t.Errorf("%d labels, %d decided; want 40 labels, most decided", len(labels), decided)
	}
	if _, err := os.Stat(pairsFile + ".labels.json"); err != nil {
		t.Error(err)
	}
	out, _ := os.CreateTemp(dir, "inspect")
	if err := inspect([]string{"--pairs", pairsFile}, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out.Name())
	if !strings.Contains(string(b), "40 pairs") || !strings.Contains(string(b), "labels: first") {
		t.Errorf("inspect printed:\n%s", b)
	}
	if err := train([]string{"--pairs", pairsFile, "--out", rm, "--epochs", "2", "--batch", "16", "--lr", "1e-3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := motif.LoadRewardModel(rm); err != nil {
		t.Fatal(err)
	}
	ranked, _ := os.CreateTemp(dir, "ranked")
	if err := inspect([]string{"--pairs", pairsFile, "--reward-model", rm}, ranked); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(ranked.Name()); !strings.Contains(string(b), "captions by normalised reward") {
		t.Errorf("inspect --reward-model printed:\n%s", b)
	}
	// A second label run asks nothing: every answer is in the journal.
	j, err := motif.OpenJournal(pairsFile + ".journal")
	if err != nil {
		t.Fatal(err)
	}
	before := j.Len()
	j.Close()
	if err := label(ctx, []string{"--pairs", pairsFile, "--judge", llm.SmokeModel}); err != nil {
		t.Fatal(err)
	}
	j, _ = motif.OpenJournal(pairsFile + ".journal")
	if j.Len() != before {
		t.Errorf("the rerun added %d answers; want none", j.Len()-before)
	}
	j.Close()
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	obs := filepath.Join(dir, "obs.mtd")
	for _, c := range []struct {
		err  error
		want string
	}{
		{collect(context.Background(), []string{"--steps", "10"}), "--out is required"},
		{pairs([]string{"--obs", obs}), "--out is required"},
		{train([]string{}), "--pairs and --out are required"},
		{label(context.Background(), []string{"--pairs", filepath.Join(dir, "none.mtd")}), "no such file"},
		// A folder as --out failed only after the whole collection ("file exists").
		{collect(context.Background(), []string{"--steps", "100000000", "--out", dir}), "--out " + dir + " is a folder"},
		{train([]string{"--pairs", obs, "--out", filepath.Join(dir, "rm.mtd"), "--lr", "NaN"}), "--lr NaN: want a finite number"},
		{label(context.Background(), []string{"--pairs", obs, "--tie-margin", "-0.5"}), "--tie-margin -0.5"},
		{label(context.Background(), []string{"--pairs", obs, "--concurrency", "0"}), "--concurrency 0"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v; want one saying %q", c.err, c.want)
		}
	}
	if err := collect(context.Background(), []string{"--steps", "100", "--envs", "1", "--out", obs}); err != nil {
		t.Fatal(err)
	}
	if err := train([]string{"--pairs", obs, "--out", filepath.Join(dir, "rm.mtd")}); err == nil || !strings.Contains(err.Error(), motif.KindPairs) {
		t.Errorf("observations given as pairs: %v", err)
	}
	if err := label(context.Background(), []string{"--pairs", obs, "--template", "nosuch"}); err == nil {
		t.Error("observations labelled")
	}
	pairsFile := filepath.Join(dir, "pairs.mtd")
	if err := pairs([]string{"--obs", obs, "--out", pairsFile}); err != nil {
		t.Fatal(err)
	}
	if err := label(context.Background(), []string{"--pairs", pairsFile, "--skill", "swimmer"}); err == nil || !strings.Contains(err.Error(), "discoverer") {
		t.Errorf("an unknown skill: %v; want the spec's skills listed", err)
	}
	if err := inspect([]string{"--pairs", pairsFile, "--top", "-1"}, os.Stdout); err == nil || !strings.Contains(err.Error(), "--top -1") {
		t.Errorf("inspect --top -1: %v; want an error naming the flag (it panicked before)", err)
	}
}

// TestCollectWithPolicy collects with an agent's weights (here an untrained agent's, saved as a
// run would) and refuses weights of another network.
func TestCollectWithPolicy(t *testing.T) {
	dir := t.TempDir()
	agent, err := nethackagent.NewAgent(len(nethack.TaskActions()), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	params := filepath.Join(dir, "params.mtd")
	if err := nn.SaveParams(params, agent.Params()); err != nil {
		t.Fatal(err)
	}
	obs := filepath.Join(dir, "obs.mtd")
	if err := collect(context.Background(), []string{"--steps", "256", "--envs", "2", "--policy", params, "--out", obs}); err != nil {
		t.Fatal(err)
	}
	d, err := motif.LoadDataset(obs, motif.KindObservations)
	if err != nil || d.BatchShape()[0] != 256 {
		t.Fatalf("%v %v", d, err)
	}
	rm, _ := nethackagent.NewRewardNet(rand.New(rand.NewPCG(1, 1)))
	nn.SaveParams(params, rm.Params())
	if err := collect(context.Background(), []string{"--steps", "64", "--policy", params, "--out", obs}); err == nil || !strings.Contains(err.Error(), "params.mtd") {
		t.Errorf("a reward model's weights as the policy: %v", err)
	}
}

// TestEvalAsksAsLabelDoes labels collected pairs with the real embedded server, then evaluates
// the same caption pairs (written as a TSV) with label's journal: eval must find every answer
// there (it asks the judge exactly as label does: template, goal, mode, keys) and give the same
// labels; its last two lines are the RESULT lines.
func TestEvalAsksAsLabelDoes(t *testing.T) {
	if testing.Short() {
		t.Skip("about 7 s on 2 cores; make test (no -short) runs it")
	}
	dir := t.TempDir()
	obs, pairsFile := filepath.Join(dir, "obs.mtd"), filepath.Join(dir, "pairs.mtd")
	ctx := context.Background()
	if err := collect(ctx, []string{"--task", "score", "--steps", "2000", "--envs", "2", "--seed", "4", "--out", obs}); err != nil {
		t.Fatal(err)
	}
	if err := pairs([]string{"--obs", obs, "--out", pairsFile, "--pairs", "60"}); err != nil {
		t.Fatal(err)
	}
	if err := label(ctx, []string{"--pairs", pairsFile, "--judge", llm.SmokeModel, "--allow-unknown"}); err != nil {
		t.Fatal(err)
	}
	p := must(motif.LoadDataset(pairsFile, motif.KindPairs))
	caps := must(motif.PairCaptions(p, false))
	labels := must(tensordict.GetAs[int8](p, "label"))
	var tsv strings.Builder
	var want []int8
	for i, c := range caps {
		if c[0] != c[1] && !strings.ContainsAny(c[0]+c[1], "\t\n") {
			fmt.Fprintf(&tsv, "%s\t%s\t1\n", c[0], c[1])
			want = append(want, labels[i])
		}
	}
	if len(want) < 10 {
		t.Fatalf("only %d distinct-caption pairs", len(want))
	}
	tsvFile, jsonFile := filepath.Join(dir, "pairs.tsv"), filepath.Join(dir, "eval.json")
	os.WriteFile(tsvFile, []byte(tsv.String()), 0o644)
	var out strings.Builder
	if err := eval(ctx, []string{"--tsv", tsvFile, "--judge", llm.SmokeModel, "--journal", pairsFile + ".journal", "--json", jsonFile}, &out); err != nil {
		t.Fatal(err)
	}
	var rep evalReport
	if err := json.Unmarshal(must(os.ReadFile(jsonFile)), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Judge == nil || rep.Judge.Summary.Asked != 0 {
		t.Fatalf("eval asked the judge again (%+v); every answer should be in label's journal", rep.Judge)
	}
	if !slices.Equal(rep.Judge.Labels, want) {
		t.Errorf("eval's labels %v differ from label's %v", rep.Judge.Labels, want)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	n := len(lines)
	if n < 2 || !strings.HasPrefix(lines[n-2], "RESULT judge accuracy=") || !strings.Contains(lines[n-2], "model="+llm.SmokeModel) ||
		!strings.HasPrefix(lines[n-1], "RESULT reward_model accuracy=") {
		t.Errorf("the output does not end with the two RESULT lines:\n%s", out.String())
	}
}

func TestEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tsv")
	os.WriteFile(bad, []byte("You kill the newt!\tIt's a wall.\t1\nYou kill the newt!\tIt's a wall.\tfirst\n"), 0o644)
	var out strings.Builder
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tsv", bad, "--no-judge"}, "line 2: preferred is"},
		{[]string{"--tsv", filepath.Join(dir, "none.tsv")}, "no such file"},
		{[]string{"--no-judge", "--reward-model", filepath.Join(dir, "none.mtd")}, "none.mtd"},
		{[]string{"--judge", "gpt-17"}, "no embedded model \"gpt-17\""},
		{[]string{"--judge", "qwen2.5-coder-1.5b-instruct", "--mode", "scored", "--template", "rate"}, "pointwise"},
	} {
		err := eval(context.Background(), c.args, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("eval %v: got %v, want an error saying %q", c.args, err, c.want)
		}
	}
}

// TestProbe asks the real embedded server about two topics of a fact list and checks the
// report's shape: every topic answered, figures in range, the RESULT line last.
func TestProbe(t *testing.T) {
	dir := t.TempDir()
	topics, jsonFile := filepath.Join(dir, "facts.tsv"), filepath.Join(dir, "probe.json")
	os.WriteFile(topics, []byte("pets\tfact\ta kitten or a little dog\tkitten|dog\npets\tfact\tpets fight\tfight|attack\n"+
		"stairs\tfact\tdown stairs\t>|down\nstairs\tfalse\tno stairs\tthere are no stairs\n"), 0o644)
	var out strings.Builder
	if err := probe(context.Background(), []string{"--topics", topics, "--judge", llm.SmokeModel, "--max-tokens", "60", "--json", jsonFile}, &out); err != nil {
		t.Fatal(err)
	}
	var res motif.ProbeResult
	if err := json.Unmarshal(must(os.ReadFile(jsonFile)), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Topics) != 2 || res.Topics[0].Topic != "pets" || res.Topics[0].Facts != 2 || res.Topics[1].Facts != 1 {
		t.Fatalf("topics %+v; want pets (2 facts) and stairs (1)", res.Topics)
	}
	for _, tp := range res.Topics {
		if strings.TrimSpace(tp.Answer) == "" || tp.Claims == 0 || tp.SelfEstimate < 0 || tp.SelfEstimate > 9 {
			t.Errorf("topic %s: %+v", tp.Topic, tp)
		}
	}
	if res.Recall < 0 || res.Recall > 1 || res.Precision < 0 || res.Precision > 1 {
		t.Errorf("recall %v precision %v out of [0, 1]", res.Recall, res.Precision)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "RESULT probe recall=") || !strings.Contains(last, "precision=") {
		t.Errorf("last line %q; want the RESULT line", last)
	}
}
