package minihack_test

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/maestro-rl/maestro/envs/minihack"
)

// A new task in a few lines: a level from the generator (a 5 x 3 room, the hero at the west end,
// a fountain at the east end), a reward manager paying 1 for standing on the fountain, and
// MiniHack's navigation settings; then two steps east solve it.
func Example() {
	level := func(*rand.Rand) (string, error) {
		o := minihack.DefaultLevelOptions()
		o.W, o.H = 5, 3
		g := minihack.NewLevelGenerator(o)
		g.SetStart(0, 1)
		g.AddFountain(minihack.At(2, 1))
		return g.Des()
	}
	task := minihack.Navigation("Example-Fountain-v0", 20, level)
	task.Rewards = func() *minihack.RewardManager {
		return minihack.NewRewardManager().Add(minihack.LocationEvent{Location: "fountain"}, minihack.DefaultEvent())
	}
	if err := minihack.Register(task); err != nil {
		fmt.Println(err)
		return
	}
	e, err := minihack.NewEnv(minihack.Options{Task: "Example-Fountain-v0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Close()
	te := e.Task()
	if err := te.Reset(); err != nil {
		fmt.Println(err)
		return
	}
	east := slices.Index(minihack.MoveActions, 'l')
	for i := range 2 {
		st, err := te.Step(east)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("step %d: reward %.2f, done %v, status %d\n", i+1, st.Reward, st.Done(), st.Status)
	}
	// Output:
	// step 1: reward 0.00, done false, status 0
	// step 2: reward 1.00, done true, status 2
}
