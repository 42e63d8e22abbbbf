package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/maestro-rl/maestro/internal/atomicfile"
)

// Header is what every generation's record carries: embed it in the record type.
type Header struct {
	// Generation numbers the checkpoint; its blob files carry it in their names, so the index
	// (written last) always names a matching set.
	Generation int `json:"generation"`
	// Checksums are the sha256 of the generation's blob files, by name.
	Checksums map[string]string `json:"checksums,omitempty"`
}

// CheckpointHeader returns the header (a record embedding Header satisfies Record).
func (h *Header) CheckpointHeader() *Header { return h }

// Record is a generation's JSON record: any struct embedding Header.
type Record interface{ CheckpointHeader() *Header }

// Store is a folder of checkpoint generations: per generation one file per part
// (<part>-<N>.bin; generation 0 is the layout before generations, <part>.bin), a copy of the
// record (state-<N>.json), and the index (Index, the newest record).
type Store struct {
	Dir string
	// Parts name a generation's blobs, in the order Save takes and Latest returns them.
	Parts []string
	// Keep is how many generations stay on disk (0: 3): a damaged newest one falls back to the
	// one before.
	Keep int
	// Index is the newest record's file name (default "train.json").
	Index string
}

func (s Store) keep() int {
	if s.Keep <= 0 {
		return 3
	}
	return s.Keep
}

func (s Store) index() string {
	if s.Index == "" {
		return "train.json"
	}
	return s.Index
}

// Files names generation gen's blob files, in Parts' order.
func (s Store) Files(gen int) []string {
	out := make([]string, len(s.Parts))
	for i, p := range s.Parts {
		if gen == 0 {
			out[i] = p + ".bin"
		} else {
			out[i] = fmt.Sprintf("%s-%d.bin", p, gen)
		}
	}
	return out
}

func stateFile(gen int) string { return fmt.Sprintf("state-%d.json", gen) }

func sum256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Save writes generation rec's Generation: its blobs (one per part), then the record with their
// checksums as state-<N>.json and as the index, each file renamed into place whole; a crash at
// any point leaves an index naming a complete, matching set. Generations older than the newest
// Keep are removed once the new index is in place.
func (s Store) Save(rec Record, blobs [][]byte) error {
	h := rec.CheckpointHeader()
	if len(blobs) != len(s.Parts) {
		return fmt.Errorf("checkpoint: %d blobs for the parts %v", len(blobs), s.Parts)
	}
	names := s.Files(h.Generation)
	h.Checksums = map[string]string{}
	for i, b := range blobs {
		h.Checksums[names[i]] = sum256(b)
	}
	rb, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("checkpoint: record: %w", err)
	}
	files := append(slicesOf(names, blobs), named{stateFile(h.Generation), rb}, named{s.index(), rb})
	for _, f := range files {
		if err := atomicfile.WriteFile(filepath.Join(s.Dir, f.name), f.b); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	gone := h.Generation - s.keep()
	pats := []string{"state-*.json"}
	for _, p := range s.Parts {
		pats = append(pats, p+"-*.bin", p+".bin")
	}
	for _, pat := range pats {
		old, _ := filepath.Glob(filepath.Join(s.Dir, pat))
		for _, p := range old {
			var g int
			b := filepath.Base(p)
			if _, err := fmt.Sscanf(b[strings.IndexByte(b, '-')+1:], "%d", &g); err != nil || g <= gone {
				os.Remove(p)
			}
		}
	}
	return nil
}

type named struct {
	name string
	b    []byte
}

func slicesOf(names []string, blobs [][]byte) []named {
	out := make([]named, len(names))
	for i := range names {
		out[i] = named{names[i], blobs[i]}
	}
	return out
}

// ErrNone is returned by Latest when the folder holds no checkpoint at all.
var ErrNone = errors.New("no checkpoint")

// Latest fills rec with the newest sound generation's record and returns its blobs (in Parts'
// order) and notes on what it skipped: an index that is unreadable (a torn or empty file) gives
// way to the newest state-<N>.json that parses, and a generation whose blobs are missing or fail
// their checksums to the one before, down to Keep generations. Nothing sound is an error naming
// each problem; no index and no record at all is ErrNone.
func (s Store) Latest(rec Record) (blobs [][]byte, notes []string, err error) {
	raw, gen, note, err := s.newestRecord()
	if err != nil {
		return nil, nil, err
	}
	if note != "" {
		notes = append(notes, note)
	}
	var problems []string
	for g := gen; g >= 0 && g > gen-s.keep(); g-- {
		b := raw
		if g != gen {
			if b, err = os.ReadFile(filepath.Join(s.Dir, stateFile(g))); err != nil {
				continue
			}
		}
		var h Header
		if json.Unmarshal(b, &h) != nil || h.Generation != g {
			continue
		}
		bl, bad := s.readBlobs(g, h.Checksums)
		if bad != "" {
			problems = append(problems, bad)
			continue
		}
		if err := json.Unmarshal(b, rec); err != nil {
			return nil, notes, fmt.Errorf("checkpoint: %s: %w", stateFile(g), err)
		}
		if g != gen {
			notes = append(notes, fmt.Sprintf("checkpoint generation %d is damaged (%s); using generation %d", gen, strings.Join(problems, "; "), g))
		}
		return bl, notes, nil
	}
	return nil, notes, fmt.Errorf("no sound checkpoint in %s: %s; start the run again", s.Dir, strings.Join(problems, "; "))
}

// readBlobs reads generation g's blobs, checking them against sums (when the record has them).
func (s Store) readBlobs(g int, sums map[string]string) ([][]byte, string) {
	var out [][]byte
	for _, name := range s.Files(g) {
		b, err := os.ReadFile(filepath.Join(s.Dir, name))
		switch {
		case err != nil:
			return nil, err.Error()
		case sums != nil && sums[name] != sum256(b):
			return nil, fmt.Sprintf("%s does not match its checksum (truncated or changed)", name)
		}
		out = append(out, b)
	}
	return out, ""
}

// newestRecord returns the index's bytes and generation, or, when the index will not parse,
// those of the newest state-<N>.json that does, with a note saying so.
func (s Store) newestRecord() (raw []byte, gen int, note string, err error) {
	path := filepath.Join(s.Dir, s.index())
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if names, _ := filepath.Glob(filepath.Join(s.Dir, "state-*.json")); len(names) == 0 {
			return nil, 0, "", fmt.Errorf("%w in %s (no %s)", ErrNone, s.Dir, s.index())
		}
	}
	var h Header
	if err == nil {
		if err = json.Unmarshal(b, &h); err == nil {
			return b, h.Generation, "", nil
		}
	}
	names, _ := filepath.Glob(filepath.Join(s.Dir, "state-*.json"))
	best := -1
	for _, name := range names {
		var g int
		if _, e := fmt.Sscanf(filepath.Base(name), "state-%d.json", &g); e != nil || g <= best {
			continue
		}
		var c Header
		if cb, e := os.ReadFile(name); e == nil && json.Unmarshal(cb, &c) == nil && c.Generation == g {
			raw, best = cb, g
		}
	}
	if best < 0 {
		return nil, 0, "", fmt.Errorf("%s is unreadable (%v) and no state-<N>.json stands in for it; start the run again", path, err)
	}
	return raw, best, fmt.Sprintf("%s is unreadable (%v); using %s", path, err, stateFile(best)), nil
}

// RemoveStale removes the temporary files of writes a killed process left in dir
// (internal/atomicfile's .<name>.tmp-*).
func RemoveStale(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, p := range stale {
		os.Remove(p)
	}
}

// Newest fills rec with the newest record that parses (the index, or the newest
// state-<N>.json standing in for a torn one, with a note saying so) without reading or checking
// its blobs: a run's configuration, say.
func (s Store) Newest(rec Record) (note string, err error) {
	raw, _, note, err := s.newestRecord()
	if err == nil {
		err = json.Unmarshal(raw, rec)
	}
	return note, err
}
