package minihack_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// The parity tests compare Maestro's MiniHack with Python MiniHack 1.0.2 in the peer
// virtualenv (scripts/setup.sh --peer installs it): the des text each task compiles, the
// level generator's output, and whole episodes (observations including the crops, rewards,
// endings) for the same seeds and actions. The clock is handled as in envs/nethack's parity
// test: FixMoonPhase on both sides, each episode started in the same second on both.

type peer struct {
	in  *json.Encoder
	out *bufio.Scanner
}

func startPeer(t *testing.T) *peer {
	t.Helper()
	py := os.Getenv("MAESTRO_PEER_PYTHON")
	if py == "" {
		py = filepath.Join(nethack.DefaultCacheDir(), "peer-nle-"+nethack.NLEVersion, "bin", "python")
	}
	if err := exec.Command(py, "-c", "import minihack").Run(); err != nil {
		msg := fmt.Sprintf("Python MiniHack is not installed beside %s (%v); run scripts/setup.sh --peer (make test does)", py, err)
		if os.Getenv("MAESTRO_REQUIRE_PEER") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(py, "testdata/minihack_peer.py")
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); cmd.Wait() })
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	return &peer{in: json.NewEncoder(w), out: sc}
}

func (p *peer) ask(t *testing.T, req, resp any) {
	t.Helper()
	if err := p.in.Encode(req); err != nil {
		t.Fatal(err)
	}
	if !p.out.Scan() {
		t.Fatalf("the Python peer stopped: %v", p.out.Err())
	}
	if err := json.Unmarshal(p.out.Bytes(), resp); err != nil {
		t.Fatal(err)
	}
}

// parityTasks are the registered tasks whose level Maestro builds as MiniHack does.
func parityTasks() []string {
	var out []string
	for _, n := range minihack.TaskNames() {
		if strings.HasPrefix(n, "MiniHack-") {
			out = append(out, n)
		}
	}
	return out
}

func TestTaskLevelsMatchMiniHack(t *testing.T) {
	p := startPeer(t)
	cache := t.TempDir()
	for _, name := range parityTasks() {
		spec, err := minihack.Spec(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := spec.Level(rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		var want struct{ Des string }
		p.ask(t, map[string]string{"op": "des", "task": name}, &want)
		if got == want.Des {
			continue
		}
		// Written in other words (the corridor tasks): the compiled level must be the same.
		a, err := minihack.Compile(got, minihack.CompileOptions{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		b, err := minihack.Compile(want.Des, minihack.CompileOptions{CacheDir: cache})
		if err != nil {
			t.Fatalf("%s: Python MiniHack's des: %v", name, err)
		}
		if ba, bb := must(os.ReadFile(a.NHDat)), must(os.ReadFile(b.NHDat)); !slices.Equal(ba, bb) {
			t.Errorf("%s: the level compiles to another nhdat than Python MiniHack's\n ours: %q\nwant: %q", name, got, want.Des)
		}
	}
}

func TestLevelGeneratorMatchesMiniHack(t *testing.T) {
	p := startPeer(t)
	o := minihack.DefaultLevelOptions()
	o.W, o.H, o.Lit = 6, 4, false
	g := minihack.NewLevelGenerator(o)
	g.AddGoal(minihack.At(5, 3))
	g.AddMonster("jackal", 'd', minihack.At(1, 1), "hostile")
	g.AddObject("apple", '%', minihack.Random, "cursed")
	g.AddObject("random", '%', minihack.At(3, 2), "")
	g.AddTrap("pit", minihack.At(2, 2))
	g.AddDoor("locked", minihack.At(0, 1))
	g.AddSink(minihack.At(3, 3))
	g.AddFountain(minihack.Random)
	g.AddGold(10, minihack.At(1, 2))
	g.AddBoulder(minihack.At(2, 1))
	g.FillTerrain("line", 'L', 0, 0, 3, 0)
	g.AddAltar(minihack.At(4, 1), "law", "shrine")
	g.SetTerrain(4, 3, 'T')
	g.Wallify()
	g.AddMazewalk(1, 1, "east")
	g.SetStart(0, 0)
	g.SetStart(2, 2) // only the first start counts, in both
	got, err := g.Des()
	if err != nil {
		t.Fatal(err)
	}
	calls := [][]any{{"add_goal_pos", []int{5, 3}}, {"add_monster", "jackal", "d", []int{1, 1}, []string{"hostile"}},
		{"add_object", "apple", "%", nil, "cursed"}, {"add_object", "random", "%", []int{3, 2}},
		{"add_trap", "pit", []int{2, 2}}, {"add_door", "locked", []int{0, 1}}, {"add_sink", []int{3, 3}},
		{"add_fountain"}, {"add_gold", 10, []int{1, 2}}, {"add_boulder", []int{2, 1}},
		{"fill_terrain", "line", "L", 0, 0, 3, 0}, {"add_altar", []int{4, 1}, "law", "shrine"},
		{"add_terrain", []int{4, 3}, "T"}, {"wallify"}, {"add_mazewalk", []int{1, 1}, "east"},
		{"set_start_pos", []int{0, 0}}, {"set_start_pos", []int{2, 2}}}
	var want struct{ Des string }
	p.ask(t, map[string]any{"op": "generate", "w": 6, "h": 4, "lit": false, "calls": calls}, &want)
	if got != want.Des {
		t.Errorf("des differs from Python MiniHack's LevelGenerator\n got: %q\nwant: %q", got, want.Des)
	}
}

type peerEpisode struct {
	T0, T1 int64
	Des    string
	Reset  map[string]string
	Steps  [][4]json.RawMessage
}

func digests(td interface{ Bytes(string) []byte }, keys []string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		s := sha256.Sum256(td.Bytes(k))
		m[k] = hex.EncodeToString(s[:8])
	}
	return m
}

func diffKeys(got, want map[string]string) []string {
	var bad []string
	for k, w := range want {
		if got[k] != w {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	return bad
}

// TestParityWithPythonMiniHack plays every task with uniform random actions on both sides.
func TestParityWithPythonMiniHack(t *testing.T) {
	p := startPeer(t)
	total := 0
	for ti, name := range parityTasks() {
		t.Run(name, func(t *testing.T) {
			spec, _ := minihack.Spec(name)
			keys := spec.ObservationKeys
			if keys == nil {
				keys = minihack.DefaultObservationKeys
			}
			keys = append(slices.Clone(keys), "tty_chars", "tty_chars_crop", "tty_colors_crop")
			e, err := minihack.NewEnv(minihack.Options{Task: name, ObservationKeys: keys, Game: nethack.GameOptions{FixMoonPhase: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rng := rand.New(rand.NewPCG(uint64(ti), 9))
			for ep := range 3 {
				seed := [2]uint64{uint64(500 + 10*ti + ep), uint64(3 + ep)}
				actions := make([]int, spec.MaxEpisodeSteps)
				for i := range actions {
					actions[i] = rng.IntN(len(spec.Actions))
				}
				n, _ := compareEpisode(t, p, e, name, keys, spec.MaxEpisodeSteps, seed, actions, ep)
				total += n
			}
		})
	}
	t.Logf("%d steps compared with Python MiniHack 1.0.2, all identical", total)
}

type goStep struct {
	d      map[string]string
	reward float64
	done   bool
}

type dictBytes struct{ d *tensordict.Dict }

func (b dictBytes) Bytes(k string) []byte {
	t, err := b.d.Get(k)
	if err != nil {
		return nil
	}
	return t.Bytes()
}

// compareEpisode plays actions in Go and Python from the same seeds and fails on the first
// difference; it returns the steps played and the last step's reward.
func compareEpisode(t *testing.T, p *peer, e *minihack.Env, name string, keys []string, maxSteps int, seed [2]uint64, actions []int, ep int) (int, float64) {
	t.Helper()
	req := map[string]any{"op": "episode", "task": name, "keys": keys, "max_steps": maxSteps, "seed": seed, "actions": actions}
	var pe peerEpisode
	var reset map[string]string
	var steps []goStep
	for try := 0; ; try++ {
		if err := p.in.Encode(req); err != nil {
			t.Fatal(err)
		}
		te := e.Task()
		te.Game().SetInitialSeeds(nethack.Seeds{Core: seed[0], Disp: seed[1]})
		g0 := time.Now().Unix()
		td, err := e.Reset()
		if err != nil {
			t.Fatal(err)
		}
		g1 := time.Now().Unix()
		reset, steps = digests(dictBytes{td}, keys), nil
		for _, a := range actions {
			if err := td.Set(envs.KeyAction, tensor.Scalar(int64(a))); err != nil {
				t.Fatal(err)
			}
			out, err := e.Step(td)
			if err != nil {
				t.Fatal(err)
			}
			next, err := out.GetDict(envs.KeyNext)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := tensordict.GetAs[float32](next, envs.KeyReward)
			done, _ := tensordict.GetAs[bool](next, envs.KeyDone)
			steps = append(steps, goStep{digests(dictBytes{next}, keys), float64(r[0]), done[0]})
			if done[0] {
				break
			}
			td = next
		}
		if !p.out.Scan() {
			t.Fatalf("the Python peer stopped: %v", p.out.Err())
		}
		pe = peerEpisode{}
		if err := json.Unmarshal(p.out.Bytes(), &pe); err != nil {
			t.Fatal(err)
		}
		if pe.T0 == pe.T1 && pe.T0 == g0 && g0 == g1 || try == 4 {
			break
		}
	}
	if pe.Des != e.Level().Des {
		theirs, err := minihack.Compile(pe.Des, minihack.CompileOptions{})
		if err != nil || !slices.Equal(must(os.ReadFile(theirs.NHDat)), must(os.ReadFile(e.Level().NHDat))) {
			t.Fatalf("the Python env compiled another level (%v):\n%q\nMaestro's:\n%q", err, pe.Des, e.Level().Des)
		}
	}
	if bad := diffKeys(reset, pe.Reset); len(bad) > 0 {
		t.Fatalf("episode %d: reset observations differ in %v", ep, bad)
	}
	if len(steps) != len(pe.Steps) {
		t.Errorf("episode %d: Go played %d steps, Python %d", ep, len(steps), len(pe.Steps))
	}
	for i := range min(len(steps), len(pe.Steps)) {
		var d map[string]string
		var r float64
		var done bool
		json.Unmarshal(pe.Steps[i][0], &d)
		json.Unmarshal(pe.Steps[i][1], &r)
		json.Unmarshal(pe.Steps[i][2], &done)
		g := steps[i]
		if bad := diffKeys(g.d, d); len(bad) > 0 {
			t.Fatalf("episode %d step %d (action %d): observations differ in %v", ep, i, actions[i], bad)
		}
		if float32(r) != float32(g.reward) || done != g.done {
			t.Fatalf("episode %d step %d: Go reward %v done %v; Python reward %v done %v", ep, i, g.reward, g.done, r, done)
		}
	}
	if len(steps) == 0 {
		return 0, 0
	}
	return len(steps), steps[len(steps)-1].reward
}

// TestKeyRoomWithPythonMiniHack plays KeyRoom-Fixed-S5 and KeyRoom-S5 with a policy that
// picks the key up when the hero stands on it and then applies half of the time, so that the
// key gets applied next to the locked door (MiniHack's key-to-door steps before NLE's step).
// Each episode's actions are chosen in Go, then both sides replay them from the same seeds:
// every episode must be identical in Go and Python, and some must end on the stairs behind
// the door.
func TestKeyRoomWithPythonMiniHack(t *testing.T) {
	p := startPeer(t)
	for ti, name := range []string{"MiniHack-KeyRoom-Fixed-S5-v0", "MiniHack-KeyRoom-S5-v0"} {
		t.Run(name, func(t *testing.T) {
			spec, _ := minihack.Spec(name)
			keys := append(slices.Clone(minihack.DefaultObservationKeys), "inv_strs", "tty_chars")
			e, err := minihack.NewEnv(minihack.Options{Task: name, ObservationKeys: keys, Game: nethack.GameOptions{FixMoonPhase: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rng := rand.New(rand.NewPCG(uint64(ti), 77))
			wins, steps := 0, 0
			for ep := range 12 {
				seed := [2]uint64{uint64(900 + 10*ti + ep), uint64(ep + 1)}
				actions := keyRoomActions(t, e, spec, seed, rng)
				n, last := compareEpisode(t, p, e, name, keys, spec.MaxEpisodeSteps, seed, actions, ep)
				steps += n
				if last > 0.5 {
					wins++
				}
			}
			t.Logf("%d steps identical, %d of 12 episodes through the door to the stairs", steps, wins)
			if wins == 0 {
				t.Error("no episode reached the stairs behind the locked door: the key-to-door steps were never compared")
			}
		})
	}
}

// keyRoomActions plays one KeyRoom episode from seed in Go and returns its actions: pick up
// when the message shows the key under the hero, then apply or move at random.
func keyRoomActions(t *testing.T, e *minihack.Env, spec minihack.TaskSpec, seed [2]uint64, rng *rand.Rand) []int {
	t.Helper()
	pickup, apply := slices.Index(spec.Actions, ','), slices.Index(spec.Actions, 'a')
	e.Task().Game().SetInitialSeeds(nethack.Seeds{Core: seed[0], Disp: seed[1]})
	td, err := e.Reset()
	if err != nil {
		t.Fatal(err)
	}
	var actions []int
	for len(actions) < spec.MaxEpisodeSteps {
		msg := string(must(td.Get("message")).Bytes())
		inv := string(must(td.Get("inv_strs")).Bytes())
		a := rng.IntN(len(minihack.MoveActions))
		switch {
		case !strings.Contains(inv, "key") && strings.Contains(msg, "key"):
			a = pickup
		case strings.Contains(inv, "key") && rng.IntN(2) == 0:
			a = apply
		}
		actions = append(actions, a)
		if err := td.Set(envs.KeyAction, tensor.Scalar(int64(a))); err != nil {
			t.Fatal(err)
		}
		out, err := e.Step(td)
		if err != nil {
			t.Fatal(err)
		}
		if td, err = out.GetDict(envs.KeyNext); err != nil {
			t.Fatal(err)
		}
		if done, _ := tensordict.GetAs[bool](td, envs.KeyDone); done[0] {
			break
		}
	}
	return actions
}

// TestScriptedSkillsWithPythonMiniHack plays the Fixed skill tasks' solutions (two steps
// north-west onto the thing, its command, y to confirm; Levitate's: pick the item up and use
// it; WoD-Easy's: zap the wand at the minotaur): the reward manager's events must fire in Go as
// in Python, ending the episode with reward 1.
func TestScriptedSkillsWithPythonMiniHack(t *testing.T) {
	p := startPeer(t)
	for _, c := range []struct {
		task string
		keys []uint8
	}{
		{"MiniHack-Eat-Fixed-v0", []uint8{'y', 'y', 'e', 'y'}},
		{"MiniHack-Pray-Fixed-v0", []uint8{'y', 'y', 240, 'y'}},
		{"MiniHack-Sink-Fixed-v0", []uint8{'y', 'y', 'q', 'y'}},
		// Pick the item up (it becomes f), use it on f; a ring asks for the right hand.
		{"MiniHack-Levitate-Potion-Fixed-v0", []uint8{'y', 'y', ',', 'q', 'f'}},
		{"MiniHack-Levitate-Boots-Fixed-v0", []uint8{'y', 'y', ',', 'W', 'f'}},
		{"MiniHack-Levitate-Ring-Fixed-v0", []uint8{'y', 'y', ',', 'P', 'f', 'r'}},
		// The wand starts in the inventory as f: zap it east at the minotaur.
		{"MiniHack-WoD-Easy-Full-v0", []uint8{'z', 'f', 'l'}},
		{"MiniHack-WoD-Easy-Restricted-v0", []uint8{'z', 'f', 'l'}},
	} {
		t.Run(c.task, func(t *testing.T) {
			spec, _ := minihack.Spec(c.task)
			keys := append(slices.Clone(spec.ObservationKeys), "tty_chars")
			e, err := minihack.NewEnv(minihack.Options{Task: c.task, ObservationKeys: keys, Game: nethack.GameOptions{FixMoonPhase: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			var actions []int
			for _, k := range c.keys {
				i := slices.Index(spec.Actions, k)
				if i < 0 {
					t.Fatalf("key %d is not among the task's actions", k)
				}
				actions = append(actions, i)
			}
			compareEpisode(t, p, e, c.task, keys, spec.MaxEpisodeSteps, [2]uint64{11, 12}, actions, 0)
			// The same again on Go alone, reading the outcome.
			te := e.Task()
			te.Game().SetInitialSeeds(nethack.Seeds{Core: 11, Disp: 12})
			if err := te.Reset(); err != nil {
				t.Fatal(err)
			}
			var st nethack.Step
			for _, a := range actions {
				if st, err = te.Step(a); err != nil {
					t.Fatal(err)
				}
			}
			if !st.Terminated || st.Status != nethack.StatusTaskSuccessful || st.Reward < 0.98 {
				t.Errorf("after the solution: %+v; want success with reward 1 (less a time penalty)", st)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
