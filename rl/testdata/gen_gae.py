"""TorchRL reference for rl.GAE (bench virtualenv):
~/.cache/maestro/peer-bench/bin/python rl/testdata/gen_gae.py > rl/testdata/gae.json
Random rewards, values and episode ends (terminations and truncations) over [T=50][B=4]."""
import json

import torch
from torchrl.objectives.value.functional import generalized_advantage_estimate

torch.manual_seed(6)
T, B = 50, 4
reward = torch.randn(B, T, 1)
value = torch.randn(B, T, 1)
next_value = torch.randn(B, T, 1)
terminated = torch.rand(B, T, 1) < 0.05
truncated = (torch.rand(B, T, 1) < 0.05) & ~terminated
done = terminated | truncated
adv, target = generalized_advantage_estimate(0.99, 0.95, value, next_value, reward, done=done, terminated=terminated)


def tm(x):  # [B, T, 1] -> time-major [T][B]
    return x.squeeze(-1).transpose(0, 1).reshape(-1).tolist()


print(json.dumps({"T": T, "B": B, "reward": tm(reward), "value": tm(value), "next_value": tm(next_value),
                  "done": tm(done.float()), "terminated": tm(terminated.float()),
                  "adv": tm(adv), "target": tm(target)}))
