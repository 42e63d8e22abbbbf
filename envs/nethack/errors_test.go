package nethack_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// fakeInstall lays out an NLE folder whose libnethack.so is lib (a path to copy, or raw bytes)
// and whose nhdat is the real one.
func fakeInstall(t *testing.T, lib []byte) string {
	t.Helper()
	real, err := nethack.FindInstall("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "libnethack.so"), lib, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "nethackdir"), 0o755)
	if err := os.Symlink(filepath.Join(real.DataDir, "nhdat"), filepath.Join(dir, "nethackdir", "nhdat")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// compileLib builds a shared library from C source with the system compiler. These libraries
// are stand-ins: they inject faults (a library that is not NLE, an NLE older than 1.2.0) that
// the real wheel cannot produce.
func compileLib(t *testing.T, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	c := filepath.Join(dir, "lib.c")
	so := filepath.Join(dir, "lib.so")
	os.WriteFile(c, []byte(src), 0o644)
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-o", so, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	b, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestBadInputErrors(t *testing.T) {
	t.Run("missing install", func(t *testing.T) {
		dir := t.TempDir()
		_, err := nethack.NewGame(nethack.GameOptions{NLEDir: dir})
		wantErr(t, err, filepath.Join(dir, "libnethack.so"), "make setup")
	})
	t.Run("env var", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("MAESTRO_NLE_DIR", dir)
		_, err := nethack.FindInstall("")
		wantErr(t, err, dir, "MAESTRO_NLE_DIR")
	})
	t.Run("unreadable cache", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// root reads through permissions; a folder in place of the library stands in.
			dir := fakeInstall(t, nil)
			os.Remove(filepath.Join(dir, "libnethack.so"))
			os.Mkdir(filepath.Join(dir, "libnethack.so"), 0o755)
			_, err := nethack.FindInstall(dir)
			wantErr(t, err, "not a regular file", "make setup")
			return
		}
		dir := fakeInstall(t, []byte("x"))
		os.Chmod(dir, 0)
		defer os.Chmod(dir, 0o755)
		_, err := nethack.FindInstall(dir)
		wantErr(t, err, "cannot read")
	})
	t.Run("corrupted library", func(t *testing.T) {
		real, _ := nethack.FindInstall("")
		b, err := os.ReadFile(real.Lib)
		if err != nil {
			t.Fatal(err)
		}
		dir := fakeInstall(t, b[:len(b)/3]) // a download cut short
		_, err = nethack.NewGame(nethack.GameOptions{NLEDir: dir})
		wantErr(t, err, "libnethack.so", "make setup")
	})
	t.Run("garbage library", func(t *testing.T) {
		dir := fakeInstall(t, []byte("<html>rate limited</html>"))
		_, err := nethack.NewGame(nethack.GameOptions{NLEDir: dir})
		wantErr(t, err, "not a shared library", "make setup")
	})
	t.Run("not NLE", func(t *testing.T) {
		dir := fakeInstall(t, compileLib(t, "int answer(void) { return 42; }\n"))
		_, err := nethack.NewGame(nethack.GameOptions{NLEDir: dir})
		wantErr(t, err, "not an NLE library", "nle_start")
	})
	t.Run("NLE older than 1.2.0", func(t *testing.T) {
		src := "void *nle_start(void *a, void *b, void *c, void *d) { return 0; }\n" +
			"void *nle_step(void *a, void *b) { return a; }\nvoid nle_end(void *a) {}\n" +
			"void nle_set_seed(void *a, unsigned long b, unsigned long c, char d) {}\n" +
			"void nle_get_seed(void *a, unsigned long *b, unsigned long *c, char *d) {}\n"
		dir := fakeInstall(t, compileLib(t, src))
		_, err := nethack.NewGame(nethack.GameOptions{NLEDir: dir})
		wantErr(t, err, "older than 1.2.0")
	})
	t.Run("unknown observation key", func(t *testing.T) {
		_, err := nethack.NewGame(nethack.GameOptions{ObservationKeys: []string{"glyphs", "pixels"}})
		wantErr(t, err, `"pixels"`, "tty_chars")
	})
	for _, ch := range []string{"monk-hum", "mon-hum-neu-mal-x", "mon-hum-xyz", "mon-hum-neu-boy", ""} {
		if ch == "" {
			continue
		}
		t.Run("character "+ch, func(t *testing.T) {
			_, err := nethack.NewGame(nethack.GameOptions{Character: ch})
			wantErr(t, err, "malformed character", ch)
		})
	}
	t.Run("wizkit without wizard", func(t *testing.T) {
		_, err := nethack.NewGame(nethack.GameOptions{Wizkit: []string{"wand of wishing"}})
		wantErr(t, err, "wizard")
	})
	t.Run("hackdir too long", func(t *testing.T) {
		long := t.TempDir()
		for len(long) < 300 {
			long = filepath.Join(long, strings.Repeat("d", 60))
		}
		if err := os.MkdirAll(long, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := nethack.NewGame(nethack.GameOptions{TempDir: long})
		wantErr(t, err, "too long", "TempDir")
		if left, _ := os.ReadDir(long); len(left) != 0 {
			t.Errorf("a refused game left %d entries in %s", len(left), long)
		}
	})
	t.Run("ttyrec in missing folder", func(t *testing.T) {
		g := newGame(t, nethack.GameOptions{})
		err := g.Reset(filepath.Join(t.TempDir(), "no", "such", "x.ttyrec3.bz2"))
		wantErr(t, err, "open ttyrec")
		if err := g.Reset(""); err != nil { // the game stays usable
			t.Fatal(err)
		}
	})
}

func TestCharacters(t *testing.T) {
	for _, tc := range []struct{ character, want string }{
		{"val-dwa-law-fem", "lawful dwarven Valkyrie"},
		{"wiz-elf-cha-mal", "chaotic male elven Wizard"},
		{"sam-hum-law-fem", "lawful female human Samurai"},
	} {
		g := newGame(t, nethack.GameOptions{Character: tc.character, ObservationKeys: []string{"message", "program_state"}})
		if err := g.Reset(""); err != nil {
			t.Fatal(err)
		}
		if got := g.Obs().MessageText(); !strings.Contains(got, tc.want) {
			t.Errorf("character %s: welcome %q, want it to mention %q", tc.character, got, tc.want)
		}
	}
	// "@" rolls a random character: over a few games the welcome lines differ.
	g := newGame(t, nethack.GameOptions{Character: "@", ObservationKeys: []string{"message"}})
	seen := map[string]bool{}
	for range 8 {
		if err := g.Reset(""); err != nil {
			t.Fatal(err)
		}
		seen[g.Obs().MessageText()] = true
	}
	if len(seen) < 2 {
		t.Errorf("8 random characters all had the welcome %v", seen)
	}
}

func TestEnvStepErrors(t *testing.T) {
	e, err := nethack.NewTaskEnv(nethack.EnvOptions{Task: nethack.TaskScore})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Step(0); !errors.Is(err, nethack.ErrNotStarted) {
		t.Errorf("step before reset: %v, want ErrNotStarted", err)
	}
	if err := e.Reset(); err != nil {
		t.Fatal(err)
	}
	_, err = e.Step(23)
	wantErr(t, err, "unknown action 23", "0..22")
	_, err = e.Step(-1)
	wantErr(t, err, "unknown action -1")
	if _, err := nethack.NewTaskEnv(nethack.EnvOptions{PenaltyMode: "cubic"}); err == nil {
		t.Error("penalty mode cubic accepted")
	}
	ch, err := nethack.NewTaskEnv(nethack.EnvOptions{Task: nethack.TaskChallenge})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	wantErr(t, ch.Seed(nethack.Seeds{Core: 1}), "does not allow seeding")
	_, err = nethack.ParseTask("NetHackSpeedrun-v0")
	wantErr(t, err, "NetHackSpeedrun-v0", "NetHackScore")
}
