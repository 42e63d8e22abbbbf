"""The PyTorch twin of Maestro's minihackagent.Agent (agents/minihackagent/agent.go), for the
TorchRL PPO peer on MiniHack tasks (bench/ppo/peer.py with a MiniHack env)."""
import torch
import torch.nn as nn

GLYPHS = 5977  # NLE's glyph ids 0..MAX_GLYPH


class MiniHackAgent(nn.Module):
    """Glyph embeddings (16) over the 21x79 map, two 3x3 stride-2 convolutions of 16 channels to
    256; its own embeddings over the 9x9 crop, two 3x3 convolutions of 32 to 256; blstats
    27 -> 128 -> 128; message 256 -> 64; ELU throughout; GRU 256; linear heads."""

    hidden = 256

    def __init__(self, actions):
        super().__init__()
        self.map_emb = nn.Embedding(GLYPHS, 16)
        self.crop_emb = nn.Embedding(GLYPHS, 16)
        self.map_convs = nn.ModuleList([nn.Conv2d(16, 16, 3, 2, 1), nn.Conv2d(16, 16, 3, 2, 1)])
        self.crop_convs = nn.ModuleList([nn.Conv2d(16, 32, 3, 1, 1), nn.Conv2d(32, 32, 3, 1, 1)])
        self.map_fc = nn.Linear(16 * 6 * 20, 256)
        self.crop_fc = nn.Linear(32 * 9 * 9, 256)
        self.bl = nn.Sequential(nn.Linear(27, 128), nn.ELU(), nn.Linear(128, 128), nn.ELU())
        self.msg = nn.Sequential(nn.Linear(256, 64), nn.ELU())
        self.core = nn.GRUCell(256 + 256 + 128 + 64, 256)
        self.policy = nn.Linear(256, actions)
        self.value = nn.Linear(256, 1)

    @staticmethod
    def _encode(emb, convs, fc, idx):
        x = emb(idx).permute(0, 3, 1, 2)  # [n, 16, h, w]
        for c in convs:
            x = nn.functional.elu(c(x))
        return nn.functional.elu(fc(x.flatten(1)))

    def forward(self, glyphs, crop, bl, msg, h):
        x = torch.cat([self._encode(self.map_emb, self.map_convs, self.map_fc, glyphs),
                       self._encode(self.crop_emb, self.crop_convs, self.crop_fc, crop),
                       self.bl(bl), self.msg(msg)], dim=1)
        h = self.core(x, h)
        return self.policy(h), self.value(h), h
