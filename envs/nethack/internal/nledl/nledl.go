package nledl

/*
#cgo CFLAGS: -O2 -Wall
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "nledl.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Observation key bits for New.
const (
	KeyGlyphs             = C.GONLE_K_GLYPHS
	KeyChars              = C.GONLE_K_CHARS
	KeyColors             = C.GONLE_K_COLORS
	KeySpecials           = C.GONLE_K_SPECIALS
	KeyBlstats            = C.GONLE_K_BLSTATS
	KeyMessage            = C.GONLE_K_MESSAGE
	KeyProgramState       = C.GONLE_K_PROGRAM_STATE
	KeyInternal           = C.GONLE_K_INTERNAL
	KeyInvGlyphs          = C.GONLE_K_INV_GLYPHS
	KeyInvStrs            = C.GONLE_K_INV_STRS
	KeyInvLetters         = C.GONLE_K_INV_LETTERS
	KeyInvOclasses        = C.GONLE_K_INV_OCLASSES
	KeyScreenDescriptions = C.GONLE_K_SCREEN_DESCRIPTIONS
	KeyTTYChars           = C.GONLE_K_TTY_CHARS
	KeyTTYColors          = C.GONLE_K_TTY_COLORS
	KeyTTYCursor          = C.GONLE_K_TTY_CURSOR
	KeyMisc               = C.GONLE_K_MISC
	KeyAll                = C.GONLE_K_ALL
)

// MaxHackdir bounds the game folder's path, terminating NUL included. NetHack builds file
// names from it in fixed buffers: measured with NLE 1.3.0, folders of up to 496 bytes work,
// 506 bytes abort the process inside the game (a fortified-libc buffer check), and ~4,000
// bytes end the game as panicked. Maestro allows 255 bytes.
const MaxHackdir = 256

const errLen = 1024

// Lib is one loaded copy of libnethack.so with its settings and observation buffers.
type Lib struct {
	p *C.gonle
}

// Buffers are Go views of the C observation buffers; a nil slice is a key that was not
// requested.
type Buffers struct {
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

// Settings are the fields of nle_settings that Maestro sets.
type Settings struct {
	Hackdir       string
	ScorePrefix   string
	Options       string
	Wizkit        string
	SpawnMonsters bool
	FixMoonPhase  bool
}

// New copies the library at libPath into private memory, loads it, checks that it is NLE
// 1.2.0 or later, and allocates the observation buffers selected by keys.
func New(libPath string, keys int) (*Lib, error) {
	cpath := C.CString(libPath)
	defer C.free(unsafe.Pointer(cpath))
	var errbuf [errLen]C.char
	p := C.gonle_new(cpath, C.uint(keys), &errbuf[0], errLen)
	if p == nil {
		return nil, errors.New(C.GoString(&errbuf[0]))
	}
	return &Lib{p: p}, nil
}

// HasFixedTime reports whether the library can take the game clock from a seed (NLE >= 1.3.0).
func (l *Lib) HasFixedTime() bool { return l.p.has_fixed_time != 0 }

func setString(dst []C.char, s, field string) error {
	if len(s) >= len(dst) {
		return fmt.Errorf("%s is %d bytes long, the library takes at most %d", field, len(s), len(dst)-1)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%s contains a NUL byte", field)
		}
		dst[i] = C.char(s[i])
	}
	dst[len(s)] = 0
	return nil
}

// Configure writes s into the settings used by the next Start.
func (l *Lib) Configure(s Settings) error {
	st := &l.p.settings
	if err := setString(st.hackdir[:MaxHackdir], s.Hackdir, "hackdir"); err != nil {
		return err
	}
	if err := setString(st.scoreprefix[:], s.ScorePrefix, "score prefix"); err != nil {
		return err
	}
	if err := setString(st.options[:], s.Options, "options"); err != nil {
		return err
	}
	if err := setString(st.wizkit[:], s.Wizkit, "wizkit"); err != nil {
		return err
	}
	st.spawn_monsters = 0
	if s.SpawnMonsters {
		st.spawn_monsters = 1
	}
	st.fix_moon_phase = C.bool(s.FixMoonPhase)
	return nil
}

// SetInitialSeeds sets the seeds for the next Start only. With lgen nil the level generator
// is not seeded separately. timeSeed, when the library supports it and FixMoonPhase is set,
// replaces the wall clock for the moon phase, Friday 13th, night and midnight.
func (l *Lib) SetInitialSeeds(core, disp uint64, reseed bool, lgen *uint64, timeSeed uint64) {
	is := &l.p.settings.initial_seeds
	is.seeds[0] = C.ulong(core)
	is.seeds[1] = C.ulong(disp)
	is.reseed = 0
	if reseed {
		is.reseed = 1
	}
	is.use_init_seeds = true
	is.use_lgen_seed = lgen != nil
	is.lgen_seed = 0
	if lgen != nil {
		is.lgen_seed = C.ulong(*lgen)
	}
	l.p.settings.time_seed = C.ulong(timeSeed)
	l.p.settings.time_seed_is_set = true
}

// Start ends any running game and starts a new one on a fresh copy of the library. ttyrec is
// a path to append a bz2 ttyrec to, or "" for none.
func (l *Lib) Start(ttyrec string) error {
	var cttyrec *C.char
	if ttyrec != "" {
		cttyrec = C.CString(ttyrec)
		defer C.free(unsafe.Pointer(cttyrec))
	}
	var errbuf [errLen]C.char
	if C.gonle_start(l.p, cttyrec, &errbuf[0], errLen) != 0 {
		return errors.New(C.GoString(&errbuf[0]))
	}
	return nil
}

// Running reports whether a game has been started and is not done.
func (l *Lib) Running() bool { return l.p.ctx != nil && l.p.obs.done == 0 }

// Step sends one key to the game. It returns done, or an error when no game is running.
func (l *Lib) Step(action uint8) (bool, error) {
	switch C.gonle_step(l.p, C.int(action)) {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, ErrNotRunning
}

// ErrNotRunning is returned when the game was never started or is done.
var ErrNotRunning = errors.New("no game is running")

// StepBatch steps each of libs once in a single cgo call: done[i] is 1 when the game ended,
// 0 when it goes on, -1 when libs[i] had no running game. ptrs is scratch space of len(libs)
// that the caller keeps between calls to avoid allocating.
func StepBatch(libs []*Lib, ptrs []unsafe.Pointer, actions []int32, done []int32) {
	n := len(libs)
	if len(actions) < n || len(done) < n || len(ptrs) < n {
		panic("nledl: StepBatch slices shorter than libs")
	}
	if n == 0 {
		return
	}
	for i, l := range libs {
		ptrs[i] = unsafe.Pointer(l.p)
	}
	C.gonle_step_batch((**C.gonle)(unsafe.Pointer(&ptrs[0])), (*C.int)(unsafe.Pointer(&actions[0])),
		(*C.int)(unsafe.Pointer(&done[0])), C.int(n))
}

// Done, InNormalGame and HowDone read the last observation's flags.
func (l *Lib) Done() bool         { return l.p.obs.done != 0 }
func (l *Lib) InNormalGame() bool { return l.p.obs.in_normal_game != 0 }
func (l *Lib) HowDone() int       { return int(l.p.obs.how_done) }

// SetSeeds re-seeds the running game now (nle_set_seed).
func (l *Lib) SetSeeds(core, disp uint64, reseed bool, lgen uint64) error {
	r := C.int(0)
	if reseed {
		r = 1
	}
	if C.gonle_set_seed(l.p, C.ulong(core), C.ulong(disp), r, C.ulong(lgen)) != 0 {
		return ErrNotRunning
	}
	return nil
}

// Seeds returns the running game's seeds (nle_get_seed).
func (l *Lib) Seeds() (core, disp uint64, reseed bool, lgen uint64, lgenInUse bool, err error) {
	var c, d, lg C.ulong
	var rs, inUse C.int
	if C.gonle_get_seed(l.p, &c, &d, &rs, &lg, &inUse) != 0 {
		return 0, 0, false, 0, false, ErrNotRunning
	}
	return uint64(c), uint64(d), rs != 0, uint64(lg), inUse != 0, nil
}

func view[T any](p unsafe.Pointer, n int) []T {
	if p == nil {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}

// Buffers returns views of the observation buffers.
func (l *Lib) Buffers() Buffers {
	o := &l.p.obs
	const rc = C.GONLE_ROWS * C.GONLE_COLS
	const tty = C.GONLE_TERM_LI * C.GONLE_TERM_CO
	return Buffers{
		Glyphs:             view[int16](unsafe.Pointer(o.glyphs), rc),
		Chars:              view[uint8](unsafe.Pointer(o.chars), rc),
		Colors:             view[uint8](unsafe.Pointer(o.colors), rc),
		Specials:           view[uint8](unsafe.Pointer(o.specials), rc),
		Blstats:            view[int64](unsafe.Pointer(o.blstats), C.GONLE_BLSTATS),
		Message:            view[uint8](unsafe.Pointer(o.message), C.GONLE_MESSAGE),
		ProgramState:       view[int32](unsafe.Pointer(o.program_state), C.GONLE_PROGRAM_STATE),
		Internal:           view[int32](unsafe.Pointer(o.internal), C.GONLE_INTERNAL),
		InvGlyphs:          view[int16](unsafe.Pointer(o.inv_glyphs), C.GONLE_INVENTORY),
		InvStrs:            view[uint8](unsafe.Pointer(o.inv_strs), C.GONLE_INVENTORY*C.GONLE_INV_STR),
		InvLetters:         view[uint8](unsafe.Pointer(o.inv_letters), C.GONLE_INVENTORY),
		InvOclasses:        view[uint8](unsafe.Pointer(o.inv_oclasses), C.GONLE_INVENTORY),
		ScreenDescriptions: view[uint8](unsafe.Pointer(o.screen_descriptions), rc*C.GONLE_SCREEN_DESC),
		TTYChars:           view[uint8](unsafe.Pointer(o.tty_chars), tty),
		TTYColors:          view[int8](unsafe.Pointer(o.tty_colors), tty),
		TTYCursor:          view[uint8](unsafe.Pointer(o.tty_cursor), 2),
		Misc:               view[int32](unsafe.Pointer(o.misc), C.GONLE_MISC),
	}
}

// Free ends the game and releases the library copy; the Lib must not be used afterwards.
func (l *Lib) Free() {
	if l.p != nil {
		C.gonle_free(l.p)
		l.p = nil
	}
}
