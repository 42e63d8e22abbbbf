"""TorchRL side of `make bench BENCH=collector`: MultiSyncCollector over two
GymEnv("NetHackScore-v0") with Motif's agent observation keys, a random policy and 64 frames per
env per batch. Prints "frames_per_s <x>"."""
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import logging  # noqa: E402

logging.disable(logging.WARNING)

import nle  # noqa: E402,F401
import torch  # noqa: E402
from torchrl.collectors import MultiSyncCollector  # noqa: E402
from torchrl.envs import GymEnv  # noqa: E402

KEYS = ("glyphs", "chars", "colors", "specials", "blstats", "message", "tty_chars", "tty_colors",
        "tty_cursor")


def make():
    return GymEnv("NetHackScore-v0", observation_keys=KEYS)


if __name__ == "__main__":
    frames = int(sys.argv[1])
    torch.set_num_threads(1)
    c = MultiSyncCollector([make, make], policy=None, frames_per_batch=128, total_frames=-1)
    it = iter(c)
    next(it)  # warm-up
    n = 0
    t0 = time.perf_counter()
    while n < frames:
        b = next(it)
        n += b.numel()
    el = time.perf_counter() - t0
    print("frames_per_s %.0f" % (n / el))
    c.shutdown()
