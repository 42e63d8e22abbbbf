package minihack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/maestro-rl/maestro/envs/nethack"
)

// A MiniHack level reaches NetHack as an nhdat archive of its own: NLE's dungeon layout with
// the level "mylevel" inserted as the first level of the Dungeons of Doom, NLE's quest text,
// and mylevel.lev compiled from the des file by NLE's lev_comp, packed by NLE's dlb. This is
// the archive Python MiniHack builds per environment (its scripts/mh_patch_nhdat.sh); Maestro
// builds it once per distinct des text and NLE install, and every game links to it.

// dungeonLine is the line inserted into NLE's dat/dungeon.def after the Gnomish Mines branch
// of the Dungeons of Doom. With it dgn_comp makes MiniHack 1.0.2's lib/dungeon byte for byte
// but for the version header (3.6.7 here, 3.6.6 there; TestDungeonMatchesMiniHack).
const dungeonLine = "LEVEL:\t\t\"mylevel\" \"none\" @ (1, 1)"

// nhdatFiles are the members of the archive, as in MiniHack's.
var nhdatFiles = []string{"dungeon", "quest.dat", "mylevel.lev"}

// CompileOptions say where to find NLE and where to keep compiled levels.
type CompileOptions struct {
	// NLEDir is the NLE folder (nethack.FindInstall's search when "").
	NLEDir string
	// CacheDir keeps one folder per compiled level; "" means
	// nethack.DefaultCacheDir()/minihack-levels.
	CacheDir string
}

// Level is a compiled level: its des text and the nhdat a game links to
// (nethack.GameOptions.NHDat).
type Level struct {
	Des   string
	NHDat string
}

var compileMu sync.Mutex // one compilation at a time per process; folders make it safe across processes

// Compile compiles des (the text of a des file) into an nhdat, or returns the one compiled
// earlier from the same text and NLE files. A des file lev_comp rejects gives its message
// (file and line). The tools come from NLE's nethackdir (NLE's wheel ships them).
func Compile(des string, o CompileOptions) (*Level, error) {
	if strings.TrimSpace(des) == "" {
		return nil, errors.New("minihack: empty des file; give a level in NetHack's des-file language (see LevelGenerator)")
	}
	if !strings.Contains(des, `"mylevel"`) {
		return nil, errors.New(`minihack: the des file never names the level "mylevel" (MAZE: "mylevel", ' ' or LEVEL: "mylevel"); MiniHack's dungeon starts there`)
	}
	in, err := nethack.FindInstall(o.NLEDir)
	if err != nil {
		return nil, err
	}
	cache := o.CacheDir
	if cache == "" {
		cache = filepath.Join(nethack.DefaultCacheDir(), "minihack-levels")
	}
	nle, err := nleFiles(in)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00", nle.sum, dungeonLine, len(des))
	h.Write([]byte(des))
	sum := hex.EncodeToString(h.Sum(nil)[:12])
	dir := filepath.Join(cache, sum)
	lvl := &Level{Des: des, NHDat: filepath.Join(dir, "nhdat")}
	if st, err := os.Stat(lvl.NHDat); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
		return lvl, nil
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	if st, err := os.Stat(lvl.NHDat); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
		return lvl, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("minihack: level cache: %w; set CompileOptions.CacheDir to a writable folder", err)
	}
	work, err := os.MkdirTemp(cache, "build-")
	if err != nil {
		return nil, fmt.Errorf("minihack: level cache: %w", err)
	}
	defer os.RemoveAll(work)
	tools, err := toolsDir(in, cache)
	if err != nil {
		return nil, err
	}
	patched, err := patchDungeon(nle.def)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, "dungeon.pdf"), patched, 0o644); err != nil {
		return nil, err
	}
	if err := run(work, filepath.Join(tools, "dgn_comp"), "dungeon.pdf"); err != nil {
		return nil, fmt.Errorf("minihack: NLE's dgn_comp on the patched dungeon layout: %w", err)
	}
	if err := run(work, filepath.Join(tools, "dlb"), "xf", filepath.Join(in.DataDir, "nhdat"), "quest.dat"); err != nil {
		return nil, fmt.Errorf("minihack: extract quest.dat from NLE's nhdat: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "mylevel.des"), []byte(des), 0o644); err != nil {
		return nil, err
	}
	if err := run(work, filepath.Join(tools, "lev_comp"), "mylevel.des"); err != nil {
		return nil, fmt.Errorf("minihack: the des file does not compile (NLE's lev_comp): %w", err)
	}
	for _, f := range nhdatFiles {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			return nil, fmt.Errorf("minihack: %s was not made (%v); the des file must define the level \"mylevel\"", f, err)
		}
	}
	if err := run(work, filepath.Join(tools, "dlb"), append([]string{"cf", "nhdat"}, nhdatFiles...)...); err != nil {
		return nil, fmt.Errorf("minihack: pack the level with NLE's dlb: %w", err)
	}
	// The folder appears whole or not at all: built aside, renamed into place. A concurrent
	// process that won the race leaves its folder, which is as good.
	final := filepath.Join(work, "level")
	if err := os.Mkdir(final, 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"nhdat", "mylevel.des"} {
		if err := os.Rename(filepath.Join(work, f), filepath.Join(final, f)); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(final, dir); err != nil {
		if _, statErr := os.Stat(lvl.NHDat); statErr == nil {
			return lvl, nil
		}
		return nil, fmt.Errorf("minihack: level cache: %w", err)
	}
	return lvl, nil
}

// nleData is what a compiled level depends on in an NLE install: its dungeon layout and a
// digest of it and of the nhdat the quest text comes from.
type nleData struct {
	def []byte
	sum string
}

var (
	nleMu    sync.Mutex
	nleCache = map[string]nleData{} // by data folder: read once per process, not per env
)

func nleFiles(in nethack.Install) (nleData, error) {
	nleMu.Lock()
	defer nleMu.Unlock()
	if d, ok := nleCache[in.DataDir]; ok {
		return d, nil
	}
	def, err := os.ReadFile(filepath.Join(in.DataDir, "dat", "dungeon.def"))
	if err != nil {
		return nleData{}, fmt.Errorf("minihack: NLE's dungeon layout: %w; %s", err, setupHint)
	}
	nhdat, err := os.ReadFile(filepath.Join(in.DataDir, "nhdat"))
	if err != nil {
		return nleData{}, fmt.Errorf("minihack: %w", err)
	}
	h := sha256.New()
	for _, b := range [][]byte{def, nhdat} {
		fmt.Fprintf(h, "%d\x00", len(b))
		h.Write(b)
	}
	d := nleData{def: def, sum: hex.EncodeToString(h.Sum(nil))}
	nleCache[in.DataDir] = d
	return d, nil
}

// setupHint says how to get NLE's files.
const setupHint = "run `make setup` (or scripts/setup.sh), which installs NLE with its level tools"

// patchDungeon inserts dungeonLine after the first BRANCH line of the Dungeons of Doom.
func patchDungeon(def []byte) ([]byte, error) {
	lines := strings.Split(string(def), "\n")
	inDoom := false
	for i, l := range lines {
		if strings.HasPrefix(l, "DUNGEON:") {
			inDoom = strings.Contains(l, `"The Dungeons of Doom"`)
		}
		if inDoom && strings.HasPrefix(l, "BRANCH:") {
			out := append(append(append([]string(nil), lines[:i+1]...), dungeonLine), lines[i+1:]...)
			return []byte(strings.Join(out, "\n")), nil
		}
	}
	return nil, errors.New("minihack: NLE's dat/dungeon.def has no BRANCH line in the Dungeons of Doom; it is not NLE " + nethack.NLEVersion + "'s")
}

// toolsDir returns a folder holding executable copies of NLE's dgn_comp, lev_comp and dlb:
// the nethackdir's own when they are executable, else copies made once in the cache (an
// archive unpacked without file modes leaves them plain files).
func toolsDir(in nethack.Install, cache string) (string, error) {
	names := []string{"dgn_comp", "lev_comp", "dlb"}
	ok := true
	for _, n := range names {
		st, err := os.Stat(filepath.Join(in.DataDir, n))
		if err != nil {
			return "", fmt.Errorf("minihack: NLE's %s is missing from %s (%v); %s", n, in.DataDir, err, setupHint)
		}
		ok = ok && st.Mode()&0o111 != 0
	}
	if ok {
		return in.DataDir, nil
	}
	h := sha256.New()
	h.Write([]byte(in.DataDir))
	dir := filepath.Join(cache, "tools-"+hex.EncodeToString(h.Sum(nil)[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, n := range names {
		src, err := os.ReadFile(filepath.Join(in.DataDir, n))
		if err != nil {
			return "", err
		}
		dst := filepath.Join(dir, n)
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, src) {
			continue
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, src, 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// run runs a tool in dir; its failure carries what it printed.
func run(dir, tool string, args ...string) error {
	cmd := exec.Command(tool, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}
