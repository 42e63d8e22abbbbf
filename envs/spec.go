package envs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Spec describes the values one key of an environment takes, per environment (without batch
// dimensions). Zero and Rand make tensors of shape batch + Shape(); IsIn checks one.
type Spec interface {
	Shape() []int
	DType() tensor.DType
	Zero(batch ...int) *tensor.Tensor
	Rand(rng *rand.Rand, batch ...int) *tensor.Tensor
	// IsIn returns nil when t (batch dims first) lies in the spec, else an error saying
	// which element is out and why.
	IsIn(t *tensor.Tensor, batch []int) error
}

func checkShape(t *tensor.Tensor, batch, shape []int, dt tensor.DType) error {
	if t.DType() != dt {
		return fmt.Errorf("dtype %v, spec wants %v", t.DType(), dt)
	}
	ok := t.NumDims() == len(batch)+len(shape) && t.HasPrefix(batch)
	for i := 0; ok && i < len(shape); i++ {
		ok = t.Dim(len(batch)+i) == shape[i]
	}
	if !ok {
		want := append(slices.Clone(batch), shape...)
		return fmt.Errorf("shape %v, spec wants %v (batch %v + %v)", t.Shape(), want, batch, shape)
	}
	return nil
}

// Unbounded is any finite or infinite value of a numeric dtype.
type Unbounded struct {
	S []int
	D tensor.DType
}

func (s Unbounded) Shape() []int        { return slices.Clone(s.S) }
func (s Unbounded) DType() tensor.DType { return s.D }
func (s Unbounded) Zero(batch ...int) *tensor.Tensor {
	return tensor.Zeros(s.D, append(slices.Clone(batch), s.S...)...)
}
func (s Unbounded) Rand(rng *rand.Rand, batch ...int) *tensor.Tensor {
	t := s.Zero(batch...)
	for i := range t.Len() {
		t.SetAt(i, rng.NormFloat64())
	}
	return t
}
func (s Unbounded) IsIn(t *tensor.Tensor, batch []int) error { return checkShape(t, batch, s.S, s.D) }

// Bounded holds values in [Low, High] (the same bounds for every element).
type Bounded struct {
	S         []int
	D         tensor.DType
	Low, High float64
}

func (s Bounded) Shape() []int                     { return slices.Clone(s.S) }
func (s Bounded) DType() tensor.DType              { return s.D }
func (s Bounded) Zero(batch ...int) *tensor.Tensor { return Unbounded{s.S, s.D}.Zero(batch...) }
func (s Bounded) Rand(rng *rand.Rand, batch ...int) *tensor.Tensor {
	t := s.Zero(batch...)
	for i := range t.Len() {
		v := s.Low + rng.Float64()*(s.High-s.Low)
		if s.D != tensor.Float32 && s.D != tensor.Float64 {
			v = math.Floor(s.Low + rng.Float64()*(s.High-s.Low+1))
			v = min(v, s.High)
		}
		t.SetAt(i, v)
	}
	return t
}
func (s Bounded) IsIn(t *tensor.Tensor, batch []int) error {
	if err := checkShape(t, batch, s.S, s.D); err != nil {
		return err
	}
	for i := range t.Len() {
		if v := t.At(i); !(v >= s.Low && v <= s.High) {
			return fmt.Errorf("element %d is %v, outside [%v, %v]", i, v, s.Low, s.High)
		}
	}
	return nil
}

// Categorical is an integer index in [0, N) per element (int64).
type Categorical struct {
	N int
	S []int
}

func (s Categorical) Shape() []int        { return slices.Clone(s.S) }
func (s Categorical) DType() tensor.DType { return tensor.Int64 }
func (s Categorical) Zero(batch ...int) *tensor.Tensor {
	return tensor.Zeros(tensor.Int64, append(slices.Clone(batch), s.S...)...)
}
func (s Categorical) Rand(rng *rand.Rand, batch ...int) *tensor.Tensor {
	t := s.Zero(batch...)
	d := tensor.MustData[int64](t)
	for i := range d {
		d[i] = int64(rng.IntN(s.N))
	}
	return t
}
func (s Categorical) IsIn(t *tensor.Tensor, batch []int) error {
	if err := checkShape(t, batch, s.S, tensor.Int64); err != nil {
		return err
	}
	for i, v := range tensor.MustData[int64](t) {
		if v < 0 || v >= int64(s.N) {
			return fmt.Errorf("element %d is %d, outside [0, %d)", i, v, s.N)
		}
	}
	return nil
}

// OneHot is a one-hot vector of length N in the last dimension (uint8).
type OneHot struct {
	N int
	S []int // leading shape; the tensor's shape is S + [N]
}

func (s OneHot) Shape() []int        { return append(slices.Clone(s.S), s.N) }
func (s OneHot) DType() tensor.DType { return tensor.Uint8 }
func (s OneHot) Zero(batch ...int) *tensor.Tensor {
	return tensor.Zeros(tensor.Uint8, append(slices.Clone(batch), s.Shape()...)...)
}
func (s OneHot) Rand(rng *rand.Rand, batch ...int) *tensor.Tensor {
	t := s.Zero(batch...)
	d := tensor.MustData[uint8](t)
	for i := 0; i < len(d); i += s.N {
		d[i+rng.IntN(s.N)] = 1
	}
	return t
}
func (s OneHot) IsIn(t *tensor.Tensor, batch []int) error {
	if err := checkShape(t, batch, s.Shape(), tensor.Uint8); err != nil {
		return err
	}
	d := tensor.MustData[uint8](t)
	for i := 0; i < len(d); i += s.N {
		ones := 0
		for _, v := range d[i : i+s.N] {
			if v > 1 {
				return fmt.Errorf("vector %d holds %d", i/s.N, v)
			}
			ones += int(v)
		}
		if ones != 1 {
			return fmt.Errorf("vector %d has %d ones, want 1", i/s.N, ones)
		}
	}
	return nil
}

// Binary is a bool per element.
type Binary struct{ S []int }

func (s Binary) Shape() []int        { return slices.Clone(s.S) }
func (s Binary) DType() tensor.DType { return tensor.Bool }
func (s Binary) Zero(batch ...int) *tensor.Tensor {
	return tensor.Zeros(tensor.Bool, append(slices.Clone(batch), s.S...)...)
}
func (s Binary) Rand(rng *rand.Rand, batch ...int) *tensor.Tensor {
	t := s.Zero(batch...)
	for i := range t.Len() {
		t.SetAt(i, float64(rng.IntN(2)))
	}
	return t
}
func (s Binary) IsIn(t *tensor.Tensor, batch []int) error {
	return checkShape(t, batch, s.S, tensor.Bool)
}

// Composite maps keys (nested with "/") to specs, in a fixed order.
type Composite struct {
	keys  []string
	specs map[string]Spec
}

// NewComposite returns an empty Composite.
func NewComposite() *Composite { return &Composite{specs: map[string]Spec{}} }

// Set adds or replaces the spec of key.
func (c *Composite) Set(key string, s Spec) *Composite {
	if _, ok := c.specs[key]; !ok {
		c.keys = append(c.keys, key)
	}
	c.specs[key] = s
	return c
}

// Get returns the spec of key.
func (c *Composite) Get(key string) (Spec, bool) { s, ok := c.specs[key]; return s, ok }

// Keys returns the keys in order.
func (c *Composite) Keys() []string { return slices.Clone(c.keys) }

// Delete removes key.
func (c *Composite) Delete(key string) {
	delete(c.specs, key)
	c.keys = slices.DeleteFunc(c.keys, func(k string) bool { return k == key })
}

// Clone returns a copy (the specs themselves are values).
func (c *Composite) Clone() *Composite {
	return &Composite{keys: slices.Clone(c.keys), specs: cloneSpecMap(c.specs)}
}

func cloneSpecMap(m map[string]Spec) map[string]Spec {
	out := make(map[string]Spec, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fill writes Zero or Rand of every key into d under prefix.
func (c *Composite) fill(d *tensordict.Dict, prefix string, batch []int, rng *rand.Rand) error {
	for _, k := range c.keys {
		s := c.specs[k]
		t := s.Zero(batch...)
		if rng != nil {
			t = s.Rand(rng, batch...)
		}
		if err := d.Set(prefix+k, t); err != nil {
			return err
		}
	}
	return nil
}

// Zero returns a Dict of zeros for every key.
func (c *Composite) Zero(batch ...int) *tensordict.Dict {
	d := tensordict.New(batch...)
	if err := c.fill(d, "", batch, nil); err != nil {
		panic(err)
	}
	return d
}

// Rand returns a Dict of random values for every key.
func (c *Composite) Rand(rng *rand.Rand, batch ...int) *tensordict.Dict {
	d := tensordict.New(batch...)
	if err := c.fill(d, "", batch, rng); err != nil {
		panic(err)
	}
	return d
}

// IsIn checks every key of the spec in d under prefix; the error names the key.
func (c *Composite) IsIn(d *tensordict.Dict, prefix string, batch []int) error {
	var errs []string
	for _, k := range c.keys {
		t, err := d.Get(prefix + k)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if err := c.specs[k].IsIn(t, batch); err != nil {
			errs = append(errs, fmt.Sprintf("key %q: %v", prefix+k, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("envs: %s", strings.Join(errs, "; "))
	}
	return nil
}
