package replaybuffer

import (
	"container/heap"
	"fmt"

	"github.com/maestro-rl/maestro/tensordict"
)

// Writer chooses the slots new items go to.
type Writer interface {
	// Slots returns where the n items of batch go (-1: drop the item), and the storage's
	// number of valid slots afterwards.
	Slots(items *tensordict.Dict, n, capacity int) ([]int, int, error)
	// State and SetState save and restore the cursor.
	State() WriterState
	SetState(WriterState)
}

// WriterState is what a Writer needs to resume.
type WriterState struct {
	Cursor int       `json:"cursor"`
	Size   int       `json:"size"`
	Values []float64 `json:"values,omitempty"`
	Slots  []int     `json:"slots,omitempty"`
}

// RoundRobin writes into slots 0, 1, ... and wraps around, overwriting the oldest items.
type RoundRobin struct{ cursor, size int }

func (r *RoundRobin) Slots(_ *tensordict.Dict, n, capacity int) ([]int, int, error) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = r.cursor
		r.cursor = (r.cursor + 1) % capacity
	}
	r.size = min(r.size+n, capacity)
	return idx, r.size, nil
}

func (r *RoundRobin) State() WriterState     { return WriterState{Cursor: r.cursor, Size: r.size} }
func (r *RoundRobin) SetState(s WriterState) { r.cursor, r.size = s.Cursor, s.Size }

// MaxValue keeps the items with the largest value of a scalar key (per item): while the
// storage is not full it appends; then a new item replaces the smallest kept one if it is
// larger, and is dropped otherwise.
type MaxValue struct {
	Key string
	h   minHeap
}

type entryV struct {
	v    float64
	slot int
}

type minHeap []entryV

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i].v < h[j].v }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(entryV)) }
func (h *minHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }

func (m *MaxValue) Slots(items *tensordict.Dict, n, capacity int) ([]int, int, error) {
	t, err := items.Get(m.Key)
	if err != nil {
		return nil, 0, fmt.Errorf("replaybuffer: max-value writer: %w", err)
	}
	if t.Len() != n {
		return nil, 0, fmt.Errorf("replaybuffer: max-value key %q must hold one value per item, got shape %v", m.Key, t.Shape())
	}
	idx := make([]int, n)
	for i := range idx {
		v := t.At(i)
		switch {
		case len(m.h) < capacity:
			idx[i] = len(m.h)
			heap.Push(&m.h, entryV{v, len(m.h)})
		case v > m.h[0].v:
			idx[i] = m.h[0].slot
			m.h[0].v = v
			heap.Fix(&m.h, 0)
		default:
			idx[i] = -1
		}
	}
	return idx, len(m.h), nil
}

func (m *MaxValue) State() WriterState {
	s := WriterState{Size: len(m.h)}
	for _, e := range m.h {
		s.Values = append(s.Values, e.v)
		s.Slots = append(s.Slots, e.slot)
	}
	return s
}

func (m *MaxValue) SetState(s WriterState) {
	m.h = m.h[:0]
	for i := range s.Values {
		m.h = append(m.h, entryV{s.Values[i], s.Slots[i]})
	}
	heap.Init(&m.h)
}
