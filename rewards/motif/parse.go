package motif

import (
	"math"
	"regexp"
	"strings"
)

// answerRE finds the machine-readable choice: best_message or best_description (any case,
// spaces, dashes or underscores between the words), then up to a few quote, colon, asterisk,
// equals or space characters, then 1, 2 or None (also null).
var answerRE = regexp.MustCompile(`(?i)best[\s_-]*(?:message|description)["'*\s:=\x60]{0,8}(1|2|none|null)\b`)

// ParseAnswer reads a generative answer. The last choice stated wins (models often quote the
// format before answering); an answer without one returns ok false (ask again).
func ParseAnswer(text string) (label int8, ok bool) {
	ms := answerRE.FindAllStringSubmatch(text, -1)
	if len(ms) == 0 {
		return Unknown, false
	}
	switch strings.ToLower(ms[len(ms)-1][1]) {
	case "1":
		return First, true
	case "2":
		return Second, true
	}
	return Tie, true
}

// ScoreAnswer reads a scored answer: the first token's top log-probabilities. It returns the
// log-probability margin of "1" over "2" (tokens compared after trimming spaces; a token
// missing from the top list counts as -inf) and ok false when neither appears.
func ScoreAnswer(top map[string]float64) (margin float64, ok bool) {
	l1, l2 := math.Inf(-1), math.Inf(-1)
	for tok, lp := range top {
		if !validLogProb(lp) {
			continue // a server's garbage (NaN, +Inf, 1e308) is no evidence
		}
		switch strings.TrimSpace(tok) {
		case "1":
			l1 = math.Max(l1, lp)
		case "2":
			l2 = math.Max(l2, lp)
		}
	}
	if math.IsInf(l1, -1) && math.IsInf(l2, -1) {
		return 0, false
	}
	if math.IsInf(l1, -1) {
		return -50, true
	}
	if math.IsInf(l2, -1) {
		return 50, true
	}
	return l1 - l2, true
}

// validLogProb says whether lp can be a log-probability: finite and at most 0 (a little
// above 0 is rounding).
func validLogProb(lp float64) bool {
	return !math.IsNaN(lp) && !math.IsInf(lp, 0) && lp <= 1e-3 && lp > -1e4
}

// MinRatingMass is the least probability that a pointwise answer's first token must put on
// the digits 1-9 for its rating to count; below it the model was answering something else.
const MinRatingMass = 0.05

// RateAnswer reads a pointwise answer: the first token's top log-probabilities. The rating is
// the expected digit, sum_k k p(k) / sum_k p(k) over the tokens "1" ... "9" (after trimming
// spaces; a token missing from the top list counts as probability 0), and mass is sum_k p(k).
// ok is false when mass is below MinRatingMass. Log-probabilities that are not finite or
// above 0 are ignored. A server whose probabilities sum past 1 (not a distribution; found by
// fuzzing) gets mass 1: the journal refuses masses above 1, and would ask again forever.
func RateAnswer(top map[string]float64) (rating, mass float64, ok bool) {
	var p [10]float64
	for tok, lp := range top {
		t := strings.TrimSpace(tok)
		if len(t) != 1 || t[0] < '1' || t[0] > '9' || !validLogProb(lp) {
			continue
		}
		p[t[0]-'0'] = math.Max(p[t[0]-'0'], math.Exp(min(lp, 0)))
	}
	var sum float64
	for k := 1; k <= 9; k++ {
		mass += p[k]
		sum += float64(k) * p[k]
	}
	if mass < MinRatingMass {
		return 0, mass, false
	}
	return sum / mass, min(mass, 1), true
}

// HarmAnswer reads the answer to the harm aspect's yes/no question (the harm template): the
// first token's top log-probabilities. p is p(yes) / (p(yes) + p(no)) over the tokens "yes" and
// "no" (any case, spaces trimmed; the most likely spelling of each counts), mass is p(yes) +
// p(no); ok is false when mass is below MinRatingMass. Invalid log-probabilities are ignored,
// as in RateAnswer.
func HarmAnswer(top map[string]float64) (p, mass float64, ok bool) {
	var yes, no float64
	for tok, lp := range top {
		if !validLogProb(lp) {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(tok)) {
		case "yes":
			yes = math.Max(yes, math.Exp(min(lp, 0)))
		case "no":
			no = math.Max(no, math.Exp(min(lp, 0)))
		}
	}
	mass = yes + no
	if mass < MinRatingMass {
		return 0, mass, false
	}
	return yes / mass, min(mass, 1), true
}

// HarmedRating is a caption's rating with the harm aspect: rating - weight * harm, where harm
// is the HarmAnswer probability that the hero was harmed. A small judge rates "The jackal
// bites!" about as high as a neutral message (docs/judge.md); asked separately whether the
// hero was harmed, it tells them apart better.
func HarmedRating(rating, harm, weight float64) float64 { return rating - weight*harm }

// CombineRatings labels the pair (a, b) from the pointwise answers for a and b: First when a's
// rating exceeds b's by more than tie, Second when b's exceeds a's by more than tie, Tie
// otherwise, and Unknown when either has no rating.
func CombineRatings(a, b Answer, tie float64) int8 {
	if !a.OK || !b.OK {
		return Unknown
	}
	switch d := a.Rating - b.Rating; {
	case d > tie:
		return First
	case d < -tie:
		return Second
	}
	return Tie
}
