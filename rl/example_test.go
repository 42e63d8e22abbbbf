package rl_test

import (
	"fmt"

	"github.com/maestro-rl/maestro/rl"
)

// Example computes GAE advantages and value targets for 3 steps of 2 envs (time-major: row
// t*B + b); env 1's episode terminates at step 1, so nothing is bootstrapped across it. By
// hand: delta = 1 + 0.99*0.5 - 0.5 = 0.995 (0.5 at the termination), A_t = delta_t + 0.9405 A_{t+1}.
func Example() {
	const T, B = 3, 2
	reward := []float32{1, 1, 1, 1, 1, 1}
	value := []float32{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
	next := []float32{0.5, 0.5, 0.5, 0.5, 0.5, 0.5} // V(s_{t+1}), as the learner bootstraps
	done := []bool{false, false, false, true, false, false}
	adv, target := make([]float32, T*B), make([]float32, T*B)
	if err := rl.GAE(0.99, 0.95, T, B, reward, value, next, done, done, adv, target); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("advantages %.3f\ntargets    %.3f\n", adv, target)
	// Output:
	// advantages [2.811 1.465 1.931 0.500 0.995 0.995]
	// targets    [3.311 1.965 2.431 1.000 1.495 1.495]
}
