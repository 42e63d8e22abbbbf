"""TorchRL reference for rl.TD0, rl.TDLambda and rl.VTrace (bench virtualenv):
~/.cache/maestro/peer-bench/bin/python rl/testdata/gen_estimators.py > rl/testdata/estimators.json"""
import json

import torch
from torchrl.objectives.value.functional import (td0_return_estimate, td_lambda_return_estimate,
                                                  vtrace_advantage_estimate)

torch.manual_seed(7)
T, B = 40, 3
reward, value, next_value = torch.randn(B, T, 1), torch.randn(B, T, 1), torch.randn(B, T, 1)
log_pi, log_mu = torch.randn(B, T, 1) * 0.3, torch.randn(B, T, 1) * 0.3
terminated = torch.rand(B, T, 1) < 0.06
done = terminated | ((torch.rand(B, T, 1) < 0.06) & ~terminated)
td0 = td0_return_estimate(0.97, next_value, reward, terminated=terminated)
tdl = td_lambda_return_estimate(0.97, 0.9, next_value, reward, done, terminated=terminated)
adv, vs = vtrace_advantage_estimate(0.97, log_pi, log_mu, value, next_value, reward, done, terminated=terminated,
                                    rho_thresh=1.0, c_thresh=1.0)


def tm(x):
    return x.float().squeeze(-1).transpose(0, 1).reshape(-1).tolist()


print(json.dumps({"T": T, "B": B, "reward": tm(reward), "value": tm(value), "next_value": tm(next_value),
                  "log_pi": tm(log_pi), "log_mu": tm(log_mu), "done": tm(done), "terminated": tm(terminated),
                  "td0": tm(td0), "tdl": tm(tdl), "vs": tm(vs), "adv": tm(adv)}))
