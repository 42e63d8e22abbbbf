package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maestro-rl/maestro/dist"
	"github.com/maestro-rl/maestro/internal/proctest"
)

// TestMain lets a test run this binary as the train command (in its own process, so that it
// can be killed with SIGKILL).
func TestMain(m *testing.M) { proctest.Main(m, "MAESTRO_TRAIN_EXEC", main) }

type proc = proctest.Proc

func spawn(t *testing.T, args ...string) *proc {
	t.Helper()
	return proctest.Spawn(t, "MAESTRO_TRAIN_EXEC", args...)
}

// waitFor polls cond until it holds; a process that dies meanwhile fails the test.
func waitFor(t *testing.T, what string, cond func() bool, watch ...*proc) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
		for _, p := range watch {
			if len(p.Done) > 0 {
				t.Fatalf("waiting for %s: %v exited: %s", what, p.Cmd.Args[1:], p.Out())
			}
		}
	}
	t.Fatalf("%s did not happen in 5 minutes", what)
}

func csvRows(path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, _ := r.ReadAll()
	return rows
}

// TestDistributedSurvivesKills trains CartPole from two actor processes through a standalone
// broker, and SIGKILLs each kind of process once mid-run: an actor (restarted under its name),
// the learner (resumed from its checkpoint) and the broker (restarted on its store). From the
// actors' own audit logs, the learner's unrolls.csv and what is left in the stream it checks
// that no unroll the broker acknowledged is lost, none is learnt from twice, and the learner
// still reaches its total frames.
func TestDistributedSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes (about a minute)")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	store, urlFile := filepath.Join(dir, "store"), filepath.Join(dir, "url")
	broker := spawn(t, "broker", "--store", store, "--listen", addr, "--url-file", urlFile)
	waitFor(t, "the broker's URL", func() bool { _, err := os.Stat(urlFile); return err == nil }, broker)
	url := "nats://" + addr
	runDir := filepath.Join(dir, "run")
	learnerArgs := []string{"--env", "CartPole", "--broker", url, "--run", "kills", "--num-envs", "2", "--frames-per-batch", "32",
		"--total-frames", "40000", "--checkpoint-every", "5", "--run-dir", runDir,
		"--broker-max-ahead", "2"} // the actors wait for the learner, also while it is dead
	learner := spawn(t, learnerArgs...)
	actor := func(i int) *proc {
		return spawn(t, "actor", "--broker", url, "--run", "kills", "--num-envs", "2", "--actor-id", "a"+strconv.Itoa(i),
			"--actor-log", filepath.Join(dir, "a"+strconv.Itoa(i)+".log"))
	}
	a0, a1 := actor(0), actor(1)
	unrolls := filepath.Join(runDir, "unrolls.csv")
	logged := func(n int) func() bool { return func() bool { return len(csvRows(unrolls)) > n } }
	waitFor(t, "100 unrolls", logged(100), learner, broker)
	a0.Kill(t)
	a0 = actor(0)
	waitFor(t, "300 unrolls", logged(300), learner, broker)
	learner.Kill(t)
	learner = spawn(t, append(learnerArgs, "--resume")...)
	waitFor(t, "500 unrolls", logged(500), learner, broker)
	broker.Kill(t)
	time.Sleep(500 * time.Millisecond)
	broker = spawn(t, "broker", "--store", store, "--listen", addr)
	select {
	case err := <-learner.Done:
		if err != nil {
			t.Fatalf("the learner failed: %v\n%s", err, learner.Out())
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("the learner did not finish in 5 minutes:\n%s", learner.Out())
	}
	for i, a := range []*proc{a0, a1} {
		select {
		case err := <-a.Done:
			if err != nil {
				t.Errorf("actor %d: %v\n%s", i, err, a.Out())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("actor %d did not stop after the learner finished:\n%s", i, a.Out())
		}
	}

	// What the learner learnt from: unrolls.csv, truncated to the checkpoint on resume.
	learnt := map[string]int{}
	frames := 0
	for i, row := range csvRows(unrolls)[1:] {
		id := row[1] + "/" + row[2] + "/" + row[3]
		switch row[6] {
		case "used":
			learnt[id]++
			frames += 32
			if ms, err := strconv.ParseFloat(row[len(row)-1], 64); err != nil || ms < 0 {
				t.Errorf("unrolls.csv row %d: latency %q, want milliseconds >= 0", i+1, row[len(row)-1])
			}
		case "stale", "duplicate":
		default:
			t.Errorf("unrolls.csv row %d: %v: no unroll of this run should be %s", i+1, row, row[6])
		}
	}
	if frames < 40000 {
		t.Errorf("the learner learnt from %d frames, want its total 40000", frames)
	}
	for id, n := range learnt {
		if n > 1 {
			t.Errorf("unroll %s was learnt from %d times", id, n)
		}
	}
	// What is still in the stream, not yet consumed.
	nc, err := dist.Connect(url, dist.ConnectOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	r, err := dist.OpenRun(ctx, nc, "kills")
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.Unrolls.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string]bool{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := r.Unrolls.GetMsg(ctx, seq)
		if err != nil {
			continue // consumed
		}
		queued[m.Header.Get(dist.HdrActor)+"/"+m.Header.Get(dist.HdrIncarnation)+"/"+m.Header.Get(dist.HdrSeq)] = true
	}
	// Every unroll the broker acknowledged to an actor was learnt from or is still queued.
	acked, lost := 0, 0
	for i := 0; i < 2; i++ {
		f, err := os.Open(filepath.Join(dir, "a"+strconv.Itoa(i)+".log"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			id, ok := strings.CutPrefix(sc.Text(), "ok ")
			if !ok {
				continue
			}
			acked++
			if learnt[id] == 0 && !queued[id] {
				lost++
				if lost <= 5 {
					t.Errorf("unroll %s was acknowledged by the broker, but neither learnt from nor queued", id)
				}
			}
		}
		f.Close()
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged unrolls lost", lost, acked)
	}
	t.Logf("%d unrolls acknowledged to the actors, %d learnt from, %d queued at the end", acked, len(learnt), len(queued))
}
