// Command distbench times `make bench BENCH=distributed`: the learner fed by 1, 2 and 4 actor
// processes through a standalone JetStream broker, against the same learner with its envs
// in-process, the same total number of envs either way. Each round runs every setup back to
// back (the machine's speed drifts); the learner's rate is taken from its log.csv between its
// first and last rows, so process start-up is not counted. After each broker run it audits
// what happened to every unroll: the actors' own audit logs (the IDs the broker acknowledged),
// the learner's unrolls.csv (what it learnt from) and what is still queued in the stream.
//
// # Invariants
//   - The last line it prints is "RESULT distributed ratio=<broker fps with the most actors / in-process fps> lost=<n> duplicated=<n> p99_ms=<x> ...".
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/bench/internal/benchutil"
	"github.com/maestro-rl/maestro/dist"
)

var (
	trainBin = flag.String("train", "bin/train", "the train binary")
	env      = flag.String("env", "CartPole", "environment")
	envs     = flag.Int("envs", 4, "envs in all: in-process, or split evenly over the actors")
	frames   = flag.Int("frames", 30000, "frames per run")
	steps    = flag.Int("steps", 32, "--frames-per-batch")
	reps     = flag.Int("reps", 3, "rounds")
	actorsF  = flag.String("actors", "1,2,4", "actor counts")
)

func main() {
	flag.Parse()
	var counts []int
	for _, f := range strings.Split(*actorsF, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || *envs%n != 0 {
			benchutil.Fail("distbench", fmt.Errorf("-actors %q: each count must divide -envs %d", *actorsF, *envs))
		}
		counts = append(counts, n)
	}
	tmp, err := os.MkdirTemp("", "distbench")
	if err != nil {
		benchutil.Fail("distbench", err)
	}
	defer os.RemoveAll(tmp)
	fps := map[string][]float64{}
	var p50s, p99s []float64
	lost, dup, acked := 0, 0, 0
	for r := 1; r <= *reps; r++ {
		fmt.Fprintf(os.Stderr, "round %d/%d\n", r, *reps)
		dir := filepath.Join(tmp, fmt.Sprint(r))
		f, err := inProcess(filepath.Join(dir, "inproc"))
		if err != nil {
			benchutil.Fail("distbench", err)
		}
		fps["inprocess"] = append(fps["inprocess"], f)
		fmt.Printf("round %d inprocess envs %d fps %.0f\n", r, *envs, f)
		for _, n := range counts {
			res, err := viaBroker(filepath.Join(dir, fmt.Sprintf("broker%d", n)), n)
			if err != nil {
				benchutil.Fail("distbench", err)
			}
			k := fmt.Sprintf("actors%d", n)
			fps[k] = append(fps[k], res.fps)
			lost += res.lost
			dup += res.dup
			acked += res.acked
			if n == counts[len(counts)-1] {
				p50s, p99s = append(p50s, res.p50), append(p99s, res.p99)
			}
			fmt.Printf("round %d actors %d envs_each %d fps %.0f p50_ms %.1f p99_ms %.1f acked %d learnt %d queued %d lost %d duplicated %d\n",
				r, n, *envs/n, res.fps, res.p50, res.p99, res.acked, res.learnt, res.queued, res.lost, res.dup)
		}
	}
	in := median(fps["inprocess"])
	var parts []string
	for _, n := range counts {
		k := fmt.Sprintf("actors%d", n)
		parts = append(parts, fmt.Sprintf("fps_%s=%.0f ratio_%s=%.2f", k, median(fps[k]), k, median(fps[k])/in))
	}
	most := fmt.Sprintf("actors%d", counts[len(counts)-1])
	fmt.Printf("RESULT distributed ratio=%.2f lost=%d duplicated=%d p99_ms=%.1f p50_ms=%.1f fps_inprocess=%.0f %s acked=%d env=%s envs=%d\n",
		median(fps[most])/in, lost, dup, median(p99s), median(p50s), in, strings.Join(parts, " "), acked, *env, *envs)
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func common(runDir string) []string {
	return []string{"--env", *env, "--frames-per-batch", strconv.Itoa(*steps), "--total-frames", strconv.Itoa(*frames),
		"--run-dir", runDir, "--checkpoint-every", "20"}
}

func start(log string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(*trainBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	return cmd, cmd.Start()
}

func inProcess(dir string) (float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	cmd, err := start(filepath.Join(dir, "out.log"), append(common(filepath.Join(dir, "run")), "--num-envs", strconv.Itoa(*envs))...)
	if err != nil {
		return 0, err
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("in-process run: %v (see %s)", err, filepath.Join(dir, "out.log"))
	}
	return learnerFPS(filepath.Join(dir, "run", "log.csv"))
}

// learnerFPS is the rate between the log's first and last rows.
func learnerFPS(path string) (float64, error) {
	rows, err := readCSV(path)
	if err != nil || len(rows) < 3 {
		return 0, fmt.Errorf("%s: %d rows (%v)", path, len(rows), err)
	}
	f0, _ := strconv.ParseFloat(rows[1][0], 64)
	s0, _ := strconv.ParseFloat(rows[1][1], 64)
	f1, _ := strconv.ParseFloat(rows[len(rows)-1][0], 64)
	s1, _ := strconv.ParseFloat(rows[len(rows)-1][1], 64)
	if s1 <= s0 {
		return 0, fmt.Errorf("%s: no time between the first and last rows", path)
	}
	return (f1 - f0) / (s1 - s0), nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

type result struct {
	fps, p50, p99                    float64
	acked, learnt, queued, lost, dup int
}

var latencyLine = regexp.MustCompile(`p50 ([0-9.]+) ms, p99 ([0-9.]+) ms`)

func viaBroker(dir string, actors int) (result, error) {
	var res result
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	addr := l.Addr().String()
	l.Close()
	url := "nats://" + addr
	broker, err := start(filepath.Join(dir, "broker.log"), "broker", "--store", filepath.Join(dir, "store"), "--listen", addr)
	if err != nil {
		return res, err
	}
	defer func() { broker.Process.Kill(); broker.Wait() }()
	runDir := filepath.Join(dir, "run")
	learner, err := start(filepath.Join(dir, "learner.log"), append(common(runDir), "--num-envs", strconv.Itoa(*envs), "--broker", url, "--run", "bench",
		"--broker-max-bytes", "64000000")...)
	if err != nil {
		return res, err
	}
	var acts []*exec.Cmd
	for i := 0; i < actors; i++ {
		a, err := start(filepath.Join(dir, fmt.Sprintf("actor%d.log", i)), "actor", "--broker", url, "--run", "bench", "--num-envs", strconv.Itoa(*envs/actors),
			"--actor-id", fmt.Sprintf("a%d", i), "--actor-log", filepath.Join(dir, fmt.Sprintf("audit%d.log", i)))
		if err != nil {
			return res, err
		}
		acts = append(acts, a)
	}
	lerr := learner.Wait()
	for _, a := range acts {
		done := make(chan error, 1)
		go func() { done <- a.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			a.Process.Kill()
			<-done
			return res, fmt.Errorf("an actor did not stop after the learner finished (see %s)", dir)
		}
	}
	if lerr != nil {
		return res, fmt.Errorf("learner: %v (see %s)", lerr, filepath.Join(dir, "learner.log"))
	}
	if res.fps, err = learnerFPS(filepath.Join(runDir, "log.csv")); err != nil {
		return res, err
	}
	out, _ := os.ReadFile(filepath.Join(dir, "learner.log"))
	if m := latencyLine.FindSubmatch(out); m != nil {
		res.p50, _ = strconv.ParseFloat(string(m[1]), 64)
		res.p99, _ = strconv.ParseFloat(string(m[2]), 64)
	}
	// The audit: learnt (unrolls.csv), queued (the stream), acknowledged (the actors' logs).
	rows, err := readCSV(filepath.Join(runDir, "unrolls.csv"))
	if err != nil {
		return res, err
	}
	learnt := map[string]int{}
	for _, row := range rows[1:] {
		if row[6] == "used" {
			id := row[1] + "/" + row[2] + "/" + row[3]
			if learnt[id]++; learnt[id] == 2 {
				res.dup++
			}
		}
	}
	res.learnt = len(learnt)
	queued, err := queuedIDs(url)
	if err != nil {
		return res, err
	}
	res.queued = len(queued)
	for i := 0; i < actors; i++ {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("audit%d.log", i)))
		if err != nil {
			return res, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
				res.acked++
				if learnt[id] == 0 && !queued[id] {
					res.lost++
				}
			}
		}
		f.Close()
	}
	return res, nil
}

func queuedIDs(url string) (map[string]bool, error) {
	nc, err := dist.Connect(url, dist.ConnectOptions{})
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := dist.OpenRun(ctx, nc, "bench")
	if err != nil {
		return nil, err
	}
	info, err := r.Unrolls.Info(ctx)
	if err != nil {
		return nil, err
	}
	q := map[string]bool{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := r.Unrolls.GetMsg(ctx, seq); err == nil {
			q[m.Header.Get(dist.HdrActor)+"/"+m.Header.Get(dist.HdrIncarnation)+"/"+m.Header.Get(dist.HdrSeq)] = true
		}
	}
	return q, nil
}
