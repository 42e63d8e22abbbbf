package replaybuffer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Info describes a sampled batch beyond its indices.
type Info struct {
	// Index holds the storage slot of each sampled item.
	Index []int
	// Weights are importance weights (prioritized samplers), else nil.
	Weights []float64
	// Mask marks real items (false: padding past an episode end, slice samplers), else nil.
	Mask []bool
}

// Sampler chooses which items a batch holds. Samplers are used under the buffer's lock.
type Sampler interface {
	// Sample returns n slot indices among the first size written slots (size <= capacity).
	Sample(n int, size int, data *tensordict.Dict) (Info, error)
	// Written tells the sampler that slots idx hold new items.
	Written(idx []int)
}

// ErrEmpty is returned when sampling from an empty buffer.
var ErrEmpty = errors.New("replaybuffer: the buffer is empty")

// Random samples uniformly with replacement.
type Random struct {
	rng *rand.Rand
	src *rand.PCG
}

// NewRandom returns a uniform sampler seeded with seed.
func NewRandom(seed uint64) *Random {
	src := rand.NewPCG(seed, 0xbeef)
	return &Random{rng: rand.New(src), src: src}
}

func (r *Random) Written([]int) {}

func (r *Random) Sample(n, size int, _ *tensordict.Dict) (Info, error) {
	if size == 0 {
		return Info{}, ErrEmpty
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = r.rng.IntN(size)
	}
	return Info{Index: idx}, nil
}

// WithoutReplacement samples every written item once per epoch, in a fresh random order each
// epoch. A batch that would run past the end of an epoch finishes it and starts the next.
type WithoutReplacement struct {
	rng    *rand.Rand
	src    *rand.PCG
	perm   []int
	pos    int
	epochs int
}

// NewWithoutReplacement returns an epoch sampler seeded with seed.
func NewWithoutReplacement(seed uint64) *WithoutReplacement {
	src := rand.NewPCG(seed, 0xfeed)
	return &WithoutReplacement{rng: rand.New(src), src: src}
}

func (w *WithoutReplacement) Written([]int) {}

// Epochs returns how many epochs were completed.
func (w *WithoutReplacement) Epochs() int { return w.epochs }

func (w *WithoutReplacement) Sample(n, size int, _ *tensordict.Dict) (Info, error) {
	if size == 0 {
		return Info{}, ErrEmpty
	}
	idx := make([]int, 0, n)
	for len(idx) < n {
		if w.pos >= len(w.perm) || len(w.perm) != size {
			if w.perm != nil && w.pos >= len(w.perm) {
				w.epochs++
			}
			w.perm = w.rng.Perm(size)
			w.pos = 0
		}
		k := min(n-len(idx), len(w.perm)-w.pos)
		idx = append(idx, w.perm[w.pos:w.pos+k]...)
		w.pos += k
	}
	return Info{Index: idx}, nil
}

// Prioritized samples slot i with probability p_i^alpha / sum p^alpha (a sum tree: O(log n)
// per draw and per update) and returns importance weights (N P(i))^-beta / max weight. New
// items get the largest priority seen so far.
type Prioritized struct {
	Alpha, Beta, Eps float64
	tree             []float64 // sum tree over capacity leaves (index 1 is the root)
	min              []float64 // min tree of the same layout, for the largest weight
	leaves           int
	maxP             float64
	rng              *rand.Rand
	src              *rand.PCG
	external         bool // leaves persisted by the buffer's priorities file, not in its state
}

// NewPrioritized returns a prioritized sampler over capacity slots.
func NewPrioritized(capacity int, alpha, beta float64, seed uint64) (*Prioritized, error) {
	if capacity <= 0 || alpha < 0 || beta < 0 {
		return nil, fmt.Errorf("replaybuffer: prioritized sampler needs capacity > 0, alpha >= 0, beta >= 0 (got %d, %v, %v)", capacity, alpha, beta)
	}
	leaves := 1
	for leaves < capacity {
		leaves *= 2
	}
	src := rand.NewPCG(seed, 0x5eed)
	p := &Prioritized{Alpha: alpha, Beta: beta, Eps: 1e-8, tree: make([]float64, 2*leaves), min: make([]float64, 2*leaves),
		leaves: leaves, maxP: 1, rng: rand.New(src), src: src}
	for i := range p.min {
		p.min[i] = math.Inf(1)
	}
	return p, nil
}

func (p *Prioritized) set(i int, v float64) {
	j := i + p.leaves
	p.tree[j], p.min[j] = v, v
	if v == 0 { // an empty slot does not bound the weights
		p.min[j] = math.Inf(1)
	}
	for j /= 2; j >= 1; j /= 2 {
		p.tree[j] = p.tree[2*j] + p.tree[2*j+1]
		p.min[j] = math.Min(p.min[2*j], p.min[2*j+1])
	}
}

// Written gives new items the largest priority seen so far.
func (p *Prioritized) Written(idx []int) {
	for _, i := range idx {
		p.set(i, math.Pow(p.maxP, p.Alpha))
	}
}

// Update sets the priorities of slots idx (e.g. |TD error|); Eps is added to each.
func (p *Prioritized) Update(idx []int, priority []float64) error {
	if len(idx) != len(priority) {
		return fmt.Errorf("replaybuffer: %d indices and %d priorities", len(idx), len(priority))
	}
	for k, i := range idx { // all checked before any is applied
		if v := priority[k]; i < 0 || i >= p.leaves || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("replaybuffer: bad priority %v for slot %d (slots 0..%d, priorities finite and >= 0); no priority was changed", v, i, p.leaves-1)
		}
	}
	for k, i := range idx {
		v := priority[k] + p.Eps
		p.maxP = math.Max(p.maxP, v)
		p.set(i, math.Pow(v, p.Alpha))
	}
	return nil
}

// find returns the leaf whose prefix sum covers u.
func (p *Prioritized) find(u float64) int {
	j := 1
	for j < p.leaves {
		if l := p.tree[2*j]; u < l {
			j = 2 * j
		} else {
			u -= l
			j = 2*j + 1
		}
	}
	return j - p.leaves
}

func (p *Prioritized) Sample(n, size int, _ *tensordict.Dict) (Info, error) {
	total := p.tree[1]
	if size == 0 || total <= 0 {
		return Info{}, ErrEmpty
	}
	idx := make([]int, n)
	w := make([]float64, n)
	minP := p.min[1] / total
	maxW := math.Pow(float64(size)*minP, -p.Beta)
	seg := total / float64(n) // stratified: one draw per segment, as PER does
	for k := range idx {
		i := p.find(min((float64(k)+p.rng.Float64())*seg, math.Nextafter(total, 0)))
		if i >= size { // unwritten leaves have priority 0 and are never found; guard anyway
			i = size - 1
		}
		idx[k] = i
		w[k] = math.Pow(float64(size)*p.tree[i+p.leaves]/total, -p.Beta) / maxW
	}
	return Info{Index: idx, Weights: w}, nil
}

// Slice samples contiguous sub-trajectories of Length steps that never cross an episode end:
// a batch of n items holds n/Length slices, each laid out consecutively. Episode ends are read
// from the boolean key EndKey (default "next/done"); the write cursor of a ring buffer also ends
// a trajectory. With AllowShort, episodes shorter than Length are sampled too, padded by
// repeating their last step, and Info.Mask marks the padding.
type Slice struct {
	Length     int
	EndKey     string
	AllowShort bool
	rng        *rand.Rand
	src        *rand.PCG
	cursor     int // the writer's next slot: data before and after it are not contiguous
}

// NewSlice returns a slice sampler of sub-trajectories of length steps.
func NewSlice(length int, seed uint64) (*Slice, error) {
	if length < 1 {
		return nil, fmt.Errorf("replaybuffer: slice length must be at least 1, got %d", length)
	}
	src := rand.NewPCG(seed, 0x511ce)
	return &Slice{Length: length, EndKey: envs.NextKey(envs.KeyDone), rng: rand.New(src), src: src}, nil
}

// Written tracks the ring buffer's cursor.
func (s *Slice) Written(idx []int) {
	if len(idx) > 0 {
		s.cursor = idx[len(idx)-1] + 1
	}
}

type segment struct{ start, length int }

// segments splits slots [0, size) into trajectories at episode ends and at the write cursor.
func (s *Slice) segments(size int, data *tensordict.Dict) ([]segment, error) {
	ends, err := data.Get(s.EndKey)
	if err != nil {
		return nil, fmt.Errorf("replaybuffer: the slice sampler needs %q in the items: %w", s.EndKey, err)
	}
	if ends.DType() != tensor.Bool {
		return nil, fmt.Errorf("replaybuffer: slice end key %q is %v, want bool", s.EndKey, ends.DType())
	}
	e := tensor.MustData[bool](ends)
	per := len(e) / max(data.BatchShape()[0], 1)
	var segs []segment
	start := 0
	for i := 0; i < size; i++ {
		if e[i*per] || i+1 == size || (i+1)%size == s.cursor%size && size == data.BatchShape()[0] {
			segs = append(segs, segment{start, i + 1 - start})
			start = i + 1
		}
	}
	return segs, nil
}

func (s *Slice) Sample(n, size int, data *tensordict.Dict) (Info, error) {
	if size == 0 || data == nil {
		return Info{}, ErrEmpty
	}
	if n%s.Length != 0 {
		return Info{}, fmt.Errorf("replaybuffer: batch of %d is not a multiple of the slice length %d", n, s.Length)
	}
	segs, err := s.segments(size, data)
	if err != nil {
		return Info{}, err
	}
	// Weight each segment by its number of valid start positions.
	var cum []int
	total := 0
	var usable []segment
	for _, g := range segs {
		starts := g.length - s.Length + 1
		if starts < 1 {
			if !s.AllowShort {
				continue
			}
			starts = 1
		}
		total += starts
		cum = append(cum, total)
		usable = append(usable, g)
	}
	if total == 0 {
		return Info{}, fmt.Errorf("replaybuffer: no trajectory of %d steps yet (set AllowShort to pad shorter ones)", s.Length)
	}
	info := Info{Index: make([]int, 0, n), Mask: make([]bool, 0, n)}
	for k := 0; k < n/s.Length; k++ {
		u := s.rng.IntN(total)
		j := 0
		for cum[j] <= u {
			j++
		}
		g := usable[j]
		off := u
		if j > 0 {
			off -= cum[j-1]
		}
		for t := 0; t < s.Length; t++ {
			pos := off + t
			real := pos < g.length
			if !real {
				pos = g.length - 1
			}
			info.Index = append(info.Index, g.start+pos)
			info.Mask = append(info.Mask, real)
		}
	}
	return info, nil
}

// PrioritizedSlice samples slices like Slice, choosing each slice through a prioritized draw
// of one of its steps: a step drawn with probability p_i^alpha / sum p^alpha is covered by a
// slice of its trajectory (starting at the step when it fits, else as late as fits). Weights
// are those of the drawn steps. Priorities are updated per step, as with Prioritized.
type PrioritizedSlice struct {
	*Prioritized
	slice *Slice
}

// NewPrioritizedSlice returns a prioritized slice sampler over capacity slots.
func NewPrioritizedSlice(capacity, length int, alpha, beta float64, seed uint64) (*PrioritizedSlice, error) {
	p, err := NewPrioritized(capacity, alpha, beta, seed)
	if err != nil {
		return nil, err
	}
	s, err := NewSlice(length, seed+1)
	if err != nil {
		return nil, err
	}
	return &PrioritizedSlice{Prioritized: p, slice: s}, nil
}

// Written records new items for both the priorities and the trajectory boundaries.
func (ps *PrioritizedSlice) Written(idx []int) {
	ps.Prioritized.Written(idx)
	ps.slice.Written(idx)
}

func (ps *PrioritizedSlice) kind() string { return "prioritized_slice" }

func (ps *PrioritizedSlice) Sample(n, size int, data *tensordict.Dict) (Info, error) {
	L := ps.slice.Length
	if n%L != 0 {
		return Info{}, fmt.Errorf("replaybuffer: batch of %d is not a multiple of the slice length %d", n, L)
	}
	if size == 0 || data == nil {
		return Info{}, ErrEmpty
	}
	segs, err := ps.slice.segments(size, data)
	if err != nil {
		return Info{}, err
	}
	starts := make([]int, len(segs))
	for i, g := range segs {
		starts[i] = g.start
	}
	if !ps.slice.AllowShort {
		// Steps of trajectories shorter than L (typically the episode still being written,
		// whose steps carry the top priority) cannot start a slice: their priorities are
		// zeroed for this draw and restored after, so slices come from the priorities of the
		// usable steps, and weights are normalised among those.
		var hidden []int
		var saved []float64
		for _, g := range segs {
			if g.length < L {
				for i := g.start; i < g.start+g.length; i++ {
					hidden, saved = append(hidden, i), append(saved, ps.tree[i+ps.leaves])
				}
			}
		}
		for _, i := range hidden {
			ps.set(i, 0)
		}
		defer func() {
			for k, i := range hidden {
				ps.set(i, saved[k])
			}
		}()
		if ps.tree[1] <= 0 {
			return Info{}, fmt.Errorf("replaybuffer: no trajectory in the buffer has the slice length %d yet; collect more, use shorter slices, or set AllowShort", L)
		}
	}
	draws, err := ps.Prioritized.Sample(n/L, size, data)
	if err != nil {
		return Info{}, err
	}
	info := Info{Index: make([]int, 0, n), Mask: make([]bool, 0, n), Weights: make([]float64, 0, n)}
	for k, i := range draws.Index {
		g := segs[sort.SearchInts(starts, i+1)-1]
		if g.length < L && !ps.slice.AllowShort { // a zero-priority leaf found by rounding
			return Info{}, fmt.Errorf("replaybuffer: internal: drew step %d of a %d-step trajectory for slices of %d", i, g.length, L)
		}
		start := min(i, g.start+max(g.length-L, 0))
		for t := 0; t < L; t++ {
			pos := start + t
			real := pos < g.start+g.length
			if !real {
				pos = g.start + g.length - 1
			}
			info.Index = append(info.Index, pos)
			info.Mask = append(info.Mask, real)
			info.Weights = append(info.Weights, draws.Weights[k])
		}
	}
	return info, nil
}

// AllowShort sets whether trajectories shorter than the slice are padded (see Slice).
func (ps *PrioritizedSlice) SetAllowShort(v bool) { ps.slice.AllowShort = v }
