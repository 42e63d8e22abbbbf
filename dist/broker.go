package dist

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Protocol is the version of the layout and headers Maestro puts on a broker; a run created
// under another one is refused.
const Protocol = "1"

// Embedded is an in-process NATS server with JetStream, its store in a folder.
type Embedded struct {
	s *server.Server
}

// StartEmbedded starts a NATS server with JetStream storing under dir, listening on listen
// (host:port; port 0 picks a free one); a non-empty token is required of every client.
// Restarting on the same dir keeps every stream, message and consumer position.
func StartEmbedded(dir, listen, token string) (*Embedded, error) {
	host, port, err := splitListen(listen)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dist: broker store %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = -1 // nats-server's "any free port"
	}
	s, err := server.NewServer(&server.Options{ServerName: "maestro", Host: host, Port: port, JetStream: true, StoreDir: abs,
		NoSigs: true, NoLog: true, MaxPayload: 1 << 20, Authorization: token})
	if err != nil {
		return nil, fmt.Errorf("dist: broker on %s: %w", listen, err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("dist: the embedded broker did not start listening on %s within 30s (is the port taken? pass another host:port)", listen)
	}
	return &Embedded{s: s}, nil
}

// URL is where clients connect (nats://host:port).
func (e *Embedded) URL() string { return e.s.ClientURL() }

// Close shuts the server down and waits for it.
func (e *Embedded) Close() {
	e.s.Shutdown()
	e.s.WaitForShutdown()
}

func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("dist: listen address %q: %v; use host:port, e.g. 127.0.0.1:4222", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("dist: listen address %q: port %q is not 0-65535", listen, p)
	}
	return host, port, nil
}

// Redact returns u with any password or token replaced by "xxxxx", for logs and files.
func Redact(u string) string {
	out := make([]string, 0, 1)
	for _, one := range strings.Split(u, ",") {
		p, err := url.Parse(strings.TrimSpace(one))
		if err != nil || p.User == nil {
			if err != nil && strings.Contains(one, "@") {
				one = "xxxxx@" + one[strings.LastIndex(one, "@")+1:]
			}
			out = append(out, one)
			continue
		}
		if _, has := p.User.Password(); has {
			p.User = url.UserPassword(p.User.Username(), "xxxxx")
		} else {
			p.User = url.User("xxxxx") // a bare token
		}
		out = append(out, p.String())
	}
	return strings.Join(out, ",")
}

// ReadToken reads an auth token file (surrounding white space dropped); an empty one is refused.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("dist: token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("dist: token file %s is empty; put the broker's token in it", path)
	}
	return tok, nil
}

// ConnectOptions say how to reach a broker.
type ConnectOptions struct {
	// Name identifies the client in the server's monitoring.
	Name string
	// TokenFile, when set, holds the token to authenticate with (a URL may carry user:password
	// or a token itself).
	TokenFile string
	// Timeout bounds each dial (0: 5s); once connected, the client reconnects forever.
	Timeout time.Duration
	// Wait is how long to keep dialling a broker that refuses connections (not yet started, or
	// restarting) before giving up; 0 fails at once. Processes of one run start in any order
	// (a Kubernetes Deployment, a Slurm job step), so train waits 30s by default.
	Wait time.Duration
}

// Connect dials url (one or more comma-separated nats:// URLs). An unreachable broker fails
// once o.Wait has passed, with the URL (credentials redacted); once connected, the client
// reconnects through broker restarts and buffers what it publishes meanwhile.
func Connect(u string, o ConnectOptions) (*nats.Conn, error) {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	opts := []nats.Option{nats.Name(o.Name), nats.Timeout(o.Timeout), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.ReconnectBufSize(64 << 20)}
	if o.TokenFile != "" {
		tok, err := ReadToken(o.TokenFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Token(tok))
	}
	deadline := time.Now().Add(o.Wait)
	nc, err := nats.Connect(u, opts...)
	for err != nil && errors.Is(err, nats.ErrNoServers) && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		nc, err = nats.Connect(u, opts...)
	}
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) {
			waited := ""
			if o.Wait > 0 {
				waited = fmt.Sprintf(" for %v", o.Wait)
			}
			return nil, fmt.Errorf("dist: no broker answered at %s%s (%v); start one (train broker, or --broker embedded), fix the URL, or wait longer (--broker-wait)", Redact(u), waited, err)
		}
		if errors.Is(err, nats.ErrAuthorization) {
			return nil, fmt.Errorf("dist: broker %s refused the credentials (%v); pass its token with --broker-token-file", Redact(u), err)
		}
		return nil, fmt.Errorf("dist: broker %s: %v", Redact(u), err)
	}
	return nc, nil
}
