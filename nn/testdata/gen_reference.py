"""Reference values from PyTorch for nn's tests (run with the bench virtualenv:
~/.cache/maestro/peer-bench/bin/python nn/testdata/gen_reference.py > nn/testdata/reference.json).

Fixed inputs and weights (from a seeded generator, written out in full) go through a small MLP
with each activation, soft cross-entropy and MSE; the file holds outputs, gradients, and the
parameters after three Adam and three AdamW steps."""
import json

import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float32)
out = {}


def t(x):
    return [float(v) for v in x.detach().reshape(-1)]


x = torch.randn(4, 5)
w1 = torch.randn(6, 5) * 0.5
b1 = torch.randn(6) * 0.1
w2 = torch.randn(3, 6) * 0.5
b2 = torch.randn(3) * 0.1
target = torch.softmax(torch.randn(4, 3), dim=1)
reg = torch.randn(4, 3)
out["inputs"] = {"x": t(x), "w1": t(w1), "b1": t(b1), "w2": t(w2), "b2": t(b2), "target": t(target), "reg": t(reg)}

acts = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "elu": torch.nn.functional.elu}
for name, act in acts.items():
    ps = [p.clone().requires_grad_(True) for p in (w1, b1, w2, b2)]
    xi = x.clone().requires_grad_(True)
    h = act(xi @ ps[0].T + ps[1])
    logits = h @ ps[2].T + ps[3]
    ce = -(target * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    mse = ((logits - reg) ** 2).mean()
    loss = ce + mse + torch.softmax(logits, dim=1)[:, 0].sum()
    loss.backward()
    out[name] = {"logits": t(logits), "loss": float(loss), "grads": [t(p.grad) for p in ps], "dx": t(xi.grad)}

for decoupled in (False, True):
    ps = [p.clone().requires_grad_(True) for p in (w1, b1)]
    opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1)
    for step in range(3):
        opt.zero_grad()
        loss = ((x @ ps[0].T + ps[1]) ** 2).mean() * (step + 1)
        loss.backward()
        opt.step()
    out["adamw" if decoupled else "adam"] = [t(p) for p in ps]

print(json.dumps(out))
