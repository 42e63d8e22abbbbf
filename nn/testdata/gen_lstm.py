"""PyTorch reference for nn's LSTMCell and MaxPool2d test (bench virtualenv):
~/.cache/maestro/peer-bench/bin/python nn/testdata/gen_lstm.py > nn/testdata/lstm.json"""
import json

import torch

torch.manual_seed(5)


def t(x):
    return x.detach().reshape(-1).tolist()


cell = torch.nn.LSTMCell(3, 4)
x1, x2 = torch.randn(2, 3), torch.randn(2, 3)
h0, c0 = torch.randn(2, 4), torch.randn(2, 4)
img = torch.randn(2, 3, 5, 6, requires_grad=True)
w1, w2 = torch.randn(2, 4), torch.randn(2, 3, 2, 3)
h1, c1 = cell(x1, (h0, c0))
h2, c2 = cell(x2, (h1, c1))
pooled = torch.nn.functional.max_pool2d(img, 2)
loss = (h2 * w1).sum() + c2.sum() + (pooled * w2).sum()
loss.backward()
print(json.dumps({"params": [t(p) for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)],
                  "x1": t(x1), "x2": t(x2), "h0": t(h0), "c0": t(c0), "img": t(img), "w1": t(w1), "w2": t(w2),
                  "h2": t(h2), "c2": t(c2), "pooled": t(pooled), "loss": loss.item(),
                  "grads": [t(p.grad) for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)],
                  "dimg": t(img.grad)}))
