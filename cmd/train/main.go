package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/maestro-rl/maestro/checkpoint"
	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/envs/nethack"
	"github.com/maestro-rl/maestro/internal/atomicfile"
	"github.com/maestro-rl/maestro/internal/validate"
	"github.com/maestro-rl/maestro/logs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/rl"
	"github.com/maestro-rl/maestro/skills"
	"github.com/maestro-rl/maestro/tensordict"
)

type config struct {
	Algo        string  `json:"algo"`
	Env         string  `json:"env"`
	NumEnvs     int     `json:"num_envs"`
	Frames      int     `json:"frames_per_batch"`
	TotalFrames int     `json:"total_frames"`
	Seed        uint64  `json:"seed"`
	LR          float64 `json:"lr"`
	Reward      string  `json:"reward"`
	// RewardModel is the Motif reward model file ("" = the one shipped with Maestro).
	RewardModel string                 `json:"reward_model,omitempty"`
	Motif       motif.IntrinsicOptions `json:"motif"`
	// Skills is the skills spec of a MaestroMotif run ("" = none), SkillCode the folder of
	// its skill code and SkillRewards that of its per-skill reward models ("default": shipped).
	Skills       string `json:"skills,omitempty"`
	SkillCode    string `json:"skill_code,omitempty"`
	SkillRewards string `json:"skill_rewards,omitempty"`
	// Not part of a run's identity:
	runDir          string
	force           bool
	resume          bool
	stopAfter       int
	checkpointEvery int
	blasThreads     int
	overlap         bool
	resumedAt       int // the frames of the checkpoint resumed from: new games after it
	evalEvery       int
	evalEpisodes    int
}

// identity returns the fields that define a run (what --resume must match).
func (c config) identity() config {
	return config{Algo: c.Algo, Env: c.Env, NumEnvs: c.NumEnvs, Frames: c.Frames, TotalFrames: c.TotalFrames, Seed: c.Seed, LR: c.LR,
		Reward: c.Reward, RewardModel: c.RewardModel, Motif: c.Motif, Skills: c.Skills, SkillCode: c.SkillCode, SkillRewards: c.SkillRewards}
}

// state is what a checkpoint holds besides the learner and the collector.
type state struct {
	Config  config     `json:"config"`
	Frames  int        `json:"frames"`
	Returns []float64  `json:"returns"`
	Curve   logs.Curve `json:"curve"`
	// Header numbers the checkpoint generation and holds its files' checksums.
	checkpoint.Header
}

// ckptStore is a run's checkpoint folder: generations of the learner's and the collector's
// states (learner-N.bin, collector-N.bin), their records (state-N.json) and ckpt/train.json.
func ckptStore(runDir string) checkpoint.Store {
	return checkpoint.Store{Dir: filepath.Join(runDir, "ckpt"), Parts: []string{"learner", "collector"}}
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "eval" || os.Args[1] == "plot") {
		sub := map[string]func([]string) error{"eval": evalMain, "plot": plotMain}[os.Args[1]]
		if err := sub(os.Args[2:]); err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "train:", err)
			os.Exit(1)
		}
		return
	}
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var c config
	fs.StringVar(&c.Algo, "algo", "ppo", "learning algorithm: ppo, a2c or appo")
	fs.StringVar(&c.Env, "env", "CartPole", "environment: CartPole or a NetHack task (NetHackScore, NetHackStaircase, NetHackOracle, ... or their short names: score, staircase); NetHack trains the recurrent Motif-style agent")
	fs.IntVar(&c.NumEnvs, "num-envs", 4, "environments stepped together")
	fs.IntVar(&c.Frames, "frames-per-batch", 128, "steps per environment per batch")
	fs.IntVar(&c.TotalFrames, "total-frames", 200_000, "train until this many environment steps (whole batches: the last may end past it)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the environments, the network and the sampling")
	fs.Float64Var(&c.LR, "lr", 0, "learning rate, annealed linearly to 0 over --total-frames; 0 means 1e-3 on CartPole, 1e-4 on NetHack (Motif's, with its other hyper-parameters: clip 0.1, entropy 0.003, max gradient norm 4, one epoch)")
	fs.StringVar(&c.Reward, "reward", "extrinsic", "reward: extrinsic (the task's) or motif (Motif's intrinsic reward from an LLM-trained reward model, plus --motif-a2 times the task's; NetHack only)")
	fs.StringVar(&c.RewardModel, "reward-model", "", "Motif reward model file from `annotate train` (default: the model shipped with Maestro, see rewards/motif/models/default.json)")
	def := motif.DefaultIntrinsic()
	fs.Float64Var(&c.Motif.A1, "motif-a1", def.A1, "Motif: weight of the intrinsic reward")
	fs.Float64Var(&c.Motif.A2, "motif-a2", def.A2, "Motif: weight of the task's reward, clipped to +-10 after scaling by 0.1 (0: intrinsic only; Motif uses 10 on sparse tasks)")
	fs.Float64Var(&c.Motif.Beta, "motif-beta", def.Beta, "Motif: the intrinsic reward is divided by N^beta, N the message's count in the episode")
	fs.Float64Var(&c.Motif.Threshold, "motif-threshold", def.Threshold, "Motif: quantile (0.05 ... 0.95) of the normalised reward below which the intrinsic reward is 0")
	fs.IntVar(&c.Motif.LRU, "motif-lru", 0, "Motif: count messages within the last N (MaestroMotif) instead of per episode (0)")
	fs.StringVar(&c.Skills, "skills", "", "train MaestroMotif's skill-conditioned agent on this skills spec (\"default\": MaestroMotif's five skills, skills/specs/maestromotif.yaml): the spec's character, actions and episode length on --env, skills played in call-and-return by --skill-code, each rewarded by its own reward model (--skill-rewards) with its spec threshold; implies --motif-a2 0 and --motif-lru 20 unless given")
	fs.StringVar(&c.SkillCode, "skill-code", "default", "with --skills: folder of initiation.star, termination.star and policy.star (compose's output; missing files come from the reference code), or \"default\" (the reference code in skills/code)")
	fs.StringVar(&c.SkillRewards, "skill-rewards", "default", "with --skills: folder of one reward model per skill, <skill>.mtd (annotate train on pairs labelled with --skill), or \"default\" (the models in skills/rewards)")
	fs.BoolVar(&c.resume, "resume", false, "continue the run in --run-dir from its last checkpoint (bit-exact)")
	fs.IntVar(&c.stopAfter, "stop-after", 0, "stop with a checkpoint after this many frames (0: run to --total-frames); Ctrl-C does the same")
	fs.IntVar(&c.checkpointEvery, "checkpoint-every", 20, "batches between checkpoints")
	fs.BoolVar(&c.overlap, "overlap", true, "with --algo appo on NetHack: collect the next batch while learning from this one, as sample-factory does (each batch acts with the weights of one update before; V-trace corrects for the lag); false alternates collecting and learning. Other algorithms and CartPole always alternate")
	fs.IntVar(&c.evalEvery, "eval-every", 0, "every this many frames, play --eval-episodes with the current weights on fresh seeds (logged as eval/mean_return; NetHack keeps the best and worst as ttyrecs in eval/); 0: never")
	fs.IntVar(&c.evalEpisodes, "eval-episodes", 5, "episodes per evaluation")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile here (go tool pprof)")
	cfgFile := fs.String("config", "", "YAML file of flag: value pairs (flags given on the command line override it); the resolved values are saved in the run folder as config.yaml")
	fs.StringVar(&c.runDir, "run-dir", "", "folder for the logs (log.csv, tensorboard/, curve.png), the weights (params.mtd) and checkpoints (ckpt/); default runs/cartpole-<algo>-<seed>")
	fs.BoolVar(&c.force, "force", false, "overwrite an existing run folder")
	fs.IntVar(&c.blasThreads, "blas-threads", -1, "goroutines sharing each large matrix product and element-wise kernel of the learner (OpenBLAS itself single-threaded); -1 picks the cores, at most 4, less one for the collector with --overlap (split products wait for their slowest part, so a part sharing a core with the collector holds up the whole product). 0 leaves OpenBLAS its own threads, which spin between products: when other work keeps the cores busy that made training 10-15x slower")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "train: train an agent with Maestro.\n\nUsage:\n  train [flags]\n  train eval --run-dir DIR --episodes N   (play a trained run's policy; train eval --help)\n  train plot --out FILE RUN-DIR...        (compare runs' curves; train plot --help)\n\nExamples:\n  train --algo ppo --env CartPole --total-frames 100000\n  train --algo appo --env NetHackScore --reward motif --num-envs 8\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	if *cfgFile != "" {
		if err := applyConfigFile(fs, *cfgFile); err != nil {
			fmt.Fprintln(os.Stderr, "train:", err)
			os.Exit(2)
		}
	}
	if c.Skills != "" { // MaestroMotif's reward: intrinsic only, message counts over the last 20
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["motif-a2"] {
			c.Motif.A2 = 0
		}
		if !set["motif-lru"] {
			c.Motif.LRU = 20
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "train: --cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(c, func(path string) error { return writeResolved(fs, path) }); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

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

// learner is what train trains: an rl.Learner of a FeedForward model (CartPole) or of the
// NetHack agent's model.
type learner interface {
	envs.Policy
	Update(batch *tensordict.Dict) error
	Optimizer() *nn.Adam
	Metrics() map[string]float64
	Params() []*nn.Param
	Snapshot() ([]byte, error)
	Restore(b []byte) error
}

// parseEnv normalises c.Env's spelling and returns its NetHack task (hack false for CartPole).
func parseEnv(c *config) (task nethack.Task, hack bool, err error) {
	if strings.EqualFold(c.Env, "CartPole") {
		c.Env = "CartPole" // --env cartpole and a later --resume --env CartPole are one run
		if c.LR == 0 {
			c.LR = 1e-3
		}
		return 0, false, nil
	}
	if task, err = nethack.ParseTask(c.Env); err != nil {
		return 0, false, fmt.Errorf("unknown --env %q; available: CartPole or a NetHack task (%v)", c.Env, err)
	}
	c.Env = task.String()
	if c.LR == 0 {
		c.LR = rl.MotifOptions(rl.Algo(c.Algo)).LR
	}
	return task, true, nil
}

// build makes c's setup (recipe.Build) and returns its env and learner.
func build(c config, task nethack.Task, hack bool) (envs.Env, learner, error) {
	b, err := buildRecording(c, task, hack, "")
	if err != nil {
		return nil, nil, err
	}
	return b.Env, b.Learner, nil
}

// buildRecording makes c's setup with NetHack episodes recorded as ttyrecs under
// ttyrecDir/env<i>/ (none when ttyrecDir is "").
func buildRecording(c config, _ nethack.Task, _ bool, ttyrecDir string) (*recipe.Setup, error) {
	return recipe.Build(recipe.Options{Algo: c.Algo, Env: c.Env, NumEnvs: c.NumEnvs, Seed: c.Seed, LR: c.LR,
		Skills: c.Skills, SkillCode: c.SkillCode, ResumedAt: c.resumedAt, TTYRecDir: ttyrecDir})
}

// run trains as c says; resolved, when not nil, writes the resolved flags to a path.
func run(c config, resolved func(path string) error) error {
	if c.NumEnvs < 1 || c.Frames < 1 || c.TotalFrames < 1 || c.checkpointEvery < 0 || c.stopAfter < 0 {
		return fmt.Errorf("--num-envs, --frames-per-batch and --total-frames must be positive, --checkpoint-every and --stop-after not negative")
	}
	if err := checkNumbers(c); err != nil {
		return err
	}
	task, hack, err := parseEnv(&c)
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
	var intr *motif.Intrinsic
	if c.Skills != "" {
		if !hack {
			return fmt.Errorf("--skills plays NetHack; use it with a NetHack --env, not %s", c.Env)
		}
		if c.Reward != "" && c.Reward != "extrinsic" && c.Reward != "skills" {
			return fmt.Errorf("--skills rewards each skill with its own model (--skill-rewards); leave --reward out")
		}
		spec, err := skills.LoadSpec(c.Skills)
		if err != nil {
			return fmt.Errorf("--skills: %w", err)
		}
		models, err := skills.RewardModels(spec, c.SkillRewards)
		if err != nil {
			return fmt.Errorf("--skill-rewards: %w", err)
		}
		if intr, err = motif.NewSkillIntrinsic(models, spec.Thresholds(), skills.KeySkill, c.Motif); err != nil {
			return fmt.Errorf("--skill-rewards: %w", err)
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
			return fmt.Errorf("--reward motif scores NetHack's message line; use it with a NetHack --env, not %s", c.Env)
		}
		var rm *motif.RewardModel
		if c.RewardModel == "" {
			rm, err = motif.DefaultRewardModel()
		} else {
			rm, err = motif.LoadRewardModel(c.RewardModel)
		}
		if err != nil {
			return fmt.Errorf("--reward-model: %w", err)
		}
		if intr, err = motif.NewIntrinsic(rm, c.Motif); err != nil {
			return fmt.Errorf("--motif-threshold, --motif-beta or --motif-lru: %w", err)
		}
	default:
		return fmt.Errorf("unknown --reward %q; use extrinsic or motif", c.Reward)
	}
	if c.runDir == "" {
		c.runDir = filepath.Join("runs", fmt.Sprintf("%s-%s-%s-%d", strings.ToLower(c.Env), c.Algo, c.Reward, c.Seed))
	}
	var st state
	var ckptBlobs [][]byte // the learner's and the collector's states to resume from
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
	b, err := buildRecording(c, task, hack, "")
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
	col, overlapped, err := newCollector(c, hack, b, co)
	if err != nil {
		env.Close()
		return err
	}
	defer col.Close()
	if c.resume {
		if err := col.Restore(collectorState); err != nil {
			return fmt.Errorf("--resume: the collector's state: %w", err)
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
	if !c.resume {
		w.Write([]string{"frames", "seconds", "episodes", "mean_return_last20", "loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "mean_intrinsic_return_last20"})
	}
	sched := nn.LinearSchedule(c.LR, 0, c.TotalFrames)
	start := time.Now()
	returns, curve := st.Returns, st.Curve
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
		return save(c, learner, col, state{Config: c.identity(), Frames: col.Frames(), Returns: returns, Curve: curve, Header: checkpoint.Header{Generation: gen}})
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
			for i, d := range done {
				if d {
					returns = append(returns, float64(ep[i]))
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
		for _, k := range []string{"loss", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"} {
			tb.Scalar("loss/"+k, step, s[k])
		}
		w.Write([]string{strconv.Itoa(st.Frames), f(el), strconv.Itoa(len(returns)), f(mean), f(s["loss"]), f(s["policy_loss"]), f(s["value_loss"]), f(s["entropy"]), f(s["approx_kl"]), f(s["clip_fraction"]), f(meanIntr)})
		if time.Since(lastPrint) > 250*time.Millisecond || st.Frames >= c.TotalFrames {
			lastPrint = time.Now()
			rate := float64(st.Frames-startFrames) / el
			fmt.Printf("\r%s %s  %7d/%d frames  %6.0f frames/s  ETA %4.0fs  episodes %5d  mean return (last 20) %6.1f ", c.Algo, bar(st.Frames, c.TotalFrames),
				st.Frames, c.TotalFrames, rate, float64(max(0, c.TotalFrames-st.Frames))/rate, len(returns), mean)
			if intr != nil {
				fmt.Printf(" intrinsic %6.2f ", meanIntr)
			}
		}
		return nil
	}
	evalStep := func(st rl.Step) error { // --eval-every
		if c.evalEvery == 0 || st.Frames/c.evalEvery == (st.Frames-c.NumEnvs*c.Frames)/c.evalEvery {
			return nil
		}
		r, err := evalWith(c, c.runDir, c.evalEpisodes, c.Seed+1_000_003, func(l learnerAPI, _ nethack.Task, _ bool) (string, error) {
			for i, p := range learner.Params() {
				copy(l.Params()[i].Data, p.Data)
			}
			return fmt.Sprintf("the weights at %d frames", st.Frames), nil
		})
		if err != nil {
			return fmt.Errorf("evaluation at %d frames: %w", st.Frames, err)
		}
		tb.Scalar("eval/mean_return", int64(st.Frames), r.Mean)
		fmt.Printf("\neval at %d frames: mean return %.2f over %d episodes (min %.2f, max %.2f)\n", st.Frames, r.Mean, r.Episodes, r.Min, r.Max)
		return nil
	}
	checkpointStep := func(st rl.Step) error { // --checkpoint-every
		if c.checkpointEvery > 0 && st.Batches%c.checkpointEvery == 0 {
			return checkpoint()
		}
		return nil
	}
	t.AfterUpdate = []rl.AfterUpdate{logStep, evalStep, checkpointStep}
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
	fmt.Printf("train: %d frames in %.1fs; mean return of the last 20 episodes %.1f; log, curve.png and weights in %s\n",
		col.Frames(), time.Since(start).Seconds(), meanLast(returns, 20), c.runDir)
	if s := sl.summary(); s != "" {
		fmt.Println(s + " (per batch in skills.csv)")
	}
	return nil
}

// save writes a checkpoint generation of the learner's and the collector's states with st
// (ckptStore; see checkpoint.Store.Save for what a crash leaves).
func save(c config, learner learner, col trainCollector, st state) error {
	lb, err := learner.Snapshot()
	if err != nil {
		return err
	}
	cb, err := col.Snapshot()
	if err != nil {
		return err
	}
	return ckptStore(c.runDir).Save(&st, [][]byte{lb, cb})
}

// truncateLog drops the rows of log.csv past frames (batches trained after the checkpoint that
// a resumed run trains again), so the log's frames only grow. A torn row (a kill in the middle
// of a write) and any row that does not parse are dropped too, with a note on stderr.
func truncateLog(path string, frames int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	rows, torn := readLogRows(b)
	keep := rows[:0]
	for i, r := range rows {
		if n, err := strconv.Atoi(r[0]); i == 0 || (err == nil && n <= frames) {
			keep = append(keep, r)
		}
	}
	if torn > 0 {
		fmt.Fprintf(os.Stderr, "train: %s: dropped %d torn or unreadable row(s)\n", path, torn)
	}
	if len(keep) == len(rows) && torn == 0 {
		return nil
	}
	var out bytes.Buffer
	cw := csv.NewWriter(&out)
	cw.WriteAll(keep)
	if err := cw.Error(); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, out.Bytes())
}

// checkNumbers refuses numeric flags that would train on nonsense or fail only at the first
// checkpoint (NaN cannot be written to train.json): each must be finite and in its range.
func checkNumbers(c config) error {
	if err := validate.Numbers("--",
		validate.F("lr", c.LR, c.LR >= 0, "of 0 (the env's default) or a positive learning rate such as 1e-4"),
		validate.F("motif-a1", c.Motif.A1, true, "(a weight)"),
		validate.F("motif-a2", c.Motif.A2, true, "(a weight)"),
		validate.F("motif-beta", c.Motif.Beta, c.Motif.Beta >= 0, "of at least 0"),
		validate.F("motif-threshold", c.Motif.Threshold, c.Motif.Threshold >= 0 && c.Motif.Threshold <= 1, "in [0, 1] (a quantile)")); err != nil {
		return err
	}
	if c.Motif.LRU < 0 {
		return fmt.Errorf("--motif-lru %d: want 0 (count per episode) or a positive window", c.Motif.LRU)
	}
	if c.evalEvery < 0 || (c.evalEvery > 0 && c.evalEpisodes < 1) {
		return fmt.Errorf("--eval-every %d with --eval-episodes %d: an evaluation plays at least one episode (or pass --eval-every 0 for none)", c.evalEvery, c.evalEpisodes)
	}
	return nil
}

// readLogRows parses log.csv line by line: rows with the header's field count are kept; any
// other line (torn, or not CSV) is counted in torn.
func readLogRows(b []byte) (rows [][]string, torn int) {
	lines := strings.Split(string(b), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	for _, line := range lines {
		r, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil || (len(rows) > 0 && len(r) != len(rows[0])) {
			torn++
			continue
		}
		rows = append(rows, r)
	}
	return rows, torn
}

// clearRunDir makes way for a new run in dir: nothing to do when it does not exist; with force,
// it is removed if it is a run folder (it holds ckpt/train.json, config.yaml or log.csv) and
// refused otherwise, so a mistyped --run-dir cannot delete a home folder or a file.
func clearRunDir(dir string, force bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--run-dir %s: %w", dir, err)
	}
	if !force {
		return fmt.Errorf("run folder %s exists; pass --force to overwrite it, --resume to continue it, or choose --run-dir", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("--force: --run-dir %s is a file, not a run folder; it was left alone (choose another --run-dir)", dir)
	}
	if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		return nil
	}
	for _, marker := range []string{filepath.Join("ckpt", "train.json"), "config.yaml", "log.csv"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return os.RemoveAll(dir)
		}
	}
	return fmt.Errorf("--force: %s is not a run folder (no ckpt/train.json, config.yaml or log.csv in it), so it was left alone; choose another --run-dir or empty it yourself", dir)
}

// configDiff names each field of a run's identity that differs, as the flag that sets it,
// with both values.
func configDiff(was, now config) []string {
	flat := func(c config) map[string]any {
		b, _ := json.Marshal(c)
		var m map[string]any
		json.Unmarshal(b, &m)
		out := map[string]any{}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			if sub, ok := v.(map[string]any); ok {
				for k, x := range sub {
					walk(prefix+strings.ToLower(k)+"-", x)
				}
				return
			}
			out[strings.TrimSuffix(prefix, "-")] = v
		}
		walk("", m)
		return out
	}
	a, b := flat(was), flat(now)
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diff []string
	for _, k := range keys {
		if fmt.Sprint(a[k]) != fmt.Sprint(b[k]) {
			show := func(v any) string {
				if v == nil {
					return "(unset)"
				}
				return fmt.Sprintf("%v", v)
			}
			diff = append(diff, fmt.Sprintf("--%s was %s, now %s", strings.ReplaceAll(k, "_", "-"), show(a[k]), show(b[k])))
		}
	}
	return diff
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

// learnerAPI names the learner type where a variable called learner shadows it.
type learnerAPI = learner
