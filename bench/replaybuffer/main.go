package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/maestro-rl/maestro/replaybuffer"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rbbench:", err)
		os.Exit(1)
	}
	return v
}

// items returns n items; episodes end every 100 items (for the slice sampler).
func items(n int, big bool) *tensordict.Dict {
	d := tensordict.New(n)
	d.Set("a", tensor.Zeros(tensor.Float32, n, 5))
	if big {
		b := tensor.Zeros(tensor.Uint8, n, 3, 32, 32)
		raw := b.Bytes()
		for i := range raw {
			raw[i] = byte(i)
		}
		d.Set("b/c", b)
	}
	done := make([]bool, n)
	for i := range done {
		done[i] = (i+1)%100 == 0
	}
	d.Set("next/done", tensor.Of(done))
	return d
}

func sample(b *replaybuffer.Buffer, n int) {
	if _, _, err := b.Sample(n); err != nil {
		fmt.Fprintln(os.Stderr, "rbbench:", err)
		os.Exit(1)
	}
}

func sampleInto(b *replaybuffer.Buffer, dst *tensordict.Dict) {
	if _, err := b.SampleInto(dst); err != nil {
		fmt.Fprintln(os.Stderr, "rbbench:", err)
		os.Exit(1)
	}
}

func run(name string, f func()) {
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
	fmt.Printf("%s %.0f %d\n", name, float64(r.T.Nanoseconds())/float64(r.N), r.AllocsPerOp())
}

func main() {
	dir := must(os.MkdirTemp("", "rbbench"))
	defer os.RemoveAll(dir)
	data := items(10_000, true)
	for _, st := range []string{"memory", "mmap"} {
		for _, sm := range []string{"uniform", "without_replacement", "slice"} {
			var s replaybuffer.Sampler
			switch sm {
			case "uniform":
				s = replaybuffer.NewRandom(1)
			case "without_replacement":
				s = replaybuffer.NewWithoutReplacement(1)
			default:
				s = must(replaybuffer.NewSlice(8, 1))
			}
			o := replaybuffer.Options{Capacity: 10_000, Sampler: s}
			if st == "mmap" {
				o.Dir = filepath.Join(dir, sm)
			}
			b := must(replaybuffer.New(o))
			must(b.Extend(data))
			run(st+"_"+sm, func() { sample(b, 256) })
			dst, _, err := b.Sample(256)
			if err != nil {
				fmt.Fprintln(os.Stderr, "rbbench:", err)
				os.Exit(1)
			}
			run(st+"_"+sm+"_into", func() { sampleInto(b, dst) })
			b.Close()
		}
	}
	ext := must(replaybuffer.New(replaybuffer.Options{Capacity: 10_000}))
	chunk := items(400, true)
	run("extend_400", func() { must(ext.Extend(chunk)) })

	p := must(replaybuffer.NewPrioritized(1_000_000, 0.7, 0.5, 1))
	pb := must(replaybuffer.New(replaybuffer.Options{Capacity: 1_000_000, Sampler: p}))
	must(pb.Extend(items(1_000_000, false)))
	run("prioritized_65536", func() { sample(pb, 65536) })
	pdst, _, _ := pb.Sample(65536)
	run("prioritized_65536_into", func() { sampleInto(pb, pdst) })

	// The physical limit of the largest sample: gathering 256 rows of 3,092 bytes from random
	// places, as plain copies.
	src := tensor.MustData[uint8](must(data.Get("b/c")))
	a := tensor.MustData[float32](must(data.Get("a")))
	dstB := make([]uint8, 256*3072)
	dstA := make([]float32, 256*5)
	rng := rand.New(rand.NewPCG(1, 1))
	run("memcpy_gather256", func() {
		for k := 0; k < 256; k++ {
			i := rng.IntN(10_000)
			copy(dstB[k*3072:(k+1)*3072], src[i*3072:(i+1)*3072])
			copy(dstA[k*5:(k+1)*5], a[i*5:(i+1)*5])
		}
	})
}
