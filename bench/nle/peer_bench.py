"""Python side of `make bench BENCH=nle`: NLE 1.3.0's raw binding and its NetHackScore env,
driven with the same xorshift64 actions, episode seeds and observation keys as the Go side
(bench/nle/main.go) and the C loop. Prints "steps_per_s <x>".

    python peer_bench.py raw|env STEPS
"""
import logging
import sys
import time
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)  # NLE warns when "internal" is requested

from nle import nethack  # noqa: E402
from nle.env import tasks  # noqa: E402

KEYS = ("glyphs", "chars", "colors", "specials", "blstats", "message", "program_state",
        "internal", "inv_glyphs", "inv_strs", "inv_letters", "inv_oclasses", "tty_chars",
        "tty_colors", "tty_cursor")
MASK = (1 << 64) - 1


def xorshift(x):
    x ^= (x << 13) & MASK
    x ^= x >> 7
    x ^= (x << 17) & MASK
    return x


def raw(steps):
    nh = nethack.Nethack(observation_keys=KEYS, ttyrec=None, fix_moon_phase=True)
    acts = [int(a) for a in tasks.TASK_ACTIONS]
    episode = 1
    nh.set_initial_seeds(episode, episode, False)
    nh.reset()
    x = 0x9E3779B97F4A7C15
    t0 = time.perf_counter()
    for _ in range(steps):
        x = xorshift(x)
        _, done = nh.step(acts[x % len(acts)])
        if done:
            episode += 1
            nh.set_initial_seeds(episode, episode, False)
            nh.reset()
    return steps / (time.perf_counter() - t0)


def env(steps):
    e = tasks.NetHackScore(observation_keys=KEYS, fix_moon_phase=True)
    n = int(e.action_space.n)
    episode = 1
    e.seed(episode, episode, False)
    e.reset()
    x = 0x9E3779B97F4A7C15
    t0 = time.perf_counter()
    for _ in range(steps):
        x = xorshift(x)
        _, _, done, truncated, _ = e.step(x % n)
        if done or truncated:
            episode += 1
            e.seed(episode, episode, False)
            e.reset()
    return steps / (time.perf_counter() - t0)


if __name__ == "__main__":
    mode, steps = sys.argv[1], int(sys.argv[2])
    print("steps_per_s %.0f" % (raw(steps) if mode == "raw" else env(steps)))
