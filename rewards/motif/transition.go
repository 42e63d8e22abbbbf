package motif

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/maestro-rl/maestro/agents/nethackagent"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// MaestroMotif's pairs compare transitions rather than single observations: what the player saw
// Delta steps earlier, what is on screen now, and how five statistics changed in between
// (DiffStatNames). Pair files of this kind hold first/prev_message and first/diffstats (and the
// same under second) besides first/message.

// DiffStatNames name the diffstats, in order.
var DiffStatNames = [nethackagent.DiffStats]string{"dungeon level", "gold", "hit points", "experience level", "hunger state"}

var diffStatIndex = [nethackagent.DiffStats]int{nethack.BlDepth, nethack.BlGold, nethack.BlHP, nethack.BlXP, nethack.BlHunger}

// DiffStats writes cur - prev for the five statistics into dst.
func DiffStats(dst []float32, prev, cur []int64) {
	for k, i := range diffStatIndex {
		dst[k] = float32(cur[i] - prev[i])
	}
}

// TransitionIndices draws MaestroMotif's pairs of transitions: from each episode of T steps,
// T/stride end points whose step Delta earlier is in the same episode, shuffled over all
// episodes and paired consecutively; at most n pairs (0: all). Each element is {earlier row,
// later row}. Rows of an episode must be consecutive and in step order (Collect's order).
func TransitionIndices(episode []int64, delta, stride, n int, rng *rand.Rand) [][2][2]int {
	if stride <= 0 {
		stride = 1
	}
	var picks [][2]int
	for lo := 0; lo < len(episode); {
		hi := lo
		for hi < len(episode) && episode[hi] == episode[lo] {
			hi++
		}
		if T := hi - lo; T > delta {
			for range T / stride {
				t := lo + delta + rng.IntN(T-delta)
				picks = append(picks, [2]int{t - delta, t})
			}
		}
		lo = hi
	}
	rng.Shuffle(len(picks), func(i, j int) { picks[i], picks[j] = picks[j], picks[i] })
	var pairs [][2][2]int
	for i := 0; i+1 < len(picks) && (n <= 0 || len(pairs) < n); i += 2 {
		pairs = append(pairs, [2][2]int{picks[i], picks[i+1]})
	}
	return pairs
}

// EventKinds name the events MixEventTransitions draws: a change of dungeon level, of gold, or
// of experience level between a transition's two ends. These are what the skills are about,
// and uniform sampling almost never draws them: from a trained agent's 200,000 NetHackScore
// steps, 500 pairs at a gap of 100 held 5 depth changes among 1,000 transitions.
var EventKinds = [3]string{"dungeon level", "gold", "experience level"}

var eventStat = [len(EventKinds)]int{0, 1, 3} // indices into DiffStatNames

// MixEventTransitions replaces a share of the elements of pairs (TransitionIndices' draw) by
// transitions in which an event of EventKinds happened, drawn without replacement, as evenly
// over the kinds as the data allows, and re-pairs them at random with the rest, so events meet
// both quiet transitions and other events. It returns the new pairs and how many elements of
// each kind it drew (fewer than asked when the data holds too few). blstats is the observation
// dataset's [N, nethack.NumBlstats]; episode and delta are as for TransitionIndices. A share of
// 0 returns pairs unchanged.
func MixEventTransitions(pairs [][2][2]int, episode, blstats []int64, delta int, share float64, rng *rand.Rand) ([][2][2]int, [len(EventKinds)]int, error) {
	var drawn [len(EventKinds)]int
	if share < 0 || share > 1 || math.IsNaN(share) {
		return nil, drawn, fmt.Errorf("motif: event share %g is not in [0, 1]", share)
	}
	NB := nethack.NumBlstats
	if len(blstats) != len(episode)*NB {
		return nil, drawn, fmt.Errorf("motif: blstats holds %d values for %d observations; want %d per observation", len(blstats), len(episode), NB)
	}
	elems := make([][2]int, 0, 2*len(pairs))
	for _, p := range pairs {
		elems = append(elems, p[0], p[1])
	}
	want := int(math.Round(share * float64(len(elems))))
	if want == 0 {
		return pairs, drawn, nil
	}
	var pool [len(EventKinds)][][2]int
	var d [nethackagent.DiffStats]float32
	for t := delta; t < len(episode); t++ {
		a := t - delta
		if episode[a] != episode[t] { // rows of an episode are consecutive: all rows between are in it too
			continue
		}
		DiffStats(d[:], blstats[a*NB:(a+1)*NB], blstats[t*NB:(t+1)*NB])
		for k, i := range eventStat {
			if d[i] != 0 {
				pool[k] = append(pool[k], [2]int{a, t})
			}
		}
	}
	for k := range pool {
		rng.Shuffle(len(pool[k]), func(i, j int) { pool[k][i], pool[k][j] = pool[k][j], pool[k][i] })
	}
	// Round-robin over the kinds: each takes one in turn until enough or all are spent. A
	// transition in two pools (gold and depth both changed) may be drawn twice; it is rare.
	var events [][2]int
	for len(events) < want {
		took := false
		for k := range pool {
			if len(events) < want && drawn[k] < len(pool[k]) {
				events = append(events, pool[k][drawn[k]])
				drawn[k]++
				took = true
			}
		}
		if !took {
			break
		}
	}
	copy(elems, events) // elems came shuffled from TransitionIndices: the replaced ones are a random subset
	rng.Shuffle(len(elems), func(i, j int) { elems[i], elems[j] = elems[j], elems[i] })
	out := make([][2][2]int, len(pairs))
	for i := range out {
		out[i] = [2][2]int{elems[2*i], elems[2*i+1]}
	}
	return out, drawn, nil
}

// MakeTransitionPairs builds a transition pair dataset: first/message (the later message),
// first/prev_message, first/diffstats [P, 5] float32, the same under second, "delta" (the gap
// in steps, for the reward model to record) and "label" Unknown.
func MakeTransitionPairs(obs *tensordict.Dict, pairs [][2][2]int, delta int) (*tensordict.Dict, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("motif: no transition pairs (episodes shorter than the gap? collect more steps)")
	}
	msg, err := tensordict.GetAs[uint8](obs, "message")
	if err != nil {
		return nil, err
	}
	bl, err := tensordict.GetAs[int64](obs, "blstats")
	if err != nil {
		return nil, err
	}
	P, L, NB := len(pairs), nethack.MessageLen, nethack.NumBlstats
	out := tensordict.New(P)
	for side, name := range []string{"first", "second"} {
		cur, prev, diff := make([]uint8, P*L), make([]uint8, P*L), make([]float32, P*nethackagent.DiffStats)
		for i, p := range pairs {
			a, b := p[side][0], p[side][1]
			copy(prev[i*L:], msg[a*L:(a+1)*L])
			copy(cur[i*L:], msg[b*L:(b+1)*L])
			DiffStats(diff[i*nethackagent.DiffStats:], bl[a*NB:(a+1)*NB], bl[b*NB:(b+1)*NB])
		}
		c, _ := tensor.FromSlice(cur, P, L)
		pv, _ := tensor.FromSlice(prev, P, L)
		d, _ := tensor.FromSlice(diff, P, nethackagent.DiffStats)
		for _, e := range []error{out.Set(name+"/message", c), out.Set(name+"/prev_message", pv), out.Set(name+"/diffstats", d)} {
			if e != nil {
				return nil, e
			}
		}
	}
	labels := make([]int8, P)
	deltas := make([]int64, P)
	for i := range labels {
		labels[i], deltas[i] = Unknown, int64(delta)
	}
	if err := out.Set("delta", tensor.Of(deltas)); err != nil {
		return nil, err
	}
	return out, out.Set("label", tensor.Of(labels))
}

// transitionLeaves are the leaves that make a pair file MaestroMotif's pairs of transitions.
var transitionLeaves = []string{"first/prev_message", "first/diffstats", "second/prev_message", "second/diffstats"}

// IsTransitionPairs says whether p holds pairs of transitions (MakeTransitionPairs' leaves)
// rather than Motif's pairs of observations. A file with some of those leaves but not all is
// an error naming the missing ones: labelled as plain pairs, it would silently lose them.
func IsTransitionPairs(p *tensordict.Dict) (bool, error) {
	var have, missing []string
	for _, k := range transitionLeaves {
		if p.Has(k) {
			have = append(have, k)
		} else {
			missing = append(missing, k)
		}
	}
	switch {
	case len(have) == 0:
		return false, nil
	case len(missing) == 0:
		return true, nil
	}
	return false, fmt.Errorf("motif: the pair file holds %s (pairs of transitions) but lacks %s; make it again with `annotate pairs --delta N`", strings.Join(have, ", "), strings.Join(missing, ", "))
}

// TransitionCaption describes a transition for the judge.
func TransitionCaption(prev, cur []uint8, diff []float32) string {
	var b strings.Builder
	fmt.Fprintf(&b, "previously seen message: %q; currently displayed message: %q", Caption(prev), Caption(cur))
	for k, v := range diff[:nethackagent.DiffStats] {
		switch {
		case v > 0:
			fmt.Fprintf(&b, "; %s rose by %g", DiffStatNames[k], v)
		case v < 0:
			fmt.Fprintf(&b, "; %s fell by %g", DiffStatNames[k], -v)
		}
	}
	return b.String()
}

// ParseTransitionCaption is TransitionCaption's inverse: the two messages and the diffstats of a
// transition caption (a statistic the caption does not name did not change). ok is false when
// s is not one: single captions, and text TransitionCaption cannot have written.
func ParseTransitionCaption(s string) (prev, cur string, diff [nethackagent.DiffStats]float32, ok bool) {
	quoted := func(s, label string) (string, string, bool) {
		rest, found := strings.CutPrefix(s, label)
		if !found {
			return "", "", false
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return "", "", false
		}
		u, err := strconv.Unquote(q)
		if err != nil {
			return "", "", false
		}
		return u, rest[len(q):], true
	}
	prev, rest, ok := quoted(s, "previously seen message: ")
	if !ok {
		return "", "", diff, false
	}
	if cur, rest, ok = quoted(rest, "; currently displayed message: "); !ok {
		return "", "", diff, false
	}
	next := 0 // the statistics come in DiffStatNames' order, each at most once
	for rest != "" {
		clause, ok := strings.CutPrefix(rest, "; ")
		if !ok {
			return "", "", diff, false
		}
		if i := strings.Index(clause, "; "); i >= 0 {
			clause, rest = clause[:i], clause[i:]
		} else {
			rest = ""
		}
		k := next
		for ; k < len(DiffStatNames) && !strings.HasPrefix(clause, DiffStatNames[k]+" "); k++ {
		}
		if k == len(DiffStatNames) {
			return "", "", diff, false
		}
		verb, num, found := strings.Cut(clause[len(DiffStatNames[k])+1:], " by ")
		v, err := strconv.ParseFloat(num, 32)
		if !found || err != nil || v <= 0 || math.IsInf(v, 0) || (verb != "rose" && verb != "fell") {
			return "", "", diff, false
		}
		if verb == "fell" {
			v = -v
		}
		diff[k], next = float32(v), k+1
	}
	return prev, cur, diff, true
}

// StatsCaption is Motif's optional caption with the bottom line in words appended.
func StatsCaption(message []uint8, bl []int64) string {
	return fmt.Sprintf("%s (hit points %d of %d, gold %d, dungeon level %d, experience level %d, turn %d)", Caption(message),
		bl[nethack.BlHP], bl[nethack.BlHPMax], bl[nethack.BlGold], bl[nethack.BlDepth], bl[nethack.BlXP], bl[nethack.BlTime])
}

// PairCaptions returns the judge's text for both elements of every pair: captions of single
// observations (with the bottom line in words when withStats is set: Motif's option, off by
// default), or transition captions for MaestroMotif's pairs.
func PairCaptions(p *tensordict.Dict, withStats bool) ([][2]string, error) {
	L := nethack.MessageLen
	var sides [2][]uint8
	var prev [2][]uint8
	var diff [2][]float32
	transitions, err := IsTransitionPairs(p)
	if err != nil {
		return nil, err
	}
	var stats [2][]int64
	for s, name := range []string{"first", "second"} {
		var err error
		if sides[s], err = tensordict.GetAs[uint8](p, name+"/message"); err != nil {
			return nil, fmt.Errorf("motif: the pair dataset lacks %s/message", name)
		}
		if withStats && !transitions {
			if stats[s], err = tensordict.GetAs[int64](p, name+"/blstats"); err != nil {
				return nil, fmt.Errorf("motif: captions with statistics need %s/blstats in the pair dataset", name)
			}
		}
		if transitions {
			prev[s], err = tensordict.GetAs[uint8](p, name+"/prev_message")
			if err == nil {
				diff[s], err = tensordict.GetAs[float32](p, name+"/diffstats")
			}
			if err != nil {
				return nil, fmt.Errorf("motif: transition pairs lack %s/prev_message or %s/diffstats", name, name)
			}
		}
	}
	out := make([][2]string, len(sides[0])/L)
	for i := range out {
		for s := range 2 {
			m := sides[s][i*L : (i+1)*L]
			switch {
			case transitions:
				out[i][s] = TransitionCaption(prev[s][i*L:(i+1)*L], m, diff[s][i*nethackagent.DiffStats:(i+1)*nethackagent.DiffStats])
			case withStats:
				out[i][s] = StatsCaption(m, stats[s][i*nethack.NumBlstats:(i+1)*nethack.NumBlstats])
			default:
				out[i][s] = Caption(m)
			}
		}
	}
	return out, nil
}
