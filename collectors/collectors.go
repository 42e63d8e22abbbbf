package collectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/replaybuffer"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Options configure a collector. FramesPerBatch is required.
type Options struct {
	// FramesPerBatch is the number of env steps per batch (all envs together); it must be a
	// multiple of the env's batch size. For MultiSync and Async it is per worker.
	FramesPerBatch int
	// TotalFrames ends collection (Next returns io.EOF) once reached; 0 means never.
	TotalFrames int
	// InitRandomFrames are collected with uniformly random actions before the policy acts;
	// MultiSync and Async count them over all workers (each worker takes an equal share). A
	// policy, when given, still runs on these frames (its recurrent state and other outputs are
	// kept); only its actions are replaced (so log-probabilities it records are of its own
	// choices: random frames are for off-policy learners and buffers, not for PPO).
	InitRandomFrames int
	// MaxFramesPerTraj truncates episodes after this many steps (envs.StepCounter); 0: none.
	MaxFramesPerTraj int
	// StateKeys name the policy's recurrent state (see the package doc).
	StateKeys []string
	// SplitTrajs returns batches cut into trajectories (SplitTrajectories: [N, L] with a mask)
	// instead of [T] + the env's batch shape. It needs an env with one batch dimension.
	SplitTrajs bool
	// Postproc transforms each batch before it is returned or stored (reward models plug in
	// here). It may return its input.
	Postproc func(*tensordict.Dict) (*tensordict.Dict, error)
	// Buffer, when set, receives every batch after Postproc, flattened env by env so each
	// env's steps are consecutive (split batches without their padding), with KeyTrajEnd
	// marking where a stretch of one env's steps ends: slice samplers take EndKey KeyTrajEnd.
	Buffer *replaybuffer.Buffer
	// Seed seeds the random actions of InitRandomFrames.
	Seed uint64
	// RunAhead (MultiSync and Async) is how many batches each worker may collect beyond the
	// one the caller waits for (MultiSync) or holds (Async): a worker that finishes early goes
	// on instead of waiting for the slowest (NetHack's time per batch varies several-fold), and
	// collection overlaps the caller's work on the batch it holds. 0 (the default) is strictly
	// synchronous for MultiSync, as TorchRL's MultiSyncCollector: each batch is collected after
	// the caller asks for it, with the policy in force then. With RunAhead n, the batch Next
	// returns may have been asked for up to n calls earlier, so it lags the policy by up to n
	// batches, and SetPolicy takes effect up to n batches later. Workers read the policy while
	// the caller runs: it must not be changed in place; give new weights to a new policy value
	// through SetPolicy. Batches are written into 1+n buffers per worker used in turn; the one
	// Next returns is valid until the next call.
	RunAhead int
}

// Validate reports an option out of range (FramesPerBatch must also divide by the env count,
// which NewSync and the others check against the env).
func (o Options) Validate() error {
	if o.FramesPerBatch <= 0 {
		return fmt.Errorf("collectors: Options.FramesPerBatch %d must be positive", o.FramesPerBatch)
	}
	if o.TotalFrames < 0 || o.InitRandomFrames < 0 || o.MaxFramesPerTraj < 0 || o.RunAhead < 0 {
		return fmt.Errorf("collectors: Options.TotalFrames %d, InitRandomFrames %d, MaxFramesPerTraj %d and RunAhead %d must not be negative", o.TotalFrames, o.InitRandomFrames, o.MaxFramesPerTraj, o.RunAhead)
	}
	return nil
}

func (o Options) validate(env envs.Env) (steps int, err error) {
	if err := o.Validate(); err != nil {
		return 0, err
	}
	n := 1
	for _, d := range env.BatchShape() {
		n *= d
	}
	if o.FramesPerBatch <= 0 || o.FramesPerBatch%n != 0 {
		return 0, fmt.Errorf("collectors: FramesPerBatch %d must be a positive multiple of the env's %d envs", o.FramesPerBatch, n)
	}
	if o.TotalFrames < 0 || o.InitRandomFrames < 0 || o.MaxFramesPerTraj < 0 || o.RunAhead < 0 {
		return 0, errors.New("collectors: TotalFrames, InitRandomFrames, MaxFramesPerTraj and RunAhead must not be negative")
	}
	return o.FramesPerBatch / n, nil
}

// Sync collects from one env in the caller's goroutine.
type Sync struct {
	env    envs.Env
	mu     sync.Mutex
	policy envs.Policy
	random envs.Policy
	o      Options
	runner *envs.Runner
	frames int
}

// NewSync returns a collector over env acting with policy.
func NewSync(env envs.Env, policy envs.Policy, o Options) (*Sync, error) {
	steps, err := o.validate(env)
	if err != nil {
		return nil, err
	}
	if o.MaxFramesPerTraj > 0 {
		if env, err = envs.StepCounter(o.MaxFramesPerTraj)(env); err != nil {
			return nil, fmt.Errorf("collectors: %w", err)
		}
	}
	runner, err := envs.NewRunner(env, policy, steps, envs.RolloutOptions{StateKeys: o.StateKeys})
	if err != nil {
		return nil, fmt.Errorf("collectors: %w", err)
	}
	return &Sync{env: env, policy: policy, random: envs.RandomPolicy(env, rand.New(rand.NewPCG(o.Seed, 0xc011))),
		o: o, runner: runner}, nil
}

// SetPolicy replaces the policy from the next batch on (new weights between batches).
func (c *Sync) SetPolicy(p envs.Policy) {
	c.mu.Lock()
	c.policy = p
	c.mu.Unlock()
}

// Frames returns the frames collected so far.
func (c *Sync) Frames() int { return c.frames }

// Next collects one batch of FramesPerBatch frames: batch shape [T] + the env's batch shape.
// It returns io.EOF once TotalFrames have been collected.
func (c *Sync) Next() (*tensordict.Dict, error) { return c.next(c.currentPolicy()) }

func (c *Sync) currentPolicy() envs.Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.policy
}

// next collects a batch acting with policy (the policy in force when the batch was asked for).
func (c *Sync) next(policy envs.Policy) (*tensordict.Dict, error) {
	if c.o.TotalFrames > 0 && c.frames >= c.o.TotalFrames {
		return nil, io.EOF
	}
	if c.frames < c.o.InitRandomFrames {
		policy = randomOver(policy, c.random)
	}
	c.runner.SetPolicy(policy)
	out, err := c.runner.Run()
	if err != nil {
		return nil, err
	}
	c.frames += c.o.FramesPerBatch
	return finish(out, c.o, 0)
}

// randomOver acts with random: when there is a policy it still runs first, so its recurrent
// state and other outputs keep their keys and meaning, and only its action is replaced.
func randomOver(policy, random envs.Policy) envs.Policy {
	if policy == nil {
		return random
	}
	return envs.PolicyFunc(func(td *tensordict.Dict) error {
		if err := policy.Act(td); err != nil {
			return err
		}
		return random.Act(td)
	})
}

// finish applies Postproc and writes into the buffer; timeDim is the batch dimension of time
// (1 for MultiSync's [workers, T, ...], else 0).
func finish(batch *tensordict.Dict, o Options, timeDim int) (*tensordict.Dict, error) {
	var err error
	if o.SplitTrajs {
		if batch, err = SplitTrajectories(batch); err != nil {
			return nil, err
		}
	}
	if o.Postproc != nil {
		// On a shallow copy: a Postproc that sets a key (Motif's intrinsic reward replaces
		// next/reward) must not swap a leaf of the buffer the workers write the next batches
		// into, or they would go on writing memory the batch no longer shows.
		if batch, err = o.Postproc(batch.Shallow()); err != nil {
			return nil, fmt.Errorf("collectors: postproc: %w", err)
		}
	}
	if o.Buffer != nil {
		if o.SplitTrajs {
			timeDim = 1 // [N, L]: trajectory n's steps run along L
		}
		items, err := bufferItems(batch, timeDim, o.SplitTrajs)
		if err != nil {
			return nil, err
		}
		if _, err := o.Buffer.Extend(items); err != nil {
			return nil, fmt.Errorf("collectors: writing the batch into the buffer: %w", err)
		}
	}
	return batch, nil
}

// Close closes the env.
func (c *Sync) Close() error { return c.env.Close() }

type syncState struct {
	Frames int    `json:"frames"`
	Env    []byte `json:"env"`
	Root   []byte `json:"root,omitempty"`
	// FreshEpisodes: the env could not save its state, so a restored collector starts new
	// episodes (the frame count carries over).
	FreshEpisodes bool `json:"fresh_episodes,omitempty"`
}

// Snapshot saves what a resumed run needs to continue bit-exactly: the frame count, the env's
// state and the root of the next step. For an env that cannot save its state
// (envs.ErrNoSnapshot: NetHack) it saves the frame count only, and the restored collector
// starts new episodes.
func (c *Sync) Snapshot() ([]byte, error) {
	env, err := envs.Snapshot(c.env)
	if errors.Is(err, envs.ErrNoSnapshot) {
		// NetHack: keep the counters; a restored collector starts new episodes.
		return json.Marshal(syncState{Frames: c.frames, FreshEpisodes: true})
	}
	if err != nil {
		return nil, fmt.Errorf("collectors: %w", err)
	}
	s := syncState{Frames: c.frames, Env: env}
	if root := c.runner.Root(); root != nil {
		if s.Root, err = tensordict.Marshal(root); err != nil {
			return nil, err
		}
	}
	return json.Marshal(s)
}

// Restore restores a Snapshot.
func (c *Sync) Restore(b []byte) error {
	var s syncState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("collectors: state: %w", err)
	}
	c.frames = s.Frames
	if s.FreshEpisodes {
		return nil
	}
	if err := envs.Restore(c.env, s.Env); err != nil {
		return fmt.Errorf("collectors: %w", err)
	}
	if s.Root != nil {
		root, err := tensordict.Unmarshal(s.Root)
		if err != nil {
			return fmt.Errorf("collectors: state: %w", err)
		}
		c.runner.SetRoot(root)
	}
	return nil
}

// bufferItems flattens a batch for a buffer so that each env's steps are consecutive: order
// (dims before time, dims after time, time), i.e. env-major, with KeyTrajEnd set at every
// episode end and at the end of each env's stretch. Split batches lose their padding.
func bufferItems(batch *tensordict.Dict, timeDim int, split bool) (*tensordict.Dict, error) {
	bs := batch.BatchShape()
	if len(bs) <= timeDim {
		return nil, fmt.Errorf("collectors: a batch of shape %v has no time dimension %d to write into the buffer", bs, timeDim)
	}
	pre, post, T := 1, 1, bs[timeDim]
	for _, n := range bs[:timeDim] {
		pre *= n
	}
	for _, n := range bs[timeDim+1:] {
		post *= n
	}
	flat, err := batch.ReshapeBatch(-1)
	if err != nil {
		return nil, err
	}
	done, _ := tensordict.GetAs[bool](flat, envs.NextKey(envs.KeyDone)) // absent: only stretch ends mark
	var mask []bool
	if split {
		if mask, err = tensordict.GetAs[bool](flat, KeyMask); err != nil {
			return nil, err
		}
	}
	idx := make([]int, 0, pre*T*post)
	var ends []bool
	for p := 0; p < pre; p++ {
		for e := 0; e < post; e++ {
			for t := 0; t < T; t++ {
				k := (p*T+t)*post + e
				if mask != nil && !mask[k] {
					continue
				}
				last := t == T-1 || (mask != nil && !mask[k+post])
				idx = append(idx, k)
				ends = append(ends, last || (done != nil && done[k]))
			}
		}
	}
	items, err := flat.IndexList(idx)
	if err != nil {
		return nil, err
	}
	if err := items.Set(KeyTrajEnd, tensor.Of(ends)); err != nil {
		return nil, err
	}
	return items, nil
}
