// Command train trains an agent: PPO, A2C or APPO on CartPole (an MLP actor-critic) or on a
// NetHack task (the recurrent Motif-style agent, Motif's hyper-parameters), with a progress
// bar, a CSV log, TensorBoard event files (tensorboard --logdir runs), a learning curve
// (curve.png), checkpoints that --resume continues from, and the final weights.
//
// # Invariants
//   - A run folder is removed only by --force, and only when it holds ckpt/train.json, config.yaml
//     or log.csv.
//   - Every file it writes goes through internal/atomicfile; --resume continues bit-exactly from
//     the newest sound checkpoint generation.
//   - Flags are checked before a run folder is made; an error names the flag and what it takes.
package main
