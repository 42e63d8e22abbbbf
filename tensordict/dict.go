package tensordict

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/maestro-rl/maestro/tensor"
)

// Sep separates the parts of a nested key.
const Sep = "/"

// Strings is a non-tensor leaf: one string per batch element, row-major over the batch shape.
type Strings struct {
	shape []int
	vals  []string
}

// NewStrings wraps vals (no copy) with the given shape; with no shape it is 1-D.
func NewStrings(vals []string, shape ...int) (*Strings, error) {
	if len(shape) == 0 {
		shape = []int{len(vals)}
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("tensordict: negative dimension in string shape %v", shape)
		}
		n *= d
	}
	if n != len(vals) {
		return nil, fmt.Errorf("tensordict: %d strings do not fill shape %v", len(vals), shape)
	}
	return &Strings{shape: slices.Clone(shape), vals: vals}, nil
}

// Shape returns a copy of the shape.
func (s *Strings) Shape() []int { return slices.Clone(s.shape) }

// Values returns the strings (a view).
func (s *Strings) Values() []string { return s.vals }

func (s *Strings) rowLen() int {
	n := 1
	for _, d := range s.shape[1:] {
		n *= d
	}
	return n
}

// entry is one value of a Dict: exactly one field is set.
type entry struct {
	t *tensor.Tensor
	d *Dict
	s *Strings
}

func (e entry) shape() []int {
	switch {
	case e.t != nil:
		return e.t.Shape()
	case e.d != nil:
		return slices.Clone(e.d.batch)
	}
	return e.s.Shape()
}

// Dict maps keys to tensors, nested Dicts and string leaves that share leading batch
// dimensions. The zero value is not usable; use New.
type Dict struct {
	batch  []int
	keys   []string       // insertion order; never shared with another Dict's spare capacity
	vals   []entry        // vals[i] belongs to keys[i]
	index  map[string]int // key -> position, built once a Dict has more than linearMax keys
	shared bool           // index is shared with another Dict: copy it before writing
	locked bool
	device string
}

// linearMax is the key count up to which lookups scan keys instead of using a map: small
// Dicts (the common case) then cost no map allocation.
const linearMax = 32

func (d *Dict) find(k string) int {
	if d.index != nil {
		if i, ok := d.index[k]; ok {
			return i
		}
		return -1
	}
	for i, x := range d.keys {
		if x == k {
			return i
		}
	}
	return -1
}

func (d *Dict) get(k string) (entry, bool) {
	if i := d.find(k); i >= 0 {
		return d.vals[i], true
	}
	return entry{}, false
}

// add appends a new key; the caller checked that it is absent.
func (d *Dict) add(k string, e entry) {
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, e)
	switch {
	case d.index != nil && !d.shared:
		d.index[k] = len(d.keys) - 1
	case len(d.keys) > linearMax:
		d.reindex()
	}
}

func (d *Dict) reindex() {
	d.shared = false
	d.index = make(map[string]int, len(d.keys))
	for i, k := range d.keys {
		d.index[k] = i
	}
}

// remove deletes key k if present, without writing into storage another Dict may share.
func (d *Dict) remove(k string) bool {
	i := d.find(k)
	if i < 0 {
		return false
	}
	d.keys = append(d.keys[:i:i], d.keys[i+1:]...)
	d.vals = append(d.vals[:i:i], d.vals[i+1:]...)
	if d.index != nil {
		d.reindex()
	}
	return true
}

// New returns an empty Dict with the given batch shape (none for a single sample).
func New(batch ...int) *Dict {
	for _, d := range batch {
		if d < 0 {
			panic(fmt.Sprintf("tensordict: negative batch dimension in %v", batch))
		}
	}
	return &Dict{batch: slices.Clone(batch), device: "cpu"}
}

// BatchShape returns a copy of the batch shape.
func (d *Dict) BatchShape() []int { return slices.Clone(d.batch) }

// BatchSize returns the number of batch elements (the product of the batch shape).
func (d *Dict) BatchSize() int {
	n := 1
	for _, x := range d.batch {
		n *= x
	}
	return n
}

// Device returns the device tag ("cpu" unless set).
func (d *Dict) Device() string { return d.device }

// SetDevice tags the Dict and its sub-Dicts with a device name; it moves no data (Maestro's
// tensors live in host memory; the tag tells consumers where a batch is meant to go).
func (d *Dict) SetDevice(dev string) {
	d.device = dev
	for _, e := range d.vals {
		if e.d != nil {
			e.d.SetDevice(dev)
		}
	}
}

// Len returns the number of top-level keys.
func (d *Dict) Len() int { return len(d.keys) }

// Keys returns the top-level keys in insertion order.
func (d *Dict) Keys() []string { return slices.Clone(d.keys) }

// LeafKeys returns the nested keys of every tensor and string leaf, depth first in insertion
// order ("a", "next/obs", ...).
func (d *Dict) LeafKeys() []string {
	var out []string
	d.walk("", func(path string, e entry) {
		if e.d == nil {
			out = append(out, path)
		}
	})
	return out
}

func (d *Dict) walk(prefix string, f func(path string, e entry)) {
	for i, k := range d.keys {
		e := d.vals[i]
		p := k
		if prefix != "" {
			p = prefix + Sep + k
		}
		f(p, e)
		if e.d != nil {
			e.d.walk(p, f)
		}
	}
}

// parent returns the Dict that holds the last part of key, creating sub-Dicts when create is
// set. It walks the key without allocating.
func (d *Dict) parent(key string, create bool) (*Dict, string, error) {
	if key == "" {
		return nil, "", errors.New("tensordict: empty key")
	}
	cur, rest, done := d, key, 0
	for {
		part, tail, more := strings.Cut(rest, Sep)
		if part == "" {
			return nil, "", fmt.Errorf("tensordict: malformed key %q (empty part)", key)
		}
		if !more {
			return cur, part, nil
		}
		done += len(part)
		e, ok := cur.get(part)
		switch {
		case ok && e.d != nil:
			cur = e.d
		case ok:
			return nil, "", fmt.Errorf("tensordict: key %q: %q is a leaf, not a Dict", key, key[:done])
		case !create:
			return nil, "", fmt.Errorf("tensordict: unknown key %q (no %q)", key, key[:done])
		default:
			if cur.locked {
				return nil, "", fmt.Errorf("tensordict: cannot add key %q to a locked Dict", key)
			}
			sub := New(cur.batch...)
			sub.device = cur.device
			cur.add(part, entry{d: sub})
			cur = sub
		}
		done += len(Sep)
		rest = tail
	}
}

func (d *Dict) checkBatch(key string, shape []int) error {
	if len(shape) < len(d.batch) || !slices.Equal(shape[:len(d.batch)], d.batch) {
		return fmt.Errorf("tensordict: key %q has shape %v, whose leading dimensions do not match the batch shape %v", key, shape, d.batch)
	}
	return nil
}

// checkEntry is checkBatch for an entry, without copying its shape.
func (d *Dict) checkEntry(key string, e entry) error {
	if e.t != nil {
		if !e.t.HasPrefix(d.batch) {
			return d.checkBatch(key, e.t.Shape())
		}
		return nil
	}
	return d.checkBatch(key, e.shape())
}

func (d *Dict) put(key string, e entry) error {
	p, k, err := d.parent(key, true)
	if err != nil {
		return err
	}
	if err := p.checkEntry(key, e); err != nil {
		return err
	}
	old, exists := p.get(k)
	if p.locked {
		if !exists {
			return fmt.Errorf("tensordict: cannot add key %q to a locked Dict; unlock it or preallocate the key", key)
		}
		switch {
		case old.t != nil && e.t != nil:
			if err := old.t.CopyFrom(e.t); err != nil {
				return fmt.Errorf("tensordict: key %q of a locked Dict: %w", key, err)
			}
			return nil
		case old.s != nil && e.s != nil && slices.Equal(old.s.shape, e.s.shape):
			copy(old.s.vals, e.s.vals)
			return nil
		case old.d != nil && e.d != nil:
			return old.d.Update(e.d)
		}
		return fmt.Errorf("tensordict: key %q of a locked Dict holds a %s, not a %s", key, kind(old), kind(e))
	}
	if exists {
		p.vals[p.find(k)] = e
	} else {
		p.add(k, e)
	}
	return nil
}

func kind(e entry) string {
	switch {
	case e.t != nil:
		return "tensor"
	case e.d != nil:
		return "Dict"
	}
	return "string leaf"
}

// Set stores t under key (nested keys create sub-Dicts). t's leading dimensions must equal the
// batch shape.
func (d *Dict) Set(key string, t *tensor.Tensor) error {
	if t == nil {
		return fmt.Errorf("tensordict: nil tensor for key %q", key)
	}
	return d.put(key, entry{t: t})
}

// SetDict stores sub under key; its batch shape must start with d's.
func (d *Dict) SetDict(key string, sub *Dict) error {
	if sub == nil {
		return fmt.Errorf("tensordict: nil Dict for key %q", key)
	}
	return d.put(key, entry{d: sub})
}

// SetStrings stores a string leaf under key.
func (d *Dict) SetStrings(key string, s *Strings) error {
	if s == nil {
		return fmt.Errorf("tensordict: nil strings for key %q", key)
	}
	return d.put(key, entry{s: s})
}

func (d *Dict) lookup(key string) (entry, error) {
	p, k, err := d.parent(key, false)
	if err != nil {
		return entry{}, err
	}
	e, ok := p.get(k)
	if !ok {
		return entry{}, fmt.Errorf("tensordict: unknown key %q; keys: %s", key, strings.Join(d.LeafKeys(), ", "))
	}
	return e, nil
}

// Get returns the tensor stored under key (the stored tensor itself, not a copy).
func (d *Dict) Get(key string) (*tensor.Tensor, error) {
	e, err := d.lookup(key)
	if err != nil {
		return nil, err
	}
	if e.t == nil {
		return nil, fmt.Errorf("tensordict: key %q holds a %s, not a tensor", key, kind(e))
	}
	return e.t, nil
}

// GetDict returns the sub-Dict stored under key.
func (d *Dict) GetDict(key string) (*Dict, error) {
	e, err := d.lookup(key)
	if err != nil {
		return nil, err
	}
	if e.d == nil {
		return nil, fmt.Errorf("tensordict: key %q holds a %s, not a Dict", key, kind(e))
	}
	return e.d, nil
}

// GetStrings returns the string leaf stored under key.
func (d *Dict) GetStrings(key string) (*Strings, error) {
	e, err := d.lookup(key)
	if err != nil {
		return nil, err
	}
	if e.s == nil {
		return nil, fmt.Errorf("tensordict: key %q holds a %s, not strings", key, kind(e))
	}
	return e.s, nil
}

// GetAs returns the data of the tensor under key as a []T view; it fails on a dtype mismatch.
func GetAs[T tensor.Elem](d *Dict, key string) ([]T, error) {
	t, err := d.Get(key)
	if err != nil {
		return nil, err
	}
	s, err := tensor.Data[T](t)
	if err != nil {
		return nil, fmt.Errorf("tensordict: key %q: %w", key, err)
	}
	return s, nil
}

// Has reports whether key exists (leaf or Dict).
func (d *Dict) Has(key string) bool {
	cur, rest := d, key
	for {
		part, tail, more := strings.Cut(rest, Sep)
		e, ok := cur.get(part)
		if !ok || !more {
			return ok
		}
		if e.d == nil {
			return false
		}
		cur, rest = e.d, tail
	}
}

// Delete removes key; it fails on a locked Dict or an unknown key.
func (d *Dict) Delete(key string) error {
	p, k, err := d.parent(key, false)
	if err != nil {
		return err
	}
	if p.find(k) < 0 {
		return fmt.Errorf("tensordict: unknown key %q", key)
	}
	if p.locked {
		return fmt.Errorf("tensordict: cannot delete key %q from a locked Dict", key)
	}
	p.remove(k)
	return nil
}

// Lock freezes the key set of d and its sub-Dicts (see the package invariants).
func (d *Dict) Lock() { d.setLocked(true) }

// Unlock lifts Lock.
func (d *Dict) Unlock() { d.setLocked(false) }

// Locked reports whether d is locked.
func (d *Dict) Locked() bool { return d.locked }

func (d *Dict) setLocked(v bool) {
	d.locked = v
	for _, e := range d.vals {
		if e.d != nil {
			e.d.setLocked(v)
		}
	}
}

// String lists the keys with their dtypes and shapes.
func (d *Dict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Dict(batch=%v", d.batch)
	d.walk("", func(p string, e entry) {
		switch {
		case e.t != nil:
			fmt.Fprintf(&b, ", %s: %v%v", p, e.t.DType(), e.t.Shape())
		case e.s != nil:
			fmt.Fprintf(&b, ", %s: string%v", p, e.s.shape)
		}
	})
	b.WriteString(")")
	return b.String()
}
