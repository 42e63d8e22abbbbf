package par

import (
	"sync"
	"testing"
)

type add struct {
	dst  []int
	from int
}

// TestDoRunsEveryTaskOnce runs many concurrent calls and checks every task ran exactly once
// before its Do returned, and that Do allocates nothing.
func TestDoRunsEveryTaskOnce(t *testing.T) {
	p := New(3, func(a add) {
		for i := range a.dst {
			a.dst[i] += a.from + i
		}
	})
	defer p.Close()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]int, 30)
			for range 100 {
				var ts [MaxWorkers]add
				for i := range 3 {
					ts[i] = add{out[i*10 : (i+1)*10], i * 10}
				}
				p.Do(ts[:3])
			}
			for i, v := range out {
				if v != 100*i {
					t.Errorf("caller %d: out[%d] = %d, want %d", c, i, v, 100*i)
					return
				}
			}
		}()
	}
	wg.Wait()
	out := make([]int, 30)
	var ts [MaxWorkers]add
	do := func() {
		for i := range 3 {
			ts[i] = add{out[i*10 : (i+1)*10], 0}
		}
		p.Do(ts[:3])
	}
	do()
	if a := testing.AllocsPerRun(100, do); a != 0 {
		t.Errorf("Do allocates %v times per call", a)
	}
}
