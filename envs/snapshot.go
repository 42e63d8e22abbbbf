package envs

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoSnapshot is returned (wrapped) by Snapshot for envs that cannot save their state, such
// as NetHack, whose game state lives inside the C library.
var ErrNoSnapshot = errors.New("envs: the env cannot save its state")

// Snapshotter is implemented by envs whose whole state can be saved and restored, so that a
// training run resumes bit-exactly. CartPole, the batched envs and every transform implement
// it (the transforms forward to the env they wrap); NetHack does not (a game cannot be saved
// mid-episode through NLE).
type Snapshotter interface {
	Snapshot() ([]byte, error)
	Restore([]byte) error
}

// Snapshot returns env's state, or an error naming the env type that cannot be snapshotted.
func Snapshot(env Env) ([]byte, error) {
	s, ok := env.(Snapshotter)
	if !ok {
		return nil, fmt.Errorf("%w: %T has no Snapshot method", ErrNoSnapshot, env)
	}
	return s.Snapshot()
}

// Restore gives env a state saved by Snapshot.
func Restore(env Env, b []byte) error {
	s, ok := env.(Snapshotter)
	if !ok {
		return fmt.Errorf("envs: %T cannot restore a state (no Restore method)", env)
	}
	return s.Restore(b)
}

func (w *wrapper) Snapshot() ([]byte, error) { return Snapshot(w.inner) }
func (w *wrapper) Restore(b []byte) error    { return Restore(w.inner, b) }

type obsNormState struct {
	N     float64   `json:"n"`
	Mean  []float64 `json:"mean"`
	M2    []float64 `json:"m2"`
	Inner []byte    `json:"inner"`
}

// Snapshot saves the running statistics with the wrapped env's state.
func (t *ObsNorm) Snapshot() ([]byte, error) {
	in, err := Snapshot(t.inner)
	if err != nil {
		return nil, err
	}
	return json.Marshal(obsNormState{t.n, t.mean, t.m2, in})
}

// Restore restores Snapshot's state.
func (t *ObsNorm) Restore(b []byte) error {
	var s obsNormState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("envs: ObservationNorm state: %w", err)
	}
	if len(s.Mean) != len(t.mean) {
		return fmt.Errorf("envs: ObservationNorm state of %d elements, the observation has %d", len(s.Mean), len(t.mean))
	}
	t.n = s.N
	copy(t.mean, s.Mean)
	copy(t.m2, s.M2)
	return Restore(t.inner, s.Inner)
}

type simpleState struct {
	Over, Started bool
	Inner         []byte
}

func (e *simpleEnv) Snapshot() ([]byte, error) {
	s, ok := e.s.(Snapshotter)
	if !ok {
		return nil, fmt.Errorf("%w: %T has no Snapshot method", ErrNoSnapshot, e.s)
	}
	in, err := s.Snapshot()
	if err != nil {
		return nil, err
	}
	return json.Marshal(simpleState{e.over, e.started, in})
}

func (e *simpleEnv) Restore(b []byte) error {
	s, ok := e.s.(Snapshotter)
	if !ok {
		return fmt.Errorf("envs: %T cannot restore a state (no Restore method)", e.s)
	}
	var st simpleState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("envs: env state: %w", err)
	}
	e.over, e.started = st.Over, st.Started
	return s.Restore(st.Inner)
}

// Snapshot saves every child's state.
func (b *Batched) Snapshot() ([]byte, error) {
	parts := make([][]byte, len(b.children))
	for i, c := range b.children {
		var err error
		if parts[i], err = Snapshot(c); err != nil {
			return nil, fmt.Errorf("envs: child %d: %w", i, err)
		}
	}
	return json.Marshal(parts)
}

// Restore restores every child's state.
func (b *Batched) Restore(data []byte) error {
	var parts [][]byte
	if err := json.Unmarshal(data, &parts); err != nil {
		return fmt.Errorf("envs: batched state: %w", err)
	}
	if len(parts) != len(b.children) {
		return fmt.Errorf("envs: state of %d envs for a batch of %d", len(parts), len(b.children))
	}
	for i, c := range b.children {
		if err := Restore(c, parts[i]); err != nil {
			return fmt.Errorf("envs: child %d: %w", i, err)
		}
	}
	return nil
}
