package motif

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/maestro-rl/maestro/llm"
)

// ProbeFact is one line of a probe's fact list: a pattern that a judge's account of the topic
// should match (a fact) or must not (a false claim).
type ProbeFact struct {
	Topic string
	// False marks a claim that contradicts the game; a fact otherwise.
	False bool
	// What says the fact in words; Pattern is a case-insensitive regular expression.
	What    string
	Pattern *regexp.Regexp
	Line    int
}

// DefaultProbeName names the shipped fact list in reports.
const DefaultProbeName = "rewards/motif/testdata/probe-facts.tsv"

//go:embed testdata/probe-facts.tsv
var defaultProbe []byte

// DefaultProbeFacts returns the shipped fact list: NetHack topics that Motif's default goal
// depends on (the Gnomish Mines, Elbereth, prayer, shops, pets, corpses, stairs, altars,
// hunger, gold), with the facts a knowledgeable player would state and some false claims.
func DefaultProbeFacts() ([]ProbeFact, error) {
	return ReadProbeFacts(bytes.NewReader(defaultProbe), DefaultProbeName)
}

// ReadProbeFacts reads a fact list: one line per fact, tab-separated
//
//	topic <TAB> fact|false <TAB> what, in words <TAB> pattern
//
// with pattern a Go regular expression matched case-insensitively against the judge's
// answer. Blank lines and # lines are skipped. Errors name the file and the line.
func ReadProbeFacts(r io.Reader, name string) ([]ProbeFact, error) {
	var out []ProbeFact
	err := scanTSV(r, name, func(n int, f []string) error {
		if len(f) != 4 {
			return fmt.Errorf("%d tab-separated columns; want topic, fact or false, the fact in words, a pattern", len(f))
		}
		kind := strings.TrimSpace(f[1])
		if kind != "fact" && kind != "false" {
			return fmt.Errorf("kind %q; want fact or false", kind)
		}
		topic := strings.TrimSpace(f[0])
		if topic == "" {
			return errors.New("no topic")
		}
		re, err := regexp.Compile("(?i)" + f[3])
		if err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
		out = append(out, ProbeFact{Topic: topic, False: kind == "false", What: strings.TrimSpace(f[2]), Pattern: re, Line: n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("motif: %s holds no facts", name)
	}
	return out, nil
}

// ProbeTopic is a judge's result on one topic.
type ProbeTopic struct {
	Topic string `json:"topic"`
	// Facts and Recalled count the topic's facts and those the answer states.
	Facts    int `json:"facts"`
	Recalled int `json:"recalled"`
	// Claims is the number of the answer's lines; Contradicted those matching a false claim.
	Claims       int `json:"claims"`
	Contradicted int `json:"contradicted"`
	// SelfEstimate is the judge's own 1-9 rating of how much it knows (expected digit; 0 when
	// it gave none), Estimated its share (SelfEstimate-1)/8.
	SelfEstimate float64  `json:"self_estimate"`
	Answer       string   `json:"answer"`
	Missed       []string `json:"missed,omitempty"`
}

// ProbeResult sums a probe over its topics.
type ProbeResult struct {
	Model  string       `json:"model"`
	Topics []ProbeTopic `json:"topics"`
	// Recall is the share of all facts the answers state; Precision 1 - contradicted/claims.
	Recall, Precision float64
	// Estimated is the mean self-estimate as a share ((SelfEstimate-1)/8), and Awareness says
	// whether it is above the recall by more than 0.15 ("overestimates"), below it by more
	// ("underestimates") or near it ("about right").
	Estimated float64
	Awareness string
}

// ProbeOptions configure Probe.
type ProbeOptions struct {
	// MaxTokens bounds each account of a topic; 0 means 300.
	MaxTokens int
	// Progress, when set, is called after each topic.
	Progress func(done, total int)
}

// Validate reports an option out of range.
func (o ProbeOptions) Validate() error {
	if o.MaxTokens < 0 {
		return fmt.Errorf("motif: ProbeOptions.MaxTokens %d must not be negative (0: 300)", o.MaxTokens)
	}
	return nil
}

// Probe asks the judge, for each topic of facts, how much it knows of it (a 1-9 rating read
// from the first token's log-probabilities, as in pointwise mode) and then to list what it
// knows; each answer is scored against the topic's facts (recall: facts whose pattern matches
// the answer) and false claims (lines of the answer that match one). It measures what a judge
// knows before its labels are trusted; the patterns are keywords, so read the answers too.
func Probe(ctx context.Context, c *llm.Client, facts []ProbeFact, o ProbeOptions) (ProbeResult, error) {
	if err := o.Validate(); err != nil {
		return ProbeResult{}, err
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 300
	}
	var topics []string
	byTopic := map[string][]ProbeFact{}
	for _, f := range facts {
		if _, ok := byTopic[f.Topic]; !ok {
			topics = append(topics, f.Topic)
		}
		byTopic[f.Topic] = append(byTopic[f.Topic], f)
	}
	res := ProbeResult{Model: c.Model()}
	var facts0, recalled, claims, contra int
	var est float64
	for i, t := range topics {
		user := func(s string) []openai.ChatCompletionMessage {
			return []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: s}}
		}
		r, err := c.Chat(ctx, llm.Request{Messages: user(fmt.Sprintf("How much do you know about %s in the game NetHack? "+
			"Rate your own knowledge from 1 (nothing) to 9 (everything an expert player knows). Reply with a single digit.", t)),
			MaxTokens: 1, TopLogProbs: 20})
		if err != nil {
			return res, err
		}
		self, _, ok := RateAnswer(r.TopFirst)
		if !ok {
			self = 0
		}
		r, err = c.Chat(ctx, llm.Request{Messages: user(fmt.Sprintf("List what you know about %s in the game NetHack: short facts, one per line, "+
			"only what you are sure of.", t)), MaxTokens: o.MaxTokens, Temperature: 0.1})
		if err != nil {
			return res, err
		}
		pt := scoreProbe(t, byTopic[t], r.Text)
		pt.SelfEstimate = self
		res.Topics = append(res.Topics, pt)
		facts0 += pt.Facts
		recalled += pt.Recalled
		claims += pt.Claims
		contra += pt.Contradicted
		if self > 0 {
			est += (self - 1) / 8
		}
		if o.Progress != nil {
			o.Progress(i+1, len(topics))
		}
	}
	res.Recall = float64(recalled) / math.Max(float64(facts0), 1)
	res.Precision = 1
	if claims > 0 {
		res.Precision = 1 - float64(contra)/float64(claims)
	}
	res.Estimated = est / float64(len(topics))
	switch d := res.Estimated - res.Recall; {
	case d > 0.15:
		res.Awareness = "overestimates"
	case d < -0.15:
		res.Awareness = "underestimates"
	default:
		res.Awareness = "about right"
	}
	return res, nil
}

// scoreProbe scores one answer: facts recalled anywhere in it, and claims (its non-empty lines)
// that match a false claim.
func scoreProbe(topic string, facts []ProbeFact, answer string) ProbeTopic {
	pt := ProbeTopic{Topic: topic, Answer: answer}
	var lines []string
	for _, l := range strings.Split(answer, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	pt.Claims = len(lines)
	for _, f := range facts {
		if !f.False {
			pt.Facts++
			if f.Pattern.MatchString(answer) {
				pt.Recalled++
			} else {
				pt.Missed = append(pt.Missed, f.What)
			}
		}
	}
	for _, l := range lines {
		for _, f := range facts {
			if f.False && f.Pattern.MatchString(l) {
				pt.Contradicted++
				break
			}
		}
	}
	return pt
}
