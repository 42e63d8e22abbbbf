package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func leaf() *tensor.Tensor { return tensor.Zeros(tensor.Float32, 3, 4, 5) }

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tdbench:", err)
		os.Exit(1)
	}
	return v
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "tdbench:", err)
		os.Exit(1)
	}
}

// nested is {"a", "b", "c": {"d", "e", "f": {"g"}}} with batch [3, 4] and leaves [3, 4, 5].
func nested() *tensordict.Dict {
	d := tensordict.New(3, 4)
	for _, k := range []string{"a", "b", "c/d", "c/e", "c/f/g"} {
		check(d.Set(k, leaf()))
	}
	return d
}

func main() {
	a, b := leaf(), leaf()
	td := nested()
	other := tensordict.New(3, 4)
	check(other.Set("a", leaf()))
	check(other.Set("c/d", leaf()))
	wide := tensordict.New(3, 4)
	for i := range 100 {
		check(wide.Set(fmt.Sprintf("k%d", i), leaf()))
	}
	step := nested()
	check(step.Set("next/obs", leaf()))
	check(step.Set("next/reward", tensor.Zeros(tensor.Float32, 3, 4)))
	check(step.Set("next/done", tensor.Zeros(tensor.Bool, 3, 4)))
	check(step.Set("action", tensor.Zeros(tensor.Int64, 3, 4)))
	many := make([]*tensordict.Dict, 64)
	for i := range many {
		many[i] = nested()
	}
	three := []*tensordict.Dict{td, td, td}
	var sink any
	ops := []struct {
		name string
		f    func()
	}{
		{"create_2leaf", func() {
			d := tensordict.New(3, 4)
			d.Set("a", a)
			d.Set("b", b)
			sink = d
		}},
		{"create_nested", func() {
			d := tensordict.New(3, 4)
			for _, k := range []string{"a", "b", "c/d", "c/e", "c/f/g"} {
				d.Set(k, a)
			}
			sink = d
		}},
		{"clone", func() { sink = td.Clone() }},
		{"index_int", func() { sink = must(td.Index(1)) }},
		{"index_dim1", func() { sink = must(td.IndexDim(1, 1)) }},
		{"index_list", func() { sink = must(td.IndexList([]int{0, 2})) }},
		{"set", func() { check(td.Set("a", a)) }},
		{"nested_get", func() { sink = must(td.Get("c/f/g")) }},
		{"update", func() { check(td.Update(other)) }},
		{"select", func() { sink = must(td.Select("a", "c/d")) }},
		{"keys_100", func() { sink = wide.LeafKeys() }},
		{"unbind", func() { sink = must(td.Unbind()) }},
		{"split", func() { sink = must(td.Split(1, 2)) }},
		{"stack_64", func() { sink = must(tensordict.Stack(many)) }},
		{"cat", func() { sink = must(tensordict.Cat(three)) }},
		{"step_mdp", func() { sink = must(step.StepMDP(tensordict.StepMDPOptions{})) }},
	}
	for _, op := range ops {
		r := testing.Benchmark(func(bb *testing.B) {
			bb.ReportAllocs()
			for bb.Loop() {
				op.f()
			}
		})
		fmt.Printf("%s %.1f %d\n", op.name, float64(r.T.Nanoseconds())/float64(r.N), r.AllocsPerOp())
	}
	_ = sink
}
