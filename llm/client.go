package llm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"
)

// Options configure a Client.
type Options struct {
	// URLs are the servers' base URLs up to /v1 ("http://127.0.0.1:8080/v1"); requests go to
	// them in turn.
	URLs []string
	// APIKey is sent as a bearer token; "" sends none (local servers). RequireKey makes an empty
	// key an error (for hosted APIs).
	APIKey     string
	RequireKey bool
	// Model is the served model's name.
	Model string
	// Concurrency bounds the requests in flight; 0 means 4.
	Concurrency int
	// MaxRetries is how often a request answered with 429 or 5xx is sent again; 0 means 6.
	MaxRetries int
	// Timeout bounds one request, retries included; 0 means 5 minutes.
	Timeout time.Duration
}

// Validate reports a missing or out-of-range option: a URL and a model are needed, a key when
// RequireKey is set, and the counts and the timeout must not be negative (0: the defaults).
func (o Options) Validate() error {
	switch {
	case len(o.URLs) == 0:
		return errors.New("llm: no server URL; pass one (e.g. --llm-url http://127.0.0.1:8080/v1) or let the embedded server start")
	case o.Model == "":
		return errors.New("llm: no model name; pass the name the server serves (e.g. --llm-model)")
	case o.RequireKey && o.APIKey == "":
		return errors.New("llm: an API key is required for this server and none was given; set OPENAI_API_KEY (it is never written to logs or files)")
	case o.Concurrency < 0 || o.MaxRetries < 0 || o.Timeout < 0:
		return fmt.Errorf("llm: Options.Concurrency %d, MaxRetries %d and Timeout %v must not be negative (0: 4, 6, 5 minutes)", o.Concurrency, o.MaxRetries, o.Timeout)
	}
	return nil
}

// Client sends chat requests.
type Client struct {
	o       Options
	shown   []string // the URLs without credentials, for errors and provenance
	secrets []string // what scrub removes: the key and the URLs' credentials
	clients []*openai.Client
	// transports are the clients' retrying transports (tests replace their sleep).
	transports []http.RoundTripper
	next       atomic.Uint64
	slots      chan struct{}
	// Stats, updated atomically: requests answered, retries, prompt and completion tokens.
	Requests, Retries, PromptTokens, CompletionTokens atomic.Int64
	perURL                                            []atomic.Int64
}

// RequestsPerURL returns the requests each server answered, in Options.URLs' order.
func (c *Client) RequestsPerURL() []int64 {
	out := make([]int64, len(c.perURL))
	for i := range c.perURL {
		out[i] = c.perURL[i].Load()
	}
	return out
}

// New returns a client; it does not contact the servers (Check does).
func New(o Options) (*Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 6
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	c := &Client{o: o, slots: make(chan struct{}, o.Concurrency), perURL: make([]atomic.Int64, len(o.URLs))}
	if o.APIKey != "" {
		c.secrets = append(c.secrets, o.APIKey)
	}
	for _, u := range o.URLs {
		shown, secrets := Redact(u)
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("llm: server URL %q must start with http:// or https://", shown)
		}
		c.shown, c.secrets = append(c.shown, shown), append(c.secrets, secrets...)
		cfg := openai.DefaultConfig(o.APIKey)
		cfg.BaseURL = strings.TrimSuffix(u, "/")
		rt := &retryTransport{base: http.DefaultTransport, max: o.MaxRetries, retries: &c.Retries}
		cfg.HTTPClient = &http.Client{Transport: rt}
		c.transports = append(c.transports, rt)
		c.clients = append(c.clients, openai.NewClientWithConfig(cfg))
	}
	return c, nil
}

// URLs returns the servers' base URLs without their credentials (see Redact).
func (c *Client) URLs() []string { return append([]string(nil), c.shown...) }

// Redact returns u without credentials: no user:password@, and the values of query
// parameters whose names hold "key", "token", "secret" or "auth" replaced; secrets are the
// removed values.
func Redact(u string) (shown string, secrets []string) {
	p, err := url.Parse(u)
	if err != nil { // not a URL: show only its scheme and host-like start, nothing after an @
		if i := strings.LastIndex(u, "@"); i >= 0 {
			return "[credentials]@" + u[i+1:], []string{u[:i]}
		}
		return u, nil
	}
	if p.User != nil {
		secrets = append(secrets, p.User.Username())
		if pw, ok := p.User.Password(); ok {
			secrets = append(secrets, pw)
		}
		p.User = nil
	}
	if q := p.Query(); len(q) > 0 {
		changed := false
		for k, vs := range q {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "key") || strings.Contains(lk, "token") || strings.Contains(lk, "secret") || strings.Contains(lk, "auth") {
				secrets = append(secrets, vs...)
				q[k] = []string{"redacted"}
				changed = true
			}
		}
		if changed {
			p.RawQuery = q.Encode()
		}
	}
	return p.String(), slices.DeleteFunc(secrets, func(s string) bool { return s == "" })
}

// Model returns the model's name.
func (c *Client) Model() string { return c.o.Model }

// Check asks every server for its models and fails, naming the URL, when one cannot be
// reached or does not serve the model.
func (c *Client) Check(ctx context.Context) error {
	for i, cl := range c.clients {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		list, err := cl.ListModels(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("llm: server %s: %w (is it running? check the URL)", c.shown[i], c.scrub(err))
		}
		var names []string
		for _, m := range list.Models {
			if m.ID == c.o.Model || strings.TrimSuffix(m.ID, ".gguf") == c.o.Model {
				names = nil
				break
			}
			names = append(names, m.ID)
		}
		if names != nil {
			return c.scrub(fmt.Errorf("llm: server %s does not serve model %q; it serves: %s", c.shown[i], c.o.Model, clip(strings.Join(names, ", "))))
		}
	}
	return nil
}

// Request is one chat completion.
type Request struct {
	Messages []openai.ChatCompletionMessage
	// MaxTokens bounds the answer; 0 means the server's limit.
	MaxTokens int
	// Temperature; go-openai drops a zero, so 0 means the server's default.
	Temperature, TopP float32
	// TopLogProbs > 0 asks for that many most likely first tokens (at most 20).
	TopLogProbs int
	Seed        *int
}

// Reply is an answer: the text and, when asked, the first token's top log-probabilities.
type Reply struct {
	Text     string
	TopFirst map[string]float64
	Tokens   int // prompt + completion
}

// Chat sends r to the next server in turn, waiting for a free slot.
func (c *Client) Chat(ctx context.Context, r Request) (Reply, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
	defer func() { <-c.slots }()
	i := int(c.next.Add(1)-1) % len(c.clients)
	req := openai.ChatCompletionRequest{Model: c.o.Model, Messages: r.Messages, MaxTokens: r.MaxTokens,
		Temperature: r.Temperature, TopP: r.TopP, Seed: r.Seed}
	if r.TopLogProbs > 0 {
		req.LogProbs, req.TopLogProbs = true, r.TopLogProbs
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	resp, err := c.clients[i].CreateChatCompletion(ctx, req)
	if err != nil {
		return Reply{}, fmt.Errorf("llm: %s: %w", c.shown[i], c.scrub(err))
	}
	if len(resp.Choices) == 0 {
		return Reply{}, fmt.Errorf("llm: %s answered with no choices", c.shown[i])
	}
	c.Requests.Add(1)
	c.perURL[i].Add(1)
	c.PromptTokens.Add(int64(resp.Usage.PromptTokens))
	c.CompletionTokens.Add(int64(resp.Usage.CompletionTokens))
	ch := resp.Choices[0]
	out := Reply{Text: ch.Message.Content, Tokens: resp.Usage.TotalTokens}
	if ch.LogProbs != nil && len(ch.LogProbs.Content) > 0 {
		first := ch.LogProbs.Content[0]
		out.TopFirst = map[string]float64{first.Token: first.LogProb}
		for _, t := range first.TopLogProbs {
			if old, ok := out.TopFirst[t.Token]; !ok || t.LogProb > old {
				out.TopFirst[t.Token] = t.LogProb
			}
		}
	}
	return out, nil
}

// maxErrorText bounds the part of a server's answer an error carries (a proxy's HTML page
// was once a 120,263-character error line).
const maxErrorText = 300

// clip cuts s to maxErrorText characters, saying how much it left out.
func clip(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... [%d more bytes]", len(s)-cut)
}

// scrub removes the key and the URLs' credentials from an error's text (some servers echo
// the request), and any part of them of 8 characters or more (a server that echoes a key's
// start); then it clips the text.
func (c *Client) scrub(err error) error {
	msg := err.Error()
	for _, sec := range c.secrets {
		msg = redactSecret(msg, sec)
	}
	if i := strings.Index(msg, "body: <"); i >= 0 { // go-openai quotes a body it cannot parse
		msg = msg[:i] + fmt.Sprintf("body: an HTML page of %d bytes (a proxy or gateway answered, not the LLM server)", len(msg)-i-6)
	}
	if msg == err.Error() && len(msg) <= maxErrorText {
		return err
	}
	return errors.New(clip(msg))
}

// redactSecret replaces in msg every occurrence of secret and of any prefix or suffix of it of
// at least 8 characters.
func redactSecret(msg, secret string) string {
	const minPart = 8
	if len(secret) < minPart {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[api key]")
		}
		return msg
	}
	msg = strings.ReplaceAll(msg, secret, "[api key]")
	for n := len(secret) - 1; n >= minPart; n-- {
		msg = strings.ReplaceAll(msg, secret[:n], "[api key]")
		msg = strings.ReplaceAll(msg, secret[len(secret)-n:], "[api key]")
	}
	return msg
}

// retryTransport sends a request again when the server answers 429 or 5xx, after the server's
// Retry-After when it gives one, else after an exponential backoff with jitter (0.5 s
// doubling, at most 30 s). Connection failures are returned at once: an unreachable server
// fails fast.
type retryTransport struct {
	base    http.RoundTripper
	max     int
	retries *atomic.Int64
	sleep   func(ctx context.Context, d time.Duration) error // nil: a timer
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 && req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				return nil, fmt.Errorf("cannot connect to %s://%s: %w", req.URL.Scheme, req.URL.Host, err)
			}
			return nil, err
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 || attempt >= t.max {
			return resp, nil
		}
		asked := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		wait := asked
		if dl, ok := req.Context().Deadline(); ok && asked > time.Until(dl) {
			resp.Body.Close()
			return nil, fmt.Errorf("the server answered %d %s and asked to wait %v (Retry-After), past the %v left of this request's budget; rerun later (answers so far are kept)",
				resp.StatusCode, http.StatusText(resp.StatusCode), asked.Round(time.Second), time.Until(dl).Round(time.Second))
		}
		if wait < 0 {
			wait = time.Duration(float64(500*time.Millisecond) * math.Pow(2, float64(attempt)) * (0.5 + rand.Float64()))
			wait = min(wait, 30*time.Second)
		}
		resp.Body.Close()
		t.retries.Add(1)
		sleep := t.sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// retryAfter parses a Retry-After header (seconds or an HTTP date); -1 when absent or invalid.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now))
	}
	return -1
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
