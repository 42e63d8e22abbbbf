package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/maestro-rl/maestro/llm"
)

// Server serves the model "stand-in" and answers each chat request with reply(n, messages), n counting requests from 0, and
// records the conversations.
type Server struct {
	mu    sync.Mutex
	convs [][]openai.ChatCompletionMessage
	URL   string
}

// Start starts a stand-in server closed at the end of the test.
func Start(t *testing.T, reply func(n int, msgs []openai.ChatCompletionMessage) string) *Server {
	s := &Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/models") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"object":"list","data":[{"id":"stand-in","object":"model"}]}`)
			return
		}
		var req openai.ChatCompletionRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		n := len(s.convs)
		s.convs = append(s.convs, req.Messages)
		s.mu.Unlock()
		b, _ := json.Marshal(reply(n, req.Messages))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":%s}}],"usage":{"total_tokens":10}}`, b)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/v1"
	return s
}

// Client returns a client of the server.
func (s *Server) Client(t *testing.T, concurrency int) *llm.Client {
	c, err := llm.New(llm.Options{URLs: []string{s.URL}, Model: "stand-in", Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Conversations returns the requests' messages so far.
func (s *Server) Conversations() [][]openai.ChatCompletionMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]openai.ChatCompletionMessage(nil), s.convs...)
}
