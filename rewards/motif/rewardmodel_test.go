package motif

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// syntheticMessage draws a NetHack-like message; gold ones mention gold.
func syntheticMessage(rng *rand.Rand, gold bool) string {
	monsters := []string{"newt", "jackal", "grid bug", "sewer rat", "kobold", "gnome lord", "fox", "lichen"}
	m := monsters[rng.IntN(len(monsters))]
	if gold {
		switch rng.IntN(4) {
		case 0:
			return fmt.Sprintf("You see here %d gold pieces.", 1+rng.IntN(300))
		case 1:
			return fmt.Sprintf("%d gold pieces.", 1+rng.IntN(300))
		case 2:
			return fmt.Sprintf("The %s drops some gold.", m)
		default:
			return fmt.Sprintf("You find %d gold pieces under the %s.", 1+rng.IntN(50), m)
		}
	}
	switch rng.IntN(6) {
	case 0:
		return fmt.Sprintf("You kill the %s!", m)
	case 1:
		return fmt.Sprintf("The %s bites!", m)
	case 2:
		return fmt.Sprintf("You see here a %s corpse.", m)
	case 3:
		return ""
	case 4:
		return "You hear some noises in the distance."
	default:
		return fmt.Sprintf("The %s misses!", m)
	}
}

// syntheticPairs labels pairs by a rule: a message that mentions gold beats one that does not;
// two of a kind tie.
func syntheticPairs(n int, seed uint64) *tensordict.Dict {
	rng := rand.New(rand.NewPCG(seed, 1))
	m1, m2 := make([]uint8, n*nethackagent.MessageLen), make([]uint8, n*nethackagent.MessageLen)
	labels := make([]int8, n)
	for i := range n {
		g1, g2 := rng.IntN(2) == 0, rng.IntN(2) == 0
		copy(m1[i*nethackagent.MessageLen:], syntheticMessage(rng, g1))
		copy(m2[i*nethackagent.MessageLen:], syntheticMessage(rng, g2))
		switch {
		case g1 && !g2:
			labels[i] = First
		case g2 && !g1:
			labels[i] = Second
		default:
			labels[i] = Tie
		}
		if i%25 == 0 {
			labels[i] = Unknown
		}
	}
	d := tensordict.New(n)
	a, _ := tensor.FromSlice(m1, n, nethackagent.MessageLen)
	b, _ := tensor.FromSlice(m2, n, nethackagent.MessageLen)
	d.Set("first/message", a)
	d.Set("second/message", b)
	d.Set("label", tensor.Of(labels))
	return d
}

// TestRewardModelLearnsARule trains on pairs labelled by a rule (gold beats no gold) and
// requires at least 95% accuracy on held-out non-tie pairs, then checks the saved file.
func TestRewardModelLearnsARule(t *testing.T) {
	if testing.Short() {
		t.Skip("about 18 s on 2 cores; make test (no -short) runs it")
	}
	pairs := syntheticPairs(1000, 7)
	rm, res, err := TrainRewardModel(pairs, TrainOptions{Epochs: 2, Batch: 64, LR: 1e-3, Seed: 1,
		Progress: func(e int, r TrainResult) {
			t.Logf("epoch %d: train loss %.4f acc %.3f, val loss %.4f acc %.3f", e, r.TrainLoss, r.TrainAcc, r.ValLoss, r.ValAcc)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped != 40 || res.Train+res.Val != 960 {
		t.Errorf("used %d + %d pairs, dropped %d; want 960 used and the 40 unknown dropped", res.Train, res.Val, res.Dropped)
	}
	if res.ValAcc < 0.95 {
		t.Errorf("held-out accuracy %.3f, want >= 0.95", res.ValAcc)
	}
	// Fresh messages: gold ones score above the median, others below, after normalisation.
	rng := rand.New(rand.NewPCG(99, 1))
	g := nn.NewGraph()
	msgs := make([]uint8, 200*nethackagent.MessageLen)
	for i := range 200 {
		copy(msgs[i*nethackagent.MessageLen:], syntheticMessage(rng, i%2 == 0))
	}
	scores := make([]float32, 200)
	rm.Score(g, msgs, nil, scores)
	wrong := 0
	for i := 0; i+1 < 200; i += 2 {
		if scores[i] <= scores[i+1] {
			wrong++
		}
	}
	if wrong > 5 {
		t.Errorf("%d of 100 fresh gold messages do not outscore their partner", wrong)
	}
	path := filepath.Join(t.TempDir(), "rm.mtd")
	rm.Info = "synthetic"
	if err := rm.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadRewardModel(path)
	if err != nil {
		t.Fatal(err)
	}
	again := make([]float32, 200)
	back.Score(g, msgs, nil, again)
	if back.Mean != rm.Mean || back.Std != rm.Std || back.Info != "synthetic" || again[3] != scores[3] {
		t.Errorf("the reloaded model differs")
	}
	if q5, _ := back.Quantile(0.5); q5 < back.Quant[0] || q5 > back.Quant[18] {
		t.Errorf("median %g outside the stored quantiles %v", q5, back.Quant)
	}
	// A file of another kind is refused with a clear error.
	other := filepath.Join(t.TempDir(), "agent.mtd")
	agent, _ := nethackagent.NewAgent(23, rng)
	nn.SaveParams(other, agent.Params())
	if _, err := LoadRewardModel(other); err == nil || !strings.Contains(err.Error(), Arch) {
		t.Errorf("an agent's weights loaded as a reward model: %v", err)
	}
}
