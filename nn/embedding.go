package nn

import (
	"fmt"
	"math/rand/v2"
)

type embeddingOp struct {
	w   *Param
	y   *Value
	idx []int
	pad int
}

// EmbeddingLayer maps indices to learned vectors, as torch.nn.Embedding (N(0, 1) init; the
// padding index, when >= 0, starts at zero and gets no gradient).
type EmbeddingLayer struct {
	W          *Param
	PaddingIdx int
}

// NewEmbedding returns a table of n vectors of size d; paddingIdx -1 means none.
func NewEmbedding(name string, n, d, paddingIdx int, rng *rand.Rand) (*EmbeddingLayer, error) {
	if n <= 0 || d <= 0 || paddingIdx >= n || paddingIdx < -1 {
		return nil, fmt.Errorf("nn: Embedding %s needs n, d > 0 and a padding index in [-1, n), got %d, %d, %d", name, n, d, paddingIdx)
	}
	e := &EmbeddingLayer{W: NewParam(name+".weight", n, d), PaddingIdx: paddingIdx}
	for i := range e.W.Data {
		e.W.Data[i] = float32(rng.NormFloat64())
	}
	if paddingIdx >= 0 {
		clear(e.W.Data[paddingIdx*d : (paddingIdx+1)*d])
	}
	return e, nil
}

// Params returns the table.
func (e *EmbeddingLayer) Params() []*Param { return []*Param{e.W} }

// Forward looks up idx (N indices) and returns [N, d]. An index out of range panics.
func (e *EmbeddingLayer) Forward(g *Graph, idx []int) *Value {
	n, d := e.W.Shape[0], e.W.Shape[1]
	y := g.value(true, len(idx), d)
	for r, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("nn: embedding index %d out of range [0, %d)", i, n))
		}
		copy(y.Data[r*d:(r+1)*d], e.W.Data[i*d:(i+1)*d])
	}
	o := record[embeddingOp](g)
	o.w, o.y, o.pad = e.W, y, e.PaddingIdx
	o.idx = append(o.idx[:0], idx...)
	return y
}

func (o *embeddingOp) backward() {
	d := o.w.Shape[1]
	for r, i := range o.idx {
		if i == o.pad {
			continue
		}
		gw := o.w.Grad[i*d : (i+1)*d]
		for j, v := range o.y.Grad[r*d : (r+1)*d] {
			gw[j] += v
		}
	}
}
