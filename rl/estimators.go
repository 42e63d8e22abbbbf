package rl

import (
	"fmt"
	"math"
)

func checkLens(name string, T, B int, arrays ...int) error {
	for _, n := range arrays {
		if n != T*B {
			return fmt.Errorf("rl: %s over [%d][%d] needs arrays of %d elements, got one of %d", name, T, B, T*B, n)
		}
	}
	return nil
}

// TD0 writes one-step returns r_t + gamma V(s_{t+1}) (1 - terminated_t) into target.
func TD0(gamma float32, T, B int, reward, nextValue []float32, terminated []bool, target []float32) error {
	if err := checkLens("TD0", T, B, len(reward), len(nextValue), len(terminated), len(target)); err != nil {
		return err
	}
	for i := range target {
		nv := nextValue[i]
		if terminated[i] {
			nv = 0
		}
		target[i] = reward[i] + gamma*nv
	}
	return nil
}

// TDLambda writes lambda-returns into target, as TorchRL's td_lambda_return_estimate: with
// V' = V(s_{t+1}) (1 - terminated_t), G_t = r_t + gamma ((1 - lambda) V'_t + lambda G_{t+1}),
// where G_{t+1} is replaced by V'_t after an episode end (done) and starts from V'_{T-1}.
func TDLambda(gamma, lambda float32, T, B int, reward, nextValue []float32, done, terminated []bool, target []float32) error {
	if err := checkLens("TDLambda", T, B, len(reward), len(nextValue), len(done), len(terminated), len(target)); err != nil {
		return err
	}
	nv := func(i int) float32 {
		if terminated[i] {
			return 0
		}
		return nextValue[i]
	}
	for b := 0; b < B; b++ {
		g := nv((T-1)*B + b)
		for t := T - 1; t >= 0; t-- {
			i := t*B + b
			if done[i] {
				g = nv(i)
			}
			g = reward[i] + gamma*((1-lambda)*nv(i)+lambda*g)
			target[i] = g
		}
	}
	return nil
}

// VTrace writes V-trace targets vs and policy-gradient advantages (IMPALA; TorchRL's
// vtrace_advantage_estimate) for a behaviour policy mu and target policy pi given as log-
// probabilities of the actions taken: rho = min(pi/mu, rhoMax), c = min(pi/mu, cMax),
// delta_t = rho_t (r_t + gamma (1 - terminated_t) V(s_{t+1}) - V(s_t)),
// vs_t = V(s_t) + delta_t + gamma (1 - done_t) c_t (vs_{t+1} - V(s_{t+1})), and
// adv_t = rho_t (r_t + gamma (1 - terminated_t) vs'_{t+1} - V(s_t)) with vs' the next step's
// target, or V(s_{t+1}) across an episode end and after the last step.
func VTrace(gamma, rhoMax, cMax float32, T, B int, logPi, logMu, reward, value, nextValue []float32, done, terminated []bool, vs, adv []float32) error {
	if err := checkLens("VTrace", T, B, len(logPi), len(logMu), len(reward), len(value), len(nextValue), len(done), len(terminated), len(vs), len(adv)); err != nil {
		return err
	}
	for b := 0; b < B; b++ {
		var acc float32 // vs_{t+1} - V(s_{t+1}) along the trajectory
		for t := T - 1; t >= 0; t-- {
			i := t*B + b
			ratio := float32(math.Exp(float64(logPi[i] - logMu[i])))
			rho, c := min(ratio, rhoMax), min(ratio, cMax)
			notTerm, notDone := float32(1), float32(1)
			if terminated[i] {
				notTerm = 0
			}
			if done[i] {
				notDone = 0
			}
			delta := rho * (reward[i] + gamma*notTerm*nextValue[i] - value[i])
			acc = delta + gamma*notDone*c*acc
			vs[i] = acc + value[i]
		}
		for t := 0; t < T; t++ {
			i := t*B + b
			next := nextValue[i]
			if t+1 < T && !done[i] {
				next = vs[i+B]
			}
			ratio := float32(math.Exp(float64(logPi[i] - logMu[i])))
			notTerm := float32(1)
			if terminated[i] {
				notTerm = 0
			}
			adv[i] = min(ratio, rhoMax) * (reward[i] + gamma*notTerm*next - value[i])
		}
	}
	return nil
}
