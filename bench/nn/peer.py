"""PyTorch side of `make bench BENCH=nn`: the networks of bench/nn/main.go (2 threads).
Prints "<case> <ms/op>". MAESTRO_RM_PAIRS sets the reward-model batch (default 1024)."""
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "agents", "nethackagent", "testdata"))
from gen_rewardmodel import RewardModel  # noqa: E402
from agent_twin import Agent  # noqa: E402

torch.set_num_threads(2)


def inputs(n):
    return (torch.randint(32, 122, (n, 144)), torch.randint(0, 16, (n, 144)), torch.rand(n, 27), torch.zeros(n, 256))


def run(name, f, reps=3):
    cases = os.environ.get("MAESTRO_NN_CASES", "")
    if cases and name not in cases.split(","):
        return
    f()
    n, t0 = 0, time.perf_counter()
    while n < reps or time.perf_counter() - t0 < 1.0:
        f()
        n += 1
    print("%s %.3f" % (name, (time.perf_counter() - t0) / n * 1e3), flush=True)


pairs = int(os.environ.get("MAESTRO_RM_PAIRS", "1024"))
rm = RewardModel()
ropt = torch.optim.Adam(rm.parameters(), lr=1e-5)
msg = torch.zeros(2 * pairs, 256, dtype=torch.int64)
msg[:, :40] = torch.randint(32, 122, (2 * pairs, 40))
target = torch.zeros(pairs, 2)
target[:, 0] = 1


def rm_step():
    ropt.zero_grad()
    r = rm(msg).reshape(pairs, 2)
    (-(target * torch.log_softmax(r, 1)).sum(1).mean()).backward()
    ropt.step()


run("rm_step", rm_step, reps=2)

agent = Agent()
aopt = torch.optim.Adam(agent.parameters(), lr=1e-4)
in32 = inputs(32)
h32 = torch.zeros(32, 512)


def fwd():
    with torch.no_grad():
        agent(*in32, h32)


run("agent_fwd_b32", fwd)
T, B = 32, 64
steps = [inputs(B) for _ in range(T)]
actions = torch.zeros(B, dtype=torch.int64)


def fwdbwd():
    aopt.zero_grad()
    h = torch.zeros(B, 512)
    loss = 0
    for t in range(T):
        logits, value, h = agent(*steps[t], h)
        loss = loss + torch.log_softmax(logits, 1).gather(1, actions[:, None]).mean() + (value * value).mean()
    loss.backward()
    aopt.step()


run("agent_fwdbwd_b256", fwdbwd, reps=2)
mlp = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 16))
mopt = torch.optim.Adam(mlp.parameters())
xs, ys = torch.randn(256, 512), torch.zeros(256, 16)


def mlp_step():
    mopt.zero_grad()
    ((mlp(xs) - ys) ** 2).mean().backward()
    mopt.step()


run("mlp_step", mlp_step)
