"""Python NLE peer for Maestro's parity test (a test dependency only, never a runtime one).

Reads one JSON request per line on stdin and answers one JSON line on stdout:
  {"op": "tables"}  -> NLE's action tables and glyph constants
  {"op": "episode", "task": ..., "keys": [...], "max_steps": N, "seed": [core, disp],
   "actions": [...], "kwargs": {...}} -> per-key digests of the reset observation and of every step's
   observation, with reward, done and end_status, until done or the actions run out.
"kwargs" (optional) go to the task's constructor: character, penalty_mode, penalty_step, ...
Digests are the first 16 hex digits of sha256 over each array's raw bytes.
"""
import hashlib
import json
import logging
import sys
import time
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)  # NLE warns when "internal" is requested

from nle import nethack  # noqa: E402
from nle.env import base, tasks  # noqa: E402

CLASSES = {
    "NetHack": base.NLE,
    "NetHackScore": tasks.NetHackScore,
    "NetHackStaircase": tasks.NetHackStaircase,
    "NetHackStaircasePet": tasks.NetHackStaircasePet,
    "NetHackOracle": tasks.NetHackOracle,
    "NetHackGold": tasks.NetHackGold,
    "NetHackEat": tasks.NetHackEat,
    "NetHackScout": tasks.NetHackScout,
    "NetHackChallenge": tasks.NetHackChallenge,
}

envs = {}


def digests(obs, keys):
    return {k: hashlib.sha256(obs[k].tobytes()).hexdigest()[:16] for k in keys}


def episode(req):
    kwargs = req.get("kwargs", {})  # e.g. character, penalty_mode, penalty_step
    key = (req["task"], tuple(req["keys"]), req["max_steps"], tuple(sorted(kwargs.items())))
    env = envs.get(key)
    if env is None:
        env = CLASSES[req["task"]](
            observation_keys=tuple(req["keys"]),
            max_episode_steps=req["max_steps"],
            fix_moon_phase=True,
            **kwargs,
        )
        envs[key] = env
    core, disp = req["seed"]
    # NetHackChallenge refuses env.seed(); seed the game below it, as Maestro's test does.
    env.nethack._pynethack.set_initial_seeds(core, disp, False, None)
    t0 = time.time()
    obs, _ = env.reset()
    t1 = time.time()
    out = {"t0": int(t0), "t1": int(t1), "reset": digests(obs, req["keys"]), "steps": []}
    for a in req["actions"]:
        obs, reward, done, truncated, info = env.step(a)
        out["steps"].append(
            [digests(obs, req["keys"]), float(reward), bool(done), int(info["end_status"])]
        )
        if done:
            break
    return out


def tables():
    names = [
        "GLYPH_MON_OFF", "GLYPH_PET_OFF", "GLYPH_INVIS_OFF", "GLYPH_CMAP_OFF", "NO_GLYPH",
        "BL_MASK_HALLU", "NLE_BL_CONDITION", "NLE_BL_TIME", "NLE_BL_SCORE", "NLE_BL_GOLD",
        "NLE_BL_DNUM", "NLE_BL_DLEVEL",
    ]
    oracle = next(
        g for g in range(nethack.GLYPH_MON_OFF, nethack.GLYPH_PET_OFF)
        if nethack.permonst(nethack.glyph_to_mon(g)).mname == "Oracle"
    )
    return {
        "actions": [int(a) for a in nethack.ACTIONS],
        "useful_actions": [int(a) for a in nethack.USEFUL_ACTIONS],
        "task_actions": [int(a) for a in tasks.TASK_ACTIONS],
        "options": list(nethack.NETHACKOPTIONS),
        "constants": {n: int(getattr(nethack, n)) for n in names} | {"ORACLE": oracle},
    }


for line in sys.stdin:
    req = json.loads(line)
    resp = tables() if req["op"] == "tables" else episode(req)
    sys.stdout.write(json.dumps(resp) + "\n")
    sys.stdout.flush()
