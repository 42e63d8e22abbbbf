package replaybuffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/tensordict"
)

// Options configure a Buffer. Capacity is required; the rest have defaults.
type Options struct {
	Capacity int
	// Dir, when set, keeps the items in a memory-mapped file Dir/items.mtd and the buffer's
	// state in Dir/meta.json, updated on every Extend: a killed process loses nothing that
	// Extend acknowledged, and New reopens the buffer (sampler and writer state included).
	// Otherwise the items live in memory and Save/Load snapshot them.
	Dir string
	// Sampler defaults to uniform sampling with replacement (NewRandom(Seed)).
	Sampler Sampler
	// Writer defaults to round robin.
	Writer Writer
	// Transform, when set, is applied to every sampled batch.
	Transform func(*tensordict.Dict) (*tensordict.Dict, error)
	Seed      uint64
}

// Validate reports an option out of range.
func (o Options) Validate() error {
	if o.Capacity <= 0 {
		return fmt.Errorf("replaybuffer: Options.Capacity %d must be positive", o.Capacity)
	}
	return nil
}

// Buffer is a replay buffer: Storage + Sampler + Writer. One goroutine may Extend while
// others Sample.
type Buffer struct {
	mu      sync.RWMutex // storage and size
	smu     sync.Mutex   // sampler state
	storage Storage
	sampler Sampler
	writer  Writer
	size    int
	o       Options
	prio    *os.File // Dir/priorities.f64 for a file-backed prioritized buffer
}

const metaVersion = 1

type meta struct {
	Version  int         `json:"version"`
	Capacity int         `json:"capacity"`
	Writer   WriterState `json:"writer"`
	Sampler  string      `json:"sampler"`
	State    []byte      `json:"sampler_state,omitempty"`
}

// stateful samplers can be saved and restored.
type stateful interface {
	kind() string
	marshalState() ([]byte, error)
	unmarshalState([]byte) error
}

// New returns a buffer; with Options.Dir holding a buffer, it reopens it.
func New(o Options) (*Buffer, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Sampler == nil {
		o.Sampler = NewRandom(o.Seed)
	}
	if o.Writer == nil {
		o.Writer = &RoundRobin{}
	}
	b := &Buffer{sampler: o.Sampler, writer: o.Writer, o: o}
	if o.Dir == "" {
		m, _ := NewMemory(o.Capacity)
		b.storage = m
		return b, nil
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("replaybuffer: %w", err)
	}
	items := filepath.Join(o.Dir, "items.mtd")
	if _, err := os.Stat(filepath.Join(o.Dir, "meta.json")); err == nil {
		s, err := OpenMapped(items)
		if err != nil {
			return nil, err
		}
		if s.Capacity() != o.Capacity {
			s.Close()
			return nil, fmt.Errorf("replaybuffer: %s holds a buffer of capacity %d, not %d", o.Dir, s.Capacity(), o.Capacity)
		}
		b.storage = s
		if err := b.readMeta(o.Dir); err != nil {
			s.Close()
			return nil, err
		}
		if err := b.openPriorities(false); err != nil {
			s.Close()
			return nil, err
		}
		return b, nil
	}
	os.Remove(items) // items without meta: a buffer that never acknowledged a write
	s, err := NewMapped(items, o.Capacity)
	if err != nil {
		return nil, err
	}
	b.storage = s
	if err := b.openPriorities(true); err != nil {
		s.Close()
		return nil, err
	}
	return b, nil
}

// Len returns the number of items held.
func (b *Buffer) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.size
}

// Capacity returns the number of slots.
func (b *Buffer) Capacity() int { return b.o.Capacity }

// Storage returns the storage (for reading; write through Extend).
func (b *Buffer) Storage() Storage { return b.storage }

// Extend adds items (batch [n]) and returns the slots written (-1 for items a max-value writer
// dropped).
func (b *Buffer) Extend(items *tensordict.Dict) ([]int, error) {
	batch := items.BatchShape()
	if len(batch) == 0 {
		return nil, errors.New("replaybuffer: Extend needs a batch of items (batch shape [n]); use Add for one item")
	}
	n := batch[0]
	b.mu.Lock()
	defer b.mu.Unlock()
	idx, size, err := b.writer.Slots(items, n, b.o.Capacity)
	if err != nil {
		return nil, err
	}
	var keep, slots []int
	for j, i := range idx {
		if i >= 0 {
			keep = append(keep, j)
			slots = append(slots, i)
		}
	}
	if len(keep) > 0 {
		rows := items
		if len(keep) != n {
			if rows, err = items.IndexList(keep); err != nil {
				return nil, err
			}
		}
		if err := b.storage.Set(slots, rows); err != nil {
			return nil, err
		}
	}
	b.size = size
	b.smu.Lock()
	b.sampler.Written(slots)
	err = b.persistPriorities(slots)
	b.smu.Unlock()
	if err != nil {
		return nil, err
	}
	if b.o.Dir != "" {
		if err := b.writeMeta(b.o.Dir, false); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// Add adds one item (batch []).
func (b *Buffer) Add(item *tensordict.Dict) (int, error) {
	st, err := tensordict.Stack([]*tensordict.Dict{item})
	if err != nil {
		return 0, err
	}
	idx, err := b.Extend(st)
	if err != nil {
		return 0, err
	}
	return idx[0], nil
}

// Sample returns a copy of n items and what the sampler says about them.
func (b *Buffer) Sample(n int) (*tensordict.Dict, Info, error) {
	if n <= 0 {
		return nil, Info{}, fmt.Errorf("replaybuffer: sample size must be positive, got %d", n)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	b.smu.Lock()
	info, err := b.sampler.Sample(n, b.size, b.storage.Data())
	b.smu.Unlock()
	if err != nil {
		return nil, Info{}, err
	}
	d, err := b.storage.Get(info.Index)
	if err != nil {
		return nil, Info{}, err
	}
	if b.o.Transform != nil {
		if d, err = b.o.Transform(d); err != nil {
			return nil, Info{}, fmt.Errorf("replaybuffer: sample transform: %w", err)
		}
	}
	return d, info, nil
}

// SampleInto is Sample writing into dst, a Dict of batch [n] with the storage's structure
// (from an earlier Sample, or NewLike): a training loop that samples the same size each
// iteration allocates nothing for the data. Transform is not applied.
func (b *Buffer) SampleInto(dst *tensordict.Dict) (Info, error) {
	bs := dst.BatchShape()
	if len(bs) == 0 || bs[0] == 0 {
		return Info{}, fmt.Errorf("replaybuffer: SampleInto needs a Dict of batch [n], got %v", bs)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	data := b.storage.Data()
	if data == nil {
		return Info{}, ErrEmpty
	}
	b.smu.Lock()
	info, err := b.sampler.Sample(bs[0], b.size, data)
	b.smu.Unlock()
	if err != nil {
		return Info{}, err
	}
	return info, data.GatherInto(dst, info.Index)
}

// UpdatePriority sets priorities of sampled slots; the sampler must be Prioritized.
func (b *Buffer) UpdatePriority(idx []int, priority []float64) error {
	var p *Prioritized
	switch s := b.sampler.(type) {
	case *Prioritized:
		p = s
	case *PrioritizedSlice:
		p = s.Prioritized
	default:
		return fmt.Errorf("replaybuffer: UpdatePriority needs a prioritized sampler, the buffer has %T", b.sampler)
	}
	size := b.Len() // read before smu: Sample takes mu, then smu; sizes only grow
	for _, i := range idx {
		if i >= size {
			return fmt.Errorf("replaybuffer: UpdatePriority for slot %d, but only slots 0..%d hold items (pass indices from Sample's Info); no priority was changed", i, size-1)
		}
	}
	b.smu.Lock()
	defer b.smu.Unlock()
	if err := p.Update(idx, priority); err != nil {
		return err
	}
	return b.persistPriorities(idx)
}

func (b *Buffer) writeMeta(dir string, durable bool) error {
	m := meta{Version: metaVersion, Capacity: b.o.Capacity, Writer: b.writer.State()}
	b.smu.Lock()
	if s, ok := b.sampler.(stateful); ok {
		m.Sampler = s.kind()
		var err error
		if m.State, err = s.marshalState(); err != nil {
			b.smu.Unlock()
			return err
		}
	}
	b.smu.Unlock()
	by, err := json.Marshal(m)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "meta.json")
	if durable {
		return atomicfile.WriteFile(path, by)
	}
	// Without fsync: rename is atomic for other processes and survives a killed process; Save
	// syncs.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, by, 0o644); err != nil {
		return fmt.Errorf("replaybuffer: %w", err)
	}
	return os.Rename(tmp, path)
}

func (b *Buffer) readMeta(dir string) error {
	by, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return fmt.Errorf("replaybuffer: %w", err)
	}
	var m meta
	if err := json.Unmarshal(by, &m); err != nil {
		return fmt.Errorf("replaybuffer: corrupt %s/meta.json: %w", dir, err)
	}
	if m.Version != metaVersion {
		return fmt.Errorf("replaybuffer: %s was written by format version %d, this build reads %d", dir, m.Version, metaVersion)
	}
	if m.Capacity != b.o.Capacity {
		return fmt.Errorf("replaybuffer: %s holds a buffer of capacity %d, not %d", dir, m.Capacity, b.o.Capacity)
	}
	b.writer.SetState(m.Writer)
	b.size = m.Writer.Size
	if s, ok := b.sampler.(stateful); ok && m.Sampler == s.kind() {
		if err := s.unmarshalState(m.State); err != nil {
			return fmt.Errorf("replaybuffer: sampler state in %s: %w", dir, err)
		}
	} else if ok && m.Sampler != "" {
		return fmt.Errorf("replaybuffer: %s was saved with a %s sampler, the buffer has a %s one", dir, m.Sampler, s.kind())
	}
	return nil
}

// Save snapshots the buffer into dir (items.mtd, meta.json), atomically per file with the
// manifest last. A file-backed buffer syncs its file instead of copying it.
func (b *Buffer) Save(dir string) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("replaybuffer: %w", err)
	}
	switch s := b.storage.(type) {
	case *Mapped:
		if err := s.Sync(); err != nil {
			return err
		}
		if b.prio != nil {
			if err := b.prio.Sync(); err != nil {
				return fmt.Errorf("replaybuffer: priorities: %w", err)
			}
		}
		if filepath.Clean(dir) != filepath.Clean(b.o.Dir) {
			return fmt.Errorf("replaybuffer: a file-backed buffer saves in place (Dir %s), not to %s", b.o.Dir, dir)
		}
	default:
		if d := b.storage.Data(); d != nil {
			if err := tensordict.SaveFile(filepath.Join(dir, "items.mtd"), d); err != nil {
				return err
			}
		}
	}
	return b.writeMeta(dir, true)
}

// Load restores a buffer saved by Save into a new in-memory buffer configured by o (whose
// sampler and writer must be of the kinds saved).
func Load(dir string, o Options) (*Buffer, error) {
	o.Dir = ""
	b, err := New(o)
	if err != nil {
		return nil, err
	}
	if err := b.readMeta(dir); err != nil {
		return nil, err
	}
	if err := b.loadPriorities(dir); err != nil {
		return nil, err
	}
	if b.size > 0 {
		d, err := tensordict.LoadFile(filepath.Join(dir, "items.mtd"))
		if err != nil {
			return nil, fmt.Errorf("replaybuffer: %w", err)
		}
		if bs := d.BatchShape(); len(bs) == 0 || bs[0] != o.Capacity {
			return nil, fmt.Errorf("replaybuffer: %s holds %v items, the buffer has capacity %d", dir, bs, o.Capacity)
		}
		b.storage.(*Memory).data = d
	}
	return b, nil
}

// Close releases a file-backed storage (syncing it).
func (b *Buffer) Close() error {
	b.mu.Lock() // not while a Sample or Extend reads or writes the mapping
	defer b.mu.Unlock()
	if b.prio != nil {
		b.prio.Close()
		b.prio = nil
	}
	if s, ok := b.storage.(*Mapped); ok {
		return s.Close()
	}
	return nil
}

// sampler state (de)serialisation -----------------------------------------------------------

type rngState struct {
	RNG []byte `json:"rng"`
}

func (r *Random) kind() string { return "random" }
func (r *Random) marshalState() ([]byte, error) {
	s, err := r.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(rngState{s})
}
func (r *Random) unmarshalState(b []byte) error {
	var s rngState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return r.src.UnmarshalBinary(s.RNG)
}

type worState struct {
	RNG    []byte `json:"rng"`
	Perm   []int  `json:"perm"`
	Pos    int    `json:"pos"`
	Epochs int    `json:"epochs"`
}

func (w *WithoutReplacement) kind() string { return "without_replacement" }
func (w *WithoutReplacement) marshalState() ([]byte, error) {
	s, err := w.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(worState{s, w.perm, w.pos, w.epochs})
}
func (w *WithoutReplacement) unmarshalState(b []byte) error {
	var s worState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	w.perm, w.pos, w.epochs = s.Perm, s.Pos, s.Epochs
	return w.src.UnmarshalBinary(s.RNG)
}

type prioState struct {
	RNG    []byte    `json:"rng"`
	Leaves []float64 `json:"leaves,omitempty"` // absent when they live in priorities.f64
	MaxP   float64   `json:"max_p"`
}

func (p *Prioritized) kind() string { return "prioritized" }
func (p *Prioritized) marshalState() ([]byte, error) {
	s, err := p.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	st := prioState{RNG: s, MaxP: p.maxP}
	if !p.external {
		st.Leaves = p.tree[p.leaves:]
	}
	return json.Marshal(st)
}
func (p *Prioritized) unmarshalState(b []byte) error {
	var s prioState
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s.Leaves != nil && len(s.Leaves) != p.leaves {
		return fmt.Errorf("saved %d priorities, the sampler has %d", len(s.Leaves), p.leaves)
	}
	for i, v := range s.Leaves {
		p.set(i, v)
	}
	p.maxP = s.MaxP
	return p.src.UnmarshalBinary(s.RNG)
}

type sliceState struct {
	RNG    []byte `json:"rng"`
	Cursor int    `json:"cursor"`
}

func (ps *PrioritizedSlice) marshalState() ([]byte, error) {
	a, err := ps.Prioritized.marshalState()
	if err != nil {
		return nil, err
	}
	b, err := ps.slice.marshalState()
	if err != nil {
		return nil, err
	}
	return json.Marshal([2]json.RawMessage{a, b})
}

func (ps *PrioritizedSlice) unmarshalState(by []byte) error {
	var parts [2]json.RawMessage
	if err := json.Unmarshal(by, &parts); err != nil {
		return err
	}
	if err := ps.Prioritized.unmarshalState(parts[0]); err != nil {
		return err
	}
	return ps.slice.unmarshalState(parts[1])
}

func (s *Slice) kind() string { return "slice" }
func (s *Slice) marshalState() ([]byte, error) {
	r, err := s.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(sliceState{r, s.cursor})
}
func (s *Slice) unmarshalState(b []byte) error {
	var st sliceState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	s.cursor = st.Cursor
	return s.src.UnmarshalBinary(st.RNG)
}
