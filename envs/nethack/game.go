package nethack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/maestro-rl/maestro/envs/nethack/internal/nledl"
)

// Map and terminal sizes (NLE's shapes).
const (
	Rows        = 21  // map rows
	Cols        = 79  // map columns
	TermRows    = 24  // terminal rows (tty_*)
	TermCols    = 80  // terminal columns
	MessageLen  = 256 // bytes of the message line
	InventoryN  = 55  // inventory slots
	InvStrLen   = 80  // bytes per inventory string
	ScreenDescN = 80  // bytes per screen description
)

// Indices into Observation.Blstats (NLE_BL_*).
const (
	BlX = iota
	BlY
	BlStr25
	BlStr125
	BlDex
	BlCon
	BlInt
	BlWis
	BlCha
	BlScore
	BlHP
	BlHPMax
	BlDepth
	BlGold
	BlEne
	BlEneMax
	BlAC
	BlHD
	BlXP
	BlExp
	BlTime
	BlHunger
	BlCap
	BlDNum
	BlDLevel
	BlCondition
	BlAlign
	NumBlstats
)

// Glyph constants of NetHack 3.6.7 as NLE 1.3.0 builds it (381 monsters; older NLE snapshots
// had 382, which shifts every offset after the monsters). The parity test checks each one
// against the Python peer's nle.nethack.
const (
	GlyphMonOff  = 0
	GlyphPetOff  = 381
	GlyphInvis   = 762
	GlyphCmapOff = 2359 // S_stone, the blank map glyph
	NoGlyph      = 5976
	GlyphOracle  = 270
	// CondHallucinating is the blstats[BlCondition] bit for hallucination (BL_MASK_HALLU).
	CondHallucinating = 0x200
	// HowDoneAscended is the HowDone value of an ascension.
	HowDoneAscended = 15
)

// ObservationKeys lists every observation NLE offers, in NLE's order.
var ObservationKeys = []string{
	"glyphs", "chars", "colors", "specials", "blstats", "message", "program_state", "internal",
	"inv_glyphs", "inv_strs", "inv_letters", "inv_oclasses", "screen_descriptions",
	"tty_chars", "tty_colors", "tty_cursor", "misc",
}

var keyBits = map[string]int{
	"glyphs": nledl.KeyGlyphs, "chars": nledl.KeyChars, "colors": nledl.KeyColors,
	"specials": nledl.KeySpecials, "blstats": nledl.KeyBlstats, "message": nledl.KeyMessage,
	"program_state": nledl.KeyProgramState, "internal": nledl.KeyInternal,
	"inv_glyphs": nledl.KeyInvGlyphs, "inv_strs": nledl.KeyInvStrs,
	"inv_letters": nledl.KeyInvLetters, "inv_oclasses": nledl.KeyInvOclasses,
	"screen_descriptions": nledl.KeyScreenDescriptions, "tty_chars": nledl.KeyTTYChars,
	"tty_colors": nledl.KeyTTYColors, "tty_cursor": nledl.KeyTTYCursor, "misc": nledl.KeyMisc,
}

// Observation holds views of one game's observation buffers, row-major, with NLE's dtypes:
// Glyphs [21][79], Chars/Colors/Specials [21][79], Blstats [27], Message [256],
// ProgramState [6], Internal [9], InvGlyphs [55], InvStrs [55][80], InvLetters [55],
// InvOclasses [55], ScreenDescriptions [21][79][80], TTYChars [24][80], TTYColors [24][80],
// TTYCursor [2] (row, col), Misc [3]. A key that was not requested is nil.
//
// The slices alias memory owned by the game: they change on every Step and Reset and must not
// be used after Close (a read then faults). Copy what you keep.
type Observation struct {
	Glyphs             []int16
	Chars              []uint8
	Colors             []uint8
	Specials           []uint8
	Blstats            []int64
	Message            []uint8
	ProgramState       []int32
	Internal           []int32
	InvGlyphs          []int16
	InvStrs            []uint8
	InvLetters         []uint8
	InvOclasses        []uint8
	ScreenDescriptions []uint8
	TTYChars           []uint8
	TTYColors          []int8
	TTYCursor          []uint8
	Misc               []int32
}

// Bytes returns the raw machine-order bytes of observation key k (a view), or nil when k is
// unknown or was not requested.
func (o *Observation) Bytes(k string) []byte {
	switch k {
	case "glyphs":
		return asBytes(o.Glyphs)
	case "chars":
		return o.Chars
	case "colors":
		return o.Colors
	case "specials":
		return o.Specials
	case "blstats":
		return asBytes(o.Blstats)
	case "message":
		return o.Message
	case "program_state":
		return asBytes(o.ProgramState)
	case "internal":
		return asBytes(o.Internal)
	case "misc":
		return asBytes(o.Misc)
	case "inv_glyphs":
		return asBytes(o.InvGlyphs)
	case "inv_strs":
		return o.InvStrs
	case "inv_letters":
		return o.InvLetters
	case "inv_oclasses":
		return o.InvOclasses
	case "screen_descriptions":
		return o.ScreenDescriptions
	case "tty_chars":
		return o.TTYChars
	case "tty_colors":
		return asBytes(o.TTYColors)
	case "tty_cursor":
		return o.TTYCursor
	}
	return nil
}

// MessageText returns the message line as a string, up to its first NUL.
func (o *Observation) MessageText() string {
	if o.Message == nil {
		return ""
	}
	m := o.Message
	if i := slices.Index(m, 0); i >= 0 {
		m = m[:i]
	}
	return string(m)
}

// Seeds are NetHack's RNG seeds: core, disp (anti-TAS), whether the game reseeds itself from
// true randomness on level changes (must be false for reproducible runs), and an optional
// seed for NLE's level generator.
type Seeds struct {
	Core, Disp uint64
	Reseed     bool
	Lgen       uint64
	UseLgen    bool
}

// GameOptions configure a Game. The zero value means NLE's defaults.
type GameOptions struct {
	// NLEDir is the folder holding libnethack.so and nethackdir; "" means FindInstall's search.
	NLEDir string
	// ObservationKeys selects the buffers to fill; nil means all of ObservationKeys.
	// screen_descriptions costs about 40% of a step: leave it out unless needed.
	ObservationKeys []string
	// Character is role-race-alignment-gender as NLE spells it ("mon-hum-neu-mal", the
	// default); "@" in any place means random, and "@" alone a random role.
	Character string
	// Options are NetHack options; nil means DefaultOptions().
	Options []string
	// Wizard starts the game in debug (wizard) mode.
	Wizard bool
	// Wizkit lists items granted at start in wizard mode.
	Wizkit []string
	// NoMonsterSpawn disables NetHack's random monster generation.
	NoMonsterSpawn bool
	// ScorePrefix, when set, is where the game writes its xlogfile (prefix + "xlogfile").
	ScorePrefix string
	// FixMoonPhase takes the clock-dependent game effects (moon phase, Friday 13th, night,
	// midnight) from the seeds instead of the wall clock when initial seeds are set. It needs
	// NLE >= 1.3.0. The game's start time in seconds still seeds shopkeeper names and a few
	// other details.
	FixMoonPhase bool
	// TempDir is where the per-game writable folder is made; "" means os.TempDir().
	TempDir string
	// NHDat is the game data archive (levels, dungeon layout) the game reads; "" means NLE's
	// nethackdir/nhdat. MiniHack's levels come as an nhdat of their own (envs/minihack).
	NHDat string
}

// DefaultOptions returns NLE's default NetHack options (NETHACKOPTIONS).
func DefaultOptions() []string {
	return []string{"autopickup", "color", "disclose:+i +a +v +g +c +o", "mention_walls",
		"nobones", "nocmdassist", "nolegacy", "nosparkle", "pickup_burden:unencumbered",
		"pickup_types:$?!/", "runmode:teleport", "showexp", "showscore", "time"}
}

// maxHackdir bounds the per-game folder's path (see nledl.MaxHackdir for the measurement).
const maxHackdir = nledl.MaxHackdir

var (
	// ErrClosed is returned by every method of a closed Game.
	ErrClosed = errors.New("nethack: game is closed")
	// ErrDone is returned by Step after the game has ended; call Reset.
	ErrDone = errors.New("nethack: the game is over; call Reset before stepping again")
	// ErrNotStarted is returned by Step before the first Reset.
	ErrNotStarted = errors.New("nethack: no game started; call Reset first")
	// ErrConcurrentUse is returned when two goroutines use one Game at the same time.
	ErrConcurrentUse = errors.New("nethack: game used by two goroutines at once; give each goroutine its own Game")
)

// Game is one NetHack game: a private copy of libnethack.so, a private writable game folder
// and observation buffers, equivalent to NLE's nle.nethack.Nethack.
//
// A Game is used by one goroutine at a time (concurrent use returns ErrConcurrentUse). Games
// are independent of each other and may step in parallel. Stepping is fastest from a goroutine
// locked to its OS thread (runtime.LockOSThread).
type Game struct {
	lib      *nledl.Lib
	hackdir  string
	obs      Observation
	fixMoon  bool
	started  bool
	busy     atomic.Bool
	closed   bool
	keys     []string
	pending  *Seeds
	settings nledl.Settings
}

// NewGame loads a private copy of NLE and prepares a game folder; call Reset to start playing.
// Validate reports an unknown observation key or a malformed character string.
func (o GameOptions) Validate() error {
	for _, k := range o.ObservationKeys {
		if _, ok := keyBits[k]; !ok {
			return fmt.Errorf("nethack: unknown observation key %q; valid keys: %s", k, strings.Join(ObservationKeys, ", "))
		}
	}
	if o.NHDat != "" {
		if st, err := os.Stat(o.NHDat); err != nil || !st.Mode().IsRegular() {
			return fmt.Errorf("nethack: GameOptions.NHDat %s is not a readable file (%v); build one with envs/minihack or leave it empty for NLE's", o.NHDat, err)
		}
	}
	_, err := playerName(o.Character)
	return err
}

func NewGame(o GameOptions) (*Game, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	in, err := FindInstall(o.NLEDir)
	if err != nil {
		return nil, err
	}
	keys := o.ObservationKeys
	if keys == nil {
		keys = ObservationKeys
	}
	mask := 0
	for _, k := range keys {
		b, ok := keyBits[k]
		if !ok {
			return nil, fmt.Errorf("nethack: unknown observation key %q; valid keys: %s", k, strings.Join(ObservationKeys, ", "))
		}
		mask |= b
	}
	name, err := playerName(o.Character)
	if err != nil {
		return nil, err
	}
	opts := o.Options
	if opts == nil {
		opts = DefaultOptions()
	}
	opts = append(slices.Clone(opts), "name:"+name)
	if name == "Agent-@" { // as NLE: only a wholly random character randomises the rest too ("mon-hum-@" leaves it to NetHack)
		for _, key := range []string{"race", "gender", "align"} {
			if !slices.ContainsFunc(o.Options, func(s string) bool { return strings.HasPrefix(s, key+":") }) {
				opts = append(opts, key+":random")
			}
		}
	}
	if o.Wizard {
		opts = append(opts, "playmode:debug")
	}
	if len(o.Wizkit) > 0 && !o.Wizard {
		return nil, errors.New("nethack: a wizkit needs wizard mode; set Wizard: true")
	}

	base := o.TempDir
	if base == "" {
		base = os.TempDir()
	}
	hackdir, err := os.MkdirTemp(base, "maestro-nle-")
	if err != nil {
		return nil, fmt.Errorf("nethack: create game folder in %s: %w; set TempDir to a writable folder", base, err)
	}
	if len(hackdir)+1 >= maxHackdir {
		os.RemoveAll(hackdir)
		return nil, fmt.Errorf("nethack: game folder %s is too long (%d bytes, NetHack takes at most %d); set TempDir to a shorter path", hackdir, len(hackdir), maxHackdir-2)
	}
	nhdat := o.NHDat
	if nhdat == "" {
		nhdat = filepath.Join(in.DataDir, "nhdat")
	} else if nhdat, err = filepath.Abs(nhdat); err != nil {
		os.RemoveAll(hackdir)
		return nil, fmt.Errorf("nethack: GameOptions.NHDat: %w", err)
	}
	if err := makeHackdir(hackdir, nhdat, o.ScorePrefix); err != nil {
		os.RemoveAll(hackdir)
		return nil, err
	}
	lib, err := nledl.New(in.Lib, mask)
	if err != nil {
		os.RemoveAll(hackdir)
		return nil, fmt.Errorf("nethack: load %s: %w; %s", in.Lib, err, setupHint)
	}
	if o.FixMoonPhase && !lib.HasFixedTime() {
		lib.Free()
		os.RemoveAll(hackdir)
		return nil, fmt.Errorf("nethack: FixMoonPhase needs NLE >= 1.3.0 and %s is older; %s", in.Lib, setupHint)
	}
	g := &Game{lib: lib, hackdir: hackdir, fixMoon: o.FixMoonPhase, keys: slices.Clone(keys)}
	g.settings = nledl.Settings{
		Hackdir:       hackdir + "/",
		ScorePrefix:   o.ScorePrefix,
		Options:       strings.Join(opts, ","),
		Wizkit:        strings.Join(o.Wizkit, "\n"),
		SpawnMonsters: !o.NoMonsterSpawn,
		FixMoonPhase:  o.FixMoonPhase,
	}
	if err := lib.Configure(g.settings); err != nil {
		g.Close()
		return nil, fmt.Errorf("nethack: %w", err)
	}
	b := lib.Buffers()
	// Observation mirrors nledl.Buffers field for field on purpose: the public type carries the
	// documentation, the internal one the cgo, and this conversion stops compiling if they
	// drift apart.
	g.obs = Observation(b)
	return g, nil
}

// makeHackdir lays out a private game folder as NLE does: a link to nhdat, the empty files
// that lock_file() opens read-write, and save/.
func makeHackdir(dir, nhdat, scorePrefix string) error {
	if err := os.Symlink(nhdat, filepath.Join(dir, "nhdat")); err != nil {
		return fmt.Errorf("nethack: link nhdat into %s: %w", dir, err)
	}
	files := []string{filepath.Join(dir, "perm"), filepath.Join(dir, "record"), filepath.Join(dir, "logfile")}
	if scorePrefix != "" {
		files = append(files, scorePrefix+"xlogfile")
	} else {
		files = append(files, filepath.Join(dir, "xlogfile"))
	}
	for _, f := range files {
		h, err := os.OpenFile(f, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("nethack: create %s: %w", f, err)
		}
		h.Close()
	}
	if err := os.Mkdir(filepath.Join(dir, "save"), 0o755); err != nil {
		return fmt.Errorf("nethack: create %s/save: %w", dir, err)
	}
	return nil
}

func (g *Game) acquire() error {
	if g.closed {
		return ErrClosed
	}
	if !g.busy.CompareAndSwap(false, true) {
		return ErrConcurrentUse
	}
	return nil
}

// Reset starts a new game on a fresh copy of the library (every global of NetHack is new).
// ttyrec is a path to append this game's bz2 ttyrec (version 3) to, or "" to record nothing.
// Seeds set with SetInitialSeeds apply to this game only.
func (g *Game) Reset(ttyrec string) error {
	if err := g.acquire(); err != nil {
		return err
	}
	defer g.busy.Store(false)
	if s := g.pending; s != nil {
		var lgen *uint64
		if s.UseLgen {
			lgen = &s.Lgen
		}
		// As NLE's binding does: the clock seed is offset from the core seed so the two
		// streams are not correlated.
		g.lib.SetInitialSeeds(s.Core, s.Disp, s.Reseed, lgen, s.Core+1)
		g.pending = nil
	}
	if err := g.lib.Start(ttyrec); err != nil {
		return fmt.Errorf("nethack: start game: %w", err)
	}
	g.started = true
	return nil
}

// Step sends one key code (see Actions) and reports whether the game ended. After the game
// ended Step returns ErrDone: NetHack cannot be resumed past its end.
func (g *Game) Step(key uint8) (bool, error) {
	if err := g.acquire(); err != nil {
		return false, err
	}
	done, err := g.lib.Step(key)
	g.busy.Store(false)
	if err != nil {
		if !g.started {
			return false, ErrNotStarted
		}
		return false, ErrDone
	}
	return done, nil
}

// Obs returns the views of the observation buffers (valid until Close).
func (g *Game) Obs() *Observation { return &g.obs }

// Keys returns the observation keys this game fills.
func (g *Game) Keys() []string { return slices.Clone(g.keys) }

// Done reports whether the current game has ended.
func (g *Game) Done() bool { return !g.closed && g.lib.Done() }

// InNormalGame reports whether the game is past its start and not over (NLE's in_normal_game).
func (g *Game) InNormalGame() bool { return !g.closed && g.lib.InNormalGame() }

// HowDone returns NetHack's game_end_types value of the ended game (DIED 0 ... ASCENDED 15).
func (g *Game) HowDone() int {
	if g.closed {
		return 0
	}
	return g.lib.HowDone()
}

// SetInitialSeeds sets the seeds used by the next Reset only.
func (g *Game) SetInitialSeeds(s Seeds) error {
	if g.closed {
		return ErrClosed
	}
	g.pending = &s
	return nil
}

// SetCurrentSeeds re-seeds the running game now. With UseLgen false the level generator
// seed is set to 0, as NLE's binding does for lgen=None.
func (g *Game) SetCurrentSeeds(s Seeds) error {
	if err := g.acquire(); err != nil {
		return err
	}
	defer g.busy.Store(false)
	lgen := uint64(0)
	if s.UseLgen {
		lgen = s.Lgen
	}
	if err := g.lib.SetSeeds(s.Core, s.Disp, s.Reseed, lgen); err != nil {
		return ErrNotStarted
	}
	return nil
}

// CurrentSeeds returns the running game's seeds; UseLgen reports whether the level generator
// has its own seed.
func (g *Game) CurrentSeeds() (Seeds, error) {
	if err := g.acquire(); err != nil {
		return Seeds{}, err
	}
	defer g.busy.Store(false)
	c, d, r, l, inUse, err := g.lib.Seeds()
	if err != nil {
		return Seeds{}, ErrNotStarted
	}
	return Seeds{Core: c, Disp: d, Reseed: r, Lgen: l, UseLgen: inUse}, nil
}

// Hackdir returns the game's private folder (removed by Close).
func (g *Game) Hackdir() string { return g.hackdir }

// Close ends the game, unloads the library copy and removes the game folder. The observation
// views become inaccessible. Close is idempotent.
func (g *Game) Close() error {
	if g.closed {
		return nil
	}
	if !g.busy.CompareAndSwap(false, true) {
		return ErrConcurrentUse
	}
	g.closed = true
	g.lib.Free()
	g.obs = Observation{}
	return os.RemoveAll(g.hackdir)
}

// GameBatch steps a fixed set of games once each in a single call into C, which spares the
// per-call cost of the cgo boundary when one goroutine drives many games. The games stay
// owned by the caller; the batch only keeps scratch space, so stepping allocates nothing.
type GameBatch struct {
	games   []*Game
	libs    []*nledl.Lib
	ptrs    []unsafe.Pointer
	actions []int32
	done    []int32
}

// NewGameBatch prepares to step games together; the games stay owned by the caller.
func NewGameBatch(games []*Game) *GameBatch {
	n := len(games)
	b := &GameBatch{games: slices.Clone(games), libs: make([]*nledl.Lib, n),
		ptrs: make([]unsafe.Pointer, n), actions: make([]int32, n), done: make([]int32, n)}
	for i, g := range games {
		b.libs[i] = g.lib
	}
	return b
}

// Step sends keys[i] to game i and sets done[i] when it ended. It fails, stepping none, if any
// game is closed, not started, over, or in use by another goroutine.
func (b *GameBatch) Step(keys []uint8, done []bool) error {
	if len(keys) != len(b.games) || len(done) != len(b.games) {
		return fmt.Errorf("nethack: batch of %d games got %d keys and %d done flags", len(b.games), len(keys), len(done))
	}
	for i, g := range b.games {
		if err := g.acquire(); err != nil {
			b.release(i)
			return fmt.Errorf("nethack: game %d of batch: %w", i, err)
		}
		if !g.lib.Running() {
			b.release(i + 1)
			if !g.started {
				return fmt.Errorf("nethack: game %d of batch: %w", i, ErrNotStarted)
			}
			return fmt.Errorf("nethack: game %d of batch: %w", i, ErrDone)
		}
		b.actions[i] = int32(keys[i])
	}
	nledl.StepBatch(b.libs, b.ptrs, b.actions, b.done)
	for i := range b.games {
		done[i] = b.done[i] == 1
	}
	b.release(len(b.games))
	return nil
}

func (b *GameBatch) release(n int) {
	for _, g := range b.games[:n] {
		g.busy.Store(false)
	}
}
