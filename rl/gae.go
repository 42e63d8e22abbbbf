package rl

import "fmt"

// GAE computes generalised advantage estimates and value targets, as TorchRL's
// generalized_advantage_estimate: with delta_t = r_t + gamma V(s_{t+1}) (1 - terminated_t) -
// V(s_t), A_t = delta_t + gamma lambda (1 - done_t) A_{t+1}. terminated stops bootstrapping
// (a terminal state has no value); done (terminated or truncated) ends the recursion, so a
// truncated step still bootstraps from nextValue. All arrays are [T][B]; adv and target are
// written (target = adv + value).
func GAE(gamma, lambda float32, T, B int, reward, value, nextValue []float32, done, terminated []bool, adv, target []float32) error {
	n := T * B
	if len(reward) != n || len(value) != n || len(nextValue) != n || len(done) != n || len(terminated) != n || len(adv) != n || len(target) != n {
		return fmt.Errorf("rl: GAE over [%d][%d] needs arrays of %d, got reward %d value %d next %d done %d terminated %d adv %d target %d",
			T, B, n, len(reward), len(value), len(nextValue), len(done), len(terminated), len(adv), len(target))
	}
	for b := 0; b < B; b++ {
		var next float32
		for t := T - 1; t >= 0; t-- {
			i := t*B + b
			notTerm, notDone := float32(1), float32(1)
			if terminated[i] {
				notTerm = 0
			}
			if done[i] {
				notDone = 0
			}
			delta := reward[i] + gamma*nextValue[i]*notTerm - value[i]
			next = delta + gamma*lambda*notDone*next
			adv[i] = next
			target[i] = next + value[i]
		}
	}
	return nil
}
