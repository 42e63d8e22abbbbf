package motif

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func TestTransitionIndices(t *testing.T) {
	ep := []int64{0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2}
	pairs := TransitionIndices(ep, 2, 1, 0, rand.New(rand.NewPCG(1, 1)))
	if len(pairs) != (5+6)/2 { // T end points from each episode longer than the gap: 5 + 0 + 6 -> 5 pairs
		t.Errorf("%d pairs, want 5", len(pairs))
	}
	for _, p := range pairs {
		for _, e := range p {
			if e[1]-e[0] != 2 || ep[e[0]] != ep[e[1]] {
				t.Errorf("element %v is not 2 steps within one episode", e)
			}
		}
	}
}

// TestMixEventTransitions: on episodes whose statistics change at known steps, the mixed-in
// elements are transitions spanning one of those changes, drawn evenly over the kinds and
// without repeats, the pair count is kept, and a kind the data lacks is made up by the others.
func TestMixEventTransitions(t *testing.T) {
	const delta, NB = 5, nethack.NumBlstats
	var ep []int64
	var bl []int64
	// Two episodes of 400 steps: gold rises at steps 50 and 300 of each, depth at step 200 of
	// the first only; XP never changes.
	for e := range 2 {
		gold, depth := int64(0), int64(1)
		for s := range 400 {
			if s == 50 || s == 300 {
				gold += 7
			}
			if e == 0 && s == 200 {
				depth++
			}
			row := make([]int64, NB)
			row[nethack.BlGold], row[nethack.BlDepth], row[nethack.BlHP] = gold, depth, 10
			ep, bl = append(ep, int64(e)), append(bl, row...)
		}
	}
	rng := rand.New(rand.NewPCG(3, 3))
	base := TransitionIndices(ep, delta, 1, 100, rng)
	mixed, drawn, err := MixEventTransitions(base, ep, bl, delta, 0.1, rng)
	if err != nil {
		t.Fatal(err)
	}
	if len(mixed) != len(base) {
		t.Fatalf("%d pairs after mixing, want %d", len(mixed), len(base))
	}
	// 20 of 200 elements: depth has only 5 windows (steps 200..204 of episode 0), so gold gets the rest.
	if drawn != [3]int{5, 15, 0} {
		t.Errorf("drawn per kind %v, want [5 15 0] (depth: all 5 windows, gold: the rest, XP: none)", drawn)
	}
	var d [nethackagent.DiffStats]float32
	events, depth := map[[2]int]int{}, 0
	for _, p := range mixed {
		for _, e := range p {
			if e[1]-e[0] != delta || ep[e[0]] != ep[e[1]] {
				t.Fatalf("element %v is not %d steps within one episode", e, delta)
			}
			DiffStats(d[:], bl[e[0]*NB:(e[0]+1)*NB], bl[e[1]*NB:(e[1]+1)*NB])
			if d[0] != 0 || d[1] != 0 {
				events[e]++
			}
			if d[0] != 0 {
				depth++
			}
		}
	}
	if depth < 5 { // the uniform rest may hold one more
		t.Errorf("%d elements with a depth change, want at least the 5 windows", depth)
	}
	if len(events) < 20 {
		t.Errorf("%d distinct event transitions, want at least the 20 mixed in", len(events))
	}
	same, _, err := MixEventTransitions(base, ep, bl, delta, 0, rng)
	if err != nil || !slices.Equal(same, base) {
		t.Errorf("share 0 changed the pairs (err %v)", err)
	}
	for _, bad := range []float64{-0.1, 1.5} {
		if _, _, err := MixEventTransitions(base, ep, bl, delta, bad, rng); err == nil {
			t.Errorf("share %g accepted", bad)
		}
	}
	if _, _, err := MixEventTransitions(base, ep, bl[:NB], delta, 0.1, rng); err == nil || !strings.Contains(err.Error(), "blstats") {
		t.Errorf("short blstats: err %v, want one naming blstats", err)
	}
}

// TestCollectOrder: Collect's rows come episode by episode, steps consecutive.
func TestCollectOrder(t *testing.T) {
	d, err := Collect(context.Background(), CollectOptions{Task: nethack.TaskScore, Steps: 3000, Envs: 3, Seed: 2, NoTTY: true})
	if err != nil {
		t.Fatal(err)
	}
	ep := tensor.MustData[int64](must(d.Get(KeyEpisode)))
	st := tensor.MustData[int64](must(d.Get(KeyStep)))
	seen := map[int64]bool{}
	for i := range ep {
		if i > 0 && ep[i] == ep[i-1] {
			if st[i] != st[i-1]+1 {
				t.Fatalf("row %d: step %d after %d in episode %d", i, st[i], st[i-1], ep[i])
			}
			continue
		}
		if seen[ep[i]] {
			t.Fatalf("episode %d appears in two runs of rows", ep[i])
		}
		seen[ep[i]] = true
	}
	if len(seen) < 3 {
		t.Errorf("%d episodes", len(seen))
	}
}

func TestTransitionCaptions(t *testing.T) {
	got := TransitionCaption(msgBytes("You kill the newt!")[:nethackagent.MessageLen], msgBytes("")[:nethackagent.MessageLen], []float32{1, 12, -3, 0, 0})
	want := `previously seen message: "You kill the newt!"; currently displayed message: ""; dungeon level rose by 1; gold rose by 12; hit points fell by 3`
	if got != want {
		t.Errorf("caption\n%s\nwant\n%s", got, want)
	}
	obs := tensordict.New(4)
	m, _ := tensor.FromSlice(msgBytes("a", "b", "c", "d"), 4, nethackagent.MessageLen)
	bl := make([]int64, 4*nethack.NumBlstats)
	bl[3*nethack.NumBlstats+nethack.BlGold] = 7
	b, _ := tensor.FromSlice(bl, 4, nethack.NumBlstats)
	obs.Set("message", m)
	obs.Set("blstats", b)
	p, err := MakeTransitionPairs(obs, [][2][2]int{{{0, 1}, {2, 3}}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := PairCaptions(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(caps[0][0], `"a"`) || !strings.Contains(caps[0][0], `"b"`) || !strings.Contains(caps[0][1], "gold rose by 7") {
		t.Errorf("captions %q", caps)
	}
	// Without first/prev_message the file was captioned (and labelled) as plain pairs.
	torn := tensordict.New(1)
	for _, k := range []string{"first/message", "first/diffstats", "second/message", "second/prev_message", "second/diffstats", "label"} {
		v, _ := p.Get(k)
		torn.Set(k, v)
	}
	if _, err := PairCaptions(torn, false); err == nil || !strings.Contains(err.Error(), "lacks first/prev_message") {
		t.Errorf("transition pairs without first/prev_message: %v; want an error naming it", err)
	}
}

// TestDiffRewardModelLearnsARule: transitions in which gold rose beat those in which it did
// not, whatever the messages say; the diffstats model learns it to >= 95% held out.
func TestDiffRewardModelLearnsARule(t *testing.T) {
	if testing.Short() {
		t.Skip("about 15 s on 2 cores; make test (no -short) runs it")
	}
	const n = 600
	rng := rand.New(rand.NewPCG(11, 1))
	d := tensordict.New(n)
	labels := make([]int8, n)
	for _, side := range []string{"first", "second"} {
		msgs, prev, diff := make([]uint8, n*nethackagent.MessageLen), make([]uint8, n*nethackagent.MessageLen), make([]float32, n*nethackagent.DiffStats)
		for i := range n {
			copy(msgs[i*nethackagent.MessageLen:], syntheticMessage(rng, false))
			copy(prev[i*nethackagent.MessageLen:], syntheticMessage(rng, false))
			for k := range nethackagent.DiffStats {
				diff[i*nethackagent.DiffStats+k] = float32(rng.IntN(3) - 1)
			}
			diff[i*nethackagent.DiffStats+1] = float32(rng.IntN(2) * (1 + rng.IntN(20))) // gold: 0 or a rise
		}
		a, _ := tensor.FromSlice(msgs, n, nethackagent.MessageLen)
		b, _ := tensor.FromSlice(prev, n, nethackagent.MessageLen)
		c, _ := tensor.FromSlice(diff, n, nethackagent.DiffStats)
		d.Set(side+"/message", a)
		d.Set(side+"/prev_message", b)
		d.Set(side+"/diffstats", c)
	}
	g1 := tensor.MustData[float32](must(d.Get("first/diffstats")))
	g2 := tensor.MustData[float32](must(d.Get("second/diffstats")))
	for i := range labels {
		a, b := g1[i*nethackagent.DiffStats+1] > 0, g2[i*nethackagent.DiffStats+1] > 0
		labels[i] = map[[2]bool]int8{{true, false}: First, {false, true}: Second}[[2]bool{a, b}]
		if a == b {
			labels[i] = Tie
		}
	}
	d.Set("label", tensor.Of(labels))
	d.Set("delta", tensor.Of(slices.Repeat([]int64{100}, n)))
	rm, res, err := TrainRewardModel(d, TrainOptions{Epochs: 3, Batch: 32, LR: 1e-3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !rm.UsesDiffStats() || rm.Delta != 100 {
		t.Errorf("trained a model with diffstats %v, delta %d; want the diffstats model with delta 100", rm.UsesDiffStats(), rm.Delta)
	}
	if res.ValAcc < 0.95 {
		t.Errorf("held-out accuracy %.3f, want >= 0.95", res.ValAcc)
	}
	// The same rule through an evaluation set of transition captions, as annotate eval --skill
	// reads them: the model must see each caption's message and diffstats as in play.
	var pairs []EvalPair
	for i := range 200 {
		var cap [2]string
		for s := range 2 {
			diff := make([]float32, nethackagent.DiffStats)
			for k := range diff {
				diff[k] = float32(rng.IntN(3) - 1)
			}
			diff[1] = 0
			if s == 0 {
				diff[1] = float32(1 + rng.IntN(20))
			}
			cap[s] = TransitionCaption([]uint8(syntheticMessage(rng, false)), []uint8(syntheticMessage(rng, false)), diff)
		}
		p := EvalPair{First: cap[0], Second: cap[1], Preferred: First, Line: i + 1}
		if i%2 == 1 {
			p.First, p.Second, p.Preferred = cap[1], cap[0], Second
		}
		pairs = append(pairs, p)
	}
	e, err := EvalRewardModel(rm, pairs)
	if err != nil {
		t.Fatal(err)
	}
	if e.Accuracy < 0.9 {
		t.Errorf("accuracy %.3f on transition captions where gold rose on the preferred side, want >= 0.9", e.Accuracy)
	}
	if _, err := EvalRewardModel(rm, []EvalPair{{First: "You kill the newt!", Second: "", Preferred: First, Line: 7}}); err == nil || !strings.Contains(err.Error(), "line 7") {
		t.Errorf("a diffstats model on single captions gave error %v, want one naming line 7", err)
	}
}

// TestParseTransitionCaption: TransitionCaption's captions read back to the messages and
// diffstats they were written from, for messages that quote, escape or mimic the clauses;
// text it cannot have written is refused.
func TestParseTransitionCaption(t *testing.T) {
	msgs := []string{"", "You kill the newt!", `He says "hi"; gold rose by 3`, "; dungeon level rose by 1", "caf\xe9 \\ tab\t", "\x01\xff"}
	diffs := [][]float32{{0, 0, 0, 0, 0}, {1, 0, -3, 0, 0}, {0, 12, 0, 1, -1}, {-1, -2, 0.5, 2, 1}}
	for _, prev := range msgs {
		for _, cur := range msgs {
			for _, d := range diffs {
				p, c := []byte(prev), []byte(cur)
				c2 := TransitionCaption(p, c, d)
				gp, gc, gd, ok := ParseTransitionCaption(c2)
				if !ok || gp != Caption(p) || gc != Caption(c) || !slices.Equal(gd[:], d) {
					t.Errorf("ParseTransitionCaption(%q) = %q, %q, %v, %v; want %q, %q, %v", c2, gp, gc, gd, ok, Caption(p), Caption(c), d)
				}
			}
		}
	}
	for _, bad := range []string{
		"", "You kill the newt!", `previously seen message: "a"`, `previously seen message: a; currently displayed message: "b"`,
		`previously seen message: "a"; currently displayed message: "b"; gold rose by x`,
		`previously seen message: "a"; currently displayed message: "b"; gold rose by -1`,
		`previously seen message: "a"; currently displayed message: "b"; gold grew by 1`,
		`previously seen message: "a"; currently displayed message: "b"; gold rose by 1; dungeon level rose by 1`,
		`previously seen message: "a"; currently displayed message: "b"; luck rose by 1`,
		`previously seen message: "a"; currently displayed message: "b" and more`,
	} {
		if _, _, _, ok := ParseTransitionCaption(bad); ok {
			t.Errorf("ParseTransitionCaption(%q) accepted it", bad)
		}
	}
}

// TestIntrinsicDiffStats: diffstats at RL time are blstats now minus blstats Delta steps
// earlier in the same episode, restarting with each episode.
func TestIntrinsicDiffStats(t *testing.T) {
	net, _ := nethackagent.NewRewardNetDiff(rand.New(rand.NewPCG(1, 1)))
	r, err := NewIntrinsic(&RewardModel{Net: net, Std: 1, Quant: make([]float64, len(Quantiles)), Delta: 2}, DefaultIntrinsic())
	if err != nil {
		t.Fatal(err)
	}
	gold := []int64{0, 5, 5, 9, 20}
	bl := make([]int64, len(gold)*nethack.NumBlstats)
	for i, v := range gold {
		bl[i*nethack.NumBlstats+nethack.BlGold] = v
	}
	r.hist = make([][][]int64, 1)
	got := r.diffstats(bl, []bool{false, true, false, false, false}, len(gold), 1)
	want := []float32{0, 5, 0, 4, 15} // episode ends after step 1; step 4 looks back 2 steps to step 2
	for i, w := range want {
		if g := got[i*nethackagent.DiffStats+1]; g != w {
			t.Errorf("step %d: gold change %g, want %g", i, g, w)
		}
	}
}

func TestStatsCaptions(t *testing.T) {
	obs := tensordict.New(2)
	m, _ := tensor.FromSlice(msgBytes("You kill the newt!", ""), 2, nethackagent.MessageLen)
	bl := make([]int64, 2*nethack.NumBlstats)
	bl[nethack.BlGold], bl[nethack.BlHP], bl[nethack.BlHPMax], bl[nethack.BlDepth] = 12, 9, 14, 3
	b, _ := tensor.FromSlice(bl, 2, nethack.NumBlstats)
	obs.Set("message", m)
	obs.Set("blstats", b)
	p, err := MakePairs(obs, [][2]int{{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	caps, err := PairCaptions(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := "You kill the newt! (hit points 9 of 14, gold 12, dungeon level 3, experience level 0, turn 0)"; caps[0][0] != want {
		t.Errorf("caption %q, want %q", caps[0][0], want)
	}
	if plain, _ := PairCaptions(p, false); plain[0][0] != "You kill the newt!" {
		t.Errorf("plain caption %q", plain[0][0])
	}
}
