"""Records Gymnasium CartPole-v1 transitions for Maestro's cartpole test: for random states and
actions, the state before, the action, the state after, terminated and reward.

    python gen_cartpole.py > gymnasium_cartpole.jsonl   (needs gymnasium and numpy)
"""
import json

import gymnasium as gym
import numpy as np

env = gym.make("CartPole-v1").unwrapped
rng = np.random.default_rng(0)
env.reset(seed=0)
for i in range(2000):
    if i % 100 == 0:
        env.reset(seed=i)
    state = env.state.copy()
    if rng.random() < 0.3:  # also cover states near the thresholds
        state = rng.uniform([-2.6, -3, -0.25, -3], [2.6, 3, 0.25, 3])
    env.state = np.array(state, dtype=np.float64)
    env.steps_beyond_terminated = None
    action = int(rng.integers(2))
    _, reward, terminated, _, _ = env.step(action)
    print(json.dumps({"state": [float(x) for x in state], "action": action,
                      "next": [float(x) for x in env.state], "terminated": bool(terminated),
                      "reward": float(reward)}))
