package motif

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/maestro-rl/maestro/internal/validate"
	"github.com/maestro-rl/maestro/llm"
)

// AnnotateOptions configure Annotate.
type AnnotateOptions struct {
	Template *Template
	// Goal is the goal text (Goals[name], or free text; "" is zero-knowledge).
	Goal string
	// Mode is Generative (default), Scored or Pointwise (the template must be pointwise).
	Mode string
	// Concurrency is the number of requests in flight; 0 means 4.
	Concurrency int
	// Temperature and TopP of generative answers; 0 means Motif's 0.1 and 0.95.
	Temperature, TopP float32
	// MaxTokens bounds a generative answer; 0 means 512.
	MaxTokens int
	// TieMargin: in scored mode, a pair whose combined log-probability margin is at most this
	// is a tie; in pointwise mode, a pair whose ratings differ by at most this.
	TieMargin float64
	// Harm, in pointwise mode, is the harm aspect's template (the built-in "harm"): each
	// distinct caption is also asked whether the hero was harmed, and its rating is lowered
	// by HarmWeight times p(yes) (HarmedRating) before pairs are compared. nil or a weight of
	// 0: ratings alone.
	Harm       *Template
	HarmWeight float64
	// Progress, when set, is called after every answer.
	Progress func(Progress)
	// Ask, when set, answers the requests instead of Annotate's client (nil then): annotation
	// workers over a broker, say, each asking its own LLM with motif.Ask. Model is then the
	// model they serve, which names the answers in the journal.
	Ask   func(context.Context, Request) (Answer, error)
	Model string
}

// A Request is one question to the judge, rendered: all an annotation worker needs to ask it.
type Request struct {
	Key   string `json:"key"`
	Model string `json:"model"` // the model the answer is for (its key names it)
	// Kind is "pair" (Prompt compares two captions, or rates one in pointwise mode) or "harm"
	// (the harm aspect's yes/no question about one caption).
	Kind        string  `json:"kind"`
	Mode        string  `json:"mode"`
	Prompt      string  `json:"prompt"`
	Temperature float32 `json:"temperature"`
	TopP        float32 `json:"top_p"`
	MaxTokens   int     `json:"max_tokens"`
}

// Validate refuses a request no Annotate could have made (a worker reads them off a broker).
func (r Request) Validate() error {
	switch {
	case r.Key == "" || r.Prompt == "":
		return errors.New("motif: a request without a key or a prompt")
	case r.Kind != "pair" && r.Kind != "harm":
		return fmt.Errorf("motif: request %s: kind %q, want pair or harm", r.Key, r.Kind)
	case r.Mode != Generative && r.Mode != Scored && r.Mode != Pointwise:
		return fmt.Errorf("motif: request %s: mode %q, want %s, %s or %s", r.Key, r.Mode, Generative, Scored, Pointwise)
	case r.MaxTokens < 1 || r.MaxTokens > 1<<16:
		return fmt.Errorf("motif: request %s: max_tokens %d, want 1..65536", r.Key, r.MaxTokens)
	}
	return validate.Numbers("motif: request "+r.Key+": ",
		validate.F("temperature", float64(r.Temperature), r.Temperature >= 0, "of at least 0"),
		validate.F("top_p", float64(r.TopP), r.TopP >= 0 && r.TopP <= 1, "in [0, 1]"))
}

// Validate reports a missing template or an option out of range: a known mode, counts not
// below 0 (0: the defaults), finite sampling parameters and tie margin, not below 0.
func (o AnnotateOptions) Validate() error {
	switch {
	case o.Template == nil:
		return fmt.Errorf("motif: no prompt template")
	case o.Mode != "" && o.Mode != Generative && o.Mode != Scored && o.Mode != Pointwise:
		return fmt.Errorf("motif: AnnotateOptions.Mode %q: use %s, %s or %s", o.Mode, Generative, Scored, Pointwise)
	case o.HarmWeight != 0 && (o.Harm == nil || (o.Mode != Pointwise)):
		return fmt.Errorf("motif: AnnotateOptions.HarmWeight %g needs Mode %s and a Harm template (the built-in \"harm\")", o.HarmWeight, Pointwise)
	case o.Harm != nil && !o.Harm.Pointwise:
		return fmt.Errorf("motif: AnnotateOptions.Harm: template %s asks about two captions; the harm aspect asks about one ({{.Message}})", o.Harm.Name)
	case o.Ask != nil && o.Model == "":
		return fmt.Errorf("motif: AnnotateOptions.Ask needs Model, the model that answers (it names the answers in the journal)")
	case o.Concurrency < 0 || o.MaxTokens < 0:
		return fmt.Errorf("motif: AnnotateOptions.Concurrency %d and MaxTokens %d must not be negative (0: 4, 512)", o.Concurrency, o.MaxTokens)
	}
	return validate.Numbers("motif: AnnotateOptions.",
		validate.F("Temperature", float64(o.Temperature), o.Temperature >= 0, "of at least 0 (0: 0.1)"),
		validate.F("TopP", float64(o.TopP), o.TopP >= 0 && o.TopP <= 1, "in [0, 1] (0: 0.95)"),
		validate.F("TieMargin", o.TieMargin, o.TieMargin >= 0, "of at least 0"),
		validate.F("HarmWeight", o.HarmWeight, o.HarmWeight >= 0, "of at least 0"))
}

// Progress of an annotation job.
type Progress struct {
	Done, Total int // requests answered (this run) and to ask (this run)
	Tokens      int64
	Elapsed     time.Duration
}

// Summary describes an annotation job.
type Summary struct {
	Pairs     int `json:"pairs"`
	Identical int `json:"identical_captions"` // labelled tie without asking
	Unique    int `json:"unique_caption_pairs"`
	Asked     int `json:"requests_sent"`
	Cached    int `json:"requests_cached"`
	Retried   int `json:"retry_turns"`
	// Labels counts first, second, tie, unknown over all pairs.
	Labels [4]int `json:"labels"`
	// PositionBias is the share of unique pairs, among those answered decisively in both
	// orders, whose two answers chose the same position (1 and 1, or 2 and 2): the judge
	// followed the position, not the content. Pointwise mode has none (always 0).
	PositionBias float64 `json:"position_bias"`
	// Rated is the number of distinct captions rated (pointwise mode), RatedUnknown those
	// whose answer held no usable rating.
	Rated        int `json:"captions_rated,omitempty"`
	RatedUnknown int `json:"captions_unrated,omitempty"`
	// HarmUnknown counts the captions whose harm answer held neither yes nor no: they are
	// compared by their rating alone.
	HarmUnknown int   `json:"captions_harm_unanswered,omitempty"`
	Tokens      int64 `json:"tokens"`
}

// key identifies one request: model, template, goal, mode and the captions in asked order.
func key(model string, o AnnotateOptions, first, second string) string {
	h := sha256.New()
	for _, s := range []string{model, o.Template.Text, o.Goal, o.Mode, first, second} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// harmKey identifies the harm question about one caption by the prompt it renders to, so runs
// with different goals (the skills) share the answer when the harm template ignores the goal,
// as the built-in one does: a journal shared between skills asks it once per caption.
func harmKey(model string, o AnnotateOptions, caption string) string {
	prompt, err := o.Harm.Render(o.Goal, caption, "", Pointwise)
	if err != nil { // the request renders the same way and reports the error
		prompt = "unrenderable\x00" + o.Goal + "\x00" + caption
	}
	h := sha256.New()
	for _, s := range []string{model, "harm", prompt} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func has(j *Journal, k string) bool { _, ok := j.Get(k); return ok }

// harmed says whether the harm aspect is asked.
func (o AnnotateOptions) harmed() bool { return o.Harm != nil && o.HarmWeight > 0 }

// Annotate labels caption pairs with the judge. Identical captions are ties without asking;
// every other distinct pair is asked in both orders (cancelling position bias) and each answer
// is looked up in, or recorded to, the journal, so no request is paid for twice and a killed
// job continues where it stopped. Labels come back in pairs' order.
func Annotate(ctx context.Context, c *llm.Client, j *Journal, pairs [][2]string, o AnnotateOptions) ([]int8, Summary, error) {
	if err := o.Validate(); err != nil {
		return nil, Summary{}, err
	}
	if o.Mode == "" {
		o.Mode = Generative
	}
	if err := o.Template.Suits(o.Mode); err != nil {
		return nil, Summary{}, err
	}
	if o.Temperature == 0 {
		o.Temperature = 0.1
	}
	if o.TopP == 0 {
		o.TopP = 0.95
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = 512
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	model := o.Model
	if model == "" {
		model = c.Model()
	}
	answer := o.Ask
	if answer == nil {
		answer = func(ctx context.Context, r Request) (Answer, error) { return Ask(ctx, c, r) }
	}
	s := Summary{Pairs: len(pairs)}
	type uk struct{ a, b string }
	unique := map[uk]bool{}
	var order []uk
	for _, p := range pairs {
		if p[0] == p[1] {
			s.Identical++
			continue
		}
		u := uk{p[0], p[1]}
		if p[1] < p[0] {
			u = uk{p[1], p[0]}
		}
		if !unique[u] {
			unique[u] = true
			order = append(order, u)
		}
	}
	s.Unique = len(order)
	type ask struct {
		first, second, key string
		harm               bool
	}
	var todo []ask
	if o.Mode == Pointwise {
		// One request per distinct caption of the non-identical pairs.
		seen := map[string]bool{}
		for _, u := range order {
			for _, c1 := range [2]string{u.a, u.b} {
				if seen[c1] {
					continue
				}
				seen[c1] = true
				s.Rated++
				k := key(model, o, c1, "")
				if _, ok := j.Get(k); ok {
					s.Cached++
				} else {
					todo = append(todo, ask{c1, "", k, false})
				}
				if !o.harmed() {
					continue
				}
				if k := harmKey(model, o, c1); !has(j, k) {
					todo = append(todo, ask{c1, "", k, true})
				} else {
					s.Cached++
				}
			}
		}
	} else {
		for _, u := range order {
			for _, q := range [2][2]string{{u.a, u.b}, {u.b, u.a}} {
				k := key(model, o, q[0], q[1])
				if _, ok := j.Get(k); ok {
					s.Cached++
					continue
				}
				todo = append(todo, ask{q[0], q[1], k, false})
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		next     atomic.Int64
		done     atomic.Int64
		tokens   atomic.Int64
		errOnce  sync.Once
		firstErr error
		start    = time.Now()
	)
	for w := 0; w < min(o.Concurrency, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(todo) || ctx.Err() != nil {
					return
				}
				r, err := o.request(model, todo[i].key, todo[i].harm, todo[i].first, todo[i].second)
				var a Answer
				if err == nil {
					a, err = answer(ctx, r)
				}
				if err == nil {
					a.Key = todo[i].key
					err = j.Add(a)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				tokens.Add(int64(a.Tokens))
				n := done.Add(1)
				if o.Progress != nil {
					o.Progress(Progress{Done: int(n), Total: len(todo), Tokens: tokens.Load(), Elapsed: time.Since(start)})
				}
			}
		}()
	}
	wg.Wait()
	s.Asked, s.Tokens = int(done.Load()), tokens.Load()
	if firstErr != nil {
		return nil, s, fmt.Errorf("motif: annotation stopped after %d new answers (kept in the journal; rerun to continue): %w", s.Asked, firstErr)
	}
	// Combine both orders of each unique pair (or both ratings) into a label for (a, b).
	combined := map[uk]int8{}
	decisive, biased := 0, 0
	unrated, unharmed := map[string]bool{}, map[string]bool{}
	rating := func(caption string) Answer {
		a, _ := j.Get(key(model, o, caption, ""))
		if !a.OK {
			unrated[caption] = true
		}
		if o.harmed() {
			if h, _ := j.Get(harmKey(model, o, caption)); h.OK {
				a.Rating = HarmedRating(a.Rating, h.Harm, o.HarmWeight)
			} else {
				unharmed[caption] = true
			}
		}
		return a
	}
	for _, u := range order {
		if o.Mode == Pointwise {
			combined[u] = CombineRatings(rating(u.a), rating(u.b), o.TieMargin)
			continue
		}
		x, _ := j.Get(key(model, o, u.a, u.b))
		y, _ := j.Get(key(model, o, u.b, u.a))
		if x.Retried {
			s.Retried++
		}
		if y.Retried {
			s.Retried++
		}
		var l int8
		if o.Mode == Scored {
			l, decisive, biased = combineScored(x, y, o.TieMargin, decisive, biased)
		} else {
			l, decisive, biased = combineGenerative(x, y, decisive, biased)
		}
		combined[u] = l
	}
	s.RatedUnknown, s.HarmUnknown = len(unrated), len(unharmed)
	if decisive > 0 {
		s.PositionBias = float64(biased) / float64(decisive)
	}
	labels := make([]int8, len(pairs))
	for i, p := range pairs {
		switch {
		case p[0] == p[1]:
			labels[i] = Tie
		case p[0] < p[1]:
			labels[i] = combined[uk{p[0], p[1]}]
		default:
			labels[i] = flip(combined[uk{p[1], p[0]}])
		}
		s.Labels[labels[i]]++
	}
	return labels, s, nil
}

func flip(l int8) int8 {
	switch l {
	case First:
		return Second
	case Second:
		return First
	}
	return l
}

// combineGenerative merges the answers for (a, b) and (b, a): agreeing answers stand, opposite
// ones (each picked the same position) make a tie, a single usable answer stands alone.
func combineGenerative(x, y Answer, decisive, biased int) (int8, int, int) {
	lx, ly := Unknown, Unknown
	if x.OK {
		lx = x.Label
	}
	if y.OK {
		ly = flip(y.Label)
	}
	if (lx == First || lx == Second) && (ly == First || ly == Second) {
		decisive++
		if lx != ly {
			biased++
			return Tie, decisive, biased
		}
		return lx, decisive, biased
	}
	switch {
	case lx == Unknown:
		return ly, decisive, biased
	case ly == Unknown:
		return lx, decisive, biased
	case lx == ly:
		return lx, decisive, biased
	}
	return Tie, decisive, biased // one tie, one preference
}

// combineScored sums the margins for a over b from both orders.
func combineScored(x, y Answer, tie float64, decisive, biased int) (int8, int, int) {
	if !x.OK && !y.OK {
		return Unknown, decisive, biased
	}
	m := 0.0
	if x.OK {
		m += x.Margin
	}
	if y.OK {
		m -= y.Margin
	}
	if x.OK && y.OK && x.Margin != 0 && y.Margin != 0 {
		decisive++
		if (x.Margin > 0) == (y.Margin > 0) {
			biased++
		}
	}
	switch {
	case m > tie:
		return First, decisive, biased
	case m < -tie:
		return Second, decisive, biased
	}
	return Tie, decisive, biased
}

// request renders one question (harm: the harm aspect's about first).
func (o AnnotateOptions) request(model, key string, harm bool, first, second string) (Request, error) {
	r := Request{Key: key, Model: model, Kind: "pair", Mode: o.Mode, Temperature: o.Temperature, TopP: o.TopP, MaxTokens: o.MaxTokens}
	var err error
	if harm {
		r.Kind = "harm"
		r.Prompt, err = o.Harm.Render(o.Goal, first, "", Pointwise)
	} else {
		r.Prompt, err = o.Template.Render(o.Goal, first, second, o.Mode)
	}
	return r, err
}

// Ask asks c one request: one token's log-probabilities (scored and pointwise modes, the
// harm question), or a generative answer with one retry turn when it cannot be parsed.
func Ask(ctx context.Context, c *llm.Client, r Request) (Answer, error) {
	if err := r.Validate(); err != nil {
		return Answer{}, err
	}
	msgs := []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: r.Prompt}}
	if r.Kind == "harm" || r.Mode == Pointwise || r.Mode == Scored { // one token: its log-probabilities decide
		res, err := c.Chat(ctx, llm.Request{Messages: msgs, MaxTokens: 1, Temperature: r.Temperature, TopLogProbs: 20})
		if err != nil {
			return Answer{}, err
		}
		switch {
		case r.Kind == "harm":
			p, mass, ok := HarmAnswer(res.TopFirst)
			return Answer{Label: Unknown, Harm: p, Mass: mass, OK: ok, Tokens: res.Tokens}, nil
		case r.Mode == Pointwise:
			rating, mass, ok := RateAnswer(res.TopFirst)
			return Answer{Label: Unknown, Rating: rating, Mass: mass, OK: ok, Tokens: res.Tokens}, nil
		}
		m, ok := ScoreAnswer(res.TopFirst)
		return Answer{Label: Unknown, Margin: m, OK: ok, Tokens: res.Tokens}, nil
	}
	return askGenerative(ctx, c, msgs, r)
}

const retryPrompt = "Your answer did not end with the required line. Reply with exactly one line: best_message: 1, best_message: 2, or best_message: None."

// askGenerative asks for a generative answer, with one retry turn when it cannot be parsed.
func askGenerative(ctx context.Context, c *llm.Client, msgs []openai.ChatCompletionMessage, o Request) (Answer, error) {
	req := llm.Request{Messages: msgs, MaxTokens: o.MaxTokens, Temperature: o.Temperature, TopP: o.TopP}
	r, err := c.Chat(ctx, req)
	if err != nil {
		return Answer{}, err
	}
	if l, ok := ParseAnswer(r.Text); ok {
		return Answer{Label: l, OK: true, Tokens: r.Tokens}, nil
	}
	req.Messages = append(msgs, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant, Content: r.Text},
		openai.ChatCompletionMessage{Role: openai.ChatMessageRoleUser, Content: retryPrompt})
	req.MaxTokens = 16
	r2, err := c.Chat(ctx, req)
	if err != nil {
		return Answer{}, err
	}
	l, ok := ParseAnswer(r2.Text)
	if !ok {
		l = Unknown
	}
	return Answer{Label: l, OK: ok, Tokens: r.Tokens + r2.Tokens, Retried: true}, nil
}
