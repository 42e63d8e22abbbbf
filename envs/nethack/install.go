package nethack

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// NLEVersion is the NLE release whose files the setup installs and whose behaviour this package
// reproduces.
const NLEVersion = "1.3.0"

// setupHint is what every "files are missing" error tells the user to run.
const setupHint = "run `make setup` (or scripts/setup.sh) to download and verify them, or point MAESTRO_NLE_DIR at a folder holding libnethack.so and nethackdir/nhdat"

// Install names the two things a game needs: the shared library and its data folder.
type Install struct {
	Lib     string // path of libnethack.so
	DataDir string // folder holding nhdat (NLE's nethackdir)
}

// DefaultCacheDir returns where the setup puts downloads: $MAESTRO_CACHE, else
// ~/.cache/maestro.
func DefaultCacheDir() string {
	if d := os.Getenv("MAESTRO_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "maestro")
	}
	return filepath.Join(os.TempDir(), "maestro-cache")
}

// FindInstall locates NLE's files. It looks in dir when dir is not empty, else in
// $MAESTRO_NLE_DIR, else in the cache folder that the setup fills
// (DefaultCacheDir()/nle-<NLEVersion>). The folder must hold libnethack.so and nethackdir/nhdat.
// The error names the folder searched and the command that installs the files.
func FindInstall(dir string) (Install, error) {
	source := "the NLE folder option"
	if dir == "" {
		if d := os.Getenv("MAESTRO_NLE_DIR"); d != "" {
			dir, source = d, "MAESTRO_NLE_DIR"
		} else {
			dir, source = filepath.Join(DefaultCacheDir(), "nle-"+NLEVersion), "the Maestro cache"
		}
	}
	in := Install{Lib: filepath.Join(dir, "libnethack.so"), DataDir: filepath.Join(dir, "nethackdir")}
	for _, p := range []string{in.Lib, filepath.Join(in.DataDir, "nhdat")} {
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return Install{}, fmt.Errorf("nethack: %s is missing (folder %s, from %s); %s", p, dir, source, setupHint)
			}
			return Install{}, fmt.Errorf("nethack: cannot read %s (from %s): %w; fix its permissions or %s", p, source, err, setupHint)
		}
		if !st.Mode().IsRegular() {
			return Install{}, fmt.Errorf("nethack: %s is not a regular file; %s", p, setupHint)
		}
	}
	if err := checkELF(in.Lib); err != nil {
		return Install{}, err
	}
	return in, nil
}

// checkELF refuses files that are not a 64-bit shared library for this machine before they
// reach dlopen, so the error can say what the file is.
func checkELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("nethack: %s is not a shared library (%v); it may be a corrupted download: delete it and %s", path, err, setupHint)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("nethack: %s is a %v %v library, not one for this machine; %s", path, f.Class, f.Machine, setupHint)
	}
	return nil
}
