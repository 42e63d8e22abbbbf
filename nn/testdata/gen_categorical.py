"""PyTorch reference for nn's Categorical test (bench virtualenv):
~/.cache/maestro/peer-bench/bin/python nn/testdata/gen_categorical.py > nn/testdata/categorical.json
Loss = -(logprob(actions) * adv).mean() - 0.01 * entropy.mean() from logits through
torch.distributions.Categorical; the file holds the loss and d loss / d logits."""
import json

import torch

torch.manual_seed(1)
logits = torch.randn(5, 4, requires_grad=True)
actions = torch.tensor([0, 3, 1, 1, 2])
adv = torch.randn(5)
d = torch.distributions.Categorical(logits=logits)
loss = -(d.log_prob(actions) * adv).mean() - 0.01 * d.entropy().mean()
loss.backward()
print(json.dumps({"logits": logits.detach().reshape(-1).tolist(), "actions": actions.tolist(),
                  "adv": adv.tolist(), "loss": float(loss.detach()), "grad": logits.grad.reshape(-1).tolist(),
                  "entropy": d.entropy().detach().tolist()}))
