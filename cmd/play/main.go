package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/envs/nethack"
)

func main() {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `play: a random agent in a NetHack Learning Environment task, drawn in the terminal.

Usage: play [flags]

Examples:
  play                                  300 steps of NetHackScore, screen redrawn each step
  play -task staircase -steps 2000 -fps 0 -quiet
  play -ttyrec-dir runs/ttyrec          record every episode (replay with any ttyrec player)

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nTasks: %v\nMiniHack tasks: %s\nNLE's files come from `make setup` (or MAESTRO_NLE_DIR).\n", nethack.Tasks(), strings.Join(minihack.TaskNames(), ", "))
	}
	task := fs.String("task", "NetHackScore", "task name (NetHackScore-v0, score, staircase, oracle, ...) or a MiniHack task (MiniHack-Room-5x5-v0, ...)")
	steps := fs.Int("steps", 300, "environment steps to play")
	seed := fs.Uint64("seed", 0, "seed of the game and the agent (0: random)")
	character := fs.String("character", "", "role-race-alignment-gender, e.g. val-dwa-law-fem (default mon-hum-neu-mal)")
	fps := fs.Float64("fps", 30, "screen redraws per second (0: as fast as possible)")
	quiet := fs.Bool("quiet", false, "print only the summary, not the screen")
	ttyrecDir := fs.String("ttyrec-dir", "", "record each episode as a bz2 ttyrec in this folder")
	nleDir := fs.String("nle-dir", "", "folder holding libnethack.so and nethackdir (default: MAESTRO_NLE_DIR, then the cache)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if err := run(*task, *steps, *seed, *character, *fps, *quiet, *ttyrecDir, *nleDir); err != nil {
		fmt.Fprintln(os.Stderr, "play:", err)
		os.Exit(1)
	}
}

// newEnv makes the NetHack or MiniHack task's env.
func newEnv(taskName string, seed uint64, character, ttyrecDir, nleDir string) (*nethack.TaskEnv, error) {
	if minihack.IsTask(taskName) {
		if character != "" {
			return nil, fmt.Errorf("-character: a MiniHack task plays its own character; drop the flag")
		}
		me, err := minihack.NewEnv(minihack.Options{Task: taskName, LevelSeed: &seed, TTYRecDir: ttyrecDir,
			ObservationKeys: []string{"tty_chars", "tty_colors", "tty_cursor", "blstats"}, Game: nethack.GameOptions{NLEDir: nleDir}})
		if err != nil {
			return nil, err
		}
		return me.Task(), nil
	}
	task, err := nethack.ParseTask(taskName)
	if err != nil {
		return nil, fmt.Errorf("%w; or a MiniHack task (%s)", err, strings.Join(minihack.TaskNames(), ", "))
	}
	return nethack.NewTaskEnv(nethack.EnvOptions{Task: task, TTYRecDir: ttyrecDir,
		Game: nethack.GameOptions{NLEDir: nleDir, Character: character}})
}

func run(taskName string, steps int, seed uint64, character string, fps float64, quiet bool, ttyrecDir, nleDir string) error {
	if steps < 1 {
		return fmt.Errorf("-steps must be at least 1, got %d", steps)
	}
	if seed == 0 {
		seed = rand.Uint64()
	}
	env, err := newEnv(taskName, seed, character, ttyrecDir, nleDir)
	if err != nil {
		return err
	}
	defer env.Close()
	task := env.Task()
	rng := rand.New(rand.NewPCG(seed, 0))
	newEpisode := func() error {
		if task != nethack.TaskChallenge {
			if err := env.Seed(nethack.Seeds{Core: rng.Uint64(), Disp: rng.Uint64()}); err != nil {
				return err
			}
		}
		return env.Reset()
	}
	if err := newEpisode(); err != nil {
		return err
	}
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	var frame time.Duration
	if fps > 0 {
		frame = time.Duration(float64(time.Second) / fps)
	}
	var returns []float64
	successes := 0
	ret, start := 0.0, time.Now()
	for i := 0; i < steps; i++ {
		select {
		case <-interrupt:
			steps = i
		default:
		}
		if i == steps {
			break
		}
		st, err := env.Step(rng.IntN(env.NumActions()))
		if err != nil {
			return err
		}
		ret += st.Reward
		if !quiet {
			o := env.Obs()
			fmt.Print("\x1b[H\x1b[2J", nethack.RenderANSI(o.TTYChars, o.TTYColors, o.TTYCursor))
			fmt.Printf("%s  seed %d  episode %d  step %d/%d  return %.2f\n", taskName, seed, env.Episode(), i+1, steps, ret)
			time.Sleep(frame)
		}
		if st.Done() {
			if st.Status == nethack.StatusTaskSuccessful {
				successes++
			}
			returns = append(returns, ret)
			ret = 0
			if err := newEpisode(); err != nil {
				return err
			}
		}
	}
	el := time.Since(start)
	mean := 0.0
	for _, r := range returns {
		mean += r / float64(len(returns))
	}
	rounded := make([]string, len(returns))
	for i, r := range returns {
		rounded[i] = strconv.FormatFloat(r, 'f', 2, 64)
	}
	success := ""
	if minihack.IsTask(taskName) && len(returns) > 0 {
		success = fmt.Sprintf(", success rate %.3f (%d of %d)", float64(successes)/float64(len(returns)), successes, len(returns))
	}
	fmt.Printf("play: %s, %d steps in %.1fs, %d finished episodes%s, mean return %.2f, returns [%s], current episode return %.2f (seed %d)\n",
		taskName, steps, el.Seconds(), len(returns), success, mean, strings.Join(rounded, " "), ret, seed)
	if ttyrecDir != "" {
		fmt.Printf("play: ttyrecs in %s\n", ttyrecDir)
	}
	return nil
}
