// Command train trains an agent. This first version trains PPO, A2C or APPO on CartPole
// with the framework's collectors and learners and writes a CSV log, TensorBoard event files
// (tensorboard --logdir runs) and the final weights; NetHack tasks, Motif rewards, plots and
// resumable checkpoints come next.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/cartpole"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/tensordict"
)

type config struct {
	algo, env, runDir string
	numEnvs, frames   int
	totalFrames       int
	seed              uint64
	lr                float64
	force             bool
}

func main() {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var c config
	fs.StringVar(&c.algo, "algo", "ppo", "learning algorithm: ppo, a2c or appo")
	fs.StringVar(&c.env, "env", "CartPole", "environment: CartPole (NetHack tasks are not trainable yet)")
	fs.IntVar(&c.numEnvs, "num-envs", 4, "environments stepped together")
	fs.IntVar(&c.frames, "frames-per-batch", 128, "steps per environment per batch")
	fs.IntVar(&c.totalFrames, "total-frames", 200_000, "stop after this many environment steps")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the environments, the network and the sampling")
	fs.Float64Var(&c.lr, "lr", 1e-3, "learning rate, annealed linearly to 0")
	fs.StringVar(&c.runDir, "run-dir", "", "folder for the logs (log.csv, tensorboard/) and the weights (params.mtd); default runs/<env>-<algo>-<seed>")
	fs.BoolVar(&c.force, "force", false, "overwrite an existing run folder")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "train: train an agent with Maestro.\n\nUsage: train [flags]\n\nExample:\n  train --algo ppo --env CartPole --total-frames 100000\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.numEnvs < 1 || c.frames < 1 || c.totalFrames < 1 {
		return fmt.Errorf("--num-envs, --frames-per-batch and --total-frames must be positive")
	}
	if !strings.EqualFold(c.env, "CartPole") {
		if _, err := nethack.ParseTask(c.env); err == nil {
			return fmt.Errorf("--env %s: training on NetHack needs the recurrent learner, which is not built yet; use --env CartPole, or `play -task %s` to watch a random agent", c.env, c.env)
		}
		return fmt.Errorf("unknown --env %q; available: CartPole", c.env)
	}
	if c.runDir == "" {
		c.runDir = filepath.Join("runs", fmt.Sprintf("cartpole-%s-%d", c.algo, c.seed))
	}
	if _, err := os.Stat(c.runDir); err == nil && !c.force {
		return fmt.Errorf("run folder %s exists; pass --force to overwrite it or choose --run-dir", c.runDir)
	}
	if err := os.MkdirAll(c.runDir, 0o755); err != nil {
		return err
	}
	var children []envs.Env
	for i := 0; i < c.numEnvs; i++ {
		e, err := cartpole.NewEnv(cartpole.Options{Seed: c.seed*1000 + uint64(i)})
		if err != nil {
			return err
		}
		children = append(children, e)
	}
	batched, err := envs.Serial(children...)
	if err != nil {
		return err
	}
	env, err := envs.Compose(batched, envs.RewardSum)
	if err != nil {
		return err
	}
	net, err := nn.NewActorCritic(4, 2, 64, rand.New(rand.NewPCG(c.seed, 1)))
	if err != nil {
		return err
	}
	learner, err := rl.NewLearner(net, cartpole.KeyObservation, rl.Options{Algo: c.algo, LR: c.lr, Seed: c.seed})
	if err != nil {
		return err
	}
	col, err := collectors.NewSync(env, learner, collectors.Options{FramesPerBatch: c.numEnvs * c.frames, StateKeys: []string{}})
	if err != nil {
		return err
	}
	defer col.Close()

	logFile, err := os.Create(filepath.Join(c.runDir, "log.csv"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	tb, err := rl.NewTensorBoard(filepath.Join(c.runDir, "tensorboard"))
	if err != nil {
		return err
	}
	defer tb.Close()
	w := csv.NewWriter(logFile)
	w.Write([]string{"frames", "seconds", "episodes", "mean_return_last20", "loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"})
	sched := nn.LinearSchedule(c.lr, 0, c.totalFrames)
	start := time.Now()
	var returns []float64
	var curve rl.Curve
	curve.Name = c.algo + " mean return (last 20)"
	lastPrint, lastPlot := time.Time{}, time.Now()
	for col.Frames() < c.totalFrames {
		batch, err := col.Next()
		if err != nil {
			return err
		}
		done, _ := tensordict.GetAs[bool](batch, "next/done")
		ep, _ := tensordict.GetAs[float32](batch, "next/episode_reward")
		for i, d := range done {
			if d {
				returns = append(returns, float64(ep[i]))
			}
		}
		learner.Optimizer().SetLR(sched(col.Frames()))
		if err := learner.Update(batch); err != nil {
			return err
		}
		mean := meanLast(returns, 20)
		el := time.Since(start).Seconds()
		s := learner.Stats
		step := int64(col.Frames())
		curve.Frames = append(curve.Frames, float64(col.Frames()))
		curve.Values = append(curve.Values, mean)
		if time.Since(lastPlot) > 5*time.Second { // refreshed while training runs
			lastPlot = time.Now()
			if err := rl.PlotCurves(filepath.Join(c.runDir, "curve.png"), "CartPole", "return", curve); err != nil {
				return err
			}
		}
		tb.Scalar("train/mean_return_last20", step, mean)
		tb.Scalar("train/frames_per_second", step, float64(col.Frames())/el)
		for _, k := range []string{"loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"} {
			tb.Scalar("loss/"+k, step, s[k])
		}
		w.Write([]string{strconv.Itoa(col.Frames()), f(el), strconv.Itoa(len(returns)), f(mean), f(s["loss"]), f(s["policy_loss"]), f(s["value_loss"]), f(s["entropy"]), f(s["approx_kl"]), f(s["clip_fraction"])})
		if time.Since(lastPrint) > 250*time.Millisecond || col.Frames() >= c.totalFrames {
			lastPrint = time.Now()
			fmt.Printf("\r%s %s  %7d/%d frames  %6.0f frames/s  ETA %4.0fs  episodes %5d  mean return (last 20) %6.1f ", c.algo, bar(col.Frames(), c.totalFrames),
				col.Frames(), c.totalFrames, float64(col.Frames())/el, el*float64(c.totalFrames-col.Frames())/float64(col.Frames()), len(returns), mean)
		}
	}
	fmt.Println()
	if err := tb.Flush(); err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := rl.PlotCurves(filepath.Join(c.runDir, "curve.png"), "CartPole", "return", curve); err != nil {
		return err
	}
	if err := nn.SaveParams(filepath.Join(c.runDir, "params.mtd"), net.Params()); err != nil {
		return err
	}
	fmt.Printf("train: %d frames in %.1fs; mean return of the last 20 episodes %.1f; log, curve.png and weights in %s\n",
		col.Frames(), time.Since(start).Seconds(), meanLast(returns, 20), c.runDir)
	return nil
}

func f(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func meanLast(xs []float64, n int) float64 {
	if len(xs) == 0 {
		return 0
	}
	n = min(n, len(xs))
	s := 0.0
	for _, x := range xs[len(xs)-n:] {
		s += x
	}
	return s / float64(n)
}

func bar(done, total int) string {
	const width = 24
	k := min(width, done*width/max(total, 1))
	return "[" + strings.Repeat("#", k) + strings.Repeat(".", width-k) + "]"
}
