package replaybuffer

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// A file-backed buffer with a prioritized sampler keeps the priorities (the sum tree's
// leaves, p^alpha) in Dir/priorities.f64: little-endian float64s, one per leaf, then the
// largest priority seen (given to new items), written in place for the slots an Extend or
// UpdatePriority changes. meta.json then holds no
// priorities, so its size does not grow with the capacity, and updated priorities survive a
// killed process like written items do.

// prioritized returns the buffer's prioritized sampler, or nil.
func (b *Buffer) prioritized() *Prioritized {
	switch s := b.sampler.(type) {
	case *Prioritized:
		return s
	case *PrioritizedSlice:
		return s.Prioritized
	}
	return nil
}

// openPriorities opens (creating) the priorities file; when it exists and fresh is false, the
// sampler's leaves are read from it.
func (b *Buffer) openPriorities(fresh bool) error {
	p := b.prioritized()
	if p == nil {
		return nil
	}
	p.external = true
	path := filepath.Join(b.o.Dir, "priorities.f64")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("replaybuffer: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	want := int64(p.leaves+1) * 8
	if !fresh && st.Size() == want {
		if err := readLeaves(f, path, p); err != nil {
			f.Close()
			return err
		}
		b.prio = f
		return nil
	}
	// A new file, or one from a buffer whose priorities lived in meta.json: write every leaf.
	b.prio = f
	all := make([]int, p.leaves)
	for i := range all {
		all[i] = i
	}
	if err := f.Truncate(want); err != nil {
		return err
	}
	return b.persistPriorities(all)
}

// persistPriorities writes the leaves of slots to the priorities file, one write per run of
// consecutive slots.
func (b *Buffer) persistPriorities(slots []int) error {
	p := b.prioritized()
	if b.prio == nil || p == nil || len(slots) == 0 {
		return nil
	}
	s := slices.Clone(slots)
	slices.Sort(s)
	buf := make([]byte, 0, 8*len(s))
	start := s[0]
	flush := func(end int) error {
		if _, err := b.prio.WriteAt(buf, int64(start)*8); err != nil {
			return fmt.Errorf("replaybuffer: priorities: %w", err)
		}
		buf = buf[:0]
		return nil
	}
	for k, i := range s {
		if k > 0 && i == s[k-1] {
			continue
		}
		if k > 0 && i != s[k-1]+1 {
			if err := flush(s[k-1]); err != nil {
				return err
			}
			start = i
		}
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(p.tree[p.leaves+i]))
	}
	if err := flush(s[len(s)-1]); err != nil {
		return err
	}
	var m [8]byte
	binary.LittleEndian.PutUint64(m[:], math.Float64bits(p.maxP))
	if _, err := b.prio.WriteAt(m[:], int64(p.leaves)*8); err != nil {
		return fmt.Errorf("replaybuffer: priorities: %w", err)
	}
	return nil
}

// readLeaves sets the sampler's leaves and largest priority from a priorities file.
func readLeaves(r io.Reader, path string, p *Prioritized) error {
	buf := make([]byte, int64(p.leaves+1)*8)
	if _, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("replaybuffer: %s: %w (a file for another capacity?)", path, err)
	}
	for i := 0; i <= p.leaves; i++ {
		v := math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("replaybuffer: %s: bad priority %v at slot %d", path, v, i)
		}
		if i == p.leaves {
			p.maxP = v
		} else {
			p.set(i, v)
		}
	}
	return nil
}

// loadPriorities reads dir's priorities file into an in-memory buffer's sampler (Load of a
// buffer saved by a file-backed one), when there is one.
func (b *Buffer) loadPriorities(dir string) error {
	p := b.prioritized()
	if p == nil {
		return nil
	}
	path := filepath.Join(dir, "priorities.f64")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil // priorities were in meta.json
	}
	if err != nil {
		return fmt.Errorf("replaybuffer: %w", err)
	}
	defer f.Close()
	return readLeaves(f, path, p)
}
