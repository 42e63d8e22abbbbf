package nethackagent_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/rl"
)

// The Motif-style NetHack agent acting on NetHackScore: make the env with the agent's
// observation keys, wrap the network in its Model and act with an rl.Policy (no optimizer).
func Example() {
	env, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore, Game: nethack.GameOptions{ObservationKeys: nethackagent.ObservationKeys}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer env.Close()
	net, err := nethackagent.NewAgent(env.Task().NumActions(), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	policy := rl.NewPolicy(nethackagent.NewModel(net), rand.New(rand.NewPCG(3, 4)))
	td, err := env.Reset()
	if err == nil {
		err = policy.Act(td)
	}
	h, _ := td.Get("next/" + rl.KeyHidden)
	fmt.Println(err, "actions", env.Task().NumActions(), "next state", h.Shape())
	// Output: <nil> actions 23 next state [512]
}
