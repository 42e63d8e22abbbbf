"""sample-factory's APPO on NetHackScore, for the record in `make bench BENCH=ppo` (SF=1).

The network is Maestro's agent as in bench/nn/agent_twin.py: sample-factory runs the twin's
encoder (12x12 crop embeddings and convolutions, blstats and message MLPs), its own GRU core of
512 and linear policy and value heads, which is the twin's shape. Settings follow `train --algo
appo` as bench/ppo runs it: 8 envs (2 rollout workers x 4 envs, sample-factory's double-buffered
sampling), rollouts of 32 = recurrence, one epoch of 4 minibatches of 64 frames, 2 torch threads,
CPU. sample-factory's processes and queues are its own (it is asynchronous by design).

Prints "sample_factory frames_per_s=<x> frames=<n> seconds=<s> overall_frames_per_s=<y>": x is
the rate between sample-factory's first and last progress reports with frames (its process
start-up, ~15 s here, excluded), y the whole run's.

usage: sf_appo.py FRAMES TRAIN_DIR
"""
import logging
import os
import re
import sys
import time

import gymnasium as gym
import nle  # noqa: F401  (registers NetHackScore-v0)
import numpy as np
import torch

from sample_factory.algo.utils.context import global_model_factory
from sample_factory.cfg.arguments import parse_full_cfg, parse_sf_args
from sample_factory.envs.env_utils import register_env
from sample_factory.model.encoder import Encoder
from sample_factory.train import run_rl
from sample_factory.utils.utils import log

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "nn"))
from agent_twin import Encode  # noqa: E402

SCALE = np.array([1 / 80, 1 / 21, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 25, 1 / 1000, 1 / 20, 1 / 20,
                  1 / 10, 1 / 1000, 1 / 20, 1 / 20, 1 / 10, 1 / 20, 1 / 20, 1 / 1000, 1 / 10000, 1 / 5, 1 / 5, 1 / 5,
                  1 / 50, 1, 1], dtype=np.float32)


class Features(gym.ObservationWrapper):
    """The agent's inputs from NLE's observations: the hero-centred 12x12 crops of tty_chars and
    tty_colors, scaled blstats and the message (as bench/ppo/peer.py computes them)."""

    def __init__(self, env):
        super().__init__(env)
        f = np.float32
        self.observation_space = gym.spaces.Dict({
            "chars": gym.spaces.Box(0, 255, (144,), f),
            "colors": gym.spaces.Box(0, 31, (144,), f),
            "blstats": gym.spaces.Box(-5, 5, (27,), f),
            "message": gym.spaces.Box(0, 1, (256,), f),
        })

    def observation(self, o):
        pc = np.pad(o["tty_chars"], 6, constant_values=32)
        pk = np.pad(o["tty_colors"], 6)
        r, c = int(o["blstats"][1]) + 1, int(o["blstats"][0])
        return {
            "chars": pc[r:r + 12, c:c + 12].reshape(144).astype(np.float32),
            "colors": np.clip(pk[r:r + 12, c:c + 12].reshape(144), 0, 31).astype(np.float32),
            "blstats": np.clip(o["blstats"].astype(np.float32) * SCALE, -5, 5),
            "message": o["message"].astype(np.float32) / 255,
        }


def make_env(full_env_name, cfg=None, env_config=None, render_mode=None):
    keys = ("tty_chars", "tty_colors", "blstats", "message")
    return Features(gym.make("NetHackScore-v0", observation_keys=keys))


class TwinEncoder(Encoder):
    """bench/nn/agent_twin.py's Encode: the agent up to the GRU's input."""

    def __init__(self, cfg, obs_space):
        super().__init__(cfg)
        self.encode = Encode()

    def forward(self, obs):
        return self.encode(obs["chars"].long(), obs["colors"].long(), obs["blstats"], obs["message"])

    def get_out_size(self):
        return Encode.out_size


def main():
    frames, train_dir = int(sys.argv[1]), sys.argv[2]
    register_env("nethack_score", make_env)
    global_model_factory().register_encoder_factory(TwinEncoder)
    argv = [
        "--algo=APPO", "--env=nethack_score", "--experiment=sf_bench", f"--train_dir={train_dir}",
        "--restart_behavior=overwrite", "--device=cpu", f"--train_for_env_steps={frames}",
        "--num_workers=2", "--num_envs_per_worker=4", "--worker_num_splits=2",
        "--rollout=32", "--recurrence=32", "--batch_size=64", "--num_batches_per_epoch=4", "--num_epochs=1",
        "--rnn_type=gru", "--rnn_size=512", "--decoder_mlp_layers", "--nonlinearity=elu",
        "--ppo_clip_ratio=0.1", "--exploration_loss_coeff=0.003", "--value_loss_coeff=0.5",
        "--max_grad_norm=4", "--learning_rate=1e-4", "--normalize_input=False", "--normalize_returns=False",
        "--save_every_sec=100000", "--keep_checkpoints=1", "--with_wandb=False",
        "--decorrelate_envs_on_one_worker=False", "--experiment_summaries_interval=5",
    ]
    parser, _ = parse_sf_args(argv)
    cfg = parse_full_cfg(parser, argv)
    torch.set_num_threads(2)
    reports = []  # (time, total frames) from sample-factory's progress reports

    class Reports(logging.Handler):
        def emit(self, record):
            m = re.search(r"Total num frames: (\d+)", record.getMessage())
            if m:
                reports.append((time.perf_counter(), int(m.group(1))))

    log.addHandler(Reports())
    t0 = time.perf_counter()
    status = run_rl(cfg)
    el = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"sample-factory exited with status {status}")
    running = [r for r in reports if r[1] > 0]
    if len(running) < 2:
        sys.exit("sample-factory: too few progress reports to time; give it more FRAMES")
    (ta, fa), (tb, fb) = running[0], running[-1]
    print("sample_factory frames_per_s=%.1f frames=%d seconds=%.1f overall_frames_per_s=%.1f" %
          ((fb - fa) / (tb - ta), frames, el, frames / el))


if __name__ == "__main__":
    main()
