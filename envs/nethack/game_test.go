package nethack_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// All tests here drive the real libnethack.so that `make setup` installs.

func newGame(t testing.TB, o nethack.GameOptions) *nethack.Game {
	t.Helper()
	g, err := nethack.NewGame(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// obsHash hashes every filled observation buffer in ObservationKeys order.
func obsHash(o *nethack.Observation) [32]byte {
	h := sha256.New()
	for _, k := range nethack.ObservationKeys {
		h.Write(o.Bytes(k))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func TestFirstObservation(t *testing.T) {
	g := newGame(t, nethack.GameOptions{})
	if err := g.Reset(""); err != nil {
		t.Fatal(err)
	}
	o := g.Obs()
	if got := o.MessageText(); !strings.Contains(got, "welcome to NetHack") || !strings.Contains(got, "neutral male human Monk") {
		t.Errorf("first message %q, want the welcome of a neutral male human Monk", got)
	}
	if !g.InNormalGame() || g.Done() {
		t.Errorf("InNormalGame %v Done %v after reset, want true false", g.InNormalGame(), g.Done())
	}
	x, y := o.Blstats[nethack.BlX], o.Blstats[nethack.BlY]
	if c := o.Chars[int(y)*nethack.Cols+int(x)]; c != '@' {
		t.Errorf("map char at hero (%d,%d) = %q, want '@'", x, y, c)
	}
	screen := nethack.RenderText(o.TTYChars)
	if !strings.Contains(screen, "Dlvl:1") || !strings.Contains(strings.SplitN(screen, "\n", 2)[0], "Hello Agent") {
		t.Errorf("rendered screen lacks the status line or welcome:\n%s", screen)
	}
	ansi := nethack.RenderANSI(o.TTYChars, o.TTYColors, o.TTYCursor)
	if !strings.Contains(ansi, "\x1b[") || !strings.Contains(ansi, "Dlvl:1") {
		t.Errorf("ANSI rendering has no escapes or no status line")
	}
	for i, g := range o.InvGlyphs {
		if o.InvLetters[i] == 0 && g != nethack.NoGlyph {
			t.Fatalf("empty inventory slot %d has glyph %d, want %d", i, g, nethack.NoGlyph)
		}
	}
	if o.ProgramState[3] != 1 {
		// A start with more to say (a monster in view, ...) waits at --More-- before the
		// first turn, as NLE's nethack.py does; a key lets the game into its move loop.
		if !strings.Contains(nethack.RenderText(o.TTYChars), "--More--") {
			t.Fatalf("in_moveloop = %d and no --More-- on the screen:\n%s", o.ProgramState[3], nethack.RenderText(o.TTYChars))
		}
		if _, err := g.Step('\r'); err != nil {
			t.Fatal(err)
		}
		if o.ProgramState[3] != 1 {
			t.Errorf("in_moveloop = %d after the --More-- at the start, want 1", o.ProgramState[3])
		}
	}
}

// NetHack reads the clock: FixMoonPhase takes the moon phase, Friday 13th, night and midnight
// from the seed, but the game's start second still seeds shopkeeper names and a few other
// details. The determinism tests therefore start the games they compare at the same moment:
// they step them in lockstep, or concurrently in step with each other.

func TestDeterminismBySeed(t *testing.T) {
	a := newGame(t, nethack.GameOptions{FixMoonPhase: true})
	b := newGame(t, nethack.GameOptions{FixMoonPhase: true})
	pa, pb := newPlayer(a, 42), newPlayer(b, 42)
	for i := 0; i < 5000; i++ {
		if pa.step(t) != pb.step(t) {
			t.Fatalf("same seeds and keys: observations differ at step %d", i)
		}
	}
	if pa.episodes < 5 {
		t.Errorf("only %d episodes in 5000 steps; the test should cover resets", pa.episodes)
	}
	c := newGame(t, nethack.GameOptions{FixMoonPhase: true})
	pa, pc := newPlayer(a, 42), newPlayer(c, 43)
	same := 0
	for i := 0; i < 50; i++ {
		if pa.step(t) == pc.step(t) {
			same++
		}
	}
	if same == 50 {
		t.Fatalf("seeds 42 and 43 gave identical games")
	}
}

// player plays random task keys on a game, starting a new seeded game when one ends or has
// run 1000 steps, and hashes the observation after each step.
type player struct {
	g        *nethack.Game
	rng      *rand.Rand
	seed     uint64
	keys     []uint8
	episodes int
	n        int
}

func newPlayer(g *nethack.Game, seed uint64) *player {
	return &player{g: g, rng: rand.New(rand.NewPCG(seed, 7)), seed: seed, keys: nethack.TaskActions()}
}

func (p *player) step(t testing.TB) [32]byte {
	if p.episodes == 0 || p.g.Done() || p.n == 1000 {
		p.episodes, p.n = p.episodes+1, 0
		p.g.SetInitialSeeds(nethack.Seeds{Core: p.seed + 100*uint64(p.episodes), Disp: p.seed})
		if err := p.g.Reset(""); err != nil {
			t.Error(err)
		}
		return obsHash(p.g.Obs())
	}
	if _, err := p.g.Step(p.keys[p.rng.IntN(len(p.keys))]); err != nil {
		t.Error(err)
	}
	p.n++
	return obsHash(p.g.Obs())
}

// TestConcurrentGames steps 4 games from 4 goroutines at once: games 0 and 1 play seed A,
// games 2 and 3 seed B, each pair in step with itself, and every pair must stay identical.
func TestConcurrentGames(t *testing.T) {
	const n, steps = 4, 4000
	games := make([]*nethack.Game, n)
	for i := range games {
		games[i] = newGame(t, nethack.GameOptions{FixMoonPhase: true})
	}
	hashes := make([][][32]byte, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range games {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			p := newPlayer(games[i], uint64(1000+i/2))
			<-start
			for range steps {
				hashes[i] = append(hashes[i], p.step(t))
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := 0; i < n; i += 2 {
		for s := range hashes[i] {
			if hashes[i][s] != hashes[i+1][s] {
				t.Errorf("games %d and %d (same seed, stepped concurrently) differ at step %d", i, i+1, s)
				break
			}
		}
	}
	if hashes[0][steps-1] == hashes[2][steps-1] && hashes[0][steps/2] == hashes[2][steps/2] {
		t.Errorf("different seeds gave the same games")
	}
}

func rssKB(t testing.TB) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func TestThousandResetsMemory(t *testing.T) {
	g := newGame(t, nethack.GameOptions{})
	for range 50 { // warm up allocator pools
		if err := g.Reset(""); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	before := rssKB(t)
	fds0, _ := os.ReadDir("/proc/self/fd")
	for i := range 1000 {
		if err := g.Reset(""); err != nil {
			t.Fatalf("reset %d: %v", i, err)
		}
		if _, err := g.Step('s'); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	after := rssKB(t)
	fds1, _ := os.ReadDir("/proc/self/fd")
	growth := after - before
	t.Logf("1000 resets: RSS %d -> %d KB (%+d KB, %.2f KB/reset); fds %d -> %d", before, after, growth, float64(growth)/1000, len(fds0), len(fds1))
	if growth > 10*1024 {
		t.Errorf("RSS grew by %d KB over 1000 resets, want < 10240", growth)
	}
	if len(fds1) > len(fds0)+2 {
		t.Errorf("file descriptors grew from %d to %d", len(fds0), len(fds1))
	}
}

// quit ends the game the way a player can: leave any prompt, M-q, y, then through the end
// screens.
func quit(t *testing.T, g *nethack.Game) {
	t.Helper()
	for round := 0; round < 10 && !g.Done(); round++ {
		for _, k := range []uint8{nethack.KeyEsc, nethack.KeyEsc, nethack.KeyQuit, nethack.KeyYes, nethack.KeyEsc, nethack.KeyEsc, nethack.KeyEsc} {
			if g.Done() {
				break
			}
			if _, err := g.Step(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !g.Done() {
		t.Fatal("game not over after quitting")
	}
}

func TestStepAfterDoneRefused(t *testing.T) {
	g := newGame(t, nethack.GameOptions{})
	if _, err := g.Step('s'); !errors.Is(err, nethack.ErrNotStarted) {
		t.Errorf("step before reset: got %v, want ErrNotStarted", err)
	}
	if err := g.Reset(""); err != nil {
		t.Fatal(err)
	}
	quit(t, g)
	if g.HowDone() != 13 { // QUIT
		t.Errorf("HowDone = %d after quitting, want 13", g.HowDone())
	}
	for range 3 {
		if _, err := g.Step('s'); !errors.Is(err, nethack.ErrDone) {
			t.Fatalf("step after done: got %v, want ErrDone", err)
		}
	}
	if err := g.Reset(""); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Step('s'); err != nil {
		t.Errorf("step after reset: %v", err)
	}
	g.Close()
	if _, err := g.Step('s'); !errors.Is(err, nethack.ErrClosed) {
		t.Errorf("step after close: got %v, want ErrClosed", err)
	}
	if err := g.Reset(""); !errors.Is(err, nethack.ErrClosed) {
		t.Errorf("reset after close: got %v, want ErrClosed", err)
	}
	if g.Obs().Glyphs != nil {
		t.Errorf("observation views survive Close")
	}
}

func TestSeedsRoundTrip(t *testing.T) {
	g := newGame(t, nethack.GameOptions{})
	g.SetInitialSeeds(nethack.Seeds{Core: 42, Disp: 666, Lgen: 7, UseLgen: true})
	if err := g.Reset(""); err != nil {
		t.Fatal(err)
	}
	s, err := g.CurrentSeeds()
	if err != nil {
		t.Fatal(err)
	}
	if s != (nethack.Seeds{Core: 42, Disp: 666, Reseed: false, Lgen: 7, UseLgen: true}) {
		t.Errorf("seeds after seeded reset = %+v, want core 42 disp 666 lgen 7 in use", s)
	}
	if err := g.SetCurrentSeeds(nethack.Seeds{Core: 1, Disp: 2, Reseed: false}); err != nil {
		t.Fatal(err)
	}
	if s, _ = g.CurrentSeeds(); s.Core != 1 || s.Disp != 2 || s.Reseed {
		t.Errorf("seeds after SetCurrentSeeds = %+v, want core 1 disp 2", s)
	}
	// Seeds apply to one reset only: the next game is random again.
	if err := g.Reset(""); err != nil {
		t.Fatal(err)
	}
	if s, _ = g.CurrentSeeds(); s.Core == 42 && s.Disp == 666 {
		t.Errorf("initial seeds applied to a second reset: %+v", s)
	}
}

func TestGameBatchEqualsSingleSteps(t *testing.T) {
	const n = 3
	single := make([]*nethack.Game, n)
	batched := make([]*nethack.Game, n)
	for i := range n {
		single[i] = newGame(t, nethack.GameOptions{FixMoonPhase: true})
		batched[i] = newGame(t, nethack.GameOptions{FixMoonPhase: true})
		for _, g := range []*nethack.Game{single[i], batched[i]} {
			g.SetInitialSeeds(nethack.Seeds{Core: uint64(10 + i), Disp: 3})
			if err := g.Reset(""); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := nethack.NewGameBatch(batched)
	rng := rand.New(rand.NewPCG(1, 2))
	acts := nethack.TaskActions()
	keys := make([]uint8, n)
	done := make([]bool, n)
	for step := 0; step < 500; step++ {
		for i := range keys {
			keys[i] = acts[rng.IntN(len(acts))]
		}
		if err := b.Step(keys, done); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			d, err := single[i].Step(keys[i])
			if err != nil {
				t.Fatal(err)
			}
			if d != done[i] || obsHash(single[i].Obs()) != obsHash(batched[i].Obs()) {
				t.Fatalf("step %d game %d: batched and single stepping differ", step, i)
			}
			if d {
				for _, g := range []*nethack.Game{single[i], batched[i]} {
					g.SetInitialSeeds(nethack.Seeds{Core: uint64(step), Disp: 3})
					if err := g.Reset(""); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if err := b.Step(keys[:1], done); err == nil {
		t.Errorf("batch accepted 1 key for %d games", n)
	}
	quit(t, batched[1])
	if err := b.Step(keys, done); !errors.Is(err, nethack.ErrDone) || !strings.Contains(err.Error(), "game 1") {
		t.Errorf("batch with a finished game: got %v, want ErrDone naming game 1", err)
	}
}

func TestTTYRecWrittenAndReadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "episode.ttyrec3.bz2")
	g := newGame(t, nethack.GameOptions{})
	g.SetInitialSeeds(nethack.Seeds{Core: 3, Disp: 4})
	if err := g.Reset(path); err != nil {
		t.Fatal(err)
	}
	sent := []uint8{'s', 'j', 'k', 'l', 'h', nethack.KeyMore, 's', 's'}
	for _, k := range sent {
		if _, err := g.Step(k); err != nil {
			t.Fatal(err)
		}
	}
	score := g.Obs().Blstats[nethack.BlScore]
	if err := g.Reset(""); err != nil { // closes the recording
		t.Fatal(err)
	}
	recs, err := nethack.ReadTTYRecFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var actions, terminal []uint8
	var lastScore int64 = -1
	for _, r := range recs {
		switch r.Channel {
		case nethack.TTYRecAction:
			actions = append(actions, r.Data...)
		case nethack.TTYRecTerminal:
			terminal = append(terminal, r.Data...)
		case nethack.TTYRecScore:
			lastScore = int64(int32(uint32(r.Data[0]) | uint32(r.Data[1])<<8 | uint32(r.Data[2])<<16 | uint32(r.Data[3])<<24))
		}
	}
	if string(actions) != string(sent) {
		t.Errorf("recorded actions %q, want %q", actions, sent)
	}
	for _, want := range []string{"welcome to NetHack", "Dlvl:1"} {
		if !strings.Contains(string(terminal), want) {
			t.Errorf("the recorded terminal output (%d bytes) lacks %q", len(terminal), want)
		}
	}
	if lastScore != score {
		t.Errorf("last recorded score %d, want %d", lastScore, score)
	}
	// A corrupt file is an error, not a panic.
	b, _ := os.ReadFile(path)
	bad := filepath.Join(dir, "bad.bz2")
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	if _, err := nethack.ReadTTYRecFile(bad); err == nil {
		t.Errorf("truncated ttyrec read without error")
	}
}

func TestGameFolderRemovedOnClose(t *testing.T) {
	g := newGame(t, nethack.GameOptions{})
	dir := g.Hackdir()
	for _, f := range []string{"nhdat", "perm", "record", "logfile", "xlogfile", "save"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("game folder lacks %s: %v", f, err)
		}
	}
	g.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("game folder %s still exists after Close", dir)
	}
}

func ExampleGame() {
	g, err := nethack.NewGame(nethack.GameOptions{ObservationKeys: []string{"glyphs", "blstats", "message"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()
	g.SetInitialSeeds(nethack.Seeds{Core: 1, Disp: 2})
	if err := g.Reset(""); err != nil {
		fmt.Println(err)
		return
	}
	done, _ := g.Step('s') // search
	fmt.Println(done, g.Obs().Blstats[nethack.BlDepth])
	// Output: false 1
}

// TestStaleViewFaultsLoudly reads an observation slice after Close in a child process and
// requires the child to die with a fault, not to read stale memory quietly.
func TestStaleViewFaultsLoudly(t *testing.T) {
	if os.Getenv("MAESTRO_STALE_VIEW_CHILD") == "1" {
		g, err := nethack.NewGame(nethack.GameOptions{})
		if err != nil {
			fmt.Println("setup failed:", err)
			os.Exit(3)
		}
		g.Reset("")
		glyphs := g.Obs().Glyphs
		g.Close()
		fmt.Println("read after close:", glyphs[0]) // must fault
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStaleViewFaultsLoudly$")
	cmd.Env = append(os.Environ(), "MAESTRO_STALE_VIEW_CHILD=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 3 || !strings.Contains(string(out), "unexpected fault address") {
		t.Fatalf("reading a view after Close: err %v, output:\n%s", err, out)
	}
}

// TestWizardModeAndWizkit compares two wizard-mode games on the same seed, with and without a
// wizkit: the wizkit adds its two items (unidentified, as NetHack gives them) to the inventory.
func TestWizardModeAndWizkit(t *testing.T) {
	inventory := func(wizkit []string) []string {
		e, err := nethack.NewTaskEnv(nethack.EnvOptions{Game: nethack.GameOptions{Wizard: true, Wizkit: wizkit}})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		e.Seed(nethack.Seeds{Core: 5, Disp: 5})
		if err := e.Reset(); err != nil {
			t.Fatal(err)
		}
		o := e.Obs()
		if !strings.Contains(nethack.RenderText(o.TTYChars), "Wizard the") {
			t.Errorf("not a debug-mode game:\n%s", nethack.RenderText(o.TTYChars))
		}
		var inv []string
		for i := 0; i < nethack.InventoryN && o.InvLetters[i] != 0; i++ {
			s := o.InvStrs[i*nethack.InvStrLen : (i+1)*nethack.InvStrLen]
			if j := slices.Index(s, 0); j >= 0 {
				s = s[:j]
			}
			inv = append(inv, string(s))
		}
		return inv
	}
	plain := inventory(nil)
	kit := inventory([]string{"wand of wishing", "scroll of genocide"})
	if len(kit) != len(plain)+2 {
		t.Errorf("wizkit inventory has %d items, want %d:\n%q\nwithout wizkit:\n%q", len(kit), len(plain)+2, kit, plain)
	}
}

func FuzzReadTTYRec(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.ttyrec3.bz2")
	g, err := nethack.NewGame(nethack.GameOptions{ObservationKeys: []string{"blstats"}})
	if err != nil {
		f.Fatal(err)
	}
	g.Reset(path)
	g.Step('s')
	g.Reset("")
	g.Close()
	b, _ := os.ReadFile(path)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte("BZh91AY&SY"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := nethack.ReadTTYRec(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.Channel > nethack.TTYRecScore {
				t.Fatalf("record with channel %d accepted", r.Channel)
			}
		}
	})
}
