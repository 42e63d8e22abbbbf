"""PyTorch twin of nethackagent.RewardNet (Motif's message reward model) for the parity test and the
benchmark (bench virtualenv):
~/.cache/maestro/peer-bench/bin/python agents/nethackagent/testdata/gen_rewardmodel.py > agents/nethackagent/testdata/rewardmodel.json
Parameters come from an integer formula that Go reproduces exactly (fill below), so the file
holds only 3 pairs of messages, soft labels, the rewards, the Bradley-Terry loss, and per
parameter the first 16 gradient entries and the sum of absolute gradients."""
import json

import torch
import torch.nn as nn


class RewardModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(256, 32, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(32, 64, 7), nn.Conv1d(64, 64, 7)] + [nn.Conv1d(64, 64, 3) for _ in range(4)])
        self.fcs = nn.ModuleList([nn.Linear(320, 128), nn.Linear(128, 256), nn.Linear(256, 512), nn.Linear(512, 1)])
        for l in self.fcs:
            nn.init.orthogonal_(l.weight, 1.0)
            nn.init.zeros_(l.bias)

    def forward(self, msg):  # msg [n, 256] int64
        x = self.embed(msg).transpose(1, 2)
        x = torch.max_pool1d(torch.relu(self.convs[0](x)), 3)
        x = torch.max_pool1d(torch.relu(self.convs[1](x)), 3)
        for c in self.convs[2:]:
            x = torch.relu(c(x))
        x = torch.max_pool1d(x, 3).flatten(1)
        for i, l in enumerate(self.fcs):
            x = l(x)
            if i + 1 < len(self.fcs):
                x = torch.relu(x)
        return x


def params(m):
    ps = [m.embed.weight]
    for c in m.convs:
        ps += [c.weight, c.bias]
    for l in m.fcs:
        ps += [l.weight, l.bias]
    return ps


def fill(p, salt):
    """Deterministic weights: ((i * 2654435761 + salt) mod 1000 / 1000 - 0.5) / sqrt(fan_in)."""
    n = p.numel()
    fan_in = p.shape[1] * (p.shape[2] if p.dim() > 2 else 1) if p.dim() > 1 else n
    i = torch.arange(n, dtype=torch.float64)
    v = (torch.remainder(i * 2654435761 + salt, 1000) / 1000 - 0.5) / (fan_in ** 0.5)
    with torch.no_grad():
        p.copy_(v.to(torch.float32).reshape(p.shape))


if __name__ == "__main__":
    torch.manual_seed(4)
    m = RewardModel()
    for k, p in enumerate(params(m)):
        fill(p, 7919 * k)
    msg = torch.randint(1, 128, (6, 256))
    for i in range(6):
        msg[i, 20 + 10 * i:] = 0  # messages end in NULs
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    r = m(msg).reshape(3, 2)  # pairs: rows 0-1, 2-3, 4-5
    loss = -(target * torch.log_softmax(r, dim=1)).sum(dim=1).mean()
    loss.backward()
    print(json.dumps({"msg": msg.reshape(-1).tolist(), "target": target.reshape(-1).tolist(),
                      "rewards": r.detach().reshape(-1).tolist(), "loss": loss.item(),
                      "grad_head": [p.grad.reshape(-1)[:16].tolist() for p in params(m)],
                      "grad_abs_sum": [p.grad.abs().sum().item() for p in params(m)]}))
