package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

const secret = "sk-hostile-0123456789abcdefXYZ"

type result struct {
	out     string
	code    int
	crashed string // why it counts as a crash, or ""
	rssMiB  int64
	took    time.Duration
}

// verdict is a case's outcome: why it counts as each kind of failure ("" when it does not),
// and the output's last line as evidence.
type verdict struct{ crash, loss, leak, bad, evidence string }

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

type harness struct {
	bin, work, llm string
}

// run runs a command with a time limit, capturing its output.
func (h *harness) run(limit time.Duration, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(h.bin, name), args...)
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY="+secret)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	r := result{out: buf.String(), took: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		r.code = ps.ExitCode()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.rssMiB = ru.Maxrss >> 10
		}
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.crashed = "killed by " + ws.Signal().String()
		}
	}
	switch {
	case ctx.Err() != nil:
		r.crashed = fmt.Sprintf("no exit within %v", limit)
	case strings.Contains(r.out, "panic:") || strings.Contains(r.out, "fatal error:") && !strings.Contains(r.out, "sandbox"):
		r.crashed = "a Go panic or fatal error"
	case err != nil && r.code < 0:
		r.crashed = err.Error()
	}
	return r
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	l := lines[len(lines)-1]
	if i := strings.LastIndex(l, "\r"); i >= 0 {
		l = l[i+1:]
	}
	return l
}

// failsWith: the command must fail with a last line of at most 400 characters naming want.
func failsWith(r result, want ...string) verdict {
	v := verdict{crash: r.crashed, evidence: lastLine(r.out)}
	if strings.Contains(r.out, secret[:8]) {
		v.leak = "the output shows the API key"
	}
	line := lastLine(r.out)
	switch {
	case r.crashed != "":
	case r.code == 0:
		v.bad = "succeeded; want an error"
	case len(line) > 400:
		v.bad = fmt.Sprintf("a last line of %d characters", len(line))
	default:
		for _, w := range want {
			if !strings.Contains(line, w) {
				v.bad = fmt.Sprintf("last line %q does not say %q", line, w)
				break
			}
		}
	}
	return v
}

// succeeds: the command must succeed (a contained failure, a fallback).
func succeeds(r result, want ...string) verdict {
	v := verdict{crash: r.crashed, evidence: lastLine(r.out)}
	if strings.Contains(r.out, secret[:8]) {
		v.leak = "the output shows the API key"
	}
	if r.crashed == "" && r.code != 0 {
		v.loss = "failed: " + lastLine(r.out)
	}
	for _, w := range want {
		if r.crashed == "" && v.loss == "" && !strings.Contains(r.out, w) {
			v.bad = fmt.Sprintf("the output does not say %q", w)
		}
	}
	return v
}

func main() {
	bin := flag.String("bin", "bench/out/hostile-bin", "folder holding the built train, annotate and compose")
	work := flag.String("work", "", "scratch folder (default: a new temporary folder)")
	flag.Parse()
	if *work == "" {
		d, err := os.MkdirTemp("", "maestro-hostile-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		*work = d
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go http.Serve(ln, standIn{})
	h := &harness{bin: *bin, work: *work, llm: "http://" + ln.Addr().String()}
	var crashes, losses, bads, leaks, n int
	for _, c := range cases() {
		v := c.run(h)
		n++
		status := "ok"
		for _, x := range []struct {
			what string
			why  string
			n    *int
		}{{"CRASH", v.crash, &crashes}, {"DATA LOSS", v.loss, &losses}, {"LEAK", v.leak, &leaks}, {"BAD ERROR", v.bad, &bads}} {
			if x.why != "" {
				*x.n++
				status = x.what + ": " + x.why
				break
			}
		}
		if status == "ok" && v.evidence != "" {
			status = "ok: " + v.evidence
		}
		fmt.Printf("%-56s %s\n", c.name, clip(status, 150))
	}
	fmt.Printf("RESULT hostile crashes=%d data_loss=%d bad_errors=%d leaks=%d inputs=%d\n", crashes, losses, bads, leaks, n)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hostile:", err)
	os.Exit(1)
}

type hcase struct {
	name string
	run  func(h *harness) verdict
}

func (h *harness) path(p ...string) string { return filepath.Join(append([]string{h.work}, p...)...) }

// setup makes the shared inputs once: observations, pairs, transition pairs, a CartPole run
// and a skills run.
func (h *harness) setup() error {
	steps := []struct {
		name string
		args []string
	}{
		{"annotate", []string{"collect", "--task", "score", "--steps", "400", "--envs", "1", "--out", h.path("obs.mtd")}},
		{"annotate", []string{"pairs", "--obs", h.path("obs.mtd"), "--out", h.path("pairs.mtd")}},
		{"annotate", []string{"pairs", "--obs", h.path("obs.mtd"), "--delta", "4", "--out", h.path("tpairs.mtd")}},
		{"train", []string{"--env", "CartPole", "--total-frames", "4096", "--checkpoint-every", "4", "--run-dir", h.path("cp")}},
		{"train", []string{"--algo", "appo", "--env", "NetHackScore", "--skills", "default", "--num-envs", "2", "--frames-per-batch", "32", "--total-frames", "256", "--run-dir", h.path("skrun")}},
	}
	for _, s := range steps {
		if r := h.run(10*time.Minute, s.name, s.args...); r.code != 0 || r.crashed != "" {
			return fmt.Errorf("setup %s %s: %s", s.name, strings.Join(s.args, " "), lastLine(r.out))
		}
	}
	return nil
}

// editPairs writes a copy of a pair file with edit applied.
func (h *harness) editPairs(src, dst string, edit func(d *tensordict.Dict) error) error {
	d, err := motif.LoadDataset(src, motif.KindPairs)
	if err != nil {
		return err
	}
	if err := edit(d); err != nil {
		return err
	}
	return motif.SaveDataset(dst, motif.KindPairs, d)
}

// trainRun makes a stopped CartPole run to damage.
func (h *harness) trainRun(dir string) error {
	r := h.run(2*time.Minute, "train", "--env", "CartPole", "--total-frames", "4096", "--stop-after", "2048", "--checkpoint-every", "4", "--run-dir", dir)
	if r.code != 0 {
		return fmt.Errorf("train: %s", lastLine(r.out))
	}
	return nil
}

func (h *harness) resume(dir string) result {
	return h.run(2*time.Minute, "train", "--env", "CartPole", "--total-frames", "4096", "--checkpoint-every", "4", "--run-dir", dir, "--resume")
}

func setupFailed(err error) verdict { return verdict{loss: "setup: " + err.Error()} }

// writeCode writes a skill-code folder holding only policy.star (the rest is the reference).
func (h *harness) writeCode(dir, policy string) string {
	p := h.path(dir)
	os.MkdirAll(p, 0o755)
	os.WriteFile(filepath.Join(p, "policy.star"), []byte(policy), 0o644)
	return p
}

func cases() []hcase {
	var setupErr error
	setupDone := false
	need := func(h *harness) error {
		if !setupDone {
			setupErr, setupDone = h.setup(), true
		}
		return setupErr
	}
	wrap := func(name string, f func(h *harness) verdict) hcase {
		return hcase{name, func(h *harness) verdict {
			if err := need(h); err != nil {
				return setupFailed(err)
			}
			return f(h)
		}}
	}
	nethackSkills := func(h *harness, code string, frames string) result {
		return h.run(5*time.Minute, "train", "--algo", "appo", "--env", "NetHackScore", "--skills", "default", "--skill-code", code,
			"--num-envs", "2", "--frames-per-batch", "32", "--total-frames", frames, "--force", "--run-dir", h.path("sk-"+filepath.Base(code)))
	}
	label := func(h *harness, pairs, mode string, extra ...string) result {
		args := append([]string{"label", "--pairs", pairs, "--llm-url", h.llm + "/" + mode + "/v1", "--llm-model", "m"}, extra...)
		return h.run(3*time.Minute, "annotate", args...)
	}
	return []hcase{
		// Crashes.
		wrap("annotate inspect --top -1", func(h *harness) verdict {
			return failsWith(h.run(time.Minute, "annotate", "inspect", "--pairs", h.path("pairs.mtd"), "--top", "-1"), "--top")
		}),
		wrap("pair file with a 10-byte message leaf: inspect", func(h *harness) verdict {
			bad := h.path("short.mtd")
			err := h.editPairs(h.path("pairs.mtd"), bad, func(d *tensordict.Dict) error {
				return d.Set("first/message", tensor.Zeros(tensor.Uint8, d.BatchShape()[0], 10))
			})
			if err != nil {
				return setupFailed(err)
			}
			return failsWith(h.run(time.Minute, "annotate", "inspect", "--pairs", bad), "first/message")
		}),
		wrap("pair file with a 10-byte message leaf: train", func(h *harness) verdict {
			return failsWith(h.run(time.Minute, "annotate", "train", "--pairs", h.path("short.mtd"), "--out", h.path("rm.mtd")), "first/message")
		}),
		wrap("journal line with label 7", func(h *harness) verdict {
			p := h.path("j7.mtd")
			b, _ := os.ReadFile(h.path("pairs.mtd"))
			os.WriteFile(p, b, 0o644)
			os.WriteFile(p+".journal", []byte("{\"k\":\"x\",\"l\":7,\"ok\":true}\n"), 0o644)
			return succeeds(label(h, p, "ok"), "impossible answers")
		}),
		wrap("policy.star top level: [0] * (1 << 28)", func(h *harness) verdict {
			return failsWith(nethackSkills(h, h.writeCode("bomb-top", "X = [0] * (1 << 28)\n"+refPolicy), "256"), "memory limit")
		}),
		wrap("policy.star top level: \"x\" * 1000000000", func(h *harness) verdict {
			return failsWith(nethackSkills(h, h.writeCode("bomb-str", "X = 'x' * 1000000000\n"+refPolicy), "256"), "memory limit")
		}),
		wrap("select_skill allocating 4 GiB each call (train)", func(h *harness) verdict {
			r := nethackSkills(h, h.writeCode("bomb-call", "def select_skill(obs, state):\n    x = [0] * (1 << 28)\n    return ('discoverer', state)\n"), "512")
			v := succeeds(r)
			if v.crash == "" && r.rssMiB > 2048 {
				v.crash = fmt.Sprintf("train's peak memory %d MiB", r.rssMiB)
			}
			return v
		}),
		wrap("select_skill state growing 64 MB a call (train)", func(h *harness) verdict {
			return succeeds(nethackSkills(h, h.writeCode("bomb-state", "def select_skill(obs, state):\n    s = dict(state)\n    s[len(s)] = 'x' * 64000000\n    return ('discoverer', s)\n"), "512"))
		}),
		wrap("sorted() of a huge list in one builtin call (train)", func(h *harness) verdict {
			return succeeds(nethackSkills(h, h.writeCode("bomb-sort", "def select_skill(obs, state):\n    return ('discoverer', len(str(list(range(20000000)))))\n"), "256"))
		}),
		wrap("compose --code with a 4 GiB policy", func(h *harness) verdict {
			out := h.path("compose-bomb")
			r := h.run(5*time.Minute, "compose", "--skills", h.path("skrun"), "--code", h.path("bomb-call"), "--task", "gnomish-mines", "--episodes", "2", "--envs", "1", "--max-steps", "200", "--out", out)
			v := succeeds(r)
			if _, err := os.Stat(filepath.Join(out, "compose.json")); err != nil && v.crash == "" && v.loss == "" {
				v.loss = "no compose.json"
			}
			return v
		}),
		// Data loss and silent corruption.
		wrap("train --force --run-dir <a folder of other files>", func(h *harness) verdict {
			home := h.path("home")
			os.MkdirAll(home, 0o755)
			os.WriteFile(filepath.Join(home, "thesis.tex"), []byte("years of work"), 0o644)
			v := failsWith(h.run(time.Minute, "train", "--env", "CartPole", "--total-frames", "256", "--force", "--run-dir", home), "not a run folder")
			if b, err := os.ReadFile(filepath.Join(home, "thesis.tex")); err != nil || string(b) != "years of work" {
				v.loss = "--force deleted a folder that was not a run"
			}
			return v
		}),
		wrap("train --force --run-dir <a file>", func(h *harness) verdict {
			f := h.path("notes.txt")
			os.WriteFile(f, []byte("notes"), 0o644)
			v := failsWith(h.run(time.Minute, "train", "--env", "CartPole", "--total-frames", "256", "--force", "--run-dir", f), "is a file")
			if b, err := os.ReadFile(f); err != nil || string(b) != "notes" {
				v.loss = "--force deleted a file"
			}
			return v
		}),
		wrap("params.mtd with flipped bytes: train eval", func(h *harness) verdict {
			p := h.path("cp", "params.mtd")
			b, _ := os.ReadFile(p)
			keep := bytes.Clone(b)
			defer os.WriteFile(p, keep, 0o644)
			b[len(b)-5] ^= 0x55
			os.WriteFile(p, b, 0o644)
			return succeeds(h.run(time.Minute, "train", "eval", "--run-dir", h.path("cp"), "--episodes", "2"), "checksum", "checkpoint")
		}),
		wrap("params.mtd with a NaN weight: train eval", func(h *harness) verdict {
			p := h.path("cp", "params.mtd")
			keep, _ := os.ReadFile(p)
			defer os.WriteFile(p, keep, 0o644)
			d, err := tensordict.LoadFile(p)
			if err != nil {
				return setupFailed(err)
			}
			k := d.LeafKeys()[0]
			t, _ := d.Get(k)
			t.SetAt(0, math.NaN())
			tensordict.SaveFile(p, d)
			return succeeds(h.run(time.Minute, "train", "eval", "--run-dir", h.path("cp"), "--episodes", "2"), "NaN", "checkpoint")
		}),
		wrap("params.mtd truncated: train eval", func(h *harness) verdict {
			p := h.path("cp", "params.mtd")
			keep, _ := os.ReadFile(p)
			defer os.WriteFile(p, keep, 0o644)
			os.WriteFile(p, keep[:len(keep)/3], 0o644)
			return succeeds(h.run(time.Minute, "train", "eval", "--run-dir", h.path("cp"), "--episodes", "2"), "checkpoint")
		}),
		wrap("kill -9 leftovers: torn log.csv row, then --resume", func(h *harness) verdict {
			dir := h.path("torn-log")
			if err := h.trainRun(dir); err != nil {
				return setupFailed(err)
			}
			f, _ := os.OpenFile(filepath.Join(dir, "log.csv"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("2176,1.3,40,2")
			f.Close()
			return succeeds(h.resume(dir), "torn")
		}),
		wrap("ckpt/train.json cut in half, stale temp files, then --resume", func(h *harness) verdict {
			dir := h.path("torn-state")
			if err := h.trainRun(dir); err != nil {
				return setupFailed(err)
			}
			p := filepath.Join(dir, "ckpt", "train.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
			tmp := filepath.Join(dir, "ckpt", ".learner-9.bin.tmp-1234")
			os.WriteFile(tmp, []byte("partial"), 0o644)
			v := succeeds(h.resume(dir), "state-")
			if _, err := os.Stat(tmp); err == nil && v.loss == "" {
				v.bad = "a stale temp file survived the resume"
			}
			return v
		}),
		wrap("ckpt/train.json empty, then --resume", func(h *harness) verdict {
			dir := h.path("empty-state")
			if err := h.trainRun(dir); err != nil {
				return setupFailed(err)
			}
			os.WriteFile(filepath.Join(dir, "ckpt", "train.json"), nil, 0o644)
			return succeeds(h.resume(dir), "state-")
		}),
		wrap("train --eval-every 512 --eval-episodes 0", func(h *harness) verdict {
			return failsWith(h.run(time.Minute, "train", "--env", "CartPole", "--total-frames", "1024", "--eval-every", "512", "--eval-episodes", "0", "--run-dir", h.path("ev0")), "--eval-episodes")
		}),
		wrap("train --lr NaN", func(h *harness) verdict {
			return failsWith(h.run(time.Minute, "train", "--env", "CartPole", "--total-frames", "1024", "--lr", "NaN", "--run-dir", h.path("lrnan")), "--lr")
		}),
		wrap("pair file with NaN diffstats: annotate train", func(h *harness) verdict {
			bad := h.path("nan-diff.mtd")
			err := h.editPairs(h.path("tpairs.mtd"), bad, func(d *tensordict.Dict) error {
				t, err := d.Get("first/diffstats")
				if err == nil {
					t.SetAt(3, math.NaN())
				}
				return err
			})
			if err != nil {
				return setupFailed(err)
			}
			return failsWith(h.run(time.Minute, "annotate", "train", "--pairs", bad, "--out", h.path("rm.mtd")), "NaN")
		}),
		wrap("transition pairs without first/prev_message: label", func(h *harness) verdict {
			bad := h.path("no-prev.mtd")
			d, err := motif.LoadDataset(h.path("tpairs.mtd"), motif.KindPairs)
			if err == nil {
				err = motif.SaveDataset(bad, motif.KindPairs, d.Exclude("first/prev_message"))
			}
			if err != nil {
				return setupFailed(err)
			}
			return failsWith(label(h, bad, "ok"), "first/prev_message")
		}),
		// Errors that did not help.
		wrap("train --resume with other flags", func(h *harness) verdict {
			return failsWith(h.run(time.Minute, "train", "--env", "CartPole", "--total-frames", "4096", "--checkpoint-every", "4", "--seed", "7", "--run-dir", h.path("cp"), "--resume"), "--seed was 1, now 7")
		}),
		wrap("LLM answers 502 with a 120 kB HTML page", func(h *harness) verdict {
			return failsWith(label(h, h.path("pairs.mtd"), "502", "--journal", h.path("j502")), "502")
		}),
		wrap("LLM answers 429 with Retry-After: 100000", func(h *harness) verdict {
			r := label(h, h.path("pairs.mtd"), "429", "--journal", h.path("j429"))
			v := failsWith(r, "429", "Retry-After")
			if v.bad == "" && r.took > time.Minute {
				v.bad = fmt.Sprintf("took %v to say so", r.took.Round(time.Second))
			}
			return v
		}),
		wrap("LLM log-probabilities of +-1e308 (twice)", func(h *harness) verdict {
			j := h.path("jhuge")
			v := succeeds(label(h, h.path("pairs.mtd"), "huge", "--journal", j, "--allow-unknown", "--out", h.path("huge.mtd")))
			if v.crash == "" && v.loss == "" {
				v = succeeds(label(h, h.path("pairs.mtd"), "huge", "--journal", j, "--allow-unknown", "--out", h.path("huge.mtd")))
			}
			return v
		}),
		wrap("annotate collect --out <a folder>", func(h *harness) verdict {
			r := h.run(time.Minute, "annotate", "collect", "--steps", "20000000", "--out", h.work)
			v := failsWith(r, "is a folder")
			if v.bad == "" && r.took > 10*time.Second {
				v.bad = fmt.Sprintf("failed only after %v", r.took.Round(time.Second))
			}
			return v
		}),
		wrap("--llm-url with credentials (user:key@host)", func(h *harness) verdict {
			u := strings.Replace(h.llm, "http://", "http://alice:"+secret+"@", 1) + "/ok/v1"
			out := h.path("creds.mtd")
			r := h.run(3*time.Minute, "annotate", "label", "--pairs", h.path("pairs.mtd"), "--llm-url", u, "--llm-model", "m", "--out", out, "--journal", h.path("jcreds"))
			v := succeeds(r)
			b, _ := os.ReadFile(out + ".labels.json")
			if strings.Contains(string(b), secret[:8]) || strings.Contains(r.out, secret[:8]) || strings.Contains(string(b), "alice") {
				v.leak = "the credentials reached labels.json or the output"
			}
			return v
		}),
		wrap("LLM server echoing the key's first 12 characters", func(h *harness) verdict {
			return failsWith(label(h, h.path("pairs.mtd"), "echo", "--journal", h.path("jecho")), "401")
		}),
	}
}

// refPolicy is a policy over skills that always explores (appended after a top-level bomb).
const refPolicy = "def select_skill(obs, state):\n    return ('discoverer', state)\n"

// standIn is a loopback OpenAI-compatible server with one behaviour per path prefix:
// /ok/v1 rates every caption 5, /huge/v1 sends log-probabilities of +-1e308, /502/v1 a 502
// with a 120 kB HTML page, /429/v1 a 429 asking to wait 100,000 s, /echo/v1 a 401 quoting the
// key's first 12 characters. /v1/models answers the model "m" under every prefix.
type standIn struct{}

func (standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	mode, rest := parts[0], ""
	if len(parts) > 1 {
		rest = parts[1]
	}
	if rest == "v1/models" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[{"id":"m","object":"model"}]}`)
		return
	}
	switch mode {
	case "502":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body>"+strings.Repeat("<p>Bad gateway: the upstream model is down.</p>", 2600)+"</body></html>")
		return
	case "429":
		w.Header().Set("Retry-After", "100000")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case "echo":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s****"}}`, key[:min(12, len(key))])
		return
	}
	lp := -0.1
	other := -3.0
	if mode == "huge" {
		lp, other = -1e308, 1e308
	}
	resp := map[string]any{
		"id": "x", "object": "chat.completion", "model": "m",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "length",
			"message": map[string]any{"role": "assistant", "content": "5"},
			"logprobs": map[string]any{"content": []any{map[string]any{"token": "5", "logprob": lp,
				"top_logprobs": []any{map[string]any{"token": "5", "logprob": lp}, map[string]any{"token": "6", "logprob": other}}}}}}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}
