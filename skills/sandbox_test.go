package skills

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

var sig = []Signature{{"terminate", []string{"obs", "turns"}}}

func load(t *testing.T, src string) (*Program, error) {
	t.Helper()
	return Load("gen.star", src, sig, Limits{Steps: 200_000, Timeout: 500 * time.Millisecond})
}

func call(t *testing.T, src string) error {
	t.Helper()
	p, err := load(t, src)
	if err != nil {
		return err
	}
	obs, _ := ToValue(map[string]any{"depth": 2, "message": "You kill the newt!"})
	_, err = p.Call(context.Background(), "terminate", obs, starlark.MakeInt(10))
	return err
}

// TestSandboxContainsBadCode: every way generated code can misbehave ends in an error that
// says what happened, within the limits.
func TestSandboxContainsBadCode(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
	}{
		{"endless loop", "def terminate(obs, turns):\n    while True:\n        pass\n", "step limit"},
		{"long loop", "def terminate(obs, turns):\n    s = 0\n    for i in range(10000000):\n        s += i\n    return s\n", "step limit"},
		{"recursion", "def f(n):\n    return f(n + 1)\ndef terminate(obs, turns):\n    return f(0)\n", "recursi"},
		{"huge string", "def terminate(obs, turns):\n    return 'x' * (1 << 40)\n", "repeat"},
		{"huge list", "def terminate(obs, turns):\n    return [0] * (1 << 40)\n", "repeat"},
		{"load", "load('os', 'system')\ndef terminate(obs, turns):\n    return True\n", "cannot load"},
		{"open", "def terminate(obs, turns):\n    return open('/etc/passwd')\n", "undefined: open"},
		{"import", "import os\ndef terminate(obs, turns):\n    return True\n", "got import"},
		{"syntax", "def terminate(obs, turns)\n    return True\n", "gen.star:2:1: got newline, want ':'"},
		{"runtime", "def terminate(obs, turns):\n    return obs['hp'] > 3\n", "key \"hp\" not in dict"},
		{"missing", "def finish(obs, turns):\n    return True\n", "does not define terminate(obs, turns)"},
		{"signature", "def terminate(obs):\n    return True\n", "has parameters (obs), want terminate(obs, turns)"},
		{"not a function", "terminate = 3\n", "is a int"},
		{"top-level loop", "x = 0\nwhile True:\n    x += 1\ndef terminate(obs, turns):\n    return x\n", "step limit"},
	} {
		err := call(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one mentioning %q", c.name, err, c.want)
		}
	}
}

// TestSandboxTimeLimit: a cancelled context stops the code (the step limit set high so the
// clock decides).
func TestSandboxTimeLimit(t *testing.T) {
	p, err := Load("slow.star", "def terminate(obs, turns):\n    while True:\n        pass\n", sig, Limits{Steps: 1 << 62, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(0))
	if err == nil || !strings.Contains(err.Error(), "time limit") {
		t.Errorf("error %v; want the time limit", err)
	}
}

// TestSandboxRunsGoodCode: correct code gets its arguments and returns values; globals stay
// frozen between calls.
func TestSandboxRunsGoodCode(t *testing.T) {
	src := `
LIMIT = 500
seen = []
def terminate(obs, turns):
    if obs["depth"] > 1 and "kill" in obs["message"]:
        return True
    return turns >= LIMIT
`
	p, err := load(t, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		depth, turns int
		want         bool
	}{{2, 0, true}, {1, 10, false}, {1, 500, true}} {
		obs, _ := ToValue(map[string]any{"depth": c.depth, "message": "You kill the newt!"})
		v, err := p.Call(context.Background(), "terminate", obs, starlark.MakeInt(c.turns))
		if err != nil {
			t.Fatal(err)
		}
		if v != starlark.Bool(c.want) {
			t.Errorf("terminate(depth %d, turns %d) = %v, want %v", c.depth, c.turns, v, c.want)
		}
	}
	mut, err := load(t, "seen = []\ndef terminate(obs, turns):\n    seen.append(turns)\n    return len(seen)\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mut.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(1)); err == nil || !strings.Contains(err.Error(), "frozen") {
		t.Errorf("mutating a global between calls: %v; want a frozen-value error", err)
	}
}

func BenchmarkSandboxCall(b *testing.B) {
	p, err := Load("gen.star", "def terminate(obs, turns):\n    return obs['depth'] > 1 or turns >= 500\n", sig, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	obs, _ := ToValue(map[string]any{"depth": 1, "message": ""})
	turns := starlark.MakeInt(10)
	for b.Loop() {
		p.Call(context.Background(), "terminate", obs, turns)
	}
}

// rssKiB reads this process's peak resident set (VmHWM) in KiB.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestSandboxBoundsMemoryAndBuiltins runs the memory and time bombs found by a hostile run
// for real: each ends in an error naming the limit, this process survives with its peak
// memory far below what the bombs ask for (read from /proc), and the program still answers
// correctly afterwards from a fresh sandbox process.
func TestSandboxBoundsMemoryAndBuiltins(t *testing.T) {
	lim := Limits{Steps: 1 << 40, Timeout: 2 * time.Second, Memory: 128 << 20}
	for _, c := range []struct {
		name, body, want string
	}{
		{"list of 2^28 (4 GiB in one allocation)", "return len([0] * (1 << 28))", "memory limit exceeded"},
		{"string of 1e9 bytes", "return len('x' * 1000000000)", "memory limit exceeded"},
		{"growing in small bites", "l = []\n    for i in range(1 << 30):\n        l.append('y' * 1000)\n    return len(l)", "memory limit exceeded"},
		{"state over MaxValue", "return ['z' * 1000] * 2000", "over 1048576 bytes"},
		{"a value that holds itself", "l = []\n    l.append(l)\n    return l", "nested more than"},
		{"a function as the result", "return len", "cannot be passed out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Load("bomb.star", "def terminate(obs, turns):\n    if turns == 0:\n        return True\n    "+c.body+"\n", sig, lim)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(1))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bomb.star: terminate") {
				t.Fatalf("error %v; want one naming bomb.star: terminate and %q", err, c.want)
			}
			t.Logf("%v", err)
			v, err := p.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(0))
			if err != nil || v != starlark.True {
				t.Errorf("after the bomb, a sound call gave %v, %v; want True", v, err)
			}
		})
	}
	if kb := peakRSS(t); kb > 1<<20 {
		t.Errorf("this process's peak memory was %d MiB; the bombs ask for 4 GiB and more and should have stayed in their sandboxes", kb>>10)
	} else {
		t.Logf("this process's peak memory: %d MiB", kb>>10)
	}
}

// TestSandboxBuiltinOverrun: one builtin call that runs far past the time limit (str of a
// list of 2e7 numbers takes seconds and Starlark cannot stop it between steps) is ended by
// killing its sandbox process at the timeout plus the grace, and the call says so.
func TestSandboxBuiltinOverrun(t *testing.T) {
	lim := Limits{Timeout: 50 * time.Millisecond, Memory: 1 << 30}
	p, err := Load("slow.star", "def terminate(obs, turns):\n    return len(str(list(range(20000000))))\n", sig, lim)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Call(context.Background(), "terminate", starlark.None, starlark.None)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "single builtin call") {
		t.Fatalf("error %v; want the time limit of a single builtin call", err)
	}
	t.Logf("ended after %v: %v", took, err)
}

// TestSandboxTopLevelBomb: a memory bomb at a program's top level (train --skill-code,
// compose's answers) fails Load with the memory limit named.
func TestSandboxTopLevelBomb(t *testing.T) {
	_, err := Load("top.star", "X = [0] * (1 << 28)\ndef terminate(obs, turns):\n    return True\n", sig, Limits{Memory: 128 << 20})
	if err == nil || !strings.Contains(err.Error(), "memory limit exceeded") || !strings.Contains(err.Error(), "top.star") {
		t.Fatalf("error %v; want top.star and the memory limit", err)
	}
}

// TestSandboxStopsCrashingCode: a program whose calls end crashLimit sandbox processes in a
// row fails at once afterwards, naming the last crash, instead of starting a process per call.
func TestSandboxStopsCrashingCode(t *testing.T) {
	p, err := Load("crash.star", "def terminate(obs, turns):\n    return len([0] * (1 << 28))\n", sig, Limits{Memory: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < crashLimit; i++ {
		if _, err := p.Call(context.Background(), "terminate", starlark.None, starlark.None); err == nil || !strings.Contains(err.Error(), "memory limit") {
			t.Fatalf("call %d: %v; want the memory limit", i, err)
		}
	}
	_, err = p.Call(context.Background(), "terminate", starlark.None, starlark.None)
	if err == nil || !strings.Contains(err.Error(), "not run") || !strings.Contains(err.Error(), "memory limit") {
		t.Fatalf("after %d crashes: %v; want a refusal naming the last crash", crashLimit, err)
	}
}

// TestSandboxRoundTripsValues: what a call returns is what the code built, for every kind of
// value that may cross (big ints, floats, nested dicts with non-string keys, sets, tuples).
func TestSandboxRoundTripsValues(t *testing.T) {
	src := "def terminate(obs, turns):\n    return (None, True, False, -7, 1 << 100, 2.5, 'é', b'\\x00\\xff', [1, [2]], {1: 'a', ('k', 2): {'x': None}}, set([3, 4]), obs)\n"
	p, err := load(t, src)
	if err != nil {
		t.Fatal(err)
	}
	obs, _ := ToValue(map[string]any{"depth": 2, "window": []string{"..@..", "....."}})
	v, err := p.Call(context.Background(), "terminate", obs, starlark.None)
	if err != nil {
		t.Fatal(err)
	}
	want := `(None, True, False, -7, 1267650600228229401496703205376, 2.5, "é", b"\x00\xff", [1, [2]], {1: "a", ("k", 2): {"x": None}}, set([3, 4]), {"depth": 2, "window": ["..@..", "....."]})`
	if v.String() != want {
		t.Errorf("got  %s\nwant %s", v, want)
	}
}

// TestSandboxConcurrentCalls: goroutines calling one program at once each get their own
// sandbox process and the right answers (go test -race checks the pool).
func TestSandboxConcurrentCalls(t *testing.T) {
	p, err := load(t, "def terminate(obs, turns):\n    return turns * 2\n")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 50 {
				v, err := p.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(g*100+i))
				if err == nil && v.String() != strconv.Itoa(2*(g*100+i)) {
					err = fmt.Errorf("goroutine %d call %d: %v", g, i, v)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCoderOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		o    CoderOptions
		want string
	}{{CoderOptions{Search: "bfs"}, `Search "bfs"`}, {CoderOptions{Rounds: -1}, "Rounds -1"}, {CoderOptions{Limits: Limits{Timeout: -1}}, "Limits.Timeout"}} {
		if err := c.o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.o, err, c.want)
		}
	}
}

// TestSandboxReviewFindings replays an independent review's findings: a cancelled context
// neither kills a process nor counts as a crash; a string or a big integer over MaxValue is
// refused however it is built; a big integer crosses exactly, in linear time; the crash of a
// function passed to another program's test is charged to that function, not to the test.
func TestSandboxReviewFindings(t *testing.T) {
	p, err := load(t, "def terminate(obs, turns):\n    return turns\n")
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for range crashLimit + 1 {
		if _, err := p.Call(cancelled, "terminate", starlark.None, starlark.MakeInt(1)); err == nil || !strings.Contains(err.Error(), "not run") {
			t.Fatalf("a cancelled call: %v", err)
		}
	}
	if v, err := p.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(3)); err != nil || v.String() != "3" {
		t.Errorf("after cancelled calls: %v, %v; want 3", v, err)
	}
	big, err := Load("big.star", "def terminate(obs, turns):\n    if turns == 0:\n        return -(7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7 * 7)\n    if turns == 1:\n        return 'x' * 5000000\n    v = 1 << 500\n    for i in range(15):\n        v = v * v\n    return v\n", sig, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := big.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(0)); err != nil || v.String() != "-6366805760909027985741435139224001" {
		t.Errorf("-(7^40) came back as %v, %v", v, err)
	}
	for turns := 1; turns <= 2; turns++ {
		if _, err := big.Call(context.Background(), "terminate", starlark.None, starlark.MakeInt(turns)); err == nil || !strings.Contains(err.Error(), "over 1048576 bytes") {
			t.Errorf("a %s over MaxValue: %v; want it refused", map[int]string{1: "5 MB string", 2: "2 MB integer"}[turns], err)
		}
	}
	tests, err := Load("tests.star", "def test_it(fn):\n    fn(None, 0)\n", nil, Limits{Memory: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := Load("bad.star", "def terminate(obs, turns):\n    return len([0] * (1 << 28))\n", sig, Limits{Memory: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for range crashLimit {
		if err := tests.callWith(context.Background(), "test_it", bad, "terminate"); err == nil {
			t.Fatal("a 4 GiB candidate passed its test")
		}
	}
	good, err := Load("good.star", "def terminate(obs, turns):\n    return 1\n", sig, Limits{Memory: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := tests.callWith(context.Background(), "test_it", good, "terminate"); err != nil {
		t.Errorf("a sound candidate after a crashing one: %v; the crashes belong to the crashing candidate", err)
	}
}
