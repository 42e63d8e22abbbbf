// Package proctest runs a command's own test binary as the command, in processes a test can
// SIGKILL: the kill tests of train (actors, learner, broker) and annotate (workers).
package proctest

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// Main is a TestMain body: with env=1 in the environment the binary runs main (it was
// started by Spawn), otherwise the tests.
func Main(m *testing.M, env string, main func()) {
	if os.Getenv(env) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Proc is a spawned command.
type Proc struct {
	Cmd  *exec.Cmd
	Done chan error // receives the exit once
	out  buffer
}

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Out returns what the process has printed so far (stdout and stderr), safe while it runs.
func (p *Proc) Out() string {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.b.String()
}

// Spawn starts this test binary as the command with args (env=1 set: see Main); the test's
// cleanup kills it.
func Spawn(t *testing.T, env string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), env+"=1")
	p := &Proc{Cmd: cmd, Done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return p
}

// Kill SIGKILLs the process and waits for it.
func (p *Proc) Kill(t *testing.T) {
	t.Helper()
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Done
}
