package replaybuffer_test

import (
	"fmt"

	"github.com/maestro-rl/maestro/replaybuffer"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func Example() {
	buf, _ := replaybuffer.New(replaybuffer.Options{Capacity: 100, Sampler: replaybuffer.NewRandom(7)})
	steps := tensordict.New(10) // ten transitions: an observation of 3 floats and a reward each
	steps.Set("observation", tensor.Zeros(tensor.Float32, 10, 3))
	steps.Set("next/reward", tensor.Zeros(tensor.Float32, 10))
	if _, err := buf.Extend(steps); err != nil {
		fmt.Println(err)
		return
	}
	batch, info, err := buf.Sample(4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(buf.Len(), batch.BatchShape(), batch.LeafKeys(), len(info.Index))
	// Output: 10 [4] [observation next/reward] 4
}
