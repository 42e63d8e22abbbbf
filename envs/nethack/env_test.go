package nethack_test

import (
	"math"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/envtest"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
)

func TestEnvContractEveryTask(t *testing.T) {
	if testing.Short() {
		t.Skip("about 5 s on 2 cores; make test (no -short) runs it")
	}
	for _, task := range nethack.Tasks() {
		t.Run(task.String(), func(t *testing.T) {
			e, err := nethack.NewEnv(nethack.EnvOptions{Task: task, MaxEpisodeSteps: 200})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			envtest.Check(t, e, 400)
		})
	}
}

func TestEnvBatchedSerialAndParallel(t *testing.T) {
	keys := []string{"glyphs", "blstats", "message", "tty_chars", "tty_colors", "tty_cursor"}
	for name, mk := range map[string]func(...envs.Env) (*envs.Batched, error){"serial": envs.Serial, "parallel": envs.Parallel} {
		t.Run(name, func(t *testing.T) {
			var children []envs.Env
			for range 3 {
				c, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore, MaxEpisodeSteps: 100,
					Game: nethack.GameOptions{ObservationKeys: keys}})
				if err != nil {
					t.Fatal(err)
				}
				children = append(children, c)
			}
			b, err := mk(children...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			envtest.Check(t, b, 500) // 100-step episodes: every child resets several times
		})
	}
}

func TestHeroCropAndBlstats(t *testing.T) {
	g := newGame(t, nethack.GameOptions{})
	if err := g.Reset(""); err != nil {
		t.Fatal(err)
	}
	o := g.Obs()
	const size = 12
	chars, colors := make([]uint8, size*size), make([]int8, size*size)
	nethack.CropTTY(chars, colors, o.TTYChars, o.TTYColors, o.Blstats, size)
	if c := chars[size/2*size+size/2]; c != '@' {
		t.Errorf("crop centre is %q, want the hero '@':\n%s", c, cropText(chars, size))
	}
	// Near the edge the crop pads with blanks: a hero at column 0 has blank cells to its left.
	fake := append([]int64(nil), o.Blstats...)
	fake[nethack.BlX], fake[nethack.BlY] = 0, 0
	nethack.CropTTY(chars, colors, o.TTYChars, o.TTYColors, fake, size)
	if chars[0] != ' ' || colors[0] != 0 {
		t.Errorf("cell outside the terminal = %q/%d, want blank", chars[0], colors[0])
	}
	f := make([]float32, nethack.NumBlstats)
	nethack.NormalizeBlstats(f, o.Blstats)
	for i, v := range f {
		if v < -5 || v > 5 {
			t.Errorf("normalised blstats[%d] = %v outside [-5, 5]", i, v)
		}
	}
	if want := float64(o.Blstats[nethack.BlX]) / nethack.Cols; math.Abs(float64(f[nethack.BlX])-want) > 1e-6 {
		t.Errorf("normalised x = %v, want %v", f[nethack.BlX], want)
	}
	big := make([]int64, nethack.NumBlstats)
	big[nethack.BlScore] = 1 << 40
	nethack.NormalizeBlstats(f, big)
	if f[nethack.BlScore] != 5 {
		t.Errorf("huge score normalises to %v, want the clip 5", f[nethack.BlScore])
	}
}

func cropText(c []uint8, size int) string {
	s := ""
	for i := 0; i < size; i++ {
		s += string(c[i*size:(i+1)*size]) + "\n"
	}
	return s
}

func TestEnvActionOutsideSpec(t *testing.T) {
	e, err := nethack.NewEnv(nethack.EnvOptions{Task: nethack.TaskScore})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	td, err := e.Reset()
	if err != nil {
		t.Fatal(err)
	}
	td.Set(envs.KeyAction, tensor.Scalar[int64](23))
	if _, err := e.Step(td); err == nil {
		t.Fatal("action 23 of 23 accepted")
	} else {
		wantErr(t, err, "action", "23")
	}
}
