package collectors

import (
	"fmt"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Keys that SplitTrajectories adds.
const (
	KeyMask   = "collector/mask"    // bool: true on real steps, false on padding
	KeyTrajID = "collector/traj_id" // int64: the trajectory's number within the batch
	// KeyTrajEnd (bool), in the items a collector writes into a buffer, marks the last step of
	// each stretch of one env's consecutive steps (an episode end or the end of the env's part
	// of a batch): give a replaybuffer.Slice sampler EndKey KeyTrajEnd.
	KeyTrajEnd = "collector/traj_end"
)

// SplitTrajectories cuts a batch of batch shape [T, B] (time first, as collectors return it)
// into its trajectories: batch shape [N, L] where N is the number of trajectory pieces (an
// episode end or the batch edge ends one) and L the longest. Shorter trajectories are padded
// with zeros; KeyMask marks real steps and KeyTrajID numbers the trajectories. The result is a
// copy.
func SplitTrajectories(batch *tensordict.Dict) (*tensordict.Dict, error) {
	bs := batch.BatchShape()
	if len(bs) != 2 {
		return nil, fmt.Errorf("collectors: SplitTrajectories needs a [T, B] batch, got %v", bs)
	}
	T, B := bs[0], bs[1]
	done, err := tensordict.GetAs[bool](batch, envs.NextKey(envs.KeyDone))
	if err != nil {
		return nil, fmt.Errorf("collectors: SplitTrajectories: %w", err)
	}
	var trajs [][]int // flat indices t*B + b
	for b := 0; b < B; b++ {
		var cur []int
		for t := 0; t < T; t++ {
			cur = append(cur, t*B+b)
			if done[t*B+b] || t == T-1 {
				trajs = append(trajs, cur)
				cur = nil
			}
		}
	}
	L := 0
	for _, tr := range trajs {
		L = max(L, len(tr))
	}
	idx := make([]int, 0, len(trajs)*L)
	mask := make([]bool, 0, len(trajs)*L)
	ids := make([]int64, 0, len(trajs)*L)
	for n, tr := range trajs {
		for j := 0; j < L; j++ {
			real := j < len(tr)
			if real {
				idx = append(idx, tr[j])
			} else {
				idx = append(idx, tr[len(tr)-1])
			}
			mask = append(mask, real)
			ids = append(ids, int64(n))
		}
	}
	flat, err := batch.ReshapeBatch(-1)
	if err != nil {
		return nil, err
	}
	out, err := flat.IndexList(idx)
	if err != nil {
		return nil, err
	}
	// Zero the padding.
	for _, k := range out.LeafKeys() {
		t, err := out.Get(k)
		if err != nil {
			continue // string leaves keep the repeated value
		}
		b := t.Bytes()
		row := len(b) / len(idx)
		for i, m := range mask {
			if !m {
				clear(b[i*row : (i+1)*row])
			}
		}
	}
	if out, err = out.ReshapeBatch(len(trajs), L); err != nil {
		return nil, err
	}
	if err := out.Set(KeyMask, tensor.Of(mask, len(trajs), L)); err != nil {
		return nil, err
	}
	return out, out.Set(KeyTrajID, tensor.Of(ids, len(trajs), L))
}
