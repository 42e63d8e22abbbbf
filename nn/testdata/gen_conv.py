"""PyTorch reference for nn's Conv2d test (bench virtualenv):
~/.cache/maestro/peer-bench/bin/python nn/testdata/gen_conv.py > nn/testdata/conv.json
Motif's first two encoder convolutions on a small batch: Conv(3->4, k4, s2, p1), ELU,
Conv(4->5, k3, s1, p0), flatten, a fixed weighted sum."""
import json

import torch

torch.manual_seed(3)


def t(x):
    return x.detach().reshape(-1).tolist()


c1 = torch.nn.Conv2d(3, 4, 4, stride=2, padding=1)
c2 = torch.nn.Conv2d(4, 5, 3, stride=1, padding=0)
x = torch.randn(2, 3, 10, 10, requires_grad=True)
y = c2(torch.nn.functional.elu(c1(x))).flatten(1)
w = torch.randn(y.shape)
loss = (y * w).sum()
loss.backward()
print(json.dumps({"params": [t(p) for p in (c1.weight, c1.bias, c2.weight, c2.bias)], "x": t(x), "w": t(w),
                  "y": t(y), "loss": loss.item(), "grads": [t(p.grad) for p in (c1.weight, c1.bias, c2.weight, c2.bias)],
                  "dx": t(x.grad)}))
