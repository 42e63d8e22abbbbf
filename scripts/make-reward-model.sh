#!/usr/bin/env bash
# make-reward-model.sh: makes the reward model Maestro ships (rewards/motif/models/default.mtd)
# with the project's own pipeline, and records how in rewards/motif/models/default.json:
#   observations of an agent on NetHackScore -> Motif's caption pairs -> labels from the
#   embedded LLM judge (annotate's defaults: the judge and mode docs/judge.md measured best) ->
#   the reward model -> its accuracy on the judge's two evaluation sets (annotate eval).
# The agent is, as in Motif, one trained on the game: by default `make train`'s job (APPO with
# the reward model shipped at the time, 200,000 frames, seed 1), trained first into
# <work-dir>/agent; POLICY=FILE acts with a train run's params.mtd, POLICY=random uniformly.
# Usage: scripts/make-reward-model.sh [work-dir]   (STEPS, PAIRS, EPOCHS, JUDGE, POLICY override)
# The labelling job is resumable: rerun after a kill and it continues from its journal.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$here/runs/reward-model}
steps=${STEPS:-200000} pairs=${PAIRS:-50000} epochs=${EPOCHS:-30} judge=${JUDGE:-} policy=${POLICY:-train}
mkdir -p "$work" "$here/bin"
cd "$here"
go build -o bin/ ./cmd/annotate ./cmd/train
. scripts/agent-obs.sh
agent_obs "$work" "$policy" "$steps"
policy=$agent_policy sum=$agent_sha256
[ -f "$work/pairs.mtd" ] || ./bin/annotate pairs --obs "$work/obs.mtd" --out "$work/pairs.mtd" --pairs "$pairs" --seed 1
./bin/annotate label --pairs "$work/pairs.mtd" --goal default --concurrency 2 ${judge:+--judge "$judge"}
./bin/annotate inspect --pairs "$work/pairs.mtd"
./bin/annotate train --pairs "$work/pairs.mtd" --out "$work/rm.mtd" --epochs "$epochs" --batch 128 --lr 1e-3 --seed 1
./bin/annotate eval --no-judge --reward-model "$work/rm.mtd" --json "$work/rm-eval.json"
./bin/annotate eval --no-judge --tsv heldout --reward-model "$work/rm.mtd" --json "$work/rm-eval-heldout.json"
cp "$work/rm.mtd" rewards/motif/models/default.mtd
python3 - "$work/rm.mtd.json" rewards/motif/models/default.json "$steps" "$policy" "$sum" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
info["made_by"] = "scripts/make-reward-model.sh"
policy = "uniformly random" if sys.argv[4] == "random" else {"params": sys.argv[4], "sha256": sys.argv[5]}
info["observations"] = {"task": "NetHackScore", "policy": policy, "steps": int(sys.argv[3]), "envs": 4, "seed": 3}
info["pairs"] = "Motif's sampling (T/L offsets per episode, L = 1, global shuffle, consecutive pairing), seed 1"
ev = json.load(open(sys.argv[1].replace("rm.mtd.json", "rm-eval.json")))
info["judge_eval_set_accuracy"] = ev["reward_model"]["accuracy"]
ho = json.load(open(sys.argv[1].replace("rm.mtd.json", "rm-eval-heldout.json")))
info["judge_heldout_set_accuracy"] = ho["reward_model"]["accuracy"]
json.dump(info, open(sys.argv[2], "w"), indent=2)
open(sys.argv[2], "a").write("\n")
PY
echo "make-reward-model: rewards/motif/models/default.mtd and default.json updated"
