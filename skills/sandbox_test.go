package skills

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

var sig = []Signature{{"terminate", []string{"obs", "turns"}}}

func load(t *testing.T, src string) (*Program, error) {
	t.Helper()
	return Load("gen.star", src, sig, nil, Limits{Steps: 200_000, Timeout: 500 * time.Millisecond})
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
	p, err := Load("slow.star", "def terminate(obs, turns):\n    while True:\n        pass\n", sig, nil, Limits{Steps: 1 << 62, Timeout: 50 * time.Millisecond})
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
	p, err := Load("gen.star", "def terminate(obs, turns):\n    return obs['depth'] > 1 or turns >= 500\n", sig, nil, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	obs, _ := ToValue(map[string]any{"depth": 1, "message": ""})
	turns := starlark.MakeInt(10)
	for b.Loop() {
		p.Call(context.Background(), "terminate", obs, turns)
	}
}
