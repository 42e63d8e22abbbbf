package nethack_test

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
	"testing"
	"time"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// The parity test plays the same seeds and actions on Maestro and on Python NLE 1.3.0 (the
// peer virtualenv that `scripts/setup.sh --peer` makes) and requires identical observations,
// rewards and episode ends at every step.
//
// The clock: both sides run with FixMoonPhase (moon phase, Friday 13th, night and midnight
// come from the seed). The game's start second still seeds shopkeeper names and a few other
// details, so each episode is started on both sides at the same moment (Go sends the request,
// then resets while Python resets) and is replayed when the two starts fall in different
// seconds.

type peer struct {
	cmd *exec.Cmd
	in  *json.Encoder
	out *bufio.Scanner
}

func peerPython(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MAESTRO_PEER_PYTHON"); p != "" {
		return p
	}
	p := filepath.Join(nethack.DefaultCacheDir(), "peer-nle-"+nethack.NLEVersion, "bin", "python")
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("the Python NLE peer is not installed at %s; run scripts/setup.sh --peer (make test does)", p)
		if os.Getenv("MAESTRO_REQUIRE_PEER") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func startPeer(t *testing.T) *peer {
	t.Helper()
	cmd := exec.Command(peerPython(t), "testdata/nle_peer.py")
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
	return &peer{cmd: cmd, in: json.NewEncoder(w), out: sc}
}

func (p *peer) send(t *testing.T, req any) {
	t.Helper()
	if err := p.in.Encode(req); err != nil {
		t.Fatal(err)
	}
}

func (p *peer) recv(t *testing.T, resp any) {
	t.Helper()
	if !p.out.Scan() {
		t.Fatalf("the Python peer stopped: %v", p.out.Err())
	}
	if err := json.Unmarshal(p.out.Bytes(), resp); err != nil {
		t.Fatal(err)
	}
}

func TestParityTablesWithPython(t *testing.T) {
	p := startPeer(t)
	p.send(t, map[string]string{"op": "tables"})
	var tab struct {
		Actions       []uint8        `json:"actions"`
		UsefulActions []uint8        `json:"useful_actions"`
		TaskActions   []uint8        `json:"task_actions"`
		Options       []string       `json:"options"`
		Constants     map[string]int `json:"constants"`
	}
	p.recv(t, &tab)
	for _, c := range []struct {
		name      string
		got, want []uint8
	}{{"ACTIONS", nethack.Actions(), tab.Actions}, {"USEFUL_ACTIONS", nethack.UsefulActions(), tab.UsefulActions},
		{"TASK_ACTIONS", nethack.TaskActions(), tab.TaskActions}} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: got %v\nwant %v", c.name, c.got, c.want)
		}
	}
	if !slices.Equal(nethack.DefaultOptions(), tab.Options) {
		t.Errorf("default options: got %v, want %v", nethack.DefaultOptions(), tab.Options)
	}
	for name, got := range map[string]int{"GLYPH_MON_OFF": nethack.GlyphMonOff, "GLYPH_PET_OFF": nethack.GlyphPetOff,
		"GLYPH_INVIS_OFF": nethack.GlyphInvis, "GLYPH_CMAP_OFF": nethack.GlyphCmapOff, "NO_GLYPH": nethack.NoGlyph,
		"BL_MASK_HALLU": nethack.CondHallucinating, "NLE_BL_CONDITION": nethack.BlCondition, "NLE_BL_TIME": nethack.BlTime,
		"NLE_BL_SCORE": nethack.BlScore, "NLE_BL_GOLD": nethack.BlGold, "NLE_BL_DNUM": nethack.BlDNum,
		"NLE_BL_DLEVEL": nethack.BlDLevel, "ORACLE": nethack.GlyphOracle} {
		if want, ok := tab.Constants[name]; !ok || got != want {
			t.Errorf("%s = %d, Python NLE has %d", name, got, want)
		}
	}
}

type peerStep struct {
	digests map[string]string
	reward  float64
	done    bool
	status  int
}

func (s *peerStep) UnmarshalJSON(b []byte) error {
	var raw [4]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for i, dst := range []any{&s.digests, &s.reward, &s.done, &s.status} {
		if err := json.Unmarshal(raw[i], dst); err != nil {
			return err
		}
	}
	return nil
}

type peerEpisode struct {
	T0, T1 int64
	Reset  map[string]string
	Steps  []peerStep
}

func digests(o *nethack.Observation, keys []string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		s := sha256.Sum256(o.Bytes(k))
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

type goStep struct {
	digests map[string]string
	step    nethack.Step
}

func playGo(t *testing.T, e *nethack.TaskEnv, keys []string, seed [2]uint64, actions []int) (t0, t1 int64, reset map[string]string, steps []goStep) {
	t.Helper()
	e.Game().SetInitialSeeds(nethack.Seeds{Core: seed[0], Disp: seed[1]})
	t0 = time.Now().Unix()
	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	t1 = time.Now().Unix()
	reset = digests(e.Obs(), keys)
	for _, a := range actions {
		st, err := e.Step(a)
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, goStep{digests(e.Obs(), keys), st})
		if st.Done() {
			break
		}
	}
	return
}

func TestParityWithPythonNLE(t *testing.T) {
	p := startPeer(t)
	allKeys := []string{"glyphs", "chars", "colors", "specials", "blstats", "message", "program_state",
		"internal", "inv_glyphs", "inv_strs", "inv_letters", "inv_oclasses", "tty_chars", "tty_colors",
		"tty_cursor", "misc"}
	const maxSteps = 700
	total := 0
	for _, task := range nethack.Tasks() {
		if task == nethack.TaskOracleSober { // Motif's task; Python NLE does not have it
			continue
		}
		keys := allKeys
		if task == nethack.TaskScore {
			keys = append(slices.Clone(allKeys), "screen_descriptions")
		}
		t.Run(task.String(), func(t *testing.T) {
			e, err := nethack.NewTaskEnv(nethack.EnvOptions{Task: task, MaxEpisodeSteps: maxSteps,
				Game: nethack.GameOptions{ObservationKeys: keys, FixMoonPhase: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rng := rand.New(rand.NewPCG(uint64(task)+100, 3))
			for ep := 0; ep < 3; ep++ {
				seed := [2]uint64{uint64(1000*int(task) + ep), uint64(77 + ep)}
				actions := make([]int, maxSteps)
				for i := range actions {
					actions[i] = rng.IntN(e.NumActions())
				}
				n, _ := compareEpisode(t, p, e, task, keys, maxSteps, seed, actions, nil, ep)
				total += n
			}
		})
	}
	t.Logf("%d steps compared with Python NLE %s, all identical", total, nethack.NLEVersion)
}

// TestParityOptionsWithPythonNLE compares options the main parity test leaves at their
// defaults, on the cases an independent parity run flagged: character strings with a random
// part ("mon-hum-@" gave Lawful in Go and Neutral in Python at reset) and NetHackScore's
// exponential time penalty (rewards near -5.8e16 on both sides).
func TestParityOptionsWithPythonNLE(t *testing.T) {
	p := startPeer(t)
	keys := []string{"blstats", "message", "tty_chars", "inv_strs"}
	const maxSteps = 300
	step := -0.0125
	for _, c := range []struct {
		name   string
		task   nethack.Task
		kwargs map[string]any
		o      nethack.EnvOptions
	}{
		{"character mon-hum-@", nethack.TaskScore, map[string]any{"character": "mon-hum-@"}, nethack.EnvOptions{Game: nethack.GameOptions{Character: "mon-hum-@"}}},
		{"character val-@", nethack.TaskScore, map[string]any{"character": "val-@"}, nethack.EnvOptions{Game: nethack.GameOptions{Character: "val-@"}}},
		{"character @", nethack.TaskScore, map[string]any{"character": "@"}, nethack.EnvOptions{Game: nethack.GameOptions{Character: "@"}}},
		{"penalty exp", nethack.TaskScore, map[string]any{"penalty_mode": "exp", "penalty_step": step}, nethack.EnvOptions{PenaltyMode: "exp", PenaltyStep: &step}},
		{"penalty square", nethack.TaskStaircase, map[string]any{"penalty_mode": "square", "penalty_step": step}, nethack.EnvOptions{PenaltyMode: "square", PenaltyStep: &step}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.Task, o.MaxEpisodeSteps = c.task, maxSteps
			o.Game.ObservationKeys, o.Game.FixMoonPhase = keys, true
			e, err := nethack.NewTaskEnv(o)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rng := rand.New(rand.NewPCG(5, 5))
			for ep := 0; ep < 4; ep++ {
				seed := [2]uint64{uint64(31 + ep), uint64(7 + ep)}
				actions := make([]int, maxSteps)
				for i := range actions {
					// Uniform actions: the ones that take no game time (look, inventory) make the
					// penalty's frozen-step count climb.
					actions[i] = rng.IntN(e.NumActions())
				}
				n, lowest := compareEpisode(t, p, e, c.task, keys, maxSteps, seed, actions, c.kwargs, ep)
				t.Logf("episode %d: %d steps identical, lowest reward %g", ep, n, lowest)
			}
		})
	}
}

// compareEpisode plays one episode (seed, actions) on e and on the Python peer (kwargs go to the
// task's constructor), again when the two sides did not start in the same second (NetHack
// reads the clock), and fails t where the reset, any step's observations, reward, done flag or
// status differ. It returns the steps played and the lowest reward.
func compareEpisode(t *testing.T, p *peer, e *nethack.TaskEnv, task nethack.Task, keys []string, maxSteps int, seed [2]uint64, actions []int, kwargs map[string]any, ep int) (n int, lowest float64) {
	t.Helper()
	req := map[string]any{"op": "episode", "task": task.String(), "keys": keys, "max_steps": maxSteps, "seed": seed, "actions": actions}
	if kwargs != nil {
		req["kwargs"] = kwargs
	}
	var pe peerEpisode
	var reset map[string]string
	var steps []goStep
	for try := 0; ; try++ {
		p.send(t, req)
		var gt0, gt1 int64
		gt0, gt1, reset, steps = playGo(t, e, keys, seed, actions)
		pe = peerEpisode{}
		p.recv(t, &pe)
		if pe.T0 == pe.T1 && pe.T0 == gt0 && gt0 == gt1 || try == 4 {
			break
		}
	}
	if bad := diffKeys(reset, pe.Reset); len(bad) > 0 {
		t.Fatalf("episode %d: reset observations differ in %v", ep, bad)
	}
	if len(steps) != len(pe.Steps) {
		t.Errorf("episode %d: Go played %d steps, Python %d", ep, len(steps), len(pe.Steps))
	}
	for i := range min(len(steps), len(pe.Steps)) {
		g, w := steps[i], pe.Steps[i]
		if bad := diffKeys(g.digests, w.digests); len(bad) > 0 {
			t.Fatalf("episode %d step %d (action %d): observations differ in %v", ep, i, actions[i], bad)
		}
		if g.step.Reward != w.reward || g.step.Done() != w.done || int(g.step.Status) != w.status {
			t.Fatalf("episode %d step %d: Go reward %v done %v status %d; Python reward %v done %v status %d",
				ep, i, g.step.Reward, g.step.Done(), g.step.Status, w.reward, w.done, w.status)
		}
		lowest = min(lowest, g.step.Reward)
	}
	return len(steps), lowest
}
