package skills

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.starlark.net/starlark"
)

// sandboxes is the pool of idle sandbox processes, by memory limit.
var sandboxes = &pool{idle: map[int64][]*worker{}}

type pool struct {
	mu   sync.Mutex
	idle map[int64][]*worker
}

// get takes an idle sandbox process with the memory limit, or starts one.
func (pl *pool) get(mem int64) (*worker, error) {
	pl.mu.Lock()
	if ws := pl.idle[mem]; len(ws) > 0 {
		w := ws[len(ws)-1]
		pl.idle[mem] = ws[:len(ws)-1]
		pl.mu.Unlock()
		return w, nil
	}
	pl.mu.Unlock()
	return startWorker(mem)
}

// put returns a live process to the pool.
func (pl *pool) put(w *worker) {
	pl.mu.Lock()
	pl.idle[w.mem] = append(pl.idle[w.mem], w)
	pl.mu.Unlock()
}

// maxLoaded is how many programs one sandbox process keeps loaded; the least recently used
// is unloaded past it (the coder loads hundreds of candidates).
const maxLoaded = 32

// worker is one sandbox process, used by one goroutine at a time.
type worker struct {
	mem    int64
	cmd    *exec.Cmd
	req    *os.File // requests, written here
	rep    *bufio.Reader
	repF   *os.File
	stderr *head
	loaded map[uint64]uint64 // program id -> last use
	tick   uint64
	enc    encoder
	buf    []byte

	dead   bool
	mu     sync.Mutex // guards killed
	killed string     // why the parent killed it, if it did
}

func startWorker(mem int64) (*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot start a sandbox process: %w", err)
	}
	reqR, reqW, err := pipe()
	if err != nil {
		return nil, fmt.Errorf("cannot start a sandbox process: %w", err)
	}
	repR, repW, err := pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("cannot start a sandbox process: %w", err)
	}
	syscall.SetNonblock(int(repR.Fd()), true)
	w := &worker{mem: mem, req: reqW, repF: repR, rep: bufio.NewReader(&spinReader{fd: int(repR.Fd())}), stderr: &head{max: 4096}, loaded: map[uint64]uint64{}}
	w.cmd = exec.Command(exe)
	w.cmd.Env = append(os.Environ(), childEnv+"="+strconv.FormatInt(mem, 10), "GOTRACEBACK=single")
	w.cmd.ExtraFiles = []*os.File{reqR, repW}
	w.cmd.Stderr = w.stderr
	err = w.cmd.Start()
	reqR.Close()
	repW.Close()
	if err != nil {
		reqW.Close()
		repR.Close()
		return nil, fmt.Errorf("cannot start a sandbox process (%s): %w", exe, err)
	}
	return w, nil
}

// pipe makes a pipe with blocking ends: the runtime's poller measured 72 us per call on the
// 2-core test machine (BenchmarkSandboxCall), raw reads 13-30 us.
func pipe() (r, w *os.File, err error) {
	var fd [2]int
	if err := syscall.Pipe2(fd[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd[0]), "sandbox-pipe"), os.NewFile(uintptr(fd[1]), "sandbox-pipe"), nil
}

// spinReader reads a non-blocking pipe, spinning up to spinFor before it blocks: a reply
// usually comes within tens of microseconds, and a thread that blocked must be woken (train
// --skills, 8 envs, 20,480 frames, twice each: 1,173 and 1,269 frames/s blocking at once,
// 1,254 and 1,284 spinning first; 1,311 and 1,248 with the code run in-process).
type spinReader struct{ fd int }

func (r *spinReader) Read(p []byte) (int, error) {
	start := time.Now()
	for {
		n, err := syscall.Read(r.fd, p)
		if err == syscall.EAGAIN {
			if time.Since(start) < spinFor {
				continue
			}
			syscall.SetNonblock(r.fd, false)
			n, err = syscall.Read(r.fd, p)
			syscall.SetNonblock(r.fd, true)
		}
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

const spinFor = 200 * time.Microsecond

// kill ends the process (once), recording why.
func (w *worker) kill(why string) {
	w.mu.Lock()
	if w.killed == "" {
		w.killed = why
	}
	w.mu.Unlock()
	w.cmd.Process.Kill()
}

// roundtrip sends one request and reads its reply; the process is killed if no reply comes
// within limit or ctx ends. A failed roundtrip leaves the worker dead, with an error saying
// why the process ended.
func (w *worker) roundtrip(ctx context.Context, payload []byte, limit time.Duration, l Limits) (byte, *decoder, error) {
	timer := time.AfterFunc(limit, func() { w.kill("time") })
	stopCtx := context.AfterFunc(ctx, func() { w.kill("cancel") })
	err := writeFrame(w.req, payload)
	if err == nil {
		w.buf, err = readFrame(w.rep, w.buf)
	}
	// A watchdog that fired (or is firing) after the reply arrived has killed the process
	// anyway: it must not go back to the pool.
	stoppedTimer, stoppedCtx := timer.Stop(), stopCtx()
	if err == nil && (!stoppedTimer || !stoppedCtx) {
		err = errors.New("the process was killed as its reply arrived")
	}
	if err == nil && len(w.buf) == 0 {
		err = errShort
	}
	if err != nil {
		return 0, nil, w.died(ctx, err, l)
	}
	return w.buf[0], &decoder{b: w.buf[1:]}, nil
}

// died reaps the process and describes its end.
func (w *worker) died(ctx context.Context, ioErr error, l Limits) error {
	w.dead = true
	w.kill("")
	w.req.Close()
	w.repF.Close()
	state := w.cmd.Wait()
	w.mu.Lock()
	why := w.killed
	w.mu.Unlock()
	peak := ""
	if ps := w.cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			peak = fmt.Sprintf("; its peak memory was %d MiB", ru.Maxrss>>10)
		}
	}
	msg := w.stderr.String()
	switch {
	case why == "time":
		return fmt.Errorf("time limit exceeded: one call ran past %v plus %v of grace, inside a single builtin call (sorted, replace, str ... on a huge value?), so its sandbox process was killed", l.Timeout, l.grace())
	case why == "cancel":
		return fmt.Errorf("cancelled: %w", ctx.Err())
	case strings.Contains(msg, "out of memory"), strings.Contains(msg, "cannot allocate memory"):
		return fmt.Errorf("memory limit exceeded: the code asked for more than the sandbox's %d MiB (a huge list or string, or a state that grows every call?), so its sandbox process ended%s", l.Memory>>20, peak)
	}
	if msg = strings.TrimSpace(msg); len(msg) > 500 {
		msg = msg[:500] + "..."
	}
	return fmt.Errorf("the sandbox process ended (%v; %v)%s: %s", state, ioErr, peak, msg)
}

// ensure loads p into the process if it is not loaded, unloading the least recently used
// program past maxLoaded.
func (w *worker) ensure(ctx context.Context, p *Program) error {
	w.tick++
	if _, ok := w.loaded[p.id]; ok {
		w.loaded[p.id] = w.tick
		return nil
	}
	_, err := w.load(p)
	return err
}

// makeRoom unloads the least recently used program when maxLoaded are loaded.
func (w *worker) makeRoom(l Limits) error {
	if len(w.loaded) < maxLoaded {
		return nil
	}
	var old, oldest uint64 = 0, ^uint64(0)
	for id, t := range w.loaded {
		if t < oldest {
			old, oldest = id, t
		}
	}
	w.enc.b = append(w.enc.b[:0], opUnload)
	w.enc.uint(old)
	if _, _, err := w.roundtrip(context.Background(), w.enc.b, time.Second+l.grace(), l); err != nil {
		return err
	}
	delete(w.loaded, old)
	return nil
}

// load loads p into the process (making room first) and returns the functions it defines.
func (w *worker) load(p *Program) ([]string, error) {
	if err := w.makeRoom(p.limits); err != nil {
		return nil, err
	}
	w.tick++
	e := &w.enc
	e.b = append(e.b[:0], opLoad)
	e.uint(p.id)
	e.string(p.name)
	e.string(p.src)
	e.uint(uint64(len(p.want)))
	for _, s := range p.want {
		e.string(s.Name)
		e.uint(uint64(len(s.Params)))
		for _, q := range s.Params {
			e.string(q)
		}
	}
	e.uint(p.limits.Steps)
	e.int(int64(p.limits.Timeout))
	kind, d, err := w.roundtrip(context.Background(), e.b, p.limits.Timeout+p.limits.grace(), p.limits)
	if err != nil {
		return nil, err // the process ended; the caller names the program
	}
	if kind == replyErr {
		return nil, errors.New(string(d.b))
	}
	funcs := make([]string, d.count())
	for i := range funcs {
		funcs[i] = d.string()
	}
	if d.err != nil {
		return nil, fmt.Errorf("skills: %s: %w", p.name, d.err)
	}
	w.loaded[p.id] = w.tick
	return funcs, nil
}

// Call is one call of a batch: a function and its arguments.
type Call struct {
	Fn   string
	Args []starlark.Value
}

// calls runs a batch of p's calls in the process, in order, in one roundtrip; each call has
// its own limits. A failed roundtrip (the process ended) is the returned error; a call's own
// failure is its entry in errs.
func (w *worker) calls(ctx context.Context, p *Program, batch []Call, vals []starlark.Value, errs []error) error {
	if err := w.ensure(ctx, p); err != nil {
		return err
	}
	for _, c := range batch {
		for _, a := range c.Args {
			if f, ok := a.(funcRef); ok {
				if err := w.ensure(ctx, f.p); err != nil {
					return err
				}
			}
		}
	}
	e := &w.enc
	e.b = append(e.b[:0], opCall)
	e.uint(p.id)
	e.uint(uint64(p.limits.MaxValue))
	e.uint(uint64(len(batch)))
	for _, c := range batch {
		e.string(c.Fn)
		e.uint(uint64(len(c.Args)))
		for i, a := range c.Args {
			if err := e.value(a, 0, 0); err != nil {
				return fmt.Errorf("%s: argument %d: %w", c.Fn, i+1, err)
			}
		}
	}
	limit := time.Duration(len(batch))*p.limits.Timeout + p.limits.grace()
	kind, d, err := w.roundtrip(ctx, e.b, limit, p.limits)
	if err != nil {
		return err
	}
	if kind == replyErr {
		return errors.New(string(d.b))
	}
	for i := range batch {
		switch d.byte() {
		case replyOK:
			vals[i] = d.value(0)
		case replyErr:
			errs[i] = errors.New(d.string())
		default:
			d.fail(errors.New("bad reply kind"))
		}
	}
	if d.err != nil {
		return fmt.Errorf("reading the sandbox's reply: %w", d.err)
	}
	return nil
}

// head keeps the first max bytes written to it (a sandbox process's stderr: the runtime's
// fatal error comes before its goroutine dump).
type head struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *head) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *head) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
