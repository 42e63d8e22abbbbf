package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/checkpoint"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/minihack"
	"github.com/maestro-rl/maestro/logs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/skills"
	"github.com/maestro-rl/maestro/tensordict"
)

// trainCollector is what train collects with: collectors.Sync, or rl.Overlapped for APPO on
// NetHack with --overlap.
type trainCollector interface {
	rl.Collector
	Snapshot() ([]byte, error)
	Restore(b []byte) error
	Close() error
}

// overlaps reports whether c collects while it learns (APPO on NetHack with --overlap).
func overlaps(c config, hack bool) bool { return c.overlap && rl.Algo(c.Algo) == rl.APPO && hack }

// newCollector returns the collector c asks for; the Overlapped one too when it is that.
func newCollector(c config, hack bool, b *recipe.Setup, co collectors.Options) (trainCollector, *rl.Overlapped, error) {
	if !overlaps(c, hack) {
		col, err := collectors.NewSync(b.Env, b.Learner, co)
		return col, nil, err
	}
	co.TotalFrames = c.TotalFrames // no batch asked for beyond the run
	ov, err := b.NewOverlapped(c.Seed, c.resumedAt, co)
	return ov, ov, err
}

// run trains as c says; resolved, when not nil, writes the resolved flags to a path.
func run(c config, resolved func(path string) error) error {
	if c.NumEnvs < 1 || c.Frames < 1 || c.TotalFrames < 1 || c.checkpointEvery < 0 || c.stopAfter < 0 {
		return fmt.Errorf("--num-envs, --frames-per-batch and --total-frames must be positive, --checkpoint-every and --stop-after not negative")
	}
	if err := checkNumbers(c); err != nil {
		return err
	}
	hack, err := parseEnv(&c)
	if err != nil {
		return err
	}
	if c.blasThreads < 0 {
		cores := runtime.GOMAXPROCS(0) // the CPUs this process may use (cgroup quotas included)
		c.blasThreads = min(cores, 4)
		if overlaps(c, hack) {
			c.blasThreads = max(1, min(cores-1, 4))
		}
	}
	nn.SetBLASThreads(c.blasThreads)
	intr, err := intrinsicFor(&c, hack)
	if err != nil {
		return err
	}
	if c.runDir == "" {
		c.runDir = filepath.Join("runs", fmt.Sprintf("%s-%s-%s-%d", strings.ToLower(c.Env), c.Algo, c.Reward, c.Seed))
	}
	var st state
	var ckptBlobs [][]byte          // the learner's and the collector's states to resume from
	if c.resumeIfAny && !c.resume { // a scheduler's restart: resume when there is a checkpoint
		var probe state
		_, _, err := ckptStore(c.runDir).Latest(&probe)
		c.resume = !errors.Is(err, checkpoint.ErrNone) // an unreadable one: --resume says why
		c.force = c.force || !c.resume                 // a start that never checkpointed begins again
	}
	if c.resume {
		var notes []string
		ckptBlobs, notes, err = ckptStore(c.runDir).Latest(&st)
		if errors.Is(err, checkpoint.ErrNone) {
			return fmt.Errorf("--resume: no checkpoint in %s (%v); start a run without --resume", c.runDir, err)
		}
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		for _, n := range notes {
			fmt.Fprintf(os.Stderr, "train: %s; resuming at %d frames\n", n, st.Frames)
		}
		if diff := configDiff(st.Config, c.identity()); len(diff) > 0 {
			return fmt.Errorf("--resume: %s was trained with other flags: %s; pass the run's flags (or start a new --run-dir)", c.runDir, strings.Join(diff, ", "))
		}
		checkpoint.RemoveStale(c.runDir)
		checkpoint.RemoveStale(filepath.Join(c.runDir, "ckpt"))
	} else if err := clearRunDir(c.runDir, c.force); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.runDir, "ckpt"), 0o755); err != nil {
		return err
	}
	if resolved != nil {
		if err := resolved(filepath.Join(c.runDir, "config.yaml")); err != nil {
			return err
		}
	}
	if c.resume {
		c.resumedAt = st.Frames
	}
	b, err := buildRecording(c, "")
	if err != nil {
		return err
	}
	env, learner := b.Env, b.Learner
	co := collectors.Options{FramesPerBatch: c.NumEnvs * c.Frames}
	if intr != nil {
		co.Postproc = intr.Postproc
	}
	var collectorState []byte
	if c.resume { // the learner first: an overlapped collector starts acting with its weights
		collectorState = ckptBlobs[1]
		if err = learner.Restore(ckptBlobs[0]); err != nil {
			err = fmt.Errorf("the learner's state: %w", err)
		}
		if err != nil {
			env.Close()
			return fmt.Errorf("--resume: %w", err)
		}
	}
	var col trainCollector
	var overlapped *rl.Overlapped
	var bc *brokerCollector // --broker: the learner is fed by actors
	if c.broker != "" {
		env.Close() // its specs built the learner; the actors step the envs
		if bc, err = newBrokerCollector(c, learner); err != nil {
			return err
		}
		col = bc
		defer col.Close()
		if err := bc.restoreAndPublish(collectorState, learner); err != nil {
			return fmt.Errorf("--resume: the collector's state: %w", err)
		}
	} else {
		if col, overlapped, err = newCollector(c, hack, b, co); err != nil {
			env.Close()
			return err
		}
		defer col.Close()
		if c.resume {
			if err := col.Restore(collectorState); err != nil {
				return fmt.Errorf("--resume: the collector's state: %w", err)
			}
		}
	}

	if c.resume {
		// Rows logged after the checkpoint describe batches that will be trained again.
		if err := truncateLog(filepath.Join(c.runDir, "log.csv"), st.Frames); err != nil {
			return err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(c.runDir, "log.csv"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	tb, err := logs.NewTensorBoard(filepath.Join(c.runDir, "tensorboard"))
	if err != nil {
		return err
	}
	defer tb.Close()
	w := csv.NewWriter(logFile)
	// success_last20 came after the other columns; a resumed run keeps its log's columns.
	successCol := !c.resume || logHasColumn(filepath.Join(c.runDir, "log.csv"), "success_last20")
	if !c.resume {
		w.Write([]string{"frames", "seconds", "episodes", "mean_return_last20", "loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "mean_intrinsic_return_last20", "success_last20"})
	}
	sched := nn.LinearSchedule(c.LR, 0, c.TotalFrames)
	start := time.Now()
	returns, successes, curve := st.Returns, st.Successes, st.Curve
	var intrReturns []float64
	curve.Name = c.Algo + " mean return (last 20)"
	lastPrint, lastPlot := time.Time{}, time.Now()
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)
	gen := st.Generation
	checkpoint := func() error {
		// The log and the event file first, so they never lag behind the checkpoint.
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("log.csv: %w", err)
		}
		if err := tb.Flush(); err != nil {
			return err
		}
		gen++
		if err := save(c, learner, col, state{Config: c.identity(), Frames: col.Frames(), Returns: returns, Successes: successes, Curve: curve, Header: checkpoint.Header{Generation: gen}}); err != nil {
			return err
		}
		if bc != nil { // the checkpoint holds what the unrolls taught: ack them now
			return bc.Commit()
		}
		return nil
	}
	startFrames := col.Frames()
	sl, err := newSkillLog(c.runDir, b.Spec, c.resume, st.Frames)
	if err != nil {
		return err
	}
	defer sl.close()
	errInterrupted := errors.New("interrupted")
	t := &rl.Trainer{Collector: col, Learner: learner, TotalFrames: c.TotalFrames,
		// The learning rate follows the frames seen before each batch.
		LR: sched,
		BeforeBatch: []rl.BeforeBatch{
			func(frames int) error { // --stop-after: a clean stop with the final save
				if c.stopAfter > 0 && frames >= c.stopAfter {
					return rl.ErrStop
				}
				return nil
			},
			func(int) error { // Ctrl-C: checkpoint and leave
				select {
				case <-interrupt:
					fmt.Println("\ntrain: interrupted; saving a checkpoint (continue with --resume)")
					if err := checkpoint(); err != nil {
						return err
					}
					return errInterrupted
				default:
					return nil
				}
			},
		},
		AfterCollect: []rl.AfterCollect{func(batch *tensordict.Dict) error { // episode returns
			done, _ := tensordict.GetAs[bool](batch, envs.NextKey(envs.KeyDone))
			ep, _ := tensordict.GetAs[float32](batch, envs.NextKey(envs.KeyEpisodeReward))
			status, _ := tensordict.GetAs[int64](batch, envs.NextKey(minihack.KeyEndStatus)) // nil but on MiniHack
			for i, d := range done {
				if d {
					returns = append(returns, float64(ep[i]))
					if status != nil {
						successes = append(successes, successValue(status[i]))
					}
				}
			}
			if intr != nil {
				in, err := motif.EpisodeIntrinsic(batch)
				if err != nil {
					return err
				}
				intrReturns = append(intrReturns, in...)
				if b.Spec != nil {
					segs, err := motif.Segments(batch, skills.KeySkill)
					if err != nil {
						return err
					}
					sl.add(segs)
				}
			}
			return nil
		}},
		OnUpdateError: func(err error) error {
			if cerr := checkpoint(); cerr != nil {
				return fmt.Errorf("%w (and the checkpoint failed: %v)", err, cerr)
			}
			return fmt.Errorf("%w; the state it stopped in (parameters still finite) is checkpointed in %s; lower --lr and --resume, or start again", err, c.runDir)
		},
	}
	logStep := func(st rl.Step) error { // CSV, TensorBoard, curve, progress bar
		mean := meanLast(returns, 20)
		el := time.Since(start).Seconds()
		s := st.Stats
		step := int64(st.Frames)
		curve.Frames = append(curve.Frames, float64(st.Frames))
		curve.Values = append(curve.Values, mean)
		if time.Since(lastPlot) > 5*time.Second { // refreshed while training runs
			lastPlot = time.Now()
			if err := logs.PlotCurves(filepath.Join(c.runDir, "curve.png"), c.Env, "return", curve); err != nil {
				return err
			}
		}
		tb.Scalar("train/mean_return_last20", step, mean)
		success := ""
		if len(successes) > 0 {
			sr := meanLast(successes, 20)
			tb.Scalar("train/success_last20", step, sr)
			success = f(sr)
		}
		meanIntr := meanLast(intrReturns, 20)
		if intr != nil {
			tb.Scalar("train/mean_intrinsic_return_last20", step, meanIntr)
		}
		tb.Scalar("train/frames_per_second", step, float64(st.Frames-startFrames)/el)
		// Where a batch's time goes: waiting for the collector (with --overlap, the part of
		// collection learning did not hide; Motif's reward model scores the batch in this time
		// too) and updating.
		tb.Scalar("perf/collect_wait_seconds", step, st.Collect.Seconds())
		tb.Scalar("perf/update_seconds", step, st.Update.Seconds())
		if err := sl.write(tb, step, b.Controllers); err != nil {
			return err
		}
		for _, ns := range s.Named() {
			tb.Scalar("loss/"+ns.Name, step, ns.Value)
		}
		row := []string{strconv.Itoa(st.Frames), f(el), strconv.Itoa(len(returns)), f(mean), f(s.Loss), f(s.PolicyLoss), f(s.ValueLoss), f(s.Entropy), f(s.ApproxKL), f(s.ClipFraction), f(meanIntr)}
		if successCol {
			row = append(row, success)
		}
		w.Write(row)
		if time.Since(lastPrint) > 250*time.Millisecond || st.Frames >= c.TotalFrames {
			lastPrint = time.Now()
			rate := float64(st.Frames-startFrames) / el
			fmt.Printf("\r%s %s  %7d/%d frames  %6.0f frames/s  ETA %4.0fs  episodes %5d  mean return (last 20) %6.1f ", c.Algo, bar(st.Frames, c.TotalFrames),
				st.Frames, c.TotalFrames, rate, float64(max(0, c.TotalFrames-st.Frames))/rate, len(returns), mean)
			if intr != nil {
				fmt.Printf(" intrinsic %6.2f ", meanIntr)
			}
			if success != "" {
				fmt.Printf(" success %4.2f ", meanLast(successes, 20))
			}
		}
		return nil
	}
	ev := &periodicEval{c: c, params: learner.Params, tb: tb, start: start} // --eval-every, --target-success, --target-return
	evalStep := ev.step
	checkpointStep := func(st rl.Step) error { // --checkpoint-every
		if c.checkpointEvery > 0 && st.Batches%c.checkpointEvery == 0 || bc != nil && bc.NeedsCommit() {
			return checkpoint()
		}
		return nil
	}
	t.AfterUpdate = []rl.AfterUpdate{logStep, evalStep, checkpointStep}
	if bc != nil { // the actors' next unrolls act with the new weights
		t.AfterUpdate = append([]rl.AfterUpdate{func(st rl.Step) error {
			n := bc.Counts()
			step := int64(st.Frames)
			tb.Scalar("dist/policy_lag", step, bc.meanLag())
			tb.Scalar("dist/unrolls_stale", step, float64(n.Stale))
			tb.Scalar("dist/unrolls_duplicate", step, float64(n.Duplicates))
			tb.Scalar("dist/unrolls_dead", step, float64(n.Dead))
			tb.Scalar("dist/unrolls_refused", step, float64(n.Refused))
			bc.publishWeights(learner.Params())
			return nil
		}}, t.AfterUpdate...)
	}
	if overlapped != nil { // the new weights act from the batch after the one being collected
		t.AfterUpdate = append([]rl.AfterUpdate{func(rl.Step) error { return overlapped.Refresh() }}, t.AfterUpdate...)
	}
	if err := t.Run(); errors.Is(err, errInterrupted) {
		return nil
	} else if err != nil {
		return err
	}
	fmt.Println()
	if err := tb.Flush(); err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := logs.PlotCurves(filepath.Join(c.runDir, "curve.png"), c.Env, "return", curve); err != nil {
		return err
	}
	if err := nn.SaveParams(filepath.Join(c.runDir, "params.mtd"), learner.Params()); err != nil {
		return err
	}
	if err := checkpoint(); err != nil {
		return err
	}
	ev.report(col.Frames())
	if bc != nil {
		n := bc.Counts()
		fmt.Printf("train: unrolls used %d, stale %d (--max-policy-lag), duplicates dropped %d, dead-lettered %d, refused %d (per unroll in unrolls.csv)\n", n.Used, n.Stale, n.Duplicates, n.Dead, n.Refused)
		if p50, p99, ok := bc.latency(); ok {
			fmt.Printf("train: unroll latency from the actor's publish to the learner: p50 %.1f ms, p99 %.1f ms\n", p50, p99)
		}
		if n := bc.skipped.Load(); n > 0 {
			fmt.Printf("train: %d weights versions not published (a newer one was ready before the broker had stored the last)\n", n)
		}
		if err := bc.finish(); err != nil {
			return err
		}
	}
	success := ""
	if len(successes) > 0 {
		success = fmt.Sprintf(", success rate %.2f", meanLast(successes, 20))
	}
	fmt.Printf("train: %d frames in %.1fs; mean return of the last 20 episodes %.1f%s; log, curve.png and weights in %s\n",
		col.Frames(), time.Since(start).Seconds(), meanLast(returns, 20), success, c.runDir)
	if s := sl.summary(); s != "" {
		fmt.Println(s + " (per batch in skills.csv)")
	}
	return nil
}

// intrinsicFor builds the intrinsic reward c asks for (nil: the task's reward only) and
// normalises c's reward fields to what the run uses.
func intrinsicFor(c *config, hack bool) (*motif.Intrinsic, error) {
	var intr *motif.Intrinsic
	var err error
	if c.Skills != "" {
		if !hack {
			return nil, fmt.Errorf("--skills plays NetHack; use it with a NetHack --env, not %s", c.Env)
		}
		if c.Reward != "" && c.Reward != "extrinsic" && c.Reward != "skills" {
			return nil, fmt.Errorf("--skills rewards each skill with its own model (--skill-rewards); leave --reward out")
		}
		spec, err := skills.LoadSpec(c.Skills)
		if err != nil {
			return nil, fmt.Errorf("--skills: %w", err)
		}
		models, err := skills.RewardModels(spec, c.SkillRewards)
		if err != nil {
			return nil, fmt.Errorf("--skill-rewards: %w", err)
		}
		if intr, err = motif.NewSkillIntrinsic(models, spec.Thresholds(), skills.KeySkill, c.Motif); err != nil {
			return nil, fmt.Errorf("--skill-rewards: %w", err)
		}
		c.Reward, c.RewardModel = "skills", ""
	} else {
		c.SkillCode, c.SkillRewards = "", ""
	}
	switch c.Reward {
	case "skills":
	case "", "extrinsic":
		c.Reward, c.RewardModel, c.Motif = "extrinsic", "", motif.IntrinsicOptions{}
	case "motif":
		if !hack {
			return nil, fmt.Errorf("--reward motif scores NetHack's message line; use it with a NetHack --env, not %s", c.Env)
		}
		var rm *motif.RewardModel
		if c.RewardModel == "" {
			rm, err = motif.DefaultRewardModel()
		} else {
			rm, err = motif.LoadRewardModel(c.RewardModel)
		}
		if err != nil {
			return nil, fmt.Errorf("--reward-model: %w", err)
		}
		if intr, err = motif.NewIntrinsic(rm, c.Motif); err != nil {
			return nil, fmt.Errorf("--motif-threshold, --motif-beta or --motif-lru: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown --reward %q; use extrinsic or motif", c.Reward)
	}
	return intr, nil
}
