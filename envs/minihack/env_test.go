package minihack_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/envtest"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

func newEnv(t *testing.T, o minihack.Options) *minihack.Env {
	t.Helper()
	if o.Seed == nil {
		s := uint64(7)
		o.Seed = &s
	}
	e, err := minihack.NewEnv(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestRoom5x5Goal: on Room-5x5 the hero starts in the top-left corner and the stairs are in the
// bottom-right one, so four south-east moves end the episode with MiniHack's win reward of 1;
// bumping the wall first costs NLE's -0.01 for a step on which the clock stood still.
func TestRoom5x5Goal(t *testing.T) {
	e := newEnv(t, minihack.Options{Task: "MiniHack-Room-5x5-v0"})
	te := e.Task()
	if err := te.Reset(); err != nil {
		t.Fatal(err)
	}
	o := te.Obs()
	x0, y0 := o.Blstats[nethack.BlX], o.Blstats[nethack.BlY]
	north := slices.Index(minihack.MoveActions, 'k')
	st, err := te.Step(north)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reward != -0.01 || st.Done() || o.Blstats[nethack.BlX] != x0 || o.Blstats[nethack.BlY] != y0 {
		t.Fatalf("north into the wall: %+v at (%d, %d); want reward -0.01, no move", st, o.Blstats[nethack.BlX], o.Blstats[nethack.BlY])
	}
	se := slices.Index(minihack.MoveActions, 'n')
	for i := range 4 {
		if st, err = te.Step(se); err != nil {
			t.Fatal(err)
		}
		if i < 3 && (st.Done() || st.Reward != 0) {
			t.Fatalf("move %d: %+v before the goal", i, st)
		}
	}
	if !st.Terminated || st.Truncated || st.Reward != 1 || st.Status != nethack.StatusTaskSuccessful {
		t.Fatalf("fourth south-east move: %+v; want terminated with reward 1 on the stairs", st)
	}
	if got := te.MaxEpisodeSteps(); got != 100 {
		t.Errorf("step limit %d, MiniHack's Room-5x5 has 100", got)
	}
}

// TestCropsFollowTheHero: the 9x9 glyph crop's centre is the hero's glyph and the crop is the
// map's window around blstats' (x, y).
func TestCropsFollowTheHero(t *testing.T) {
	e := newEnv(t, minihack.Options{Task: "MiniHack-Room-Random-15x15-v0"})
	td, err := e.Reset()
	if err != nil {
		t.Fatal(err)
	}
	crop := must(td.Get("glyphs_crop"))
	if !slices.Equal(crop.Shape(), []int{9, 9}) {
		t.Fatalf("glyphs_crop shape %v, want [9 9]", crop.Shape())
	}
	glyphs, bl := e.Task().Obs().Glyphs, e.Task().Obs().Blstats
	x, y := int(bl[nethack.BlX]), int(bl[nethack.BlY])
	c := crop.Bytes()
	for i := range 9 {
		for j := range 9 {
			r, col := y-4+i, x-4+j
			want := int16(0)
			if r >= 0 && r < nethack.Rows && col >= 0 && col < nethack.Cols {
				want = glyphs[r*nethack.Cols+col]
			}
			got := int16(c[2*(i*9+j)]) | int16(c[2*(i*9+j)+1])<<8
			if got != want {
				t.Fatalf("crop (%d, %d) = %d, map (%d, %d) holds %d", i, j, got, r, col, want)
			}
		}
	}
	if centre := glyphs[y*nethack.Cols+x]; centre < nethack.GlyphMonOff || centre >= nethack.GlyphPetOff {
		t.Errorf("the crop's centre holds glyph %d, not a monster's (the hero)", centre)
	}
}

func TestCrop(t *testing.T) {
	// A 3x4 map; a 3x3 crop at its corner (0, 0) is padded with 0 above and to the left.
	src := []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	dst := make([]uint8, 9)
	minihack.Crop(dst, src, 3, 4, 0, 0, 3, 3)
	if want := []uint8{0, 0, 0, 0, 1, 2, 0, 5, 6}; !slices.Equal(dst, want) {
		t.Errorf("corner crop %v, want %v", dst, want)
	}
	minihack.Crop(dst, src, 3, 4, 2, 1, 3, 3)
	if want := []uint8{2, 3, 4, 6, 7, 8, 10, 11, 12}; !slices.Equal(dst, want) {
		t.Errorf("inner crop %v, want %v", dst, want)
	}
}

// TestEnvContract runs envtest.Check (specs, shapes, dtypes, resets, done flags) on every
// registered task, with the end status among the observations.
func TestEnvContract(t *testing.T) {
	for _, name := range minihack.TaskNames() {
		t.Run(name, func(t *testing.T) {
			needDataDir(t, name)
			envtest.Check(t, newEnv(t, minihack.Options{Task: name, ObservationKeys: append(slices.Clone(minihack.DefaultObservationKeys), minihack.KeyEndStatus)}), 150)
		})
	}
}

func TestCompileCachesAndRejects(t *testing.T) {
	cache := t.TempDir()
	g := minihack.NewLevelGenerator(minihack.DefaultLevelOptions())
	g.AddGoal(minihack.At(7, 7))
	des, err := g.Des()
	if err != nil {
		t.Fatal(err)
	}
	a, err := minihack.Compile(des, minihack.CompileOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(a.NHDat)
	if err != nil {
		t.Fatal(err)
	}
	b, err := minihack.Compile(des, minihack.CompileOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(b.NHDat)
	if a.NHDat != b.NHDat || !st.ModTime().Equal(st2.ModTime()) {
		t.Errorf("the same des compiled twice: %s then %s", a.NHDat, b.NHDat)
	}
	c, err := minihack.Compile(des+"MONSTER:random,random\n", minihack.CompileOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if c.NHDat == a.NHDat {
		t.Error("two des files share one nhdat")
	}
	for _, bad := range []struct{ des, want string }{
		{des + "FOO\n", `line 18, pos 0: syntax error at "FOO"`},
		{"", "empty des"},
		{strings.ReplaceAll(des, "mylevel", "other"), `"mylevel"`},
	} {
		_, err := minihack.Compile(bad.des, minihack.CompileOptions{CacheDir: cache})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("des %q: err %v, want one mentioning %s", bad.des, err, bad.want)
		}
	}
	left, _ := filepath.Glob(filepath.Join(cache, "build-*"))
	if len(left) > 0 {
		t.Errorf("build folders left behind: %v", left)
	}
}

func TestBadOptions(t *testing.T) {
	for _, c := range []struct {
		o    minihack.Options
		want string
	}{
		{minihack.Options{Task: "MiniHack-Nope-v0"}, "MiniHack-Room-5x5-v0"},
		{minihack.Options{Task: "MiniHack-Room-5x5-v0", CropH: 4}, "CropH"},
		{minihack.Options{Task: "MiniHack-Room-5x5-v0", ObservationKeys: []string{"pixel"}}, "glyphs_crop"},
		{minihack.Options{Task: "MiniHack-Room-5x5-v0", Des: filepath.Join(t.TempDir(), "missing.des")}, "missing.des"},
	} {
		if _, err := minihack.NewEnv(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want one mentioning %s", c.o, err, c.want)
		}
	}
}

func TestLevelGeneratorRejects(t *testing.T) {
	big := minihack.DefaultLevelOptions()
	big.W = 80
	if _, err := minihack.NewLevelGenerator(big).Des(); err == nil || !strings.Contains(err.Error(), "at most 76 x 21") {
		t.Errorf("an 80-wide map: err %v", err)
	}
	g := minihack.NewLevelGenerator(minihack.DefaultLevelOptions())
	g.AddGoal(minihack.At(8, 2))
	if _, err := g.Des(); err == nil || !strings.Contains(err.Error(), "off the 8 x 8 map") {
		t.Errorf("a goal off the map: err %v", err)
	}
	g = minihack.NewLevelGenerator(minihack.DefaultLevelOptions())
	g.AddTrap("spikes", minihack.Random)
	if _, err := g.Des(); err == nil || !strings.Contains(err.Error(), "teleport") {
		t.Errorf("an unknown trap: err %v, want the list of traps", err)
	}
}

// TestEndStatusKey: through the Env API, KeyEndStatus is 0 at reset and while the episode
// runs, 2 on the step that reaches Room-5x5's goal, and -1 on the step that hits the limit.
func TestEndStatusKey(t *testing.T) {
	keys := []string{"glyphs", minihack.KeyEndStatus}
	statuses := func(o minihack.Options, moves []uint8) []int64 {
		t.Helper()
		o.Task, o.ObservationKeys = "MiniHack-Room-5x5-v0", keys
		e := newEnv(t, o)
		td, err := e.Reset()
		if err != nil {
			t.Fatal(err)
		}
		got := []int64{must(tensordict.GetAs[int64](td, minihack.KeyEndStatus))[0]}
		for _, m := range moves {
			if err := td.Set(envs.KeyAction, tensor.Scalar(int64(slices.Index(minihack.MoveActions, m)))); err != nil {
				t.Fatal(err)
			}
			if td, err = e.Step(td); err != nil {
				t.Fatal(err)
			}
			got = append(got, must(tensordict.GetAs[int64](td, envs.NextKey(minihack.KeyEndStatus)))[0])
			if td, err = td.StepMDP(tensordict.StepMDPOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	if got, want := statuses(minihack.Options{}, []uint8("knnnn")), []int64{0, 0, 0, 0, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("to the goal: end statuses %v, want %v", got, want)
	}
	if got, want := statuses(minihack.Options{MaxEpisodeSteps: 2}, []uint8("kk")), []int64{0, 0, -1}; !slices.Equal(got, want) {
		t.Errorf("into the wall until the limit: end statuses %v, want %v", got, want)
	}
}

// needDataDir skips a task whose level is one of MiniHack's des files when no MiniHack install
// is found (a failure under MAESTRO_REQUIRE_PEER, as make test sets: its setup installs one).
func needDataDir(t *testing.T, task string) {
	t.Helper()
	if !minihack.IsDataTask(task) {
		return
	}
	if _, err := minihack.DataDir(); err != nil {
		if os.Getenv("MAESTRO_REQUIRE_PEER") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestDataTasksReject: a data-file task without a MiniHack install says how to get one, and a
// level file that is not minihack 1.0.2's is refused with both hashes.
func TestDataTasksReject(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(minihack.EnvDataDir, empty)
	_, err := minihack.NewEnv(minihack.Options{Task: "MiniHack-Memento-F2-v0"})
	if err == nil || !strings.Contains(err.Error(), minihack.EnvDataDir) || !strings.Contains(err.Error(), "minihack==1.0.2") {
		t.Errorf("no level files: %v, want an error naming %s and minihack==1.0.2", err, minihack.EnvDataDir)
	}
	if err := os.WriteFile(filepath.Join(empty, "memento_easy.des"), []byte("MAZE: \"mylevel\", ' '\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = minihack.NewEnv(minihack.Options{Task: "MiniHack-Memento-F2-v0"})
	if err == nil || !strings.Contains(err.Error(), "sha256") || !strings.Contains(err.Error(), "memento_easy.des") {
		t.Errorf("a tampered level file: %v, want an error naming the file and its sha256", err)
	}
}
