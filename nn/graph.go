package nn

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/maestro-rl/maestro/nn/internal/blas"
	"github.com/maestro-rl/maestro/nn/internal/kern"
)

// Value is a node of a Graph: row-major data, its gradient, and the shape.
type Value struct {
	Data  []float32
	Grad  []float32 // nil when no gradient flows into this value
	Shape []int
}

// Len returns the number of elements.
func (v *Value) Len() int { return len(v.Data) }

// Dim returns dimension i (negative counts from the end).
func (v *Value) Dim(i int) int {
	if i < 0 {
		i += len(v.Shape)
	}
	return v.Shape[i]
}

// Param is a trainable tensor: a Value that lives outside any graph, with a name for saving,
// loading and error messages.
type Param struct {
	Value
	Name string
}

// NewParam returns a zero parameter of the given shape.
func NewParam(name string, shape ...int) *Param {
	n := numel(shape)
	return &Param{Value: Value{Data: make([]float32, n), Grad: make([]float32, n), Shape: slices.Clone(shape)}, Name: name}
}

// ZeroGrad zeroes the gradients of ps.
func ZeroGrad(ps []*Param) {
	for _, p := range ps {
		clear(p.Grad)
	}
}

// CopyParams copies the values of src into dst, parameter by parameter (the same network
// built twice: an acting copy of a learner's weights). Names and shapes must match.
func CopyParams(dst, src []*Param) error {
	if len(dst) != len(src) {
		return fmt.Errorf("nn: CopyParams: %d parameters into %d; both sides must be the same network", len(src), len(dst))
	}
	for i, d := range dst {
		s := src[i]
		if d.Name != s.Name || !slices.Equal(d.Shape, s.Shape) {
			return fmt.Errorf("nn: CopyParams: parameter %d is %s %v here and %s %v in the source; both sides must be the same network", i, d.Name, d.Shape, s.Name, s.Shape)
		}
		copy(d.Data, s.Data)
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// op is one recorded operation: it knows its output and inputs and adds its contribution to
// their gradients.
type op interface {
	backward()
}

// Graph records a forward pass; see the package doc.
type Graph struct {
	values []*Value // arena: values[i] is the i-th value made since Reset
	nv     int
	ops    []op
	nops   int
	// scratch buffers shared by ops for temporaries that do not outlive one op's forward or
	// backward call (im2col matrices): ops run one at a time, so one set serves them all.
	scratch [3][]float32
	// noGrad: values carry no gradient buffers (SetNoGrad).
	noGrad bool
}

// SetNoGrad turns gradients off (or on again) for the values made from now on: no gradient
// buffers are kept or zeroed, as under torch.no_grad(), for acting. Backward panics on what
// such a graph computed. Use one graph per mode: switching a graph back and forth drops its
// gradient buffers.
func (g *Graph) SetNoGrad(on bool) { g.noGrad = on }

// tmp returns scratch buffer i with at least n elements (contents undefined).
func (g *Graph) tmp(i, n int) []float32 {
	if cap(g.scratch[i]) < n {
		g.scratch[i] = make([]float32, n)
	}
	return g.scratch[i][:n]
}

// NewGraph returns an empty graph.
func NewGraph() *Graph { return &Graph{} }

// Reset rewinds the graph for the next forward pass, keeping its buffers.
func (g *Graph) Reset() { g.nv, g.nops = 0, 0 }

// value returns the next arena value with the given shape, zeroed, reusing the buffer of the
// previous pass when it has the same size. grad says whether it carries a gradient buffer.
func (g *Graph) value(grad bool, shape ...int) *Value { return g.newValue(grad, true, shape...) }

// valueFull is value for an op that writes every element of the result: its data is not
// zeroed first (the gradient still is).
func (g *Graph) valueFull(grad bool, shape ...int) *Value { return g.newValue(grad, false, shape...) }

func (g *Graph) newValue(grad, zero bool, shape ...int) *Value {
	grad = grad && !g.noGrad
	n := numel(shape)
	if g.nv < len(g.values) {
		v := g.values[g.nv]
		g.nv++
		if cap(v.Data) >= n {
			v.Data = v.Data[:n]
			if zero {
				clear(v.Data)
			}
		} else {
			v.Data = make([]float32, n)
		}
		if grad {
			if cap(v.Grad) >= n {
				v.Grad = v.Grad[:n]
				clear(v.Grad)
			} else {
				v.Grad = make([]float32, n)
			}
		} else {
			v.Grad = v.Grad[:0]
			if len(v.Grad) == 0 {
				v.Grad = nil
			}
		}
		v.Shape = append(v.Shape[:0], shape...)
		return v
	}
	v := &Value{Data: make([]float32, n), Shape: slices.Clone(shape)}
	if grad {
		v.Grad = make([]float32, n)
	}
	g.values = append(g.values, v)
	g.nv++
	return v
}

// Input returns a graph value holding a copy of data with the given shape; no gradient flows
// into it.
func (g *Graph) Input(data []float32, shape ...int) *Value {
	if numel(shape) != len(data) {
		// A copy goes to Sprintf so that shape does not escape: callers' literal shapes then
		// stay on the stack.
		panic(fmt.Sprintf("nn: Input of %d values with shape %v", len(data), slices.Clone(shape)))
	}
	v := g.valueFull(false, shape...)
	copy(v.Data, data)
	return v
}

// record appends an op to the tape, reusing the slot's op of the same type.
func record[T any, P interface {
	*T
	op
}](g *Graph) P {
	if g.nops < len(g.ops) {
		if o, ok := g.ops[g.nops].(P); ok {
			g.nops++
			return o
		}
		o := P(new(T))
		g.ops[g.nops] = o
		g.nops++
		return o
	}
	o := P(new(T))
	g.ops = append(g.ops, o)
	g.nops++
	return o
}

// Backward seeds the gradient of out (a scalar) with 1 and runs the tape backwards,
// accumulating into every gradient buffer, Params' included.
func (g *Graph) Backward(out *Value) {
	if g.noGrad {
		panic("nn: Backward on a graph with gradients off (SetNoGrad)")
	}
	if out.Len() != 1 || out.Grad == nil {
		panic(fmt.Sprintf("nn: Backward needs a scalar with a gradient, got shape %v", out.Shape))
	}
	out.Grad[0] = 1
	for i := g.nops - 1; i >= 0; i-- {
		g.ops[i].backward()
	}
}

// needsGrad reports whether any input carries a gradient.
func needsGrad(vs ...*Value) bool {
	for _, v := range vs {
		if v.Grad != nil {
			return true
		}
	}
	return false
}

func shapeErr(op string, a, b []int) string {
	return fmt.Sprintf("nn: %s of shapes %v and %v", op, a, b)
}

// BLASDescription says which matrix-multiply backend and kernel nn uses, for logs.
func BLASDescription() string { return blas.Default().Describe() }

// SetBLASThreads sets how many threads the matrix products and large element-wise kernels
// use. n > 0: OpenBLAS runs single-threaded and nn splits each large product or kernel across n
// goroutines; 0 leaves OpenBLAS its own threads (all cores) and the kernels on one. OpenBLAS's threads spin between products, which on a machine whose
// cores are busy with other work (env steps) can slow small products tenfold; goroutines block
// instead.
func SetBLASThreads(n int) {
	if n <= 0 {
		blas.Default().SetThreads(runtime.NumCPU())
		blas.Default().SetWorkers(1)
		kern.SetWorkers(1)
		return
	}
	blas.Default().SetThreads(1)
	blas.Default().SetWorkers(n)
	kern.SetWorkers(n)
}
