package collectors_test

import (
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
)

func Example() {
	a, _ := cartpole.NewEnv(cartpole.Options{Seed: 1})
	b, _ := cartpole.NewEnv(cartpole.Options{Seed: 2})
	env, _ := envs.Serial(a, b)
	policy := envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 2)))
	col, err := collectors.NewSync(env, policy, collectors.Options{FramesPerBatch: 64, TotalFrames: 256})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer col.Close()
	for {
		batch, err := col.Next() // [T][B]: 32 steps of 2 envs, episodes reset as they end
		if err == io.EOF {       // TotalFrames reached
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(batch.BatchShape(), col.Frames())
	}
	// Output:
	// [32 2] 64
	// [32 2] 128
	// [32 2] 192
	// [32 2] 256
}
