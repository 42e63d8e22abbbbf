"""TorchRL side of `make bench BENCH=rollout`: GymEnv("NetHackScore-v0").rollout(N) with random
actions and automatic resets, single or in a ParallelEnv of 2, NLE's default observation keys
or (with a third argument "agent-keys") Motif's agent's. Prints "steps_per_s <x>".

    python peer.py ENVS STEPS [agent-keys]
"""
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import logging  # noqa: E402

logging.disable(logging.WARNING)

import nle  # noqa: E402,F401  (registers the NetHack envs with gymnasium)
import torch  # noqa: E402
from torchrl.envs import GymEnv, ParallelEnv  # noqa: E402


AGENT_KEYS = ("glyphs", "chars", "colors", "specials", "blstats", "message", "tty_chars",
              "tty_colors", "tty_cursor")
KEYS = None


def make():
    if KEYS is None:
        return GymEnv("NetHackScore-v0")
    return GymEnv("NetHackScore-v0", observation_keys=KEYS)


if __name__ == "__main__":
    n, steps = int(sys.argv[1]), int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "agent-keys":
        KEYS = AGENT_KEYS
    torch.set_num_threads(1)
    env = make() if n == 1 else ParallelEnv(n, make)
    env.rollout(10, break_when_any_done=False)
    t0 = time.perf_counter()
    td = env.rollout(steps, break_when_any_done=False)
    el = time.perf_counter() - t0
    print("steps_per_s %.0f" % (td.numel() / el))
    env.close()
