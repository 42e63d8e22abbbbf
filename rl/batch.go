package rl

import (
	"fmt"
	"slices"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Batch is the typed view of a [T, B] batch of steps that an actor-critic update reads: the
// columns every such update needs, time-major and flat over the T*B rows (row t*B + j is env
// j's step t). Observations stay in Dict, which the model reads its own way.
type Batch struct {
	T, B int
	// Actions are the actions taken ("action").
	Actions []int
	// LogProb and Value are what the acting policy recorded: the action's log-probability
	// (KeyLogProb) and the critic's value (KeyValue).
	LogProb, Value []float32
	// Reward, Done and Terminated describe what followed (next/reward, next/done,
	// next/terminated): Done is any episode end, Terminated one without a bootstrap.
	Reward           []float32
	Done, Terminated []bool
	// Dict is the batch itself.
	Dict *tensordict.Dict
}

// NewBatch reads a Batch from d, a [T, B] batch collected with a learner as the policy. A
// missing key, or a column of another dtype or shape, is an error naming the key, what it is
// and what it should be; nothing panics.
func NewBatch(d *tensordict.Dict) (*Batch, error) {
	bs := d.BatchShape()
	if len(bs) != 2 {
		return nil, fmt.Errorf("rl: the learner needs a [T, B] batch (steps by envs), got batch shape %v", bs)
	}
	b := &Batch{T: bs[0], B: bs[1], Dict: d}
	acts, err := column[int64](d, envs.KeyAction, tensor.Int64)
	if err != nil {
		return nil, err
	}
	b.Actions = make([]int, len(acts))
	for i, a := range acts {
		b.Actions[i] = int(a)
	}
	for _, c := range []struct {
		key string
		dst *[]float32
	}{{KeyLogProb, &b.LogProb}, {KeyValue, &b.Value}, {envs.NextKey(envs.KeyReward), &b.Reward}} {
		if *c.dst, err = column[float32](d, c.key, tensor.Float32); err != nil {
			return nil, err
		}
	}
	if b.Done, err = column[bool](d, envs.NextKey(envs.KeyDone), tensor.Bool); err != nil {
		return nil, err
	}
	if b.Terminated, err = column[bool](d, envs.NextKey(envs.KeyTerminated), tensor.Bool); err != nil {
		return nil, err
	}
	return b, nil
}

// Rows is the number of steps, T*B.
func (b *Batch) Rows() int { return b.T * b.B }

// column reads key as one value per row: dtype dt, shape [T, B] (or [T, B, 1]).
func column[E tensor.Elem](d *tensordict.Dict, key string, dt tensor.DType) ([]E, error) {
	t, err := d.Get(key)
	if err != nil {
		return nil, fmt.Errorf("rl: the batch has no %q (%v); collect it with the learner as the policy, from an env that writes it", key, err)
	}
	bs := d.BatchShape()
	shape := t.Shape()
	one := slices.Equal(shape, bs) || len(shape) == len(bs)+1 && slices.Equal(shape[:len(bs)], bs) && shape[len(bs)] == 1
	if t.DType() != dt || !one {
		return nil, fmt.Errorf("rl: batch column %q is %v %v; want %v %v (one value per step)", key, t.DType(), shape, dt, bs)
	}
	return tensor.Data[E](t)
}

// Features reads key as float32 rows of equal size over the batch ([T, B, ...]), returning
// the data and the values per row.
func (b *Batch) Features(key string) ([]float32, int, error) {
	t, err := b.Dict.Get(key)
	if err != nil {
		return nil, 0, fmt.Errorf("rl: the batch has no observation %q (%v)", key, err)
	}
	shape := t.Shape()
	if t.DType() != tensor.Float32 || len(shape) < 2 || shape[0] != b.T || shape[1] != b.B {
		return nil, 0, fmt.Errorf("rl: observation %q is %v %v; want float32 [%d %d ...] (steps, envs, features)", key, t.DType(), shape, b.T, b.B)
	}
	x, err := tensor.Data[float32](t)
	if err != nil {
		return nil, 0, err
	}
	return x, len(x) / max(b.Rows(), 1), nil
}
