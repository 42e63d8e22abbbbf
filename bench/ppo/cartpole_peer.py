"""TorchRL side of the CartPole-v1 speedrun (`make bench BENCH=speedrun`): PPO until an
evaluation's mean return reaches MAESTRO_PPO_TARGET (default 475), with the settings of
`train --algo ppo --env CartPole --num-envs 4 --frames-per-batch 128` in Go (rl.DefaultOptions
and recipe's CartPole learner): separate actor and critic MLPs 4-64-64 with tanh, orthogonal
initialisation (gain sqrt 2, 0.01 for the policy's last layer, 1 for the value's), zero biases;
4 envs x 128 steps per batch, GAE (gamma 0.99, lambda 0.95), 4 epochs of 4 minibatches of 128
steps, clip 0.2, value coefficient 0.5, entropy 0.01, advantages normalised per minibatch, max
gradient norm 0.5, Adam (eps 1e-5) with the learning rate annealed linearly from 1e-3 to 0 over
FRAMES (set before each batch from the frames collected before it, as rl.Trainer does with
`train`'s --total-frames), the value loss (v - target)^2 without a 1/2. TorchRL's GymEnv + SerialEnv, Collector, GAE and
ClipPPOLoss. Every MAESTRO_PPO_EVAL_EVERY frames (default 4096) it plays
MAESTRO_PPO_EVAL_EPISODES episodes (default 10) sampling from the policy, as `train
--eval-every` does.

Prints "torchrl target_frames=<n> target_seconds=<s>" (or "torchrl target_not_reached
frames=<n> best=<mean>"), then "torchrl frames_per_s=<x> frames=<n> seconds=<s>".

usage: cartpole_peer.py FRAMES
"""
import os
import sys
import time

import torch
import torch.nn as nn
from tensordict.nn import TensorDictModule
from torchrl.collectors import Collector
from torchrl.envs import GymEnv, SerialEnv
from torchrl.modules import ProbabilisticActor, ValueOperator
from torch.distributions import Categorical
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

N, T, EPOCHS, MB = 4, 128, 4, 4


def mlp(out, gain):
    layers = [nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, out)]
    for i, l in enumerate(layers[::2]):
        nn.init.orthogonal_(l.weight, gain if i == 2 else 2 ** 0.5)
        nn.init.zeros_(l.bias)
    return nn.Sequential(*layers)


def evaluate(actor_net, env, episodes):
    """Mean return of episodes played on env sampling from the policy."""
    total = 0.0
    with torch.no_grad():
        for _ in range(episodes):
            td = env.reset()
            while True:
                logits = actor_net(td["observation"])
                td.set("action", Categorical(logits=logits).sample())
                td = env.step(td)
                total += td["next", "reward"].item()
                if td["next", "done"].item():
                    break
                td = td["next"]
    return total / episodes


def main():
    torch.set_num_threads(int(os.environ.get("MAESTRO_TORCH_THREADS", "1")))
    frames = int(sys.argv[1])
    goal = float(os.environ.get("MAESTRO_PPO_TARGET", "475"))
    eval_every = int(os.environ.get("MAESTRO_PPO_EVAL_EVERY", "4096"))
    eval_episodes = int(os.environ.get("MAESTRO_PPO_EVAL_EPISODES", "10"))

    def make():
        return GymEnv("CartPole-v1", categorical_action_encoding=True)

    env = SerialEnv(N, make)
    actor_net, critic_net = mlp(2, 0.01), mlp(1, 1.0)
    actor = ProbabilisticActor(TensorDictModule(actor_net, in_keys=["observation"], out_keys=["logits"]),
                               in_keys=["logits"], distribution_class=Categorical, return_log_prob=True)
    critic = ValueOperator(critic_net, in_keys=["observation"])
    gae = GAE(gamma=0.99, lmbda=0.95, value_network=critic)
    # loss_critic_type "l2": (v - target)^2 without a 1/2, as rl's value loss
    loss = ClipPPOLoss(actor, critic, clip_epsilon=0.2, entropy_coeff=0.01, critic_coeff=0.5, loss_critic_type="l2",
                       normalize_advantage=True)
    params = list(actor_net.parameters()) + list(critic_net.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-5)
    collector = Collector(env, actor, frames_per_batch=N * T, total_frames=frames)
    eval_env = make()
    start, n, best, reached = time.perf_counter(), 0, None, None
    for data in collector:  # [N, T]
        for group in opt.param_groups:
            group["lr"] = 1e-3 * max(0.0, 1 - n / frames)
        with torch.no_grad():
            gae(data)
        flat = data.reshape(-1)
        for _ in range(EPOCHS):
            perm = torch.randperm(flat.numel())
            for g in range(MB):
                mb = flat[perm[g * (flat.numel() // MB):(g + 1) * (flat.numel() // MB)]]
                out = loss(mb)
                total = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
                opt.zero_grad()
                total.backward()
                torch.nn.utils.clip_grad_norm_(params, 0.5)
                opt.step()
        n += data.numel()
        if n // eval_every != (n - data.numel()) // eval_every:
            mean = evaluate(actor_net, eval_env, eval_episodes)
            best = mean if best is None else max(best, mean)
            if mean >= goal:
                reached = (n, time.perf_counter() - start)
                break
    el = time.perf_counter() - start
    if reached:
        print("torchrl target_frames=%d target_seconds=%.1f" % reached, flush=True)
    else:
        print("torchrl target_not_reached frames=%d best=%s" % (n, "none" if best is None else "%.2f" % best), flush=True)
    print("torchrl frames_per_s=%.1f frames=%d seconds=%.1f" % (n / el, n, el), flush=True)


if __name__ == "__main__":
    main()
