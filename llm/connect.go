package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Connect is what a command does with its --llm-url, --llm-model and --judge flags: urls is a
// comma-separated list; when it is empty the embedded server starts with parallel slots,
// serving embedded (an EmbeddedModels name or a GGUF file's path; "" is DefaultJudge), and
// note, when set, is told so. The API key comes from OPENAI_API_KEY and is required for
// api.openai.com. The servers are checked. stop ends the embedded server (a no-op otherwise).
func Connect(ctx context.Context, urls, model, embedded string, concurrency int, note io.Writer, noteText string) (c *Client, stop func(), err error) {
	stop = func() {}
	var list []string
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			list = append(list, u)
		}
	}
	if len(list) == 0 {
		if embedded == "" {
			embedded = DefaultJudge
		}
		path, name, err := ResolveModel(embedded)
		if err != nil {
			return nil, stop, err
		}
		if note != nil {
			fmt.Fprintln(note, strings.ReplaceAll(noteText, "{model}", name))
		}
		srv, err := StartServer(ctx, ServerOptions{Model: path, Name: name, Parallel: max(concurrency, 1)})
		if err != nil {
			return nil, stop, err
		}
		stop = func() { srv.Stop() }
		list = []string{srv.URL()}
		if model == "" {
			model = srv.Name()
		}
	}
	if model == "" {
		stop()
		return nil, func() {}, errors.New("--llm-model is required with --llm-url (the name the server serves)")
	}
	hosted := false
	for _, u := range list {
		hosted = hosted || strings.Contains(u, "api.openai.com")
	}
	c, err = New(Options{URLs: list, Model: model, APIKey: os.Getenv("OPENAI_API_KEY"), RequireKey: hosted, Concurrency: concurrency})
	if err == nil {
		err = c.Check(ctx)
	}
	if err != nil {
		stop()
		return nil, func() {}, err
	}
	return c, stop, nil
}
