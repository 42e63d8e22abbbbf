#!/usr/bin/env bash
# docs/nethack-long.sh: the long NetHack runs of issue #18 (docs/nethack.md). On ENV
# (NetHackScore) it trains APPO with Motif's hyper-parameters (8 envs, rollouts of 32, seed 1)
# for FRAMES frames (1e7) twice, side by side (one per core): with the task's reward alone, and
# with Motif's reward from the shipped reward model plus 0.1 x the task's. Each run checkpoints
# every 100 batches and resumes from its last checkpoint when the script runs again (stop it:
# kill the script, then SIGINT the trains, which checkpoint). When a run is complete it plays
# EVAL episodes of its policy (`train eval`), then a uniformly random policy plays as many
# steps as the runs' frames (up to 1e6), and the curves go to docs/img/. The table prints the
# mean task return of the last 20 episodes at 1e6, 3e6 and 1e7 frames from each run's log.csv.
#
# At ~1,500 frames/s per run alone (~800 with two sharing the cores) 1e7 frames take 3.5 hours
# side by side: more than one sitting. A machine's run folder must outlive the sitting for
# --resume to help (OUT, default runs/docs-long).
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${FRAMES:-10000000} eval_eps=${EVAL:-50} out=${OUT:-runs/docs-long} env=${ENV:-NetHackScore}
mkdir -p "$out" docs/img bin
go build -o bin/ ./cmd/train ./cmd/play
common=(--algo appo --env "$env" --num-envs 8 --frames-per-batch 32 --total-frames "$frames" --seed 1
  --blas-threads 1 --checkpoint-every 100 --eval-every 0)
run() { # name reward extra...
  local name=$1 reward=$2 dir="$out/$1"
  shift 2
  [ -f "$dir/eval.json" ] && return 0
  local mode=(--force)
  [ -f "$dir/ckpt/train.json" ] && mode=(--resume)
  ./bin/train "${common[@]}" --reward "$reward" --run-dir "$dir" "${mode[@]}" "$@" >>"$dir.log" 2>&1
  [ -f "$dir/params.mtd" ] || return 0 # interrupted: run the script again to resume
  ./bin/train eval --run-dir "$dir" --episodes "$eval_eps" | grep -v "best and worst" | tee -a "$out/summary.txt"
}
run "$env-extrinsic" extrinsic &
run "$env-motif" motif --motif-a2 0.1 &
wait
if ! grep -q "^random $env" "$out/summary.txt" 2>/dev/null; then
  ./bin/play -task "$env" -steps $((frames < 1000000 ? frames : 1000000)) -seed 7 -quiet -fps 0 |
    sed 's/, returns \[.*\]//; s/^play: /random /' | tee -a "$out/summary.txt"
fi
./bin/train plot --out "docs/img/$env-long-return.png" --title "$env: task return (mean of last 20 episodes), APPO" \
  "$out/$env-extrinsic" "$out/$env-motif"
./bin/train plot --out "docs/img/$env-long-intrinsic.png" --column mean_intrinsic_return_last20 \
  --title "$env: Motif intrinsic return (mean of last 20 episodes)" "$out/$env-motif"
echo "run, mean task return of the last 20 episodes at 1e6 / 3e6 / 1e7 frames"
for name in "$env-extrinsic" "$env-motif"; do
  awk -F, -v n="$name" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { f = $c["frames"]; r = $c["mean_return_last20"]
      for (k = 1; k <= 3; k++) if (!(k in at) && f >= t[k]) at[k] = r }
    BEGIN { t[1] = 1e6; t[2] = 3e6; t[3] = 1e7 }
    END { printf "%s", n; for (k = 1; k <= 3; k++) printf " %s", (k in at ? at[k] : "-"); print "" }' "$out/$name/log.csv"
done
cat "$out/summary.txt"
