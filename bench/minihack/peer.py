"""Python MiniHack's side of `make bench BENCH=minihack` (bench/minihack/main.go is Maestro's).

    peer.py TASK STEPS RESETS

Same keys (MiniHack's defaults, passed explicitly), the same xorshift64 actions, finished
episodes reset at once; prints the line main.go prints.
"""
import logging
import sys
import time
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import gymnasium as gym  # noqa: E402
import minihack  # noqa: E402,F401

KEYS = ("glyphs", "chars", "colors", "specials", "glyphs_crop", "chars_crop", "colors_crop",
        "specials_crop", "blstats", "message")
MASK = (1 << 64) - 1


def main():
    task, steps, resets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t0 = time.perf_counter()
    env = gym.make(task, observation_keys=KEYS)
    make_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    gym.make(task, observation_keys=KEYS).close()
    make_warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(resets):
        env.reset()
    reset_ms = (time.perf_counter() - t0) * 1000 / resets
    n = int(env.action_space.n)
    x = 0x9E3779B97F4A7C15
    env.reset()

    def run(count):
        nonlocal x
        for _ in range(count):
            x ^= (x << 13) & MASK
            x ^= x >> 7
            x ^= (x << 17) & MASK
            _, _, done, truncated, _ = env.step(x % n)
            if done or truncated:
                env.reset()

    run(100)
    t0 = time.perf_counter()
    run(steps)
    el = time.perf_counter() - t0
    # Python MiniHack compiles and packs the level at every make: both makes are "cold".
    print(f"steps_per_s {steps / el:.0f} allocs_per_step - reset_ms {reset_ms:.2f} "
          f"make_cold_ms {make_cold * 1000:.1f} make_warm_ms {make_warm * 1000:.1f}")


main()
