package skills

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// childEnv marks a process started as a sandbox; its value is the memory limit in bytes.
const childEnv = "MAESTRO_SANDBOX_CHILD"

// A binary that links this package serves as its own sandbox: started with childEnv set it
// runs the sandbox loop on file descriptors 3 (requests) and 4 (replies) and exits, before
// main (or a test binary's flags) runs.
func init() {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(serveChild(v))
	}
}

// serveChild is the sandbox process: one goroutine, its address space capped at what the
// runtime holds at start plus the memory limit, so code that allocates past it kills only
// this process (the Go runtime's "out of memory"), which its parent reports.
func serveChild(limit string) int {
	mem, err := strconv.ParseInt(limit, 10, 64)
	if err != nil || mem <= 0 {
		fmt.Fprintf(os.Stderr, "sandbox: bad %s=%q\n", childEnv, limit)
		return 2
	}
	runtime.GOMAXPROCS(1)
	debug.SetMemoryLimit(mem)
	if vm := vmSize(); vm > 0 {
		as := uint64(vm + mem)
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as}); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: cannot bound memory: %v\n", err)
			return 2
		}
	} else {
		fmt.Fprintln(os.Stderr, "sandbox: cannot read /proc/self/status to bound memory")
		return 2
	}
	in := bufio.NewReader(os.NewFile(3, "sandbox-requests"))
	out := bufio.NewWriter(os.NewFile(4, "sandbox-replies"))
	progs := map[uint64]*localProgram{}
	var buf []byte
	for {
		frame, err := readFrame(in, buf)
		if err != nil {
			return 0 // the parent closed the pipe (or died)
		}
		buf = frame
		reply := serve(progs, frame)
		if err := writeFrame(out, reply); err != nil {
			return 0
		}
		if err := out.Flush(); err != nil {
			return 0
		}
	}
}

// vmSize is this process's address space in bytes (VmSize in /proc/self/status).
//
// The limit is on the address space (RLIMIT_AS), not the data segment: Linux checks
// RLIMIT_DATA only against a mapping's net growth, so the Go runtime's usual way of growing
// its heap (reserve address space, then map memory over the reservation) passed it, and a
// 1 GB string succeeded in about one sandbox process in three. The address space also counts
// the runtime's reservations, made in 64 MiB arenas, so the code gets somewhat less than
// Limits.Memory of heap.
func vmSize() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmSize:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// serve answers one request.
func serve(progs map[uint64]*localProgram, frame []byte) []byte {
	d := &decoder{b: frame}
	fail := func(err error) []byte {
		return append([]byte{replyErr}, err.Error()...)
	}
	switch op := d.byte(); op {
	case opLoad:
		id, name, src := d.uint(), d.string(), d.string()
		want := make([]Signature, d.count())
		for i := range want {
			want[i].Name = d.string()
			want[i].Params = make([]string, d.count())
			for j := range want[i].Params {
				want[i].Params[j] = d.string()
			}
		}
		l := Limits{Steps: d.uint(), Timeout: time.Duration(d.int())}
		if d.err != nil {
			return fail(d.err)
		}
		p, err := loadLocal(name, src, want, l)
		if err != nil {
			return fail(err)
		}
		progs[id] = p
		e := &encoder{b: []byte{replyOK}}
		e.uint(uint64(len(p.funcs)))
		for _, f := range p.funcs {
			e.string(f)
		}
		return e.b
	case opUnload:
		delete(progs, d.uint())
		return []byte{replyOK}
	case opCall:
		p := progs[d.uint()]
		maxReply := int(d.uint())
		d.resolve = func(id uint64, name string) (starlark.Value, error) {
			q := progs[id]
			if q == nil || q.globals[name] == nil {
				return nil, fmt.Errorf("no function %s in program %d", name, id)
			}
			return q.globals[name], nil
		}
		n := d.count()
		if d.err == nil && p == nil {
			d.err = errors.New("program not loaded in this sandbox")
		}
		e := &encoder{b: []byte{replyOK}}
		for range n {
			fn := d.string()
			args := make(starlark.Tuple, d.count())
			for i := range args {
				args[i] = d.value(0)
			}
			if d.err != nil {
				return fail(d.err)
			}
			v, err := p.call(fn, args)
			mark := len(e.b)
			if err == nil {
				e.byte(replyOK)
				err = e.value(v, 0, mark+maxReply)
				if err == nil && len(e.b)-mark > maxReply {
					err = errTooLarge
				}
				if errors.Is(err, errTooLarge) {
					err = fmt.Errorf("skills: %s: %s returned a value over %d bytes (does a state it carries grow without bound?)", p.name, fn, maxReply)
				} else if err != nil {
					err = fmt.Errorf("skills: %s: %s returned %w", p.name, fn, err)
				}
			}
			if err != nil {
				e.b = e.b[:mark]
				e.byte(replyErr)
				e.string(err.Error())
			}
		}
		return e.b
	default:
		return fail(fmt.Errorf("unknown sandbox operation %d", op))
	}
}

// localProgram is loaded code inside the sandbox process.
type localProgram struct {
	name    string
	globals starlark.StringDict
	funcs   []string // names of the functions it defines, sorted
	limits  Limits
}

// fileOptions allow what generated Python-like code commonly uses (while loops, sets, if/for at
// top level, reassigned globals); recursion stays forbidden (a step limit bounds loops, but
// deep recursion would grow the Go stack).
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// loadLocal parses and runs src's top level, then checks that it defines every function in
// want with exactly those parameters.
func loadLocal(name, src string, want []Signature, limits Limits) (*localProgram, error) {
	thread := newThread(name, limits)
	ctx, cancel := context.WithTimeout(context.Background(), limits.Timeout)
	defer cancel()
	stop := watch(ctx, thread)
	globals, err := starlark.ExecFileOptions(fileOptions, thread, name, src, nil)
	stop()
	if err != nil {
		return nil, fmt.Errorf("skills: %s: %w", name, describe(err, ctx))
	}
	for _, sig := range want {
		v, ok := globals[sig.Name]
		if !ok {
			return nil, fmt.Errorf("skills: %s does not define %s", name, sig)
		}
		fn, ok := v.(*starlark.Function)
		if !ok {
			return nil, fmt.Errorf("skills: %s: %s is a %s, want a function %s", name, sig.Name, v.Type(), sig)
		}
		var got []string
		for i := 0; i < fn.NumParams(); i++ {
			p, _ := fn.Param(i)
			got = append(got, p)
		}
		if fn.HasVarargs() || fn.HasKwargs() || strings.Join(got, ",") != strings.Join(sig.Params, ",") {
			return nil, fmt.Errorf("skills: %s:%d: %s has parameters (%s), want %s", name, fn.Position().Line, sig.Name, strings.Join(got, ", "), sig)
		}
	}
	globals.Freeze()
	p := &localProgram{name: name, globals: globals, limits: limits}
	for k, v := range globals {
		if _, ok := v.(*starlark.Function); ok {
			p.funcs = append(p.funcs, k)
		}
	}
	sort.Strings(p.funcs)
	return p, nil
}

// call runs function fn with args under the program's step and time limits.
func (p *localProgram) call(fn string, args starlark.Tuple) (starlark.Value, error) {
	v, ok := p.globals[fn]
	if !ok {
		return nil, fmt.Errorf("skills: %s defines no %s", p.name, fn)
	}
	thread := newThread(p.name, p.limits)
	ctx, cancel := context.WithTimeout(context.Background(), p.limits.Timeout)
	defer cancel()
	stop := watch(ctx, thread)
	defer stop()
	out, err := starlark.Call(thread, v, args, nil)
	if err != nil {
		return nil, fmt.Errorf("skills: %s: %s: %w", p.name, fn, describe(err, ctx))
	}
	return out, nil
}

func newThread(name string, l Limits) *starlark.Thread {
	t := &starlark.Thread{Name: name}
	t.Load = func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
		return nil, fmt.Errorf("load(%q): generated code cannot load modules", module)
	}
	t.Print = func(*starlark.Thread, string) {} // print() is a no-op, not an output channel
	t.SetMaxExecutionSteps(l.Steps)
	return t
}

// watch cancels thread when ctx ends; the returned function stops watching.
func watch(ctx context.Context, thread *starlark.Thread) (stop func()) {
	unregister := context.AfterFunc(ctx, func() { thread.Cancel("time limit exceeded") })
	return func() { unregister() }
}

// describe makes Starlark's errors name the limit that stopped the code.
func describe(err error, ctx context.Context) error {
	var ee *starlark.EvalError
	msg := err.Error()
	if errors.As(err, &ee) {
		msg = ee.Backtrace()
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("time limit exceeded: %s", msg)
	case strings.Contains(msg, "too many steps"):
		return fmt.Errorf("step limit exceeded (an endless or very long loop?): %s", msg)
	}
	return errors.New(msg)
}
