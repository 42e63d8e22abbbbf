#!/usr/bin/env bash
# make-skill-rewards.sh: makes the per-skill reward models Maestro ships for `train --skills`
# (skills/rewards/<skill>.mtd), with the project's own pipeline, one model per skill of the
# default spec (MaestroMotif's five), and records how in skills/rewards/<skill>.json:
#   observations of a random agent on NetHackScore (the monk MaestroMotif plays) ->
#   MaestroMotif's transition pairs (what was seen 100 steps earlier, what is seen now, the
#   change of depth, gold, HP, XP level and hunger) -> labels from the embedded LLM judge
#   (annotate's defaults: Qwen2.5-Coder-1.5B rating each distinct transition 1-9, pointwise,
#   with the rate-transition template) told the skill's preference -> a diffstats reward model
#   per skill -> its accuracy on the skill's transition set where one exists
#   (rewards/motif/testdata/transitions-<skill>.tsv; docs/judge.md).
# Usage: scripts/make-skill-rewards.sh [work-dir]   (STEPS, PAIRS, EPOCHS, SKILLS override)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$here/runs/skill-rewards}
steps=${STEPS:-40000} pairs=${PAIRS:-500} epochs=${EPOCHS:-30}
skills=${SKILLS:-discoverer descender ascender worshipper merchant}
mkdir -p "$work" "$here/bin" "$here/skills/rewards"
cd "$here"
go build -o bin/ ./cmd/annotate
[ -f "$work/obs.mtd" ] || ./bin/annotate collect --task score --steps "$steps" --envs 4 --seed 2 --no-tty --out "$work/obs.mtd"
[ -f "$work/pairs.mtd" ] || ./bin/annotate pairs --obs "$work/obs.mtd" --out "$work/pairs.mtd" --pairs "$pairs" --delta 100 --seed 2
for s in $skills; do
  # label writes a journal next to its output: a killed run resumes where it stopped.
  ./bin/annotate label --pairs "$work/pairs.mtd" --out "$work/pairs-$s.mtd" --skill "$s" --concurrency 2
  ./bin/annotate inspect --pairs "$work/pairs-$s.mtd"
  ./bin/annotate train --pairs "$work/pairs-$s.mtd" --out "$work/$s.mtd" --epochs "$epochs" --batch 128 --lr 1e-3 --seed 1
  set=rewards/motif/testdata/transitions-$s.tsv
  [ ! -f "$set" ] || ./bin/annotate eval --no-judge --skill "$s" --tsv "$set" --reward-model "$work/$s.mtd" --json "$work/$s-eval.json"
  cp "$work/$s.mtd" "skills/rewards/$s.mtd"
  python3 - "$work/$s.mtd.json" "skills/rewards/$s.json" "$steps" "$s" <<'PY'
import os
import json, sys
info = json.load(open(sys.argv[1]))
info["made_by"] = "scripts/make-skill-rewards.sh"
info["skill"] = sys.argv[4]
info["observations"] = {"task": "NetHackScore", "character": "mon-hum-neu-mal", "policy": "uniformly random", "steps": int(sys.argv[3]), "envs": 4, "seed": 2}
info["pairs"] = "MaestroMotif's transition pairs, delta 100 steps, seed 2"
ev = sys.argv[1].replace(".mtd.json", "-eval.json")
if os.path.exists(ev):
    info["transition_set_accuracy"] = json.load(open(ev))["reward_model"]["accuracy"]
json.dump(info, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
done
echo "make-skill-rewards: skills/rewards/*.mtd and *.json updated"
