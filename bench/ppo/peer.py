"""TorchRL side of `make bench BENCH=ppo`: PPO on NetHackScore with the twin of Maestro's agent
(bench/nn/peer.py's Agent: 12x12 crop encoder, blstats and message MLPs, GRU 512), TorchRL's
GymEnv + SerialEnv + InitTracker, Collector, GAE (functional) and ClipPPOLoss, Adam; the same
settings as `train --algo ppo --env NetHackScore` in Go: 8 envs x 32 steps per batch, one epoch
of 4 minibatches of 2 env sequences (replayed through the GRU from the stored state, reset at
episode starts), clip 0.1, entropy 0.003, value coefficient 0.5, max gradient norm 4, lr 1e-4,
2 threads. Prints "torchrl frames_per_s=<x> frames=<n> seconds=<s>"; with MAESTRO_PPO_CURVE set,
writes a log.csv-like curve there (frames, seconds, episodes, mean_return_last20) for docs/.

With a MiniHack task as ENV (e.g. MiniHack-Room-5x5-v0) it trains the twin of Maestro's MiniHack
agent (bench/ppo/minihack_twin.py: glyph map and crop encoders, GRU 256) on that task with the
same settings as `train --algo ppo --env <task> --num-envs 8 --frames-per-batch 32`, and the
curve also holds success_last20 (NLE's end_status, read from the env's info).

With MAESTRO_PPO_TARGET=<success> (MiniHack), every MAESTRO_PPO_EVAL_EVERY frames (default 1024)
it plays MAESTRO_PPO_EVAL_EPISODES episodes (default 20) with the current policy, sampling, and
stops at the first evaluation reaching the target, printing "torchrl target_frames=<n>
target_seconds=<s>" (`make bench BENCH=speedrun`, against `train --target-success`).

usage: peer.py FRAMES [ENV]
"""
import os
import sys
import time

import nle  # noqa: F401  (registers NetHackScore-v0)
import torch
import torch.nn as nn
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torch.distributions import Categorical
from torchrl.collectors import Collector
from torchrl.data import Unbounded
from torchrl.envs.gym_like import BaseInfoDictReader
from torchrl.envs import Compose, GymEnv, InitTracker, RewardSum, SerialEnv, TransformedEnv
from torchrl.modules import ProbabilisticActor
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value.functional import generalized_advantage_estimate

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "nn"))
sys.path.insert(0, os.path.dirname(__file__))
from agent_twin import Agent  # noqa: E402
from minihack_twin import MiniHackAgent  # noqa: E402

# 2 threads for the benchmark (the machine to itself); MAESTRO_TORCH_THREADS=1 beside another run
# (docs/minihack-runs.sh, as `train --blas-threads 1`): two threads on a busy core spin, and
# made acting 17x slower there.
torch.set_num_threads(int(os.environ.get("MAESTRO_TORCH_THREADS", "2")))
N, T, MB = 8, 32, 4
KEYS = ("tty_chars", "tty_colors", "blstats", "message")
SCALE = torch.tensor([1 / 80, 1 / 21, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 1000, 1 / 20, 1 / 20,
                      1 / 10, 1 / 1000, 1 / 20, 1 / 20, 1 / 10, 1 / 20, 1 / 20, 1 / 1000, 1 / 10000, 1 / 5, 1 / 5, 1 / 5,
                      1 / 50, 1, 1], dtype=torch.float32)


MH_KEYS = ("glyphs", "glyphs_crop", "blstats", "message")


class EndStatusReader(BaseInfoDictReader):
    """Puts NLE's info["end_status"] (an IntEnum, which TorchRL's default reader cannot take)
    into the tensordict as an int64."""

    def __call__(self, info_dict, tensordict):
        tensordict.set("end_status", torch.tensor(int(info_dict.get("end_status", 0)), dtype=torch.int64))
        return tensordict

    @property
    def info_spec(self):
        return {"end_status": Unbounded((), dtype=torch.int64)}


def mh_features(td):
    """MiniHack agent inputs [n, ...]: glyph ids of the map and the crop, scaled blstats, message."""
    bl = td["blstats"]
    return (td["glyphs"].long(), td["glyphs_crop"].long(), (bl.float() * SCALE).clamp(-5, 5),
            td["message"].float() / 255)


def features(td):
    """Agent inputs from NLE observations [n, ...]: hero-centred 12x12 crops, scaled blstats."""
    chars, colors, bl, msg = td["tty_chars"], td["tty_colors"], td["blstats"], td["message"]
    n = chars.shape[0]
    pc = torch.nn.functional.pad(chars.long(), (6, 6, 6, 6), value=32)
    pk = torch.nn.functional.pad(colors.long(), (6, 6, 6, 6))
    cc, ck = torch.empty(n, 12, 12, dtype=torch.long), torch.empty(n, 12, 12, dtype=torch.long)
    for i in range(n):
        r, c = int(bl[i, 1]) + 1, int(bl[i, 0])
        cc[i], ck[i] = pc[i, r:r + 12, c:c + 12], pk[i, r:r + 12, c:c + 12]
    blf = (bl.float() * SCALE).clamp(-5, 5)
    return cc.reshape(n, 144), ck.reshape(n, 144).clamp(0, 31), blf, msg.float() / 255


class Seq(nn.Module):
    """Runs the agent over [B] steps (acting) or [B, T] sequences (learning)."""

    def __init__(self, agent, feats=features, hidden=512):
        super().__init__()
        self.agent, self.feats, self.hidden = agent, feats, hidden

    def step(self, td, h):
        logits, value, h2 = self.agent(*self.feats(td), h)
        return logits, value, h2

    def forward(self, td):
        if td.ndim == 1:  # acting
            h = td.get("hidden", None)
            h = torch.zeros(td.shape[0], self.hidden) if h is None else h
            h = h * (~td["is_init"]).float()
            logits, value, h2 = self.step(td, h)
            td.set("logits", logits)
            td.set("state_value", value)
            td.set(("next", "hidden"), h2)
            td.set("hidden", h)
            return td
        B, L = td.shape
        h = td["hidden"][:, 0]
        logits, values = [], []
        for t in range(L):
            h = h * (~td["is_init"][:, t]).float()
            lg, v, h = self.step(td[:, t], h)
            logits.append(lg)
            values.append(v)
        td.set("logits", torch.stack(logits, 1))
        td.set("state_value", torch.stack(values, 1))
        return td


def evaluate(seq, env, episodes):
    """Success rate of episodes played with seq's policy on env (one MiniHack GymEnv), sampling."""
    from torchrl.envs.utils import step_mdp
    wins = 0
    with torch.no_grad():
        for _ in range(episodes):
            td = env.reset()
            h = torch.zeros(1, seq.hidden)
            while True:
                logits, _, h = seq.agent(*seq.feats(td.unsqueeze(0)), h)
                td.set("action", Categorical(logits=logits).sample()[0])
                td = env.step(td)
                if td["next", "done"].item():
                    wins += int(td["next", "end_status"].item() == 2)
                    break
                td = step_mdp(td)
    return wins / episodes


def main():
    frames = int(sys.argv[1])
    task = sys.argv[2] if len(sys.argv) > 2 else "NetHackScore-v0"
    minihack = task.startswith("MiniHack-")
    keys = MH_KEYS if minihack else KEYS
    if minihack:
        import minihack as _  # noqa: F401  (registers the MiniHack tasks)

        def make():
            e = GymEnv(task, categorical_action_encoding=True, observation_keys=keys)
            e.set_info_dict_reader(EndStatusReader())
            return e
    else:
        def make():
            return GymEnv(task, categorical_action_encoding=True, observation_keys=keys)
    env = TransformedEnv(SerialEnv(N, make), Compose(InitTracker(), RewardSum()))
    actions = env.action_spec.space.n
    seq = Seq(MiniHackAgent(actions), mh_features, MiniHackAgent.hidden) if minihack else Seq(Agent(23))
    body = TensorDictModule(seq, in_keys=list(keys) + ["is_init"], out_keys=[])
    body.forward = seq.forward  # the module reads and writes the tensordict itself
    actor = ProbabilisticActor(body, in_keys=["logits"], distribution_class=Categorical, return_log_prob=True,
                               log_prob_key="sample_log_prob")
    critic = TensorDictModule(lambda td: seq(td)["state_value"], in_keys=[], out_keys=["state_value"])
    critic.forward = lambda td: seq(td)
    collector = Collector(env, actor, frames_per_batch=N * T, total_frames=frames)
    loss = ClipPPOLoss(actor, critic, clip_epsilon=0.1, entropy_coeff=0.003, critic_coeff=0.5, normalize_advantage=True)
    loss.set_keys(sample_log_prob="sample_log_prob")
    opt = torch.optim.Adam(seq.parameters(), lr=1e-4, eps=1e-5)
    start, n = time.perf_counter(), 0
    returns, successes = [], []
    curve = open(os.environ["MAESTRO_PPO_CURVE"], "w") if os.environ.get("MAESTRO_PPO_CURVE") else None
    if curve:
        curve.write("frames,seconds,episodes,mean_return_last20,success_last20\n")
    goal = float(os.environ.get("MAESTRO_PPO_TARGET", "0"))
    eval_every = int(os.environ.get("MAESTRO_PPO_EVAL_EVERY", "1024"))
    eval_episodes = int(os.environ.get("MAESTRO_PPO_EVAL_EPISODES", "20"))
    eval_env = make() if goal > 0 and minihack else None
    reached, best = None, 0.0
    for data in collector:  # [N, T]
        done = data["next", "done"].squeeze(-1)
        returns += data["next", "episode_reward"].squeeze(-1)[done].tolist()
        if minihack:
            successes += (data["next", "end_status"].reshape(done.shape)[done] == 2).float().tolist()
        with torch.no_grad():
            nxt = data["next"]
            v = data["state_value"]
            nv = torch.empty_like(v)
            nv[:, :-1] = v[:, 1:]
            _, last, _ = seq.step(nxt[:, -1], nxt["hidden"][:, -1])
            nv[:, -1] = last
            adv, target = generalized_advantage_estimate(0.99, 0.95, v, nv, nxt["reward"], nxt["done"], nxt["terminated"], time_dim=1)
            data.set("advantage", adv)
            data.set("value_target", target)
        perm = torch.randperm(N)
        for g in range(MB):
            mb = data[perm[g * (N // MB):(g + 1) * (N // MB)]]
            out = loss(mb)
            total = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
            opt.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(seq.parameters(), 4.0)
            opt.step()
        n += data.numel()
        if curve:
            last, sl = returns[-20:], successes[-20:]
            success = "%.4f" % (sum(sl) / len(sl)) if sl else ""
            curve.write("%d,%.1f,%d,%.4f,%s\n" % (n, time.perf_counter() - start, len(returns), sum(last) / max(len(last), 1), success))
            curve.flush()
        if eval_env is not None and n // eval_every != (n - data.numel()) // eval_every:
            rate = evaluate(seq, eval_env, eval_episodes)
            best = max(best, rate)
            if rate >= goal:
                reached = (n, time.perf_counter() - start)
                break
    el = time.perf_counter() - start
    if eval_env is not None:
        if reached:
            print("torchrl target_frames=%d target_seconds=%.1f" % reached, flush=True)
        else:
            print("torchrl target_not_reached frames=%d best=%.3f" % (n, best), flush=True)
    print("torchrl frames_per_s=%.1f frames=%d seconds=%.1f" % (n / el, n, el), flush=True)


if __name__ == "__main__":
    main()
