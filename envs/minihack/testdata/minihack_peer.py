"""Python MiniHack peer for Maestro's MiniHack parity test (a test dependency only).

One JSON request per line on stdin, one JSON answer per line on stdout:
  {"op": "des", "task": NAME}  -> {"des": the des text the task compiles}
  {"op": "dungeon"}             -> {"path": MiniHack's lib/dungeon}
  {"op": "generate", "calls": [[method, args...], ...], "w": W, "h": H, "lit": bool}
      -> {"des": LevelGenerator's output after those calls}
  {"op": "episode", "task": NAME, "keys": [...], "max_steps": N, "seed": [core, disp],
   "actions": [...]} -> {"t0", "t1", "des", "reset": digests, "steps": [[digests, reward,
   done, end_status], ...]}
Digests are the first 16 hex digits of sha256 over each array's raw bytes.
"""
import hashlib
import json
import logging
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import gymnasium as gym  # noqa: E402
import minihack  # noqa: E402
from minihack import LevelGenerator, base  # noqa: E402

compiled = []
_patch = base.MiniHack._patch_nhdat


def _record(self, des_file):
    compiled.append(des_file)
    return _patch(self, des_file)


base.MiniHack._patch_nhdat = _record
envs = {}


def digests(obs, keys):
    return {k: hashlib.sha256(obs[k].tobytes()).hexdigest()[:16] for k in keys}


def make(task, **kw):
    compiled.clear()
    env = gym.make(task, **kw)
    des = compiled[-1]
    if des.endswith(".des") and "\n" not in des:  # a file of MiniHack's dat/ folder
        path = des if os.path.exists(des) else os.path.join(base.PATH_DAT_DIR, des)
        with open(path) as f:
            des = f.read()
    return env, des


def episode(req):
    key = (req["task"], tuple(req["keys"]), req["max_steps"])
    if key not in envs:
        envs[key] = make(req["task"], observation_keys=tuple(req["keys"]),
                         max_episode_steps=req["max_steps"], fix_moon_phase=True)
    env, des = envs[key]
    core, disp = req["seed"]
    env.unwrapped.nethack._pynethack.set_initial_seeds(core, disp, False, None)
    t0 = time.time()
    obs, _ = env.reset()
    t1 = time.time()
    out = {"t0": int(t0), "t1": int(t1), "des": des, "reset": digests(obs, req["keys"]), "steps": []}
    for a in req["actions"]:
        obs, reward, done, truncated, info = env.step(a)
        out["steps"].append([digests(obs, req["keys"]), float(reward), bool(done or truncated),
                             int(info["end_status"])])
        if done or truncated:
            break
    return out


def generate(req):
    g = LevelGenerator(w=req["w"], h=req["h"], lit=req["lit"])
    for call in req["calls"]:
        name, args = call[0], call[1:]
        args = [tuple(a) if isinstance(a, list) else a for a in args]
        getattr(g, name)(*args)
    return {"des": g.get_des()}


for line in sys.stdin:
    req = json.loads(line)
    op = req["op"]
    if op == "des":
        _, des = make(req["task"])
        resp = {"des": des}
    elif op == "dungeon":
        resp = {"path": os.path.join(base.LIB_DIR, "dungeon")}
    elif op == "generate":
        resp = generate(req)
    else:
        resp = episode(req)
    sys.stdout.write(json.dumps(resp) + "\n")
    sys.stdout.flush()
