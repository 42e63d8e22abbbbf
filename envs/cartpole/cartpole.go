package cartpole

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/maestro-rl/maestro/envs"
	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// Gymnasium's constants.
const (
	gravity        = 9.8
	massCart       = 1.0
	massPole       = 0.1
	totalMass      = massPole + massCart
	length         = 0.5 // half the pole's length
	poleMassLength = massPole * length
	forceMag       = 10.0
	tau            = 0.02
	thetaThreshold = 12 * 2 * math.Pi / 360
	xThreshold     = 2.4
)

// KeyObservation is the observation key: [x, x_dot, theta, theta_dot] as float32.
const KeyObservation = "observation"

// Options configure an Env; the zero value is CartPole-v1.
type Options struct {
	// MaxSteps truncates episodes; 0 means 500.
	MaxSteps int
	// Seed seeds the start states.
	Seed uint64
}

// Validate reports an option out of range.
func (o Options) Validate() error {
	if o.MaxSteps < 0 {
		return fmt.Errorf("cartpole: Options.MaxSteps %d must not be negative (0: 500)", o.MaxSteps)
	}
	return nil
}

// Env is one cart-pole. Its action is 0 (push left) or 1 (push right); reward is 1 per step,
// the step that ends the episode included; it terminates when the pole leans past 12 degrees
// or the cart leaves [-2.4, 2.4], and truncates after MaxSteps.
type Env struct {
	state    [4]float64
	steps    int
	maxSteps int
	rng      *rand.Rand
	src      *rand.PCG
}

// New returns a cart-pole; wrap it with envs.FromSimple (or use NewEnv).
func New(o Options) (*Env, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 500
	}
	src := rand.NewPCG(o.Seed, 0x5eed)
	return &Env{maxSteps: o.MaxSteps, rng: rand.New(src), src: src}, nil
}

// NewEnv returns a cart-pole as an envs.Env.
func NewEnv(o Options) (envs.Env, error) {
	e, err := New(o)
	if err != nil {
		return nil, err
	}
	return envs.FromSimple(e), nil
}

// Specs returns the cart-pole's specs.
func (e *Env) Specs() envs.Specs {
	return envs.Specs{
		Observation: envs.NewComposite().Set(KeyObservation, envs.Unbounded{S: []int{4}, D: tensor.Float32}),
		Action:      envs.Categorical{N: 2},
		Reward:      envs.Unbounded{D: tensor.Float32},
	}
}

func (e *Env) write(obs *tensordict.Dict) error {
	o, err := tensordict.GetAs[float32](obs, KeyObservation)
	if err != nil {
		return err
	}
	for i, v := range e.state {
		o[i] = float32(v)
	}
	return nil
}

// ResetInto starts an episode from a state drawn uniformly from [-0.05, 0.05]^4.
func (e *Env) ResetInto(obs *tensordict.Dict) error {
	for i := range e.state {
		e.state[i] = -0.05 + 0.1*e.rng.Float64()
	}
	e.steps = 0
	return e.write(obs)
}

// StepInto advances the physics by one 20 ms Euler step.
func (e *Env) StepInto(action *tensor.Tensor, obs *tensordict.Dict) (float64, bool, bool, error) {
	a := int(action.At(0))
	x, xDot, theta, thetaDot := e.state[0], e.state[1], e.state[2], e.state[3]
	force := -forceMag
	if a == 1 {
		force = forceMag
	}
	cos, sin := math.Cos(theta), math.Sin(theta)
	temp := (force + poleMassLength*thetaDot*thetaDot*sin) / totalMass
	thetaAcc := (gravity*sin - cos*temp) / (length * (4.0/3.0 - massPole*cos*cos/totalMass))
	xAcc := temp - poleMassLength*thetaAcc*cos/totalMass
	x += tau * xDot
	xDot += tau * xAcc
	theta += tau * thetaDot
	thetaDot += tau * thetaAcc
	e.state = [4]float64{x, xDot, theta, thetaDot}
	e.steps++
	terminated := x < -xThreshold || x > xThreshold || theta < -thetaThreshold || theta > thetaThreshold
	truncated := !terminated && e.steps >= e.maxSteps
	return 1, terminated, truncated, e.write(obs)
}

// State returns the physical state [x, x_dot, theta, theta_dot] in float64.
func (e *Env) State() [4]float64 { return e.state }

// SetState replaces the physical state (for tests against a reference implementation).
func (e *Env) SetState(s [4]float64) { e.state = s }

// Close does nothing.
func (e *Env) Close() error { return nil }

type snapshot struct {
	State [4]float64 `json:"state"`
	Steps int        `json:"steps"`
	RNG   []byte     `json:"rng"`
}

// Snapshot saves the physical state, the step count and the random generator.
func (e *Env) Snapshot() ([]byte, error) {
	r, err := e.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(snapshot{e.state, e.steps, r})
}

// Restore restores a Snapshot.
func (e *Env) Restore(b []byte) error {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("cartpole: state: %w", err)
	}
	e.state, e.steps = s.State, s.Steps
	return e.src.UnmarshalBinary(s.RNG)
}
