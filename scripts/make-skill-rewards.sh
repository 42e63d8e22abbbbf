#!/usr/bin/env bash
# make-skill-rewards.sh: makes the per-skill reward models Maestro ships for `train --skills`
# (skills/rewards/<skill>.mtd), with the project's own pipeline, one model per skill of the
# default spec (MaestroMotif's five), and records how in skills/rewards/<skill>.json:
#   observations of an agent on NetHackScore (the monk MaestroMotif plays) -> MaestroMotif's
#   transition pairs (what was seen 100 steps earlier, what is seen now, the change of depth,
#   gold, HP, XP level and hunger), a share EVENTS of them drawn among transitions where depth,
#   gold or XP level changed -> labels from the embedded LLM judge (annotate's defaults:
#   Qwen2.5-Coder-1.5B rating each distinct transition 1-9, pointwise, the rate-transition
#   template and the harm aspect) told the skill's preference -> a diffstats reward model per
#   skill -> its accuracy on the skill's transition set where one exists
#   (rewards/motif/testdata/transitions-<skill>.tsv; docs/judge.md).
# The agent is, as in MaestroMotif, one trained on the game: by default `make train`'s job,
# trained first into <work-dir>/agent; POLICY=FILE acts with a train run's params.mtd,
# POLICY=random uniformly. All skills share one answer journal (<work-dir>/journal): the harm
# question does not depend on the skill and is asked once per transition; a killed run resumes.
# Usage: scripts/make-skill-rewards.sh [work-dir]
#   (STEPS, PAIRS, EVENTS, EPOCHS, SKILLS, POLICY override)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$here/runs/skill-rewards}
steps=${STEPS:-200000} pairs=${PAIRS:-500} events=${EVENTS:-0.3} epochs=${EPOCHS:-30} policy=${POLICY:-train}
skills=${SKILLS:-discoverer descender ascender worshipper merchant}
mkdir -p "$work" "$here/bin" "$here/skills/rewards"
cd "$here"
go build -o bin/ ./cmd/annotate ./cmd/train
. scripts/agent-obs.sh
agent_obs "$work" "$policy" "$steps"
policy=$agent_policy sum=$agent_sha256
[ -f "$work/pairs.mtd" ] || ./bin/annotate pairs --obs "$work/obs.mtd" --out "$work/pairs.mtd" --pairs "$pairs" --delta 100 --events "$events" --seed 2
for s in $skills; do
  # label records every answer in the shared journal: a killed run resumes where it stopped.
  ./bin/annotate label --pairs "$work/pairs.mtd" --out "$work/pairs-$s.mtd" --skill "$s" --concurrency 2 --journal "$work/journal"
  ./bin/annotate inspect --pairs "$work/pairs-$s.mtd"
  ./bin/annotate train --pairs "$work/pairs-$s.mtd" --out "$work/$s.mtd" --epochs "$epochs" --batch 128 --lr 1e-3 --seed 1
  set=rewards/motif/testdata/transitions-$s.tsv
  [ ! -f "$set" ] || ./bin/annotate eval --no-judge --skill "$s" --tsv "$set" --reward-model "$work/$s.mtd" --json "$work/$s-eval.json"
  cp "$work/$s.mtd" "skills/rewards/$s.mtd"
  python3 - "$work/$s.mtd.json" "skills/rewards/$s.json" "$steps" "$s" "$policy" "$sum" "$events" <<'PY'
import os
import json, sys
info = json.load(open(sys.argv[1]))
info["made_by"] = "scripts/make-skill-rewards.sh"
info["skill"] = sys.argv[4]
policy = "uniformly random" if sys.argv[5] == "random" else {"params": sys.argv[5], "sha256": sys.argv[6]}
info["observations"] = {"task": "NetHackScore", "character": "mon-hum-neu-mal", "policy": policy, "steps": int(sys.argv[3]), "envs": 4, "seed": 3}
info["pairs"] = "MaestroMotif's transition pairs, delta 100 steps, seed 2; a share %s drawn among transitions where depth, gold or XP level changed (annotate pairs --events)" % sys.argv[7]
ev = sys.argv[1].replace(".mtd.json", "-eval.json")
if os.path.exists(ev):
    info["transition_set_accuracy"] = json.load(open(ev))["reward_model"]["accuracy"]
json.dump(info, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
done
echo "make-skill-rewards: skills/rewards/*.mtd and *.json updated"
