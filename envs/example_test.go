package envs_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
)

func Example() {
	var children []envs.Env
	for i := range 4 {
		c, _ := cartpole.NewEnv(cartpole.Options{Seed: uint64(i)})
		children = append(children, c)
	}
	batch, _ := envs.Parallel(children...) // 4 cart-poles stepped on 4 goroutines
	env, _ := envs.Compose(batch, envs.RewardSum, envs.StepCounter(200))
	defer env.Close()

	policy := envs.RandomPolicy(env, rand.New(rand.NewPCG(1, 2)))
	ro, err := envs.Rollout(env, policy, 50, envs.RolloutOptions{AutoReset: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ro.BatchShape())
	fmt.Println(ro.LeafKeys())
	// Output:
	// [50 4]
	// [observation terminated truncated done episode_reward step_count action next/observation next/reward next/terminated next/truncated next/done next/episode_reward next/step_count]
}
