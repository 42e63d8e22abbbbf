package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/logs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/rl"
)

// evalResult is what `train eval` reports and writes to <run-dir>/eval.json.
type evalResult struct {
	Env      string    `json:"env"`
	Weights  string    `json:"weights"`
	Episodes int       `json:"episodes"`
	Mean     float64   `json:"mean_return"`
	Std      float64   `json:"std_return"`
	Min      float64   `json:"min_return"`
	Max      float64   `json:"max_return"`
	Returns  []float64 `json:"returns"`
	// SuccessRate is the share of episodes that ended in the task's success (MiniHack only).
	SuccessRate *float64 `json:"success_rate,omitempty"`
	// Best and Worst are the ttyrecs of the best and worst episodes (NetHack only), relative
	// to the run folder; play them with any ttyrec player (they are bz2-compressed ttyrec3).
	Best  string `json:"best_ttyrec,omitempty"`
	Worst string `json:"worst_ttyrec,omitempty"`
}

// evalMain is `train eval --run-dir DIR --episodes N`: it plays N episodes with the run's
// final weights (params.mtd) or, for an unfinished run, its last checkpoint's, sampling actions
// from the policy, and reports the task's returns.
func evalMain(args []string) error {
	fs := flag.NewFlagSet("train eval", flag.ContinueOnError)
	runDir := fs.String("run-dir", "", "the run folder to evaluate (required)")
	episodes := fs.Int("episodes", 10, "episodes to play")
	seed := fs.Uint64("seed", 12345, "seed of the evaluation games (other than the training seeds)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: train eval --run-dir DIR [--episodes N]\n\nPlays N episodes with a run's weights and reports the returns (also in DIR/eval.json).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runDir == "" || *episodes < 1 {
		return errors.New("eval: --run-dir is required and --episodes must be positive")
	}
	r, err := evaluate(*runDir, *episodes, *seed)
	if err != nil {
		return err
	}
	success := ""
	if r.SuccessRate != nil {
		success = fmt.Sprintf(", success rate %.3f", *r.SuccessRate)
	}
	fmt.Printf("eval: %d episodes of %s with %s: mean return %.2f (std %.2f, min %.2f, max %.2f)%s; %s\n", r.Episodes, r.Env, r.Weights, r.Mean, r.Std, r.Min, r.Max, success, filepath.Join(*runDir, "eval.json"))
	if r.Best != "" {
		fmt.Printf("eval: best and worst episodes recorded in %s and %s\n", filepath.Join(*runDir, r.Best), filepath.Join(*runDir, r.Worst))
	}
	return nil
}

func evaluate(runDir string, episodes int, seed uint64) (evalResult, error) {
	if _, err := os.Stat(filepath.Join(runDir, "ckpt")); err != nil {
		return evalResult{}, fmt.Errorf("eval: %s is not a run folder (no ckpt/): %v", runDir, err)
	}
	store := ckptStore(runDir)
	var st state
	note, err := store.Newest(&st)
	if err != nil {
		return evalResult{}, fmt.Errorf("eval: %w", err)
	}
	if note != "" {
		fmt.Fprintf(os.Stderr, "train eval: %s\n", note)
	}
	c := st.Config
	weights := filepath.Join(runDir, "params.mtd")
	return evalWith(c, runDir, episodes, seed, func(l learner) (string, error) {
		err := nn.LoadParams(weights, l.Params())
		if err == nil {
			return weights, nil
		}
		if !errors.Is(err, os.ErrNotExist) { // damaged: say so, and use the checkpoint
			fmt.Fprintf(os.Stderr, "train eval: %v; using the newest sound checkpoint instead\n", err)
		}
		var sound state
		blobs, _, serr := store.Latest(&sound)
		if serr != nil {
			return weights, fmt.Errorf("eval: %s unusable (%v) and %w", weights, err, serr)
		}
		weights = filepath.Join(runDir, "ckpt", store.Files(sound.Generation)[0])
		if err := restoreParams(c, blobs[0], l); err != nil {
			return weights, fmt.Errorf("eval: no usable params.mtd and no usable checkpoint in %s: %w", runDir, err)
		}
		return weights, nil
	})
}

// evalWith plays episodes of c's env on fresh seeds with the weights setWeights gives the
// learner (it returns their name), records the best and worst NetHack episodes, and writes
// runDir/eval.json.
func evalWith(c config, runDir string, episodes int, seed uint64, setWeights func(l learner) (string, error)) (evalResult, error) {
	c.Seed = seed
	c.resumedAt = 0 // the evaluation games do not depend on where the run resumed
	hack, err := parseEnv(&c)
	if err != nil {
		return evalResult{}, err
	}
	recDir := ""
	if hack {
		recDir = filepath.Join(runDir, "eval", "ttyrec-tmp")
		os.RemoveAll(recDir)
	}
	b, err := buildRecording(c, recDir)
	if err != nil {
		return evalResult{}, err
	}
	env, l := b.Env, b.Learner
	res := evalResult{Env: c.Env}
	if res.Weights, err = setWeights(l); err != nil {
		env.Close()
		return res, err
	}
	eps, err := b.PlayEpisodes(l, episodes, 64)
	env.Close() // completes the games' ttyrecs
	if err != nil {
		return res, err
	}
	successes := 0
	for _, ep := range eps {
		res.Returns = append(res.Returns, ep.Return)
		if ep.Success != nil {
			if *ep.Success {
				successes++
			}
			rate := float64(successes) / float64(len(eps))
			res.SuccessRate = &rate
		}
	}
	if recDir != "" {
		best, worst := 0, 0
		for i, r := range res.Returns {
			if r > res.Returns[best] {
				best = i
			}
			if r < res.Returns[worst] {
				worst = i
			}
		}
		for _, k := range []struct {
			i    int
			name string
			dst  *string
		}{{best, "best", &res.Best}, {worst, "worst", &res.Worst}} {
			if src := b.Recording(eps[k.i]); src != "" {
				rel := filepath.Join("eval", k.name+".ttyrec3.bz2")
				if err := os.Rename(src, filepath.Join(runDir, rel)); err == nil {
					*k.dst = rel
				}
			}
		}
		os.RemoveAll(recDir)
	}
	res.Episodes = len(res.Returns)
	res.Min, res.Max = math.Inf(1), math.Inf(-1)
	for _, x := range res.Returns {
		res.Mean += x / float64(res.Episodes)
		res.Min, res.Max = math.Min(res.Min, x), math.Max(res.Max, x)
	}
	for _, x := range res.Returns {
		res.Std += (x - res.Mean) * (x - res.Mean) / float64(res.Episodes)
	}
	res.Std = math.Sqrt(res.Std)
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return res, fmt.Errorf("eval: eval.json: %w", err)
	}
	return res, atomicfile.WriteFile(filepath.Join(runDir, "eval.json"), append(out, '\n'))
}

// restoreParams copies the weights of a learner checkpoint into l, leaving l's sampling
// generator as evaluation seeded it (a checkpoint also holds the training generator's state).
func restoreParams(c config, ckpt []byte, l learner) error {
	env, tmp, err := build(c)
	if err != nil {
		return err
	}
	env.Close()
	if err := tmp.Restore(ckpt); err != nil {
		return err
	}
	for i, p := range tmp.Params() {
		copy(l.Params()[i].Data, p.Data)
	}
	return nil
}

// periodicEval is --eval-every during training: it plays --eval-episodes with the current
// weights, logs them, and stops the run once --target-success or --target-return is reached.
type periodicEval struct {
	c           config
	params      func() []*nn.Param
	tb          *logs.TensorBoard
	start       time.Time
	bestSuccess float64
	bestReturn  float64 // the best evaluation's mean return (--target-return)
	evals       int
	targetAt    int // frames at which the target was reached, 0 until then
}

// step is an rl.AfterUpdate hook.
func (e *periodicEval) step(st rl.Step) error {
	c := e.c
	if c.evalEvery == 0 || st.Frames/c.evalEvery == (st.Frames-c.NumEnvs*c.Frames)/c.evalEvery {
		return nil
	}
	r, err := evalWith(c, c.runDir, c.evalEpisodes, c.Seed+1_000_003, func(l learnerAPI) (string, error) {
		for i, p := range e.params() {
			copy(l.Params()[i].Data, p.Data)
		}
		return fmt.Sprintf("the weights at %d frames", st.Frames), nil
	})
	if err != nil {
		return fmt.Errorf("evaluation at %d frames: %w", st.Frames, err)
	}
	e.tb.Scalar("eval/mean_return", int64(st.Frames), r.Mean)
	success := ""
	if r.SuccessRate != nil {
		e.tb.Scalar("eval/success_rate", int64(st.Frames), *r.SuccessRate)
		success = fmt.Sprintf(", success rate %.2f", *r.SuccessRate)
	}
	fmt.Printf("\neval at %d frames: mean return %.2f over %d episodes (min %.2f, max %.2f)%s\n", st.Frames, r.Mean, r.Episodes, r.Min, r.Max, success)
	if e.evals++; e.evals == 1 || r.Mean > e.bestReturn {
		e.bestReturn = r.Mean
	}
	if c.targetReturn != 0 && r.Mean >= c.targetReturn {
		e.targetAt = st.Frames
		fmt.Printf("target: reached mean return %.2f >= %.2f at frames=%d seconds=%.1f\n", r.Mean, c.targetReturn, st.Frames, time.Since(e.start).Seconds())
		return rl.ErrStop
	}
	if c.targetSuccess > 0 && r.SuccessRate != nil {
		e.bestSuccess = max(e.bestSuccess, *r.SuccessRate)
		if *r.SuccessRate >= c.targetSuccess {
			e.targetAt = st.Frames
			fmt.Printf("target: reached success %.3f >= %.3f at frames=%d seconds=%.1f\n", *r.SuccessRate, c.targetSuccess, st.Frames, time.Since(e.start).Seconds())
			return rl.ErrStop
		}
	}
	return nil
}

// report says, at the end of a run with a target, that the target was not reached.
func (e *periodicEval) report(frames int) {
	if e.c.targetSuccess > 0 && e.targetAt == 0 {
		fmt.Printf("target: not reached in %d frames (best evaluation success %.3f, target %.3f)\n", frames, e.bestSuccess, e.c.targetSuccess)
	}
	if e.c.targetReturn != 0 && e.targetAt == 0 {
		best := "no evaluation ran"
		if e.evals > 0 {
			best = fmt.Sprintf("best evaluation mean return %.2f", e.bestReturn)
		}
		fmt.Printf("target: not reached in %d frames (%s, target %.2f)\n", frames, best, e.c.targetReturn)
	}
}
