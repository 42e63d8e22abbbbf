package skills_test

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/maestro-rl/maestro/skills"
)

// Example loads LLM-written code into the sandbox (a process of its own, with step, time and
// memory limits) and calls it; code that misbehaves comes back as an error naming the limit.
func Example() {
	src := "def should_stop(skill, start, now, turns):\n    return now['depth'] > start['depth'] or turns >= 300\n"
	prog, err := skills.Load("termination.star", src, []skills.Signature{skills.TerminationSig}, skills.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	start := skills.StarlarkObs(make([]int64, 27), "")
	now, _ := skills.ToValue(map[string]any{"depth": 2})
	stop, err := prog.Call(context.Background(), "should_stop", starlark.String("descender"), start, now, starlark.MakeInt(40))
	fmt.Println(stop, err)

	bomb, _ := skills.Load("bomb.star", "def should_stop(skill, start, now, turns):\n    return len('x' * 1000000000) > 0\n", []skills.Signature{skills.TerminationSig}, skills.Limits{})
	_, err = bomb.Call(context.Background(), "should_stop", starlark.String("descender"), start, now, starlark.MakeInt(40))
	fmt.Println(err != nil)
	// Output:
	// True <nil>
	// true
}
