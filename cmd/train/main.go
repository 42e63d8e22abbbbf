package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/maestro-rl/maestro/checkpoint"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/logs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/recipe"
	"github.com/maestro-rl/maestro/rewards/motif"
	"github.com/maestro-rl/maestro/rl"
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
	// ClipValueLoss and RecomputeValues are rl.Options' (CleanRL's clip_vloss; APPO's values
	// from the learner's network, as sample-factory).
	ClipValueLoss   bool `json:"clip_value_loss,omitempty"`
	RecomputeValues bool `json:"recompute_values,omitempty"`
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
	targetSuccess   float64 // stop at the first evaluation with this success rate (MiniHack)
	targetReturn    float64 // stop at the first evaluation with this mean return (0: none)
	// Over a broker (dist): the URL (never saved: it may hold credentials), the run's name,
	// the embedded broker's address, a token file, the stream's bound, the lag limit.
	broker, brokerRun, brokerListen, brokerToken string
	brokerMaxBytes                               int64
	brokerMaxAhead                               int
	brokerWait                                   time.Duration
	resumeIfAny                                  bool
	maxPolicyLag                                 int
	actor                                        bool // train actor: collect for a learner over the broker
}

// identity returns the fields that define a run (what --resume must match).
func (c config) identity() config {
	return config{Algo: c.Algo, Env: c.Env, NumEnvs: c.NumEnvs, Frames: c.Frames, TotalFrames: c.TotalFrames, Seed: c.Seed, LR: c.LR,
		Reward: c.Reward, RewardModel: c.RewardModel, Motif: c.Motif, Skills: c.Skills, SkillCode: c.SkillCode, SkillRewards: c.SkillRewards,
		ClipValueLoss: c.ClipValueLoss, RecomputeValues: c.RecomputeValues}
}

// state is what a checkpoint holds besides the learner and the collector.
type state struct {
	Config  config    `json:"config"`
	Frames  int       `json:"frames"`
	Returns []float64 `json:"returns"`
	// Successes are 1 for each finished episode that ended in the task's success, else 0
	// (MiniHack tasks, whose env reports the end status).
	Successes []float64  `json:"successes,omitempty"`
	Curve     logs.Curve `json:"curve"`
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
	if len(os.Args) > 1 && (os.Args[1] == "actor" || os.Args[1] == "broker") {
		sub := map[string]func([]string) error{"actor": actorMain, "broker": brokerMain}[os.Args[1]]
		if err := sub(os.Args[2:]); err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "train "+os.Args[1]+":", err)
			os.Exit(1)
		}
		return
	}
	var c config
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	cpuProfile, cfgFile := trainFlags(fs, &c)
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

// trainFlags defines train's flags on fs, writing into c; it returns the --cpuprofile and
// --config values.
func trainFlags(fs *flag.FlagSet, c *config) (cpuProfile, cfgFile *string) {
	fs.StringVar(&c.Algo, "algo", "ppo", "learning algorithm: ppo, a2c or appo")
	fs.StringVar(&c.Env, "env", "CartPole", "environment: CartPole, a NetHack task (NetHackScore, NetHackStaircase, NetHackOracle, ... or their short names: score, staircase) or a MiniHack task (MiniHack-Room-5x5-v0, MiniHack-Room-Random-15x15-v0, ...: docs/minihack.md); NetHack trains the recurrent Motif-style agent, MiniHack the MiniHack agent (glyph map and crop, GRU)")
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
	fs.BoolVar(&c.ClipValueLoss, "clip-value-loss", false, "PPO/APPO: clip the value loss around the acting values by the clip range, as CleanRL's clip_vloss (off: mean squared error, without CleanRL's 1/2, so the value coefficient 0.5 here is CleanRL's 1.0)")
	fs.BoolVar(&c.RecomputeValues, "recompute-values", false, "APPO: V-trace reads the values of the batch's states from the learner's network over the stored sequences, as sample-factory does (off: the values recorded when acting, from the weights of one update before with --overlap)")
	fs.BoolVar(&c.resume, "resume", false, "continue the run in --run-dir from its last checkpoint (bit-exact)")
	fs.BoolVar(&c.resumeIfAny, "resume-if-any", false, "for schedulers that restart a failed job (Kubernetes, Slurm --requeue): --resume when --run-dir holds a checkpoint, else start the run (over a run folder that never reached its first checkpoint)")
	fs.IntVar(&c.stopAfter, "stop-after", 0, "stop with a checkpoint after this many frames (0: run to --total-frames); Ctrl-C does the same")
	fs.IntVar(&c.checkpointEvery, "checkpoint-every", 20, "batches between checkpoints")
	fs.BoolVar(&c.overlap, "overlap", true, "with --algo appo on NetHack or MiniHack: collect the next batch while learning from this one, as sample-factory does (each batch acts with the weights of one update before; V-trace corrects for the lag); false alternates collecting and learning. Other algorithms and CartPole always alternate")
	fs.IntVar(&c.evalEvery, "eval-every", 0, "every this many frames, play --eval-episodes with the current weights on fresh seeds (logged as eval/mean_return; NetHack keeps the best and worst as ttyrecs in eval/); 0: never")
	fs.IntVar(&c.evalEpisodes, "eval-episodes", 5, "episodes per evaluation")
	fs.Float64Var(&c.targetReturn, "target-return", 0, "with --eval-every: stop (saving the weights) at the first evaluation whose mean return reaches this (CartPole-v1's speedrun target: 475), and print the frames and seconds it took; 0: run to --total-frames")
	fs.Float64Var(&c.targetSuccess, "target-success", 0, "MiniHack with --eval-every: stop (saving the weights) at the first evaluation whose success rate reaches this, and print the frames and seconds it took (a speedrun's target); 0: run to --total-frames")
	fs.StringVar(&c.broker, "broker", "", "learn from actor processes over NATS JetStream at this URL (nats://host:4222, comma-separated for a cluster; user:password@ or a token in the URL, or --broker-token-file), or \"embedded\": start a broker inside this process with its store in the run folder, listening on --broker-listen; actors then run `train actor --broker URL --run NAME`")
	fs.StringVar(&c.brokerRun, "run", "default", "with --broker: the run's name on the broker (its streams and buckets are named after it); actors pass the same")
	fs.StringVar(&c.brokerListen, "broker-listen", "127.0.0.1:4222", "with --broker embedded: the address the broker listens on (port 0: any free one; the URL is written to the run folder's broker.url)")
	fs.StringVar(&c.brokerToken, "broker-token-file", "", "a file holding the broker's auth token (never logged or saved); with --broker embedded the embedded broker requires it of every client")
	fs.DurationVar(&c.brokerWait, "broker-wait", 30*time.Second, "with --broker: how long to keep trying a broker that refuses connections at start (the processes of a run may start in any order); 0 fails at once")
	fs.IntVar(&c.brokerMaxAhead, "broker-max-ahead", 4, "with --broker: actors hold back while this many of the learner's batches (of --num-envs unrolls) wait for it; that bounds the policy lag and the cores actors spend on unrolls that would be stale when learnt; 0: no bound but --broker-max-bytes")
	fs.Int64Var(&c.brokerMaxBytes, "broker-max-bytes", 1<<30, "with --broker: the unroll stream's storage bound; actors wait while it is full, so a slow learner never fills the disk")
	fs.IntVar(&c.maxPolicyLag, "max-policy-lag", 0, "with --broker: drop unrolls acted with weights more than this many updates old (counted as stale in unrolls.csv and the summary); 0 keeps all (APPO's V-trace corrects for the lag)")
	cpuProfile = fs.String("cpuprofile", "", "write a CPU profile here (go tool pprof)")
	cfgFile = fs.String("config", "", "YAML file of flag: value pairs (flags given on the command line override it); the resolved values are saved in the run folder as config.yaml")
	fs.StringVar(&c.runDir, "run-dir", "", "folder for the logs (log.csv, tensorboard/, curve.png), the weights (params.mtd) and checkpoints (ckpt/); default runs/<env>-<algo>-<reward>-<seed>, lower case")
	fs.BoolVar(&c.force, "force", false, "overwrite an existing run folder")
	fs.IntVar(&c.blasThreads, "blas-threads", -1, "goroutines sharing each large matrix product and element-wise kernel of the learner (OpenBLAS itself single-threaded); -1 picks the cores, at most 4, less one for the collector with --overlap (split products wait for their slowest part, so a part sharing a core with the collector holds up the whole product). 0 leaves OpenBLAS its own threads, which spin between products: when other work keeps the cores busy that made training 10-15x slower")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "train: train an agent with Maestro.\n\nUsage:\n  train [flags]\n  train eval --run-dir DIR --episodes N   (play a trained run's policy; train eval --help)\n  train plot --out FILE RUN-DIR...        (compare runs' curves; train plot --help)\n  train --broker URL|embedded [flags]    (learn from actors over NATS JetStream: docs/distributed.md)\n  train actor --broker URL [flags]       (collect for a learner; train actor --help)\n  train broker --store DIR               (a standalone NATS JetStream broker; train broker --help)\n\nExamples:\n  train --algo ppo --env CartPole --total-frames 100000\n  train --algo appo --env NetHackScore --reward motif --num-envs 8\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return cpuProfile, cfgFile
}

// learner is what train trains: an rl.Learner of a FeedForward model (CartPole) or of the
// NetHack agent's model.
type learner interface {
	envs.Policy
	Update(batch *tensordict.Dict) error
	Optimizer() *nn.Adam
	Metrics() rl.UpdateStats
	Params() []*nn.Param
	Snapshot() ([]byte, error)
	Restore(b []byte) error
}

// parseEnv normalises c.Env's spelling (recipe.Options.ParseEnv), fills in the env's default
// learning rate and says whether it is NetHack (not CartPole).
func parseEnv(c *config) (hack bool, err error) {
	o := recipe.Options{Algo: c.Algo, Env: c.Env}
	if c.Env, _, hack, err = o.ParseEnv(); err != nil {
		return false, err
	}
	if c.LR == 0 {
		c.LR, err = o.DefaultLR()
	}
	return hack, err
}

// build makes c's setup (recipe.Build) and returns its env and learner.
func build(c config) (envs.Env, learner, error) {
	b, err := buildRecording(c, "")
	if err != nil {
		return nil, nil, err
	}
	return b.Env, b.Learner, nil
}

// buildRecording makes c's setup with NetHack episodes recorded as ttyrecs under
// ttyrecDir/env<i>/ (none when ttyrecDir is "").
func buildRecording(c config, ttyrecDir string) (*recipe.Setup, error) {
	return recipe.Build(recipe.Options{Algo: c.Algo, Env: c.Env, NumEnvs: c.NumEnvs, Seed: c.Seed, LR: c.LR,
		Skills: c.Skills, SkillCode: c.SkillCode, ResumedAt: c.resumedAt, TTYRecDir: ttyrecDir,
		ClipValueLoss: c.ClipValueLoss, RecomputeValues: c.RecomputeValues, LearnerOnly: c.broker != "" && !c.actor})
}
