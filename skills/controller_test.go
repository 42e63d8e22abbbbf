package skills

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensordict"
)

func nethackEnv(t *testing.T, maxSteps int) envs.Env {
	t.Helper()
	e, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore, MaxEpisodeSteps: maxSteps,
		Game: nethack.GameOptions{ObservationKeys: []string{"tty_chars", "tty_colors", "blstats", "message"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Task().Seed(nethack.Seeds{Core: 7, Disp: 8}); err != nil {
		t.Fatal(err)
	}
	return e
}

func code(t *testing.T, src map[string]string) *Code {
	t.Helper()
	ref, _ := ReferenceCode(Limits{})
	for _, k := range CodeKinds {
		if _, ok := src[k]; !ok {
			src[k] = ref.Sources[k]
		}
	}
	c, err := ParseCode(src, Limits{Steps: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// play steps ctl with random actions and returns the skill at each root and under next, and
// the done flags.
func play(t *testing.T, ctl *Controller, steps int) (root, next []int64, done []bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	random := envs.RandomPolicy(ctl, rng)
	td, err := ctl.Reset()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < steps; i++ {
		if err := random.Act(td); err != nil {
			t.Fatal(err)
		}
		s, _ := tensordict.GetAs[int64](td, KeySkill)
		stepped, nxt, err := envs.StepAndMaybeReset(ctl, td)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		ns, err := tensordict.GetAs[int64](stepped, "next/"+KeySkill)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := tensordict.GetAs[bool](stepped, "next/done")
		root, next, done = append(root, s[0]), append(next, ns[0]), append(done, d[0])
		td = nxt
	}
	return root, next, done
}

// TestControllerCallAndReturn: with a termination function that stops every skill after each
// step and a policy that cycles through three skills by a counter in its state, the skill
// observation follows the policy exactly: a new choice after every step, the counter carried
// from step to step, and the state starting afresh with each episode (episodes of 40 steps).
func TestControllerCallAndReturn(t *testing.T) {
	spec, _ := DefaultSpec()
	c := code(t, map[string]string{
		"termination": "def should_stop(skill, start, now, turns):\n    return True\n",
		"policy": `def select_skill(obs, state):
    n = state.get("n", 0)
    return (["discoverer", "descender", "ascender"][n % 3], {"n": n + 1})
`})
	ctl, err := NewController(nethackEnv(t, 40), spec, c)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if s, ok := ctl.Specs().Observation.Get(KeySkill); !ok || s.(envs.Categorical).N != 5 {
		t.Fatalf("skill spec %v", s)
	}
	root, next, done := play(t, ctl, 100)
	n := 0 // the policy's counter: choices made in this episode
	for i := range root {
		if int(root[i]) != n%3 {
			t.Fatalf("step %d: skill %d at the root, want %d (choice %d of the episode)", i, root[i], n%3, n)
		}
		n++
		if done[i] {
			n = 0 // the episode ended: no choice; the next episode starts with a fresh state
			continue
		}
		if int(next[i]) != n%3 {
			t.Fatalf("step %d: next skill %d, want %d", i, next[i], n%3)
		}
	}
	if st := ctl.Stats(); len(st.Errors) != 0 || st.Switches < 100 {
		t.Errorf("stats %+v", st)
	}
	if ctl.steps != 0 {
		t.Errorf("a skill chosen at every step has played %d steps before, want 0", ctl.steps)
	}
}

// TestControllerReferenceCode plays the reference code on a real game: the first skill is
// Discoverer (level 1 is unexplored), and it runs until its 500 game turns are up (random
// actions take many steps for that) or the episode ends.
func TestControllerReferenceCode(t *testing.T) {
	spec, _ := DefaultSpec()
	ref, _ := ReferenceCode(Limits{})
	ctl, err := NewController(nethackEnv(t, 0), spec, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	root, _, done := play(t, ctl, 200)
	for i, s := range root {
		if s != 0 {
			t.Fatalf("step %d plays skill %d; Discoverer (0) plays the first 500 turns", i, s)
		}
		if done[i] {
			break
		}
	}
	if n := ctl.steps; n != 200 && !slices.Contains(done, true) {
		t.Errorf("the skill's step count after 200 steps of one skill is %d, want 200", n)
	}
	if st := ctl.Stats(); len(st.Errors) != 0 {
		t.Errorf("the reference code failed: %+v", st)
	}
}

// TestControllerContainsFailures: generated code that divides by zero, loops forever or
// chooses skills that may not start never stops the env; the controller falls back and
// counts what went wrong.
func TestControllerContainsFailures(t *testing.T) {
	spec, _ := DefaultSpec()
	for _, c := range []struct {
		name   string
		src    map[string]string
		errKey string
		want   int64 // the skill that plays after the fallback
	}{
		{"policy raises", map[string]string{"policy": "def select_skill(obs, state):\n    return 1 // 0\n"}, "policy", 0},
		{"endless termination", map[string]string{"termination": "def should_stop(skill, start, now, turns):\n    while True:\n        pass\n"}, "termination", 0},
		{"unknown skill", map[string]string{"policy": "def select_skill(obs, state):\n    return ('juggler', state)\n"}, "policy", 0},
		{"initiation raises", map[string]string{"initiation": "def can_start(skill, obs):\n    return obs['nope']\n",
			"policy": "def select_skill(obs, state):\n    return ('ascender', state)\n"}, "initiation", 2},
	} {
		ctl, err := NewController(nethackEnv(t, 0), spec, code(t, c.src))
		if err != nil {
			t.Fatal(err)
		}
		root, _, _ := play(t, ctl, 20)
		st := ctl.Stats()
		if st.Errors[c.errKey] == 0 || st.LastError == "" {
			t.Errorf("%s: stats %+v, want %s errors counted", c.name, st, c.errKey)
		}
		if root[0] != c.want {
			t.Errorf("%s: skill %d plays, want %d", c.name, root[0], c.want)
		}
		ctl.Close()
	}
	// A skill the initiation function refuses is not started: the first one that may start is.
	ctl, _ := NewController(nethackEnv(t, 0), spec, code(t, map[string]string{
		"policy": "def select_skill(obs, state):\n    return ('merchant', state)\n"}))
	defer ctl.Close()
	root, _, _ := play(t, ctl, 5)
	if st := ctl.Stats(); root[0] != 0 || st.Refused != 4 || len(st.Errors) != 0 {
		t.Errorf("a refused merchant: skill %d, stats %+v; want discoverer after 4 refusals", root[0], st)
	}
}

// TestControllerObservation checks what the code sees on a real game: the hero '@' in the
// middle of the 7x7 window, depth 1 of the main dungeon, turn 1 at the start.
func TestControllerObservation(t *testing.T) {
	spec, _ := DefaultSpec()
	var seen *starlark.Dict
	c := code(t, map[string]string{})
	ctl, err := NewController(nethackEnv(t, 0), spec, c)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	td, err := ctl.Reset()
	if err != nil {
		t.Fatal(err)
	}
	if seen, err = ctl.observe(td); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := seen.Get(starlark.String("window")); found {
		t.Error("the termination function's observation carries the window; only choices need it")
	}
	ctl.addView(seen)
	w, _, _ := seen.Get(starlark.String("window"))
	rows := w.(*starlark.List)
	mid, _ := starlark.AsString(rows.Index(3))
	if rows.Len() != 7 || len(mid) != 7 || mid[3] != '@' {
		t.Errorf("window %v: want 7 rows of 7 with the hero in the middle", w)
	}
	for k, want := range map[string]string{"depth": "1", "dungeon": `"main"`, "turn": "1", "new_items": "0"} {
		v, _, _ := seen.Get(starlark.String(k))
		if v == nil || v.String() != want {
			t.Errorf("obs[%q] = %v, want %s", k, v, want)
		}
	}
	if !isFood("uncursed food ration") || isFood("a +0 dagger") || !isFood("7 gold pieces") {
		t.Error("isFood")
	}
	if _, err := NewController(ctl, spec, c); err == nil || !strings.Contains(err.Error(), "already has") {
		t.Errorf("a controller over a controller: %v", err)
	}
}

// BenchmarkControllerStep measures a step of the controller over a real game with the
// reference code (the game's own step included), against BenchmarkPlainStep, the same game
// without the controller.
func BenchmarkControllerStep(b *testing.B) { benchStep(b, true) }

func BenchmarkPlainStep(b *testing.B) { benchStep(b, false) }

func benchStep(b *testing.B, controlled bool) {
	spec, _ := DefaultSpec()
	ref, _ := ReferenceCode(Limits{})
	e, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore,
		Game: nethack.GameOptions{ObservationKeys: []string{"tty_chars", "tty_colors", "blstats", "message"}}})
	if err != nil {
		b.Fatal(err)
	}
	var env envs.Env = e
	if controlled {
		if env, err = NewController(e, spec, ref); err != nil {
			b.Fatal(err)
		}
	}
	defer env.Close()
	random := envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 1)))
	td, err := env.Reset()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		random.Act(td)
		_, next, err := envs.StepAndMaybeReset(env, td)
		if err != nil {
			b.Fatal(err)
		}
		td = next
	}
}

// TestControllerStatsWhileStepping reads a controller's stats on one goroutine while another
// steps it, as train's per-skill log does while a collector's worker plays: every step ends
// the skill and the policy fails, so the counters change on every step (go test -race reports
// unguarded counters; without the race detector a concurrent map write can crash).
func TestControllerStatsWhileStepping(t *testing.T) {
	spec, _ := DefaultSpec()
	ctl, err := NewController(nethackEnv(t, 0), spec, code(t, map[string]string{
		"policy":      "def select_skill(obs, state):\n    return 1 // 0\n",
		"termination": "def should_stop(skill, start, now, turns):\n    return True\n"}))
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	stop, reads := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				reads <- n
				return
			default:
				_ = ctl.Stats()
				n++
			}
		}
	}()
	play(t, ctl, 100)
	close(stop)
	n := <-reads
	if st := ctl.Stats(); st.Errors["policy"] < 100 || st.Switches < 100 || n == 0 {
		t.Errorf("after 100 steps read %d times: stats %+v; want a policy failure and a switch per step", n, st)
	}
}

// TestControllerSurvivesMemoryBombs: LLM-written code that allocates 4 GiB in one call, or
// carries a state that grows by 8 MB per call (the hostile run's OOM kills), fails its calls
// inside its sandbox; the game goes on under the fallbacks and the failures are counted.
func TestControllerSurvivesMemoryBombs(t *testing.T) {
	spec, _ := DefaultSpec()
	for name, src := range map[string]map[string]string{
		"policy allocating 4 GiB": {
			"policy":      "def select_skill(obs, state):\n    return ('discoverer', len([0] * (1 << 28)))\n",
			"termination": "def should_stop(skill, start, now, turns):\n    return True\n"},
		"policy state growing 8 MB a call": {
			"policy":      "def select_skill(obs, state):\n    s = dict(state)\n    s[len(s)] = 'x' * 8000000\n    return ('discoverer', s)\n",
			"termination": "def should_stop(skill, start, now, turns):\n    return True\n"},
		"termination allocating 1 GB": {
			"termination": "def should_stop(skill, start, now, turns):\n    return len('x' * 1000000000) > 0\n"},
	} {
		t.Run(name, func(t *testing.T) {
			ctl, err := NewController(nethackEnv(t, 0), spec, code(t, src))
			if err != nil {
				t.Fatal(err)
			}
			defer ctl.Close()
			play(t, ctl, 20)
			st := ctl.Stats()
			if st.Errors["policy"]+st.Errors["termination"] == 0 || !strings.Contains(st.LastError, "limit") && !strings.Contains(st.LastError, "over 1048576 bytes") {
				t.Errorf("stats %+v; want failed calls naming the memory limit or the value bound", st)
			}
			t.Logf("%d policy and %d termination failures; last: %s", st.Errors["policy"], st.Errors["termination"], st.LastError)
		})
	}
	if kb := peakRSS(t); kb > 1<<20 {
		t.Errorf("this process's peak memory was %d MiB; the bombs should have stayed in their sandboxes", kb>>10)
	}
}
