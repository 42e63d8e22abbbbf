// Package skills holds MaestroMotif's skill machinery:
//
//   - the skills spec (Spec: skills in words with the judge's preference and threshold, the
//     character and actions, tasks with success checks; DefaultSpec is MaestroMotif's);
//   - the sandbox that runs LLM-written code (Load, Program.Call): Starlark (go.starlark.net),
//     a Python dialect with no I/O, no imports and no access to the process, under a step
//     limit and a wall-clock limit;
//   - the coder (WriteCode): the LLM writes the initiation and termination functions and the
//     policy over skills, scored on harnesses and its own unit tests, searched greedily, by
//     evolution or as a tree;
//   - the Controller, an env wrapper that plays skills in call-and-return fashion with that
//     code and adds the skill observation (KeySkill) that the skill-conditioned agent reads;
//     the reference code (ReferenceCode) and per-skill reward models (RewardModels) shipped;
//   - evaluation: success checks read off real games (Tracker, Overview, Judge) and Wilson
//     intervals.
//
// # Invariants
//   - Generated code sees only what the caller passes in: its arguments and the predeclared
//     names the caller lists (by default none beyond Starlark's universe: len, range, min, max,
//     sorted, ...). load() always fails. There is no file, network, clock or process access.
//   - Every failure of the code (syntax error, wrong signature, runtime error, step limit,
//     time limit, excessive allocation) is returned as an error naming the function and, where
//     Starlark knows it, the line; none escapes as a panic.
//   - A Program is safe for concurrent calls: each call runs on its own thread and its globals
//     are frozen after loading.
//   - Code that fails at run time inside a Controller never stops the env: the controller falls
//     back (keeps the skill, or starts the first one that may start) and counts the failure.
//   - A Controller wraps one env and is driven by one goroutine, as envs are.
package skills

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Limits bound one call into generated code.
type Limits struct {
	// Steps is Starlark's execution-step budget; 0 means 1,000,000 (about 10-50 ms of work).
	Steps uint64
	// Timeout is the wall-clock budget; 0 means one second.
	Timeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.Steps == 0 {
		l.Steps = 1_000_000
	}
	if l.Timeout == 0 {
		l.Timeout = time.Second
	}
	return l
}

// Signature is a function the code must define: its name and parameter names in order.
type Signature struct {
	Name   string
	Params []string
}

func (s Signature) String() string { return s.Name + "(" + strings.Join(s.Params, ", ") + ")" }

// Program is loaded generated code.
type Program struct {
	name    string
	globals starlark.StringDict
	limits  Limits
}

// fileOptions allow what generated Python-like code commonly uses (while loops, sets, if/for at
// top level, reassigned globals); recursion stays forbidden (a step limit bounds loops, but
// deep recursion would grow the Go stack).
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// Load parses and runs src's top level (name is used in errors), then checks that it defines
// every function in want with exactly those parameters. predeclared are extra names the code
// may use (constants, helper builtins).
func Load(name, src string, want []Signature, predeclared starlark.StringDict, limits Limits) (*Program, error) {
	limits = limits.withDefaults()
	thread := newThread(name, limits)
	ctx, cancel := context.WithTimeout(context.Background(), limits.Timeout)
	defer cancel()
	stop := watch(ctx, thread)
	globals, err := starlark.ExecFileOptions(fileOptions, thread, name, src, predeclared)
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
	return &Program{name: name, globals: globals, limits: limits}, nil
}

// Call runs function fn with args under the program's limits (and ctx's cancellation).
func (p *Program) Call(ctx context.Context, fn string, args ...starlark.Value) (starlark.Value, error) {
	v, ok := p.globals[fn]
	if !ok {
		return nil, fmt.Errorf("skills: %s defines no %s", p.name, fn)
	}
	thread := newThread(p.name, p.limits)
	ctx, cancel := context.WithTimeout(ctx, p.limits.Timeout)
	defer cancel()
	stop := watch(ctx, thread)
	defer stop()
	out, err := starlark.Call(thread, v, starlark.Tuple(args), nil)
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
	// No goroutine per call (calls run every env step): the callback runs only if ctx ends.
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
