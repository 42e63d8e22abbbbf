package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/internal/validate"
)

// truncateLog drops the rows of log.csv past frames (batches trained after the checkpoint that
// a resumed run trains again), so the log's frames only grow. A torn row (a kill in the middle
// of a write) and any row that does not parse are dropped too, with a note on stderr.
func truncateLog(path string, frames int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	rows, torn := readLogRows(b)
	keep := rows[:0]
	for i, r := range rows {
		if n, err := strconv.Atoi(r[0]); i == 0 || (err == nil && n <= frames) {
			keep = append(keep, r)
		}
	}
	if torn > 0 {
		fmt.Fprintf(os.Stderr, "train: %s: dropped %d torn or unreadable row(s)\n", path, torn)
	}
	if len(keep) == len(rows) && torn == 0 {
		return nil
	}
	var out bytes.Buffer
	cw := csv.NewWriter(&out)
	cw.WriteAll(keep)
	if err := cw.Error(); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, out.Bytes())
}

// checkNumbers refuses numeric flags that would train on nonsense or fail only at the first
// checkpoint (NaN cannot be written to train.json): each must be finite and in its range.
func checkNumbers(c config) error {
	if err := validate.Numbers("--",
		validate.F("lr", c.LR, c.LR >= 0, "of 0 (the env's default) or a positive learning rate such as 1e-4"),
		validate.F("motif-a1", c.Motif.A1, true, "(a weight)"),
		validate.F("motif-a2", c.Motif.A2, true, "(a weight)"),
		validate.F("motif-beta", c.Motif.Beta, c.Motif.Beta >= 0, "of at least 0"),
		validate.F("motif-threshold", c.Motif.Threshold, c.Motif.Threshold >= 0 && c.Motif.Threshold <= 1, "in [0, 1] (a quantile)")); err != nil {
		return err
	}
	if c.brokerMaxAhead < 0 || c.maxPolicyLag < 0 || c.brokerWait < 0 {
		return fmt.Errorf("--broker-max-ahead %d, --max-policy-lag %d, --broker-wait %v: each is 0 (no bound, no wait) or positive", c.brokerMaxAhead, c.maxPolicyLag, c.brokerWait)
	}
	if c.Motif.LRU < 0 {
		return fmt.Errorf("--motif-lru %d: want 0 (count per episode) or a positive window", c.Motif.LRU)
	}
	if c.evalEvery < 0 || (c.evalEvery > 0 && c.evalEpisodes < 1) {
		return fmt.Errorf("--eval-every %d with --eval-episodes %d: an evaluation plays at least one episode (or pass --eval-every 0 for none)", c.evalEvery, c.evalEpisodes)
	}
	if c.targetSuccess != 0 {
		if !(c.targetSuccess > 0 && c.targetSuccess <= 1) {
			return fmt.Errorf("--target-success %v: want a success rate in (0, 1], e.g. 0.95", c.targetSuccess)
		}
		if c.evalEvery == 0 || !minihack.IsTask(c.Env) {
			return fmt.Errorf("--target-success is checked by evaluations of a MiniHack task: add --eval-every N and use a MiniHack --env (not %s)", c.Env)
		}
	}
	if c.targetReturn != 0 && (c.evalEvery == 0 || math.IsNaN(c.targetReturn) || math.IsInf(c.targetReturn, 0)) {
		return fmt.Errorf("--target-return %v is checked by evaluations: add --eval-every N, with a finite target (e.g. 475 on CartPole)", c.targetReturn)
	}
	if c.targetReturn != 0 && c.targetSuccess != 0 {
		return fmt.Errorf("--target-return and --target-success: a run has one target; pass one of them")
	}
	return nil
}

// readLogRows parses log.csv line by line: rows with the header's field count are kept; any
// other line (torn, or not CSV) is counted in torn.
func readLogRows(b []byte) (rows [][]string, torn int) {
	lines := strings.Split(string(b), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	for _, line := range lines {
		r, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil || (len(rows) > 0 && len(r) != len(rows[0])) {
			torn++
			continue
		}
		rows = append(rows, r)
	}
	return rows, torn
}

// clearRunDir makes way for a new run in dir: nothing to do when it does not exist; with force,
// it is removed if it is a run folder (it holds ckpt/train.json, config.yaml or log.csv) and
// refused otherwise, so a mistyped --run-dir cannot delete a home folder or a file.
func clearRunDir(dir string, force bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--run-dir %s: %w", dir, err)
	}
	if !force {
		return fmt.Errorf("run folder %s exists; pass --force to overwrite it, --resume to continue it, or choose --run-dir", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("--force: --run-dir %s is a file, not a run folder; it was left alone (choose another --run-dir)", dir)
	}
	if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		return nil
	}
	for _, marker := range []string{filepath.Join("ckpt", "train.json"), "config.yaml", "log.csv"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return os.RemoveAll(dir)
		}
	}
	return fmt.Errorf("--force: %s is not a run folder (no ckpt/train.json, config.yaml or log.csv in it), so it was left alone; choose another --run-dir or empty it yourself", dir)
}

// configDiff names each field of a run's identity that differs, as the flag that sets it,
// with both values.
func configDiff(was, now config) []string {
	flat := func(c config) map[string]any {
		b, _ := json.Marshal(c)
		var m map[string]any
		json.Unmarshal(b, &m)
		out := map[string]any{}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			if sub, ok := v.(map[string]any); ok {
				for k, x := range sub {
					walk(prefix+strings.ToLower(k)+"-", x)
				}
				return
			}
			out[strings.TrimSuffix(prefix, "-")] = v
		}
		walk("", m)
		return out
	}
	a, b := flat(was), flat(now)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diff []string
	for _, k := range keys {
		if fmt.Sprint(a[k]) != fmt.Sprint(b[k]) {
			show := func(v any) string {
				if v == nil {
					return "(unset)"
				}
				return fmt.Sprintf("%v", v)
			}
			diff = append(diff, fmt.Sprintf("--%s was %s, now %s", strings.ReplaceAll(k, "_", "-"), show(a[k]), show(b[k])))
		}
	}
	return diff
}

func f(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func meanLast(xs []float64, n int) float64 {
	if len(xs) == 0 {
		return 0
	}
	n = min(n, len(xs))
	s := 0.0
	for _, x := range xs[len(xs)-n:] {
		s += x
	}
	return s / float64(n)
}

func bar(done, total int) string {
	const width = 24
	k := min(width, done*width/max(total, 1))
	return "[" + strings.Repeat("#", k) + strings.Repeat(".", width-k) + "]"
}

// learnerAPI names the learner type where a variable called learner shadows it.
type learnerAPI = learner

// save writes a checkpoint generation of the learner's and the collector's states with st
// (ckptStore; see checkpoint.Store.Save for what a crash leaves).
func save(c config, learner learner, col trainCollector, st state) error {
	lb, err := learner.Snapshot()
	if err != nil {
		return err
	}
	cb, err := col.Snapshot()
	if err != nil {
		return err
	}
	return ckptStore(c.runDir).Save(&st, [][]byte{lb, cb})
}

// successValue is 1 for the task's success (minihack.Succeeded), else 0.
func successValue(status int64) float64 {
	if minihack.Succeeded(status) {
		return 1
	}
	return 0
}

// logHasColumn says whether the CSV log at path has the named column in its header.
func logHasColumn(path, column string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	header, err := csv.NewReader(f).Read()
	return err == nil && slices.Contains(header, column)
}
