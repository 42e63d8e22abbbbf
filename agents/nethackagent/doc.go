// Package nethackagent holds NetHack's networks and the code that turns NLE's observations into
// their inputs: the Motif-style actor-critic (Agent; NewSkillAgent's variant also reads the
// playing skill's one-hot, MaestroMotif's skill-conditioned agent), its rl.Model (Model: the
// hero-centred 12x12 terminal crop, the normalised bottom line, the message scaled to [0, 1]),
// and Motif's reward-model network over the message line (RewardNet, with MaestroMotif's
// diffstats variant). It sits between the envs and rl: rl and nn know no NetHack.
//
// # Invariants
//   - The networks match their PyTorch twins (testdata/gen_rewardmodel.py, bench/nn/agent_twin.py)
//     and finite differences; parameter order and names are fixed, so saved weights load back.
//   - Model.Unroll over a batch's stored states reproduces what acting computed, step for step
//     (TestModelReplaysActing): recurrent states are zeroed exactly after the steps that ended
//     an episode.
//   - Observe errors name the missing key or the wrong size, and skills out of range.
package nethackagent
