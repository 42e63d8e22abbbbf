package nn

import "math/rand/v2"

// ActorCritic is an MLP actor-critic for small vector observations (CartPole): separate actor
// and critic bodies of two Tanh layers each (as CleanRL's PPO: a shared body lets the value
// loss, whose targets reach ~100, swamp the policy's gradients), policy logits and a value.
type ActorCritic struct {
	Actor, Critic *MLP
}

// NewActorCritic returns an actor-critic from obs features to actions with hidden layers of
// the given size, orthogonally initialised as PPO implementations do (gain sqrt(2) for hidden
// layers, 0.01 for the policy output, 1 for the value output; zero biases).
func NewActorCritic(obs, actions, hidden int, rng *rand.Rand) (*ActorCritic, error) {
	actor, err := NewMLP("actor", []int{obs, hidden, hidden, actions}, (*Graph).Tanh, rng)
	if err != nil {
		return nil, err
	}
	critic, err := NewMLP("critic", []int{obs, hidden, hidden, 1}, (*Graph).Tanh, rng)
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		mlp  *MLP
		last float64
	}{{actor, 0.01}, {critic, 1}} {
		for i, l := range m.mlp.Layers {
			gain := 1.4142135623730951
			if i == len(m.mlp.Layers)-1 {
				gain = m.last
			}
			if err := Orthogonal(l.W, gain, rng); err != nil {
				return nil, err
			}
			clear(l.B.Data)
		}
	}
	return &ActorCritic{Actor: actor, Critic: critic}, nil
}

// Params returns every parameter.
func (ac *ActorCritic) Params() []*Param { return append(ac.Actor.Params(), ac.Critic.Params()...) }

// Forward returns logits [N, actions] and values [N, 1] for obs [N, features].
func (ac *ActorCritic) Forward(g *Graph, obs *Value) (logits, value *Value) {
	return ac.Actor.Forward(g, obs), ac.Critic.Forward(g, obs)
}
