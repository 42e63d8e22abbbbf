package replaybuffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/tensordict"
)

// Storage keeps items by index in [0, Capacity()).
type Storage interface {
	// Capacity returns the number of slots.
	Capacity() int
	// Set writes items (batch [len(idx)]) into slots idx.
	Set(idx []int, items *tensordict.Dict) error
	// Get returns a copy of slots idx as a Dict of batch [len(idx)].
	Get(idx []int) (*tensordict.Dict, error)
	// Data returns the whole storage as a Dict of batch [Capacity()] (views), or nil before the
	// first write.
	Data() *tensordict.Dict
}

// Memory is a preallocated in-memory storage: one Dict of batch [capacity] allocated at the
// first write from the item's structure.
type Memory struct {
	capacity int
	data     *tensordict.Dict
}

// NewMemory returns an in-memory storage of capacity slots.
func NewMemory(capacity int) (*Memory, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("replaybuffer: capacity must be positive, got %d", capacity)
	}
	return &Memory{capacity: capacity}, nil
}

func (m *Memory) Capacity() int          { return m.capacity }
func (m *Memory) Data() *tensordict.Dict { return m.data }

func (m *Memory) Set(idx []int, items *tensordict.Dict) error {
	if m.data == nil {
		row, err := firstRow(items)
		if err != nil {
			return err
		}
		m.data = tensordict.NewLike(row, m.capacity)
	}
	return setRows(m.data, idx, items)
}

func (m *Memory) Get(idx []int) (*tensordict.Dict, error) {
	if m.data == nil {
		return nil, errors.New("replaybuffer: the storage is empty")
	}
	return m.data.IndexList(idx)
}

func firstRow(items *tensordict.Dict) (*tensordict.Dict, error) {
	if len(items.BatchShape()) == 0 || items.BatchShape()[0] == 0 {
		return nil, fmt.Errorf("replaybuffer: items need a leading batch dimension of at least 1, got batch %v", items.BatchShape())
	}
	return items.Index(0)
}

func setRows(data *tensordict.Dict, idx []int, items *tensordict.Dict) error {
	if b := items.BatchShape(); len(b) == 0 || b[0] != len(idx) {
		return fmt.Errorf("replaybuffer: %d slots for items of batch %v", len(idx), items.BatchShape())
	}
	if err := data.SetRows(idx, items); err != nil {
		return fmt.Errorf("replaybuffer: the items do not fit the storage (its structure is fixed by the first write): %w", err)
	}
	return nil
}

// Mapped is a file-backed storage: the items live in a memory-mapped file (tensordict's
// codec format) that survives the process and reopens with OpenMapped.
type Mapped struct {
	path     string
	capacity int
	m        *tensordict.Mapped
}

// NewMapped returns a file-backed storage of capacity slots at path; the file is created at the
// first write. An existing file at path is an error: reopen it with OpenMapped.
func NewMapped(path string, capacity int) (*Mapped, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("replaybuffer: capacity must be positive, got %d", capacity)
	}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("replaybuffer: %s exists; reopen it with OpenMapped or remove it", path)
	}
	return &Mapped{path: path, capacity: capacity}, nil
}

// OpenMapped reopens a file-backed storage written earlier.
func OpenMapped(path string) (*Mapped, error) {
	m, err := tensordict.OpenMapped(path, true)
	if err != nil {
		return nil, fmt.Errorf("replaybuffer: %w", err)
	}
	b := m.Dict().BatchShape()
	if len(b) == 0 {
		m.Close()
		return nil, fmt.Errorf("replaybuffer: %s is not a storage (batch shape %v)", path, b)
	}
	return &Mapped{path: path, capacity: b[0], m: m}, nil
}

func (s *Mapped) Capacity() int { return s.capacity }

func (s *Mapped) Data() *tensordict.Dict {
	if s.m == nil {
		return nil
	}
	return s.m.Dict()
}

func (s *Mapped) Set(idx []int, items *tensordict.Dict) error {
	if s.m == nil {
		row, err := firstRow(items)
		if err != nil {
			return err
		}
		if s.m, err = tensordict.CreateMapped(s.path, tensordict.NewLike(row, s.capacity)); err != nil {
			return fmt.Errorf("replaybuffer: %w", err)
		}
	}
	return setRows(s.m.Dict(), idx, items)
}

func (s *Mapped) Get(idx []int) (*tensordict.Dict, error) {
	if s.m == nil {
		return nil, errors.New("replaybuffer: the storage is empty")
	}
	return s.m.Dict().IndexList(idx)
}

// Sync flushes written items to the file.
func (s *Mapped) Sync() error {
	if s.m == nil {
		return nil
	}
	return s.m.Sync()
}

// Close syncs and unmaps the file.
func (s *Mapped) Close() error {
	if s.m == nil {
		return nil
	}
	err := errors.Join(s.m.Sync(), s.m.Close())
	s.m = nil
	return err
}

// List stores items of any structure (ragged trajectories, strings of any length): one Dict per
// slot, kept as given.
type List struct {
	items []*tensordict.Dict
}

// NewList returns a list storage of capacity slots.
func NewList(capacity int) (*List, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("replaybuffer: capacity must be positive, got %d", capacity)
	}
	return &List{items: make([]*tensordict.Dict, capacity)}, nil
}

func (l *List) Capacity() int          { return len(l.items) }
func (l *List) Data() *tensordict.Dict { return nil }

func (l *List) Set(idx []int, items *tensordict.Dict) error {
	rows, err := items.Unbind()
	if err != nil {
		return err
	}
	if len(rows) != len(idx) {
		return fmt.Errorf("replaybuffer: %d slots for %d items", len(idx), len(rows))
	}
	for j, i := range idx {
		l.items[i] = rows[j].Clone()
	}
	return nil
}

// SetItem stores one item of any batch shape in slot i (ragged storage).
func (l *List) SetItem(i int, item *tensordict.Dict) { l.items[i] = item.Clone() }

// Get stacks the items when they share a structure; ragged items need Items.
func (l *List) Get(idx []int) (*tensordict.Dict, error) {
	ds, err := l.Items(idx)
	if err != nil {
		return nil, err
	}
	return tensordict.Stack(ds)
}

// Items returns clones of slots idx.
func (l *List) Items(idx []int) ([]*tensordict.Dict, error) {
	out := make([]*tensordict.Dict, len(idx))
	for j, i := range idx {
		if l.items[i] == nil {
			return nil, fmt.Errorf("replaybuffer: slot %d is empty", i)
		}
		out[j] = l.items[i].Clone()
	}
	return out, nil
}

// writeJSON writes v to path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}
