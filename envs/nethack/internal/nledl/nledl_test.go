package nledl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const opts = "nolegacy,name:Agent-mon-hum-neu-mal"

func install(t *testing.T) (lib, nhdat string) {
	t.Helper()
	dir := os.Getenv("MAESTRO_NLE_DIR")
	if dir == "" {
		c := os.Getenv("MAESTRO_CACHE")
		if c == "" {
			h, _ := os.UserCacheDir()
			c = filepath.Join(h, "maestro")
		}
		dir = filepath.Join(c, "nle-1.3.0")
	}
	lib, nhdat = filepath.Join(dir, "libnethack.so"), filepath.Join(dir, "nethackdir", "nhdat")
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("NLE is not installed (%v); run make setup", err)
	}
	return lib, nhdat
}

func hackdir(t *testing.T, base, nhdat string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(base, "save"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Symlink(nhdat, filepath.Join(base, "nhdat"))
	for _, f := range []string{"perm", "record", "logfile", "xlogfile"} {
		os.WriteFile(filepath.Join(base, f), nil, 0o644)
	}
	return base + "/"
}

// TestLongHackdirEndsGameNotProcess drives the game's fatal-error path: with a hackdir longer
// than NetHack's buffers the game calls its own error(). Loaded with RTLD_DEEPBIND that ends the
// game ("panicked") and returns; without it glibc's error() would exit this test process.
func TestLongHackdirEndsGameNotProcess(t *testing.T) {
	lib, nhdat := install(t)
	l, err := New(lib, KeyAll)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Free()
	long := t.TempDir()
	for len(long) < 4000 {
		long = filepath.Join(long, strings.Repeat("h", 200))
	}
	dir := hackdir(t, long, nhdat)
	// Configure refuses such a folder; write it past the check to drive the game's own error.
	if err := l.Configure(Settings{Options: opts, SpawnMonsters: true}); err != nil {
		t.Fatal(err)
	}
	if err := setString(l.p.settings.hackdir[:], dir, "hackdir"); err != nil {
		t.Fatal(err)
	}
	err = l.Start("")
	if err == nil || !strings.Contains(err.Error(), "ended while starting") {
		t.Fatalf("start with a %d-byte hackdir: %v, want the game to end while starting", len(dir), err)
	}
	if _, err := l.Step('s'); err != ErrNotRunning {
		t.Errorf("step after a failed start: %v, want ErrNotRunning", err)
	}
	// The same Lib starts a normal game afterwards.
	if err := l.Configure(Settings{Hackdir: hackdir(t, t.TempDir(), nhdat), Options: opts, SpawnMonsters: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(""); err != nil {
		t.Fatal(err)
	}
	if !l.InNormalGame() {
		b := l.Buffers()
		t.Errorf("not in a normal game after recovering; screen:\n%s", b.TTYChars)
	}
}

// TestHackdirLimit starts a game in a folder of the longest path Configure accepts and checks
// that one byte more is refused.
func TestHackdirLimit(t *testing.T) {
	lib, nhdat := install(t)
	l, err := New(lib, KeyAll)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Free()
	d := t.TempDir()
	for len(d) < MaxHackdir-2-10 {
		d = filepath.Join(d, strings.Repeat("x", min(9, MaxHackdir-2-len(d)-2)))
	}
	d += "/" + strings.Repeat("y", MaxHackdir-2-len(d)-1)
	dir := hackdir(t, d, nhdat)
	if len(dir) != MaxHackdir-1 {
		t.Fatalf("built a %d-byte folder, want %d", len(dir), MaxHackdir-1)
	}
	if err := l.Configure(Settings{Hackdir: dir, Options: opts, SpawnMonsters: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(""); err != nil {
		t.Fatalf("start in a %d-byte folder: %v", len(dir), err)
	}
	if !l.InNormalGame() {
		t.Errorf("not in a normal game in a %d-byte folder", len(dir))
	}
	if err := l.Configure(Settings{Hackdir: dir + "z", Options: opts}); err == nil {
		t.Errorf("Configure accepted a %d-byte hackdir", len(dir)+1)
	}
}
