package minihack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// TestDungeonMatchesMiniHack: NLE's dungeon layout with dungeonLine, compiled by NLE's
// dgn_comp, equals the lib/dungeon MiniHack 1.0.2 ships byte for byte except byte 1, the minor
// version of the NetHack that compiled it (3.6.7 here, 3.6.6 there).
func TestDungeonMatchesMiniHack(t *testing.T) {
	py := filepath.Join(nethack.DefaultCacheDir(), "peer-nle-"+nethack.NLEVersion, "bin", "python")
	out, err := exec.Command(py, "-W", "ignore", "-c", "import minihack.base as b; print(b.LIB_DIR)").Output()
	if err != nil {
		if os.Getenv("MAESTRO_REQUIRE_PEER") != "" {
			t.Fatalf("Python MiniHack: %v; run scripts/setup.sh --peer", err)
		}
		t.Skipf("Python MiniHack is not installed beside %s (%v); run scripts/setup.sh --peer (make test does)", py, err)
	}
	want, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "dungeon"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := nethack.FindInstall("")
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile(filepath.Join(in.DataDir, "dat", "dungeon.def"))
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patchDungeon(def)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tools, err := toolsDir(in, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dungeon.pdf"), patched, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(dir, filepath.Join(tools, "dgn_comp"), "dungeon.pdf"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "dungeon"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("dungeon is %d bytes, MiniHack's %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] && i != 1 {
			t.Fatalf("dungeon byte %d is %#x, MiniHack's %#x", i, got[i], want[i])
		}
	}
	if got[1] != 7 || want[1] != 6 {
		t.Errorf("version bytes %d and %d; expected NetHack 3.6.7 here and 3.6.6 in MiniHack's", got[1], want[1])
	}
}
