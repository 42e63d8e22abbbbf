package tensordict_test

import (
	"fmt"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func Example() {
	// A batch of 4 transitions: observations, actions and what came next.
	td := tensordict.New(4)
	td.Set("observation", tensor.Zeros(tensor.Float32, 4, 3))
	td.Set("action", tensor.Of([]int64{0, 1, 1, 0}))
	td.Set("next/observation", tensor.Zeros(tensor.Float32, 4, 3))
	td.Set("next/reward", tensor.Of([]float32{1, 0, 0, 1}))

	if err := td.Set("bad", tensor.Zeros(tensor.Float32, 5)); err != nil {
		fmt.Println(err)
	}
	row, _ := td.Index(2) // a view: writes show in td
	r, _ := tensordict.GetAs[float32](row, "next/reward")
	r[0] = 7
	all, _ := tensordict.GetAs[float32](td, "next/reward")
	fmt.Println(all)

	next, _ := td.StepMDP(tensordict.StepMDPOptions{})
	fmt.Println(next.LeafKeys())
	// Output:
	// tensordict: key "bad" has shape [5], whose leading dimensions do not match the batch shape [4]
	// [1 0 7 1]
	// [observation]
}
