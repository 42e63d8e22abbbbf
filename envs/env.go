package envs

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/maestro-rl/maestro/tensor"
	"github.com/maestro-rl/maestro/tensordict"
)

// The keys every environment uses.
const (
	KeyAction     = "action"
	KeyNext       = "next"
	KeyReward     = "reward"
	KeyDone       = "done"
	KeyTerminated = "terminated"
	KeyTruncated  = "truncated"
)

// NextKey is key under "next": where Step writes what follows the action ("next/reward").
func NextKey(key string) string { return KeyNext + tensordict.Sep + key }

// Specs describe an environment's values, per environment (without batch dimensions).
type Specs struct {
	// Observation lists the observation keys (at the root after Reset, under "next" after Step).
	Observation *Composite
	// Action is the spec of "action".
	Action Spec
	// Reward is the spec of "next/reward" (float32, shape [] unless the env says otherwise).
	Reward Spec
}

// Clone returns a copy whose Observation can be changed without touching s.
func (s Specs) Clone() Specs {
	return Specs{Observation: s.Observation.Clone(), Action: s.Action, Reward: s.Reward}
}

// Env is an environment (or a batch of them) speaking Dicts.
type Env interface {
	Specs() Specs
	BatchShape() []int
	Reset() (*tensordict.Dict, error)
	Step(td *tensordict.Dict) (*tensordict.Dict, error)
	Close() error
}

// PartialResetter is implemented by batched envs that can reset some of their children:
// ResetSome resets the children whose flag in mask (one per batch element, row-major) is set
// and writes their fresh observations and cleared done flags into td's rows.
type PartialResetter interface {
	ResetSome(mask []bool, td *tensordict.Dict) error
}

// Policy writes "action" into a Dict holding an observation.
type Policy interface {
	Act(td *tensordict.Dict) error
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(td *tensordict.Dict) error

// Act calls f.
func (f PolicyFunc) Act(td *tensordict.Dict) error { return f(td) }

// RandomPolicy samples actions uniformly from env's action spec.
func RandomPolicy(env Env, rng *rand.Rand) Policy {
	spec, batch := env.Specs().Action, env.BatchShape()
	return PolicyFunc(func(td *tensordict.Dict) error {
		return td.Set(KeyAction, spec.Rand(rng, batch...))
	})
}

// DoneMask returns the done flags of td's "next" (or of the root when next is false) as a
// []bool view, one per batch element.
func DoneMask(td *tensordict.Dict, next bool) ([]bool, error) {
	key := KeyDone
	if next {
		key = KeyNext + tensordict.Sep + KeyDone
	}
	return tensordict.GetAs[bool](td, key)
}

func anyTrue(m []bool) bool {
	for _, v := range m {
		if v {
			return true
		}
	}
	return false
}

// StepAndMaybeReset steps env with td and returns the stepped Dict and the root of the next
// step: StepMDP of it, where envs that finished are reset (through ResetSome for batched envs,
// Reset for single ones).
func StepAndMaybeReset(env Env, td *tensordict.Dict) (stepped, next *tensordict.Dict, err error) {
	return stepAndMaybeReset(env, td, nil)
}

// stepAndMaybeReset is StepAndMaybeReset building the next root in scratch (see StepMDPInto).
func stepAndMaybeReset(env Env, td, scratch *tensordict.Dict) (stepped, next *tensordict.Dict, err error) {
	if stepped, err = env.Step(td); err != nil {
		return nil, nil, err
	}
	if next, err = stepped.StepMDPInto(scratch, tensordict.StepMDPOptions{}); err != nil {
		return nil, nil, err
	}
	done, err := DoneMask(stepped, true)
	if err != nil {
		return nil, nil, err
	}
	if !anyTrue(done) {
		return stepped, next, nil
	}
	if pr, ok := env.(PartialResetter); ok && len(env.BatchShape()) > 0 {
		next = next.Clone() // the reset rows must not overwrite the stepped Dict's next
		return stepped, next, pr.ResetSome(done, next)
	}
	if len(env.BatchShape()) > 0 {
		return nil, nil, fmt.Errorf("envs: %T finished some of its %v envs but cannot reset only those (no ResetSome)", env, env.BatchShape())
	}
	next, err = env.Reset()
	return stepped, next, err
}

// RolloutOptions configure Rollout.
type RolloutOptions struct {
	// AutoReset resets finished envs and goes on; by default the rollout stops after the step
	// on which any env finished (TorchRL's break_when_any_done).
	AutoReset bool
	// Start is the Dict to start from; nil means env.Reset().
	Start *tensordict.Dict
	// StateKeys name a recurrent policy's state in the Dict (the policy reads it at the root and
	// writes the next one under "next"): rows of envs that were reset get it zeroed, so a new
	// episode starts from a zero state. Nil means every key the policy writes under "next"
	// that the env's specs do not produce (so hidden state is never carried across an episode
	// end by omission); use an empty, non-nil slice to turn this off.
	StateKeys []string
}

// Validate reports an empty state key (StateKeys may be nil or empty, not hold "").
func (o RolloutOptions) Validate() error {
	for i, k := range o.StateKeys {
		if k == "" {
			return fmt.Errorf("envs: RolloutOptions.StateKeys[%d] is empty", i)
		}
	}
	return nil
}

// ErrNoSteps is returned by Rollout when asked for no steps.
var ErrNoSteps = errors.New("envs: rollout of 0 steps")

// Rollout runs policy in env for up to steps steps and returns the steps stacked along a new
// leading time dimension: batch shape [T] + env.BatchShape(), each element holding the root
// (observation, action) and "next" of one step.
func Rollout(env Env, policy Policy, steps int, o RolloutOptions) (*tensordict.Dict, error) {
	if steps <= 0 {
		return nil, ErrNoSteps
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	td := o.Start
	if td == nil {
		var err error
		if td, err = env.Reset(); err != nil {
			return nil, err
		}
	}
	out, _, n, err := RolloutInto(env, policy, nil, steps, td, o)
	if err != nil {
		return nil, err
	}
	if n < steps {
		return out.Slice(0, n)
	}
	return out, nil
}

// RolloutInto is Rollout writing into out, a Dict of batch [steps] + env.BatchShape() from an
// earlier call (nil: allocated after the first step, from its structure), starting from the
// root td. It returns out, the root for the step after the last, and the number of steps taken.
func RolloutInto(env Env, policy Policy, out *tensordict.Dict, steps int, td *tensordict.Dict, o RolloutOptions) (*tensordict.Dict, *tensordict.Dict, int, error) {
	r := &Runner{env: env, policy: policy, o: o, steps: steps, out: out, td: td}
	n, err := r.run()
	return r.out, r.td, n, err
}

// Runner runs rollouts of a fixed length again and again into one recycled output, carrying
// the root from each rollout to the next (finished envs are reset): the loop of a collector.
// Each step runs on a shallow copy of its output row, so envs that write "next" in place write
// straight into the output, and only the root and the action are copied per step.
type Runner struct {
	env        Env
	policy     Policy
	o          RolloutOptions
	steps      int
	out        *tensordict.Dict
	rows       []*tensordict.Dict // views of out's rows
	works      []*tensordict.Dict // reusable shallow copies of rows, one per step
	td         *tensordict.Dict   // the root of the next step
	inferState bool
	scratch    [2]*tensordict.Dict // roots built by StepMDPInto, reused
	// outputs remembers the rows and works of the last outputs given to SetOutput, so a caller
	// using a few buffers in turn does not unbind them again each time.
	outputs     []runnerOutput
	keepOutputs int // how many; 0 means defaultKeepOutputs
}

// defaultKeepOutputs is how many outputs a Runner remembers unless told (KeepOutputs).
const defaultKeepOutputs = 16

type runnerOutput struct {
	out         *tensordict.Dict
	rows, works []*tensordict.Dict
}

// NewRunner returns a Runner of rollouts of steps steps; o.Start, when set, is the first root
// (else env.Reset()). o.AutoReset is implied.
func NewRunner(env Env, policy Policy, steps int, o RolloutOptions) (*Runner, error) {
	if steps <= 0 {
		return nil, ErrNoSteps
	}
	o.AutoReset = true
	return &Runner{env: env, policy: policy, o: o, steps: steps, td: o.Start}, nil
}

// KeepOutputs sets how many of the outputs given to SetOutput the Runner remembers (16 by
// default): a caller that hands over n buffers in turn should keep n, else each SetOutput
// takes the buffer apart again.
func (r *Runner) KeepOutputs(n int) { r.keepOutputs = n }

// SetPolicy replaces the policy for the following rollouts.
func (r *Runner) SetPolicy(p Policy) { r.policy = p }

// Root returns the root the next rollout starts from (nil before the first), for checkpoints.
func (r *Runner) Root() *tensordict.Dict { return r.td }

// SetRoot makes the next rollout start from td (restoring a checkpoint).
func (r *Runner) SetRoot(td *tensordict.Dict) { r.td = td }

// SetOutput makes the following rollouts write into out (batch [steps] + the env's batch
// shape, the structure of the rollouts so far), e.g. a view of a larger buffer that several
// runners fill side by side.
func (r *Runner) SetOutput(out *tensordict.Dict) error {
	if out == r.out {
		return nil
	}
	known := slices.ContainsFunc(r.outputs, func(o runnerOutput) bool { return o.out == out })
	if r.out != nil && !known && !sameStructure(r.out, out) {
		return fmt.Errorf("envs: SetOutput: the output's structure %v differs from the rollouts' %v", out, r.out)
	}
	if r.out != nil && r.rows != nil && !slices.ContainsFunc(r.outputs, func(o runnerOutput) bool { return o.out == r.out }) {
		keep := r.keepOutputs
		if keep <= 0 {
			keep = defaultKeepOutputs
		}
		for len(r.outputs) >= keep {
			copy(r.outputs, r.outputs[1:])
			r.outputs = r.outputs[:len(r.outputs)-1]
		}
		r.outputs = append(r.outputs, runnerOutput{r.out, r.rows, r.works})
	}
	r.out, r.rows, r.works = out, nil, nil
	for _, o := range r.outputs {
		if o.out == out {
			r.rows, r.works = o.rows, o.works
		}
	}
	return nil
}

func sameStructure(a, b *tensordict.Dict) bool {
	return slices.Equal(a.BatchShape(), b.BatchShape()) && slices.Equal(a.LeafKeys(), b.LeafKeys())
}

// Run collects one rollout: batch shape [steps] + env.BatchShape(), valid until the next Run.
func (r *Runner) Run() (*tensordict.Dict, error) {
	if r.td == nil {
		var err error
		if r.td, err = r.env.Reset(); err != nil {
			return nil, err
		}
	}
	if _, err := r.run(); err != nil {
		return nil, err
	}
	// The carried root may hold views of the last row of out, which the next Run overwrites.
	// It may also be a scratch Dict, whose keys its clone shares: that scratch is retired.
	for i, sc := range r.scratch {
		if sc == r.td {
			r.scratch[i] = nil
		}
	}
	r.td = r.td.Clone()
	return r.out, nil
}

func (r *Runner) run() (int, error) {
	o := r.o
	inferState := o.StateKeys == nil
	td := r.td
	defer func() { r.td = td }()
	for t := 0; t < r.steps; t++ {
		if r.out != nil && r.rows == nil {
			var err error
			if r.rows, err = r.out.Unbind(); err != nil {
				return t, err
			}
			r.works = make([]*tensordict.Dict, len(r.rows))
		}
		if r.rows != nil {
			// The root is copied into the row; the policy and the env then work on a shallow
			// copy of the row (reused from batch to batch), so leaves they replace rather than
			// write in place (the action, say) reach the row through CopyFrom below.
			row := r.rows[t]
			if err := row.CopyFrom(td); err != nil {
				return t, fmt.Errorf("envs: rollout step %d: the root's keys changed: %w", t, err)
			}
			work := r.works[t]
			if work == nil || !work.ResetTo(row) {
				work = row.Shallow()
				r.works[t] = work
			}
			td = work
		}
		if err := r.policy.Act(td); err != nil {
			return t, fmt.Errorf("envs: rollout step %d: policy: %w", t, err)
		}
		// The next root is built in one of two scratch Dicts used in turn: td, this step's root,
		// may be the other.
		stepped, next, err := stepAndMaybeReset(r.env, td, r.scratch[t%2])
		if next != td && next != stepped {
			r.scratch[t%2] = next
		}
		if err != nil {
			return t, fmt.Errorf("envs: rollout step %d: %w", t, err)
		}
		if inferState {
			o.StateKeys, inferState = policyKeys(r.env, stepped), false
		}
		if len(o.StateKeys) > 0 {
			if next, err = resetState(stepped, next, o.StateKeys); err != nil {
				return t, err
			}
		}
		if r.out == nil {
			if err := zeroRootState(stepped, o.StateKeys); err != nil {
				return t, err
			}
			r.out = tensordict.NewLike(stepped, r.steps)
			if err := r.out.SetAt(t, stepped); err != nil {
				return t, err
			}
		} else if err := r.rows[t].CopyFrom(stepped); err != nil { // in-place leaves are skipped
			return t, fmt.Errorf("envs: rollout step %d: the step's keys changed: %w", t, err)
		}
		td = next
		if !o.AutoReset {
			done, err := DoneMask(stepped, true)
			if err != nil {
				return t, err
			}
			if anyTrue(done) {
				return t + 1, nil
			}
		}
	}
	return r.steps, nil
}

// policyKeys returns the keys under next that the env's specs do not produce: what the policy
// wrote there.
func policyKeys(env Env, stepped *tensordict.Dict) []string {
	n, err := stepped.GetDict(KeyNext)
	if err != nil {
		return nil
	}
	obs := env.Specs().Observation
	var keys []string
	for _, k := range n.LeafKeys() {
		if _, ok := obs.Get(k); ok || k == KeyReward || k == KeyDone || k == KeyTerminated || k == KeyTruncated {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// zeroRootState gives a first step, whose root had no recurrent state yet, a zero one shaped
// like the state the policy wrote under next.
func zeroRootState(stepped *tensordict.Dict, keys []string) error {
	for _, k := range keys {
		if stepped.Has(k) {
			continue
		}
		s, err := stepped.Get(KeyNext + tensordict.Sep + k)
		if err != nil {
			return fmt.Errorf("envs: the policy wrote no %q under next; a recurrent policy writes its next state there", k)
		}
		if err := stepped.Set(k, tensor.Zeros(s.DType(), s.Shape()...)); err != nil {
			return err
		}
	}
	return nil
}

// resetState zeroes the recurrent state of the envs that finished in stepped, in the next
// root. The root may hold views of stepped's "next", so the state is copied before zeroing; a
// root made by Reset gets a zero state.
func resetState(stepped, next *tensordict.Dict, keys []string) (*tensordict.Dict, error) {
	done, err := DoneMask(stepped, true)
	if err != nil {
		return nil, err
	}
	if !anyTrue(done) {
		return next, nil
	}
	for _, k := range keys {
		src, err := stepped.Get(KeyNext + tensordict.Sep + k)
		if err != nil {
			return nil, fmt.Errorf("envs: the policy wrote no %q under next; a recurrent policy writes its next state there", k)
		}
		s, err := next.Get(k)
		if err != nil { // a fresh root from Reset: the whole state starts at zero
			if err := next.Set(k, tensor.Zeros(src.DType(), src.Shape()...)); err != nil {
				return nil, err
			}
			continue
		}
		s = s.Clone()
		if err := next.Set(k, s); err != nil {
			return nil, err
		}
		if len(next.BatchShape()) == 0 {
			s.Zero()
			continue
		}
		rl := s.Len() / max(len(done), 1)
		b := s.Bytes()
		es := len(b) / max(s.Len(), 1)
		for i, d := range done {
			if d {
				clear(b[i*rl*es : (i+1)*rl*es])
			}
		}
	}
	return next, nil
}

// doneFlags returns fresh terminated, truncated and done tensors of the batch shape.
func doneFlags(batch []int) (terminated, truncated, done *tensor.Tensor) {
	return tensor.Zeros(tensor.Bool, batch...), tensor.Zeros(tensor.Bool, batch...), tensor.Zeros(tensor.Bool, batch...)
}
