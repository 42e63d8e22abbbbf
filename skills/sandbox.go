package skills

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
)

// Limits bound one call into generated code.
type Limits struct {
	// Steps is Starlark's execution-step budget; 0 means 1,000,000 (about 10-50 ms of work).
	Steps uint64
	// Timeout is the wall-clock budget; 0 means one second. Starlark stops the code between
	// steps; a single builtin call that runs past it (sorted or replace on a huge value) is
	// ended by killing the sandbox process at Timeout plus a grace of half of it (at least
	// 250 ms).
	Timeout time.Duration
	// Memory bounds the sandbox process's memory in bytes: its address space beyond what the
	// Go runtime holds at start (RLIMIT_AS; the runtime reserves it in 64 MiB arenas, so the
	// code's heap gets somewhat less); 0 means 256 MiB. Code that allocates past it ends its
	// process, and the call fails with "memory limit exceeded".
	Memory int64
	// MaxValue bounds a value the code returns (the state a policy carries included), in bytes
	// of its encoding; 0 means 1 MiB.
	MaxValue int
}

func (l Limits) withDefaults() Limits {
	if l.Steps == 0 {
		l.Steps = 1_000_000
	}
	if l.Timeout == 0 {
		l.Timeout = time.Second
	}
	if l.Memory == 0 {
		l.Memory = 256 << 20
	}
	if l.MaxValue == 0 {
		l.MaxValue = 1 << 20
	}
	return l
}

// Validate reports a limit out of range.
func (l Limits) Validate() error {
	switch {
	case l.Timeout < 0:
		return fmt.Errorf("skills: Limits.Timeout %v is negative (0 means one second)", l.Timeout)
	case l.Memory < 0 || (l.Memory > 0 && l.Memory < 16<<20):
		return fmt.Errorf("skills: Limits.Memory %d bytes: want 0 (256 MiB) or at least 16 MiB", l.Memory)
	case l.MaxValue < 0:
		return fmt.Errorf("skills: Limits.MaxValue %d is negative (0 means 1 MiB)", l.MaxValue)
	}
	return nil
}

// grace is how long past its timeout a call may run before its process is killed.
func (l Limits) grace() time.Duration { return max(l.Timeout/2, 250*time.Millisecond) }

// Signature is a function the code must define: its name and parameter names in order.
type Signature struct {
	Name   string
	Params []string
}

func (s Signature) String() string { return s.Name + "(" + strings.Join(s.Params, ", ") + ")" }

// Program is loaded generated code. Its code runs in sandbox processes (see sandbox_proc.go);
// the Program holds its source, so any sandbox can load it again.
type Program struct {
	name   string
	src    string
	want   []Signature
	limits Limits
	id     uint64
	funcs  []string // the functions it defines, sorted

	mu        sync.Mutex
	crashes   int   // sandbox processes its calls ended in a row
	lastCrash error // the latest of them
}

// crashLimit is how many sandbox processes in a row a program's calls may end before its
// calls fail at once: code that allocates past the limit on every call would otherwise
// start a process per call.
const crashLimit = 3

var programIDs atomic.Uint64

// Load parses and runs src's top level in a sandbox process (name is used in errors), then
// checks that it defines every function in want with exactly those parameters.
func Load(name, src string, want []Signature, limits Limits) (*Program, error) {
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	p := &Program{name: name, src: src, want: want, limits: limits.withDefaults(), id: programIDs.Add(1)}
	w, err := sandboxes.get(p.limits.Memory)
	if err != nil {
		return nil, fmt.Errorf("skills: %s: %w", name, err)
	}
	funcs, err := w.load(p)
	if w.dead {
		return nil, fmt.Errorf("skills: %s: %w", name, err)
	}
	sandboxes.put(w)
	if err != nil {
		return nil, err
	}
	p.funcs = funcs
	return p, nil
}

// Functions returns the names of the functions the program defines, sorted.
func (p *Program) Functions() []string { return slices.Clone(p.funcs) }

// Call runs function fn with args under the program's limits (and ctx's cancellation). The
// arguments and the result are copied in and out of the sandbox: None, bools, numbers,
// strings, lists, tuples, dicts and sets.
func (p *Program) Call(ctx context.Context, fn string, args ...starlark.Value) (starlark.Value, error) {
	var v [1]starlark.Value
	var errs [1]error
	if err := p.CallBatch(ctx, []Call{{fn, args}}, v[:], errs[:]); err != nil {
		return nil, err
	}
	return v[0], errs[0]
}

// CallBatch runs the calls in order in one roundtrip to a sandbox process (each under the
// program's limits), setting vals[i] or errs[i] for each; the returned error is set when none
// ran or the process ended, and then every errs[i] is set to it too. It is Call for callers
// that ask the same code several questions at once (whether each skill may start).
func (p *Program) CallBatch(ctx context.Context, batch []Call, vals []starlark.Value, errs []error) (err error) {
	if len(vals) != len(batch) || len(errs) != len(batch) {
		return fmt.Errorf("skills: CallBatch of %d calls given %d values and %d errors", len(batch), len(vals), len(errs))
	}
	defer func() {
		if err != nil {
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	if len(batch) == 0 {
		return nil
	}
	for _, c := range batch {
		if !slices.Contains(p.funcs, c.Fn) {
			return fmt.Errorf("skills: %s defines no %s", p.name, c.Fn)
		}
	}
	fn := batch[0].Fn
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("skills: %s: %s: not run: %w", p.name, fn, err)
	}
	// A crash is charged to the code that ran: a function passed in as an argument (an LLM's
	// test calling the candidate under test) rather than its caller.
	var charged []*Program
	for _, c := range batch {
		for _, a := range c.Args {
			if f, ok := a.(funcRef); ok {
				charged = append(charged, f.p)
			}
		}
	}
	if charged == nil {
		charged = []*Program{p}
	}
	for _, q := range charged {
		if err := q.refuse(fn); err != nil {
			return err
		}
	}
	w, err := sandboxes.get(p.limits.Memory)
	if err != nil {
		return fmt.Errorf("skills: %s: %w", p.name, err)
	}
	err = w.calls(ctx, p, batch, vals, errs)
	if w.dead {
		if ctx.Err() == nil { // a cancelled call says nothing about the code
			for _, q := range charged {
				q.mu.Lock()
				q.crashes, q.lastCrash = q.crashes+1, err
				q.mu.Unlock()
			}
		}
		return fmt.Errorf("skills: %s: %s: %w", p.name, fn, err)
	}
	sandboxes.put(w)
	for _, q := range charged {
		q.mu.Lock()
		q.crashes = 0
		q.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("skills: %s: %w", p.name, err)
	}
	return nil
}

// refuse returns an error when p's calls have ended crashLimit processes in a row.
func (p *Program) refuse(fn string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.crashes >= crashLimit {
		return fmt.Errorf("skills: %s: %s: not run: its calls ended %d sandbox processes in a row; the last: %w", p.name, fn, p.crashes, p.lastCrash)
	}
	return nil
}

// callWith runs fn with q's function qfn as its one argument (the LLM's tests of a candidate).
func (p *Program) callWith(ctx context.Context, fn string, q *Program, qfn string) error {
	_, err := p.Call(ctx, fn, funcRef{q, qfn})
	return err
}

// ToValue converts Go values (bool, ints, floats, strings, slices, maps with string keys) to
// Starlark values, for passing observations to generated code.
func ToValue(v any) (starlark.Value, error) {
	switch x := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(x), nil
	case int:
		return starlark.MakeInt(x), nil
	case int64:
		return starlark.MakeInt64(x), nil
	case float64:
		return starlark.Float(x), nil
	case string:
		return starlark.String(x), nil
	case []int:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			l[i] = starlark.MakeInt(e)
		}
		return starlark.NewList(l), nil
	case []string:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			l[i] = starlark.String(e)
		}
		return starlark.NewList(l), nil
	case []any:
		l := make([]starlark.Value, len(x))
		for i, e := range x {
			var err error
			if l[i], err = ToValue(e); err != nil {
				return nil, err
			}
		}
		return starlark.NewList(l), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := starlark.NewDict(len(x))
		for _, k := range keys {
			e, err := ToValue(x[k])
			if err != nil {
				return nil, err
			}
			d.SetKey(starlark.String(k), e)
		}
		return d, nil
	}
	return nil, fmt.Errorf("skills: cannot pass a %T to generated code", v)
}
