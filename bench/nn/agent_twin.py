"""The PyTorch twin of Maestro's nethackagent.Agent, shared by the nn and ppo benchmarks."""
import torch
import torch.nn as nn


class Encode(nn.Module):
    """Twin of NetHackAgent.Encode: crop embeddings and convolutions, blstats and message MLPs."""

    out_size = 512 + 128 + 27 + 128

    def __init__(self):
        super().__init__()
        self.char = nn.Embedding(256, 16)
        self.color = nn.Embedding(32, 8)
        self.convs = nn.ModuleList([nn.Conv2d(24, 32, 3, 1, 1), nn.Conv2d(32, 64, 3, 2, 1), nn.Conv2d(64, 64, 3, 2, 1)])
        self.crop_fc = nn.Linear(576, 512)
        self.bl = nn.Sequential(nn.Linear(27, 128), nn.ELU(), nn.Linear(128, 128), nn.ELU())
        self.msg = nn.Sequential(nn.Linear(256, 128), nn.ELU(), nn.Linear(128, 128), nn.ELU())

    def forward(self, chars, colors, bl, msg):
        n = chars.shape[0]
        x = torch.cat([self.char(chars), self.color(colors)], dim=-1)  # [n, 144, 24]
        x = x.transpose(1, 2).reshape(n, 24, 12, 12)
        for c in self.convs:
            x = nn.functional.elu(c(x))
        crop = nn.functional.elu(self.crop_fc(x.flatten(1)))
        return torch.cat([crop, self.bl(bl), bl, self.msg(msg)], dim=1)


class Agent(nn.Module):
    """Twin of nethackagent.Agent."""

    def __init__(self, actions=23):
        super().__init__()
        self.encode = Encode()
        self.core = nn.GRUCell(Encode.out_size, 512)
        self.policy = nn.Linear(512, actions)
        self.value = nn.Linear(512, 1)

    def forward(self, chars, colors, bl, msg, h):
        h = self.core(self.encode(chars, colors, bl, msg), h)
        return self.policy(h), self.value(h), h
