package rl

import (
	"errors"
	"time"

	"github.com/maestro-rl/maestro/nn"
	"github.com/maestro-rl/maestro/tensordict"
)

// ErrStop, returned by a hook, ends Trainer.Run after the current step without an error.
var ErrStop = errors.New("rl: stop")

// Step is what AfterUpdate hooks see.
type Step struct {
	Batch   *tensordict.Dict // the batch just learnt from (valid until the next Next)
	Frames  int              // frames collected so far, this batch included
	Batches int              // batches learnt from in this Run
	Stats   UpdateStats      // the learner's statistics of this update
	// Collect is how long Next took (with collection overlapping learning, how long the
	// learner waited for the batch); Update how long the update took.
	Collect, Update time.Duration
}

// The trainer's hooks, named by when they run. Each returns nil to go on, ErrStop to end the
// run cleanly, or an error to end it with that error.
type (
	// BeforeBatch runs before each batch is collected, with the frames so far (interrupts,
	// frame budgets).
	BeforeBatch func(frames int) error
	// AfterCollect runs on each collected batch before the update (episode statistics).
	AfterCollect func(batch *tensordict.Dict) error
	// AfterUpdate runs after each update (logging, plots, evaluation, checkpoints).
	AfterUpdate func(s Step) error
	// UpdateFailed decides what an update error becomes (say, checkpoint and explain).
	UpdateFailed func(err error) error
)

// Collector is what a Trainer collects from (collectors.Sync, for instance).
type Collector interface {
	Next() (*tensordict.Dict, error)
	Frames() int
}

// Updater is what a Trainer trains (a Learner).
type Updater interface {
	Update(batch *tensordict.Dict) error
	Optimizer() *nn.Adam
	Metrics() UpdateStats
}

// Trainer is the training loop, top to bottom: hooks before the batch, collect (the
// collector's Postproc applies reward transforms), hooks on the batch, update (advantages,
// epochs of minibatches, optimizer steps; the learner is also the collector's policy, so the
// new weights act from the next batch), hooks after the update.
type Trainer struct {
	Collector   Collector
	Learner     Updater
	TotalFrames int
	// LR, when set, gives the learning rate from the frames collected before a batch (the
	// first update uses LR(start), the last a positive rate).
	LR func(frames int) float64

	BeforeBatch  []BeforeBatch
	AfterCollect []AfterCollect
	AfterUpdate  []AfterUpdate
	// OnUpdateError, when set, maps an update's error to the one Run returns.
	OnUpdateError UpdateFailed
}

// Run trains until TotalFrames are collected or a hook returns ErrStop (then Run returns nil)
// or another error.
func (t *Trainer) Run() error {
	batches := 0
	for t.Collector.Frames() < t.TotalFrames {
		for _, h := range t.BeforeBatch {
			if err := h(t.Collector.Frames()); err != nil {
				return stopOK(err)
			}
		}
		if t.LR != nil {
			t.Learner.Optimizer().SetLR(t.LR(t.Collector.Frames()))
		}
		t0 := time.Now()
		batch, err := t.Collector.Next()
		if err != nil {
			return err
		}
		collect := time.Since(t0)
		for _, h := range t.AfterCollect {
			if err := h(batch); err != nil {
				return stopOK(err)
			}
		}
		t1 := time.Now()
		if err := t.Learner.Update(batch); err != nil {
			if t.OnUpdateError != nil {
				return t.OnUpdateError(err)
			}
			return err
		}
		batches++
		s := Step{Batch: batch, Frames: t.Collector.Frames(), Batches: batches, Stats: t.Learner.Metrics(),
			Collect: collect, Update: time.Since(t1)}
		for _, h := range t.AfterUpdate {
			if err := h(s); err != nil {
				return stopOK(err)
			}
		}
	}
	return nil
}

func stopOK(err error) error {
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}
