#!/usr/bin/env bash
# make-reward-model.sh: makes the reward model Maestro ships (rewards/motif/models/default.mtd)
# with the project's own pipeline, and records how in rewards/motif/models/default.json:
#   observations of a random agent on NetHackScore -> Motif's caption pairs -> labels from the
#   embedded LLM judge (SmolLM2-135M, scored mode, both orders) -> the reward model.
# Usage: scripts/make-reward-model.sh [work-dir]   (STEPS, PAIRS, EPOCHS override the sizes)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$here/runs/reward-model}
steps=${STEPS:-40000} pairs=${PAIRS:-2000} epochs=${EPOCHS:-30}
mkdir -p "$work" "$here/bin"
cd "$here"
go build -o bin/ ./cmd/annotate
./bin/annotate collect --task score --steps "$steps" --envs 4 --seed 1 --no-tty --out "$work/obs.mtd"
./bin/annotate pairs --obs "$work/obs.mtd" --out "$work/pairs.mtd" --pairs "$pairs" --seed 1
./bin/annotate label --pairs "$work/pairs.mtd" --mode scored --goal default --template judge --concurrency 2
./bin/annotate inspect --pairs "$work/pairs.mtd"
./bin/annotate train --pairs "$work/pairs.mtd" --out "$work/rm.mtd" --epochs "$epochs" --batch 128 --lr 1e-3 --seed 1
cp "$work/rm.mtd" rewards/motif/models/default.mtd
python3 - "$work/rm.mtd.json" rewards/motif/models/default.json "$steps" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
info["made_by"] = "scripts/make-reward-model.sh"
info["observations"] = {"task": "NetHackScore", "policy": "uniformly random", "steps": int(sys.argv[3]), "envs": 4, "seed": 1}
info["pairs"] = "Motif's sampling (T/L offsets per episode, L = 1, global shuffle, consecutive pairing), seed 1"
json.dump(info, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
echo "make-reward-model: rewards/motif/models/default.mtd and default.json updated"
