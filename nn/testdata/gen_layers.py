"""PyTorch reference for nn's LayerNorm, Embedding and GRUCell tests (bench virtualenv):
~/.cache/maestro/peer-bench/bin/python nn/testdata/gen_layers.py > nn/testdata/layers.json
Parameters are written out in full; the loss sums fixed random weights times the outputs of
two GRU steps (the second with a reset mask), a LayerNorm and an Embedding lookup."""
import json

import torch

torch.manual_seed(2)


def t(x):
    return x.detach().reshape(-1).tolist()


N, IN, H, V, D = 3, 4, 5, 6, 4
gru = torch.nn.GRUCell(IN, H)
ln = torch.nn.LayerNorm(H)
with torch.no_grad():
    ln.weight.uniform_(0.5, 1.5)
    ln.bias.uniform_(-0.5, 0.5)
emb = torch.nn.Embedding(V, D, padding_idx=0)
x1, x2 = torch.randn(N, IN), torch.randn(N, IN)
h0 = torch.randn(N, H)
keep = torch.tensor([[1.0], [0.0], [1.0]]).expand(N, H).contiguous()
idx = torch.tensor([0, 3, 5, 3])
w_out, w_ln, w_emb = torch.randn(N, H), torch.randn(N, H), torch.randn(4, D)

h1 = gru(x1, h0)
h2 = gru(x2, h1 * keep)
y = ln(h2)
e = emb(idx)
loss = (h2 * w_out).sum() + (y * w_ln).sum() + (e * w_emb).sum()
loss.backward()
print(json.dumps({
    "gru": [t(p) for p in (gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh)],
    "ln": [t(ln.weight), t(ln.bias)], "emb": t(emb.weight),
    "x1": t(x1), "x2": t(x2), "h0": t(h0), "keep": t(keep), "idx": idx.tolist(),
    "w_out": t(w_out), "w_ln": t(w_ln), "w_emb": t(w_emb),
    "h2": t(h2), "y": t(y), "loss": float(loss),
    "grads": {"gru": [t(p.grad) for p in (gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh)],
              "ln": [t(ln.weight.grad), t(ln.bias.grad)], "emb": t(emb.weight.grad)},
}))
