package main

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maestro-rl/maestro/dist"
	"github.com/maestro-rl/maestro/internal/proctest"
	"github.com/maestro-rl/maestro/llm"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/tensordict"
)

// TestMain lets a test run this binary as the annotate command (in its own process, so that
// it can be killed with SIGKILL).
func TestMain(m *testing.M) { proctest.Main(m, "MAESTRO_ANNOTATE_EXEC", main) }

// journalAnswers reads a journal file's answers by key (the last line of a key wins, as
// OpenJournal reads it) and counts its lines.
func journalAnswers(t *testing.T, path string) (map[string]motif.Answer, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, lines := map[string]motif.Answer{}, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a motif.Answer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("%s line %d: %v", path, lines+1, err)
		}
		out[a.Key] = a
		lines++
	}
	return out, lines
}

// TestLabelOverABroker labels the same pairs twice with the real embedded llama-server: once
// in this process, once through a broker by three worker processes, one of them SIGKILLed
// after its first answers (its requests in hand go to the others after --task-ack-wait). The
// broker run must ask every request the local run asked, journal each once, get the same
// answers (the judge's log-probabilities; parallel decoding may move them by rounding) and
// the same labels, and its workers must stop when the job is done.
func TestLabelOverABroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker, a llama-server and three workers (about 30 s)")
	}
	dir := t.TempDir()
	ctx := context.Background()
	obs, pairsFile := filepath.Join(dir, "obs.mtd"), filepath.Join(dir, "pairs.mtd")
	if err := collect(ctx, []string{"--task", "score", "--steps", "3000", "--envs", "2", "--out", obs}); err != nil {
		t.Fatal(err)
	}
	if err := pairs([]string{"--obs", obs, "--out", pairsFile, "--pairs", "40"}); err != nil {
		t.Fatal(err)
	}
	srv, err := llm.StartServer(ctx, llm.ServerOptions{Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ref, viaBroker := filepath.Join(dir, "ref.mtd"), filepath.Join(dir, "broker.mtd")
	if err := label(ctx, []string{"--pairs", pairsFile, "--out", ref, "--llm-url", srv.URL(), "--llm-model", srv.Name(), "--concurrency", "4"}); err != nil {
		t.Fatal(err)
	}
	e, err := dist.StartEmbedded(filepath.Join(dir, "store"), "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var workers []*proctest.Proc
	for i := 0; i < 3; i++ {
		workers = append(workers, proctest.Spawn(t, "MAESTRO_ANNOTATE_EXEC", "worker", "--broker", e.URL(), "--job", "t",
			"--llm-url", srv.URL(), "--llm-model", srv.Name(), "--concurrency", "2"))
	}
	labelled := make(chan error, 1)
	go func() {
		labelled <- label(ctx, []string{"--pairs", pairsFile, "--out", viaBroker, "--broker", e.URL(), "--job", "t", "--llm-model", srv.Name(), "--task-ack-wait", "2s"})
	}()
	answered := regexp.MustCompile(`answered (\d+)`)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if m := answered.FindAllStringSubmatch(workers[0].Out(), -1); len(m) > 0 {
			if n, _ := strconv.Atoi(m[len(m)-1][1]); n >= 1 {
				break
			}
		}
		if time.Now().After(deadline) || len(workers[0].Done) > 0 {
			t.Fatalf("worker 0 answered nothing:\n%s", workers[0].Out())
		}
	}
	workers[0].Kill(t)
	select {
	case err := <-labelled:
		if err != nil {
			t.Fatalf("label --broker: %v", err)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("label --broker did not finish in 5 minutes")
	}
	for i, w := range workers[1:] {
		select {
		case err := <-w.Done:
			if err != nil || !strings.Contains(w.Out(), "is over") {
				t.Errorf("worker %d: %v\n%s", i+1, err, w.Out())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("worker %d did not stop when the job was done:\n%s", i+1, w.Out())
		}
	}
	want, _ := journalAnswers(t, ref+".journal")
	got, lines := journalAnswers(t, viaBroker+".journal")
	if len(got) != len(want) || lines != len(got) {
		t.Errorf("the broker run journalled %d answers in %d lines; the local run %d answers", len(got), lines, len(want))
	}
	maxDiff := 0.0
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("request %s was not asked through the broker", k)
		case g.Tokens != w.Tokens || g.OK != w.OK || (g.Rating == 0) != (w.Rating == 0) || math.Abs(g.Rating-w.Rating) > 1 || math.Abs(g.Harm-w.Harm) > 0.3:
			// The same prompt has the same token count: an answer filed under another
			// request's key shows. The values move run to run (llama.cpp's parallel slots and
			// prompt cache change the numerics: the same server gives this small judge's
			// ratings up to 0.5 apart), so they are only checked to be of the same kind.
			t.Errorf("request %s: %+v through the broker, %+v here", k, g, w)
		}
		maxDiff = max(maxDiff, math.Abs(g.Rating-w.Rating), math.Abs(g.Harm-w.Harm))
	}
	rl, err := motif.LoadDataset(ref, motif.KindPairs)
	if err != nil {
		t.Fatal(err)
	}
	bl, err := motif.LoadDataset(viaBroker, motif.KindPairs)
	if err != nil {
		t.Fatal(err)
	}
	a, b := must(tensordict.GetAs[int8](rl, "label")), must(tensordict.GetAs[int8](bl, "label"))
	differ := 0
	for i := range a {
		if a[i] != b[i] {
			differ++
		}
	}
	if len(a) != 40 || len(b) != 40 {
		t.Errorf("%d labels here, %d through the broker; want 40", len(a), len(b))
	}
	t.Logf("%d answers; worker 0 killed after its first; answers differ from the local run's by up to %.2f; %d labels of %d differ", len(got), maxDiff, differ, len(a))
}
