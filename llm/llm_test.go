package llm

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// startEmbedded starts the real embedded server (make test's setup installs it).
func startEmbedded(t *testing.T) *Server {
	t.Helper()
	s, err := StartServer(context.Background(), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// TestEmbeddedServer starts llama-server with SmolLM2, checks the model list, asks a one-token
// question with log-probabilities and a short generative one, and stops the server.
func TestEmbeddedServer(t *testing.T) {
	s := startEmbedded(t)
	c, err := New(Options{URLs: []string{s.URL()}, Model: s.Name()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	bad, _ := New(Options{URLs: []string{s.URL()}, Model: "llama-70b"})
	if err := bad.Check(ctx); err == nil || !strings.Contains(err.Error(), "llama-70b") || !strings.Contains(err.Error(), s.Name()) {
		t.Errorf("a model the server does not serve: %v; want an error naming it and the served one", err)
	}
	r, err := c.Chat(ctx, Request{Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "Pick a number: 1 or 2? Answer with one digit."}},
		MaxTokens: 1, Temperature: 0.1, TopLogProbs: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.TopFirst) < 2 {
		t.Errorf("top log-probabilities of the first token: %v; want several", r.TopFirst)
	}
	for tok, lp := range r.TopFirst {
		if lp > 0 || lp < -100 {
			t.Errorf("token %q has log-probability %g", tok, lp)
		}
	}
	g, err := c.Chat(ctx, Request{Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "Say hello."}}, MaxTokens: 8, Temperature: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if g.Text == "" || c.Requests.Load() != 2 || c.PromptTokens.Load() == 0 {
		t.Errorf("answer %q, %d requests, %d prompt tokens", g.Text, c.Requests.Load(), c.PromptTokens.Load())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(strings.TrimSuffix(s.URL(), "/v1") + "/health"); err == nil {
		t.Error("the server still answers after Stop")
	}
}

// The fault tests use an httptest server as a stand-in: a real server cannot be made to answer
// 429 or 503 on demand.
func TestRetriesHonourRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","content":"best_message: 2"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`)
		}
	}))
	defer srv.Close()
	c, err := New(Options{URLs: []string{srv.URL + "/v1"}, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	rt := findRetry(t, c)
	rt.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	r, err := c.Chat(context.Background(), Request{Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "best_message: 2" || calls.Load() != 3 || c.Retries.Load() != 2 {
		t.Fatalf("answer %q after %d calls and %d retries; want the third call's answer", r.Text, calls.Load(), c.Retries.Load())
	}
	if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] < 500*time.Millisecond || waits[1] > 1500*time.Millisecond {
		t.Errorf("waits %v; want 7s (Retry-After) then the second attempt's backoff of 0.5-1.5s", waits)
	}
	if d := retryAfter(time.Unix(1000, 0).UTC().Format(http.TimeFormat), time.Unix(990, 0)); d != 10*time.Second {
		t.Errorf("Retry-After as an HTTP date 10 s ahead: %v", d)
	}
}

func findRetry(t *testing.T, c *Client) *retryTransport {
	t.Helper()
	// The transport is reachable through the config each client was made with; keep a handle.
	rt, ok := c.transports[0].(*retryTransport)
	if !ok {
		t.Fatal("no retry transport")
	}
	return rt
}

func TestErrorsNameTheProblem(t *testing.T) {
	// An unreachable server fails fast (no retries), naming the URL.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/v1"
	dead.Close()
	c, _ := New(Options{URLs: []string{url}, Model: "m"})
	if err := c.Check(context.Background()); err == nil || !strings.Contains(err.Error(), url) {
		t.Errorf("unreachable server: %v; want an error naming %s", err, url)
	}
	if _, err := c.Chat(context.Background(), Request{Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "x"}}}); err == nil || c.Retries.Load() != 0 {
		t.Errorf("a request to an unreachable server: %v after %d retries; want an error and no retry", err, c.Retries.Load())
	}
	if _, err := New(Options{URLs: []string{"http://x/v1"}, Model: "m", RequireKey: true}); err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := New(Options{URLs: []string{"localhost:8080"}, Model: "m"}); err == nil {
		t.Error("a URL without scheme accepted")
	}
	// A server that echoes the request's authorization in its error: the key never shows.
	const key = "sk-secret-123456"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":"bad request with %s"}}`, r.Header.Get("Authorization"))
	}))
	defer echo.Close()
	c, _ = New(Options{URLs: []string{echo.URL + "/v1"}, Model: "m", APIKey: key})
	_, err := c.Chat(context.Background(), Request{Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "x"}}})
	if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "[api key]") {
		t.Errorf("error %v; want the key replaced by [api key]", err)
	}
}

// TestTwoEndpoints spreads requests over two real servers in turn.
func TestTwoEndpoints(t *testing.T) {
	a, b := startEmbedded(t), startEmbedded(t)
	c, err := New(Options{URLs: []string{a.URL(), b.URL()}, Model: a.Name(), Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if _, err := c.Chat(context.Background(), Request{Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "1 or 2?"}}, MaxTokens: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.RequestsPerURL(); got[0] != 3 || got[1] != 3 {
		t.Errorf("requests per server %v, want [3 3]", got)
	}
}

// TestEmbeddedModelVerify: a missing model and one whose bytes differ from the pinned checksum
// are errors that name the setup command installing it; a file path is served under its name.
func TestEmbeddedModelVerify(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MAESTRO_CACHE", dir)
	m, err := FindEmbeddedModel("qwen2.5-coder-1.5b-instruct")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ResolveModel(m.Name); err == nil || !strings.Contains(err.Error(), "setup.sh --coder") || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("missing model: %v", err)
	}
	os.MkdirAll(filepath.Dir(m.Path()), 0o755)
	os.WriteFile(m.Path(), []byte("GGUF but not the model"), 0o644)
	if err := m.Verify(); err == nil || !strings.Contains(err.Error(), "setup.sh --coder") || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("damaged model: %v", err)
	}
	if _, err := os.Stat(m.Path() + ".verified"); err == nil {
		t.Error("a damaged model was stamped as verified")
	}
	if _, _, err := ResolveModel("gpt-17"); err == nil || !strings.Contains(err.Error(), "smollm2-135m-instruct") {
		t.Errorf("unknown name: %v; want the embedded names listed", err)
	}
	f := filepath.Join(dir, "my-judge.gguf")
	os.WriteFile(f, []byte("x"), 0o644)
	if p, name, err := ResolveModel(f); err != nil || p != f || name != "my-judge" {
		t.Errorf("a file: got %q %q %v", p, name, err)
	}
}

// TestHostileServers replays the hostile run's server answers (loopback stand-ins: a real
// server cannot be made to send them on demand): a 429 asking to wait 100,000 s, a 502 with a
// 120 kB HTML page, a server echoing the first 12 characters of the key, and credentials in
// the URL. Each ends in a short error that says what happened and shows no secret.
func TestHostileServers(t *testing.T) {
	const key = "sk-live-0123456789abcdefghij"
	msgs := Request{Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "x"}}}
	t.Run("Retry-After past the budget", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "100000")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		defer srv.Close()
		c, _ := New(Options{URLs: []string{srv.URL + "/v1"}, Model: "m", Timeout: 20 * time.Second})
		start := time.Now()
		_, err := c.Chat(context.Background(), msgs)
		if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "asked to wait 27h46m40s") {
			t.Errorf("error %v; want the 429 and the wait it asked for", err)
		}
		t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	})
	t.Run("502 with an HTML page", func(t *testing.T) {
		page := "<html><body>" + strings.Repeat("<p>Bad gateway, the upstream LLM is down.</p>", 2700) + "</body></html>"
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, page)
		}))
		defer srv.Close()
		c, _ := New(Options{URLs: []string{srv.URL + "/v1"}, Model: "m", MaxRetries: 1})
		findRetry(t, c).sleep = func(context.Context, time.Duration) error { return nil }
		_, err := c.Chat(context.Background(), msgs)
		if err == nil || len(err.Error()) > 400 || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "an HTML page of") {
			t.Errorf("error of %d characters: %.300v; want the 502 in at most 400 characters, the page summarised", len(fmt.Sprint(err)), err)
		}
	})
	t.Run("500 with 10 kB of text", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"error":{"message":"%s"}}`, strings.Repeat("stack frame ", 900))
		}))
		defer srv.Close()
		c, _ := New(Options{URLs: []string{srv.URL + "/v1"}, Model: "m", MaxRetries: 1})
		findRetry(t, c).sleep = func(context.Context, time.Duration) error { return nil }
		_, err := c.Chat(context.Background(), msgs)
		if err == nil || len(err.Error()) > 400 || !strings.Contains(err.Error(), "more bytes]") {
			t.Errorf("error of %d characters: %.300v; want it cut to at most 400", len(fmt.Sprint(err)), err)
		}
	})
	t.Run("a server echoing the key's start", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s****. Check it."}}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")[:12])
		}))
		defer srv.Close()
		c, _ := New(Options{URLs: []string{srv.URL + "/v1"}, Model: "m", APIKey: key})
		_, err := c.Chat(context.Background(), msgs)
		if err == nil || strings.Contains(err.Error(), key[:12]) || strings.Contains(err.Error(), key[:8]) {
			t.Errorf("error %v shows the key's start", err)
		}
	})
	t.Run("credentials in the URL", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		host := strings.TrimPrefix(dead.URL, "http://")
		dead.Close()
		u := "http://alice:" + key + "@" + host + "/v1?api_key=" + key + "&x=1"
		c, err := New(Options{URLs: []string{u}, Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Check(context.Background())
		for _, shown := range append(c.URLs(), fmt.Sprint(err)) {
			if strings.Contains(shown, key[:8]) || strings.Contains(shown, "alice") {
				t.Errorf("%q shows a credential", shown)
			}
		}
		if got := c.URLs()[0]; got != "http://"+host+"/v1?api_key=redacted&x=1" {
			t.Errorf("URLs() = %q; want the URL without its credentials", got)
		}
	})
}
