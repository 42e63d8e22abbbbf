package rl

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/collectors"
	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensordict"
)

// Actor acts as its learner does, with its own model holding a copy of the learner's
// weights, so that it can collect while the learner updates. CopyWeights refreshes the copy;
// it must not run while the actor acts.
type Actor struct {
	p        *Policy
	dst, src []*nn.Param
}

// Act samples actions as the learner's Act does, with the copied weights.
func (a *Actor) Act(td *tensordict.Dict) error { return a.p.Act(td) }

// CopyWeights copies the learner's current weights into the actor.
func (a *Actor) CopyWeights() error { return nn.CopyParams(a.dst, a.src) }

// NewActor returns an actor acting with m, a second model of the learner's architecture
// (its weights are overwritten with the learner's current ones), sampling from its own
// random stream (seeded by seed).
func (p *Learner) NewActor(m Model, seed uint64) (*Actor, error) {
	a := &Actor{p: NewPolicy(m, rand.New(rand.NewPCG(seed, 0x993))), dst: m.Params(), src: p.m.Params()}
	return a, a.CopyWeights()
}

// Overlapped is a Collector for APPO that collects the next batch while the caller learns
// from the current one, as sample-factory does: one worker (collectors.Async with RunAhead 1)
// acts with two Actors in turn, and Refresh, called after each update, copies the new weights
// into the one not in use. Each batch was therefore collected with the weights of one update
// before those it is learnt with; APPO's V-trace corrects for that lag.
type Overlapped struct {
	a         *collectors.Async
	actors    [2]*Actor
	cur       int  // the actor asked for the batches now
	refreshed bool // Refresh ran since the last Next: the other actor may still be in use
}

// NewOverlapped starts collecting from env with actors[0]; o.RunAhead is set to 1.
func NewOverlapped(env envs.Env, actors [2]*Actor, o collectors.Options) (*Overlapped, error) {
	if actors[0] == nil || actors[1] == nil {
		return nil, errors.New("rl: Overlapped needs two actors (Learner.NewActor)")
	}
	o.RunAhead = 1
	a, err := collectors.NewAsync([]envs.Env{env}, func(int) envs.Policy { return actors[0] }, o)
	if err != nil {
		return nil, err
	}
	return &Overlapped{a: a, actors: actors}, nil
}

// Next returns the next batch ([T] + the env's batch shape), valid until the next call; the
// following batch is being collected meanwhile.
func (c *Overlapped) Next() (*tensordict.Dict, error) {
	b, _, err := c.a.Next()
	c.refreshed = false
	return b, err
}

// Frames returns the frames of the batches Next has returned.
func (c *Overlapped) Frames() int { return c.a.Frames() }

// Refresh copies the learner's weights into the actor not in use and has it act from the
// batch after the one being collected.
func (c *Overlapped) Refresh() error {
	if !c.refreshed { // else the current actor has not been asked for a batch yet: reuse it
		c.cur ^= 1
	}
	c.refreshed = true
	a := c.actors[c.cur]
	if err := a.CopyWeights(); err != nil {
		return err
	}
	c.a.SetPolicy(0, a)
	return nil
}

// Close stops the worker and closes the env.
func (c *Overlapped) Close() error { return c.a.Close() }

// overlappedState is collectors.Sync's state without the env's: a Sync restores it too.
type overlappedState struct {
	Frames        int  `json:"frames"`
	FreshEpisodes bool `json:"fresh_episodes"`
}

// Snapshot saves the frame count: a restored collector starts new episodes (the batch being
// collected at the checkpoint is dropped).
func (c *Overlapped) Snapshot() ([]byte, error) {
	return json.Marshal(overlappedState{Frames: c.Frames(), FreshEpisodes: true})
}

// Restore restores a Snapshot's frame count.
func (c *Overlapped) Restore(b []byte) error {
	var s overlappedState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("rl: collector state: %w", err)
	}
	c.a.SetFrames(s.Frames)
	return nil
}
