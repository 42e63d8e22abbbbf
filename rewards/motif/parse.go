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
