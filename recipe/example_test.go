package recipe_test

import (
	"fmt"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/recipe"
)

// Build wires what `train` trains: the batched env with episode returns, and its learner. Here
// PPO on CartPole, four envs, one batch collected and learnt from.
func ExampleBuild() {
	s, err := recipe.Build(recipe.Options{Algo: "ppo", Env: "CartPole", NumEnvs: 4, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Env.Close()
	col, err := collectors.NewSync(s.Env, s.Learner, collectors.Options{FramesPerBatch: 4 * 32})
	if err != nil {
		fmt.Println(err)
		return
	}
	batch, err := col.Next()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("batch", batch.BatchShape(), "update error:", s.Learner.Update(batch))
	// Output: batch [32 4] update error: <nil>
}
