package minihackagent_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/agents/minihackagent"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/rl"
)

// The MiniHack agent acting on a MiniHack env (2,143,049 parameters, 30% of them the two glyph
// tables): make the env with the agent's observation keys,
// wrap the network in its Model and act with an rl.Policy.
func Example() {
	env, err := minihack.NewEnv(minihack.Options{Task: "MiniHack-Room-5x5-v0", ObservationKeys: minihackagent.ObservationKeys})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer env.Close()
	net, err := minihackagent.NewAgent(len(env.Spec().Actions), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	policy := rl.NewPolicy(minihackagent.NewModel(net), rand.New(rand.NewPCG(3, 4)))
	td, err := env.Reset()
	if err == nil {
		err = policy.Act(td)
	}
	a, _ := td.Get("action")
	n := 0
	for _, p := range net.Params() {
		n += len(p.Data)
	}
	fmt.Println(err, "action shape", a.Shape(), "parameters", n)
	// Output: <nil> action shape [] parameters 2143049
}
