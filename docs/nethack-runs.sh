#!/usr/bin/env bash
# docs/nethack-runs.sh: the documented NetHack runs of docs/nethack.md. On NetHackScore and
# NetHackStaircase it trains APPO (Motif's hyper-parameters, 8 envs, rollouts of 32) for FRAMES
# frames with the task's reward alone, with Motif's reward plus the task's (a2 = 0.1 on Score,
# 10 on the sparse Staircase, as Motif does) and with Motif's reward alone (a2 = 0), using the
# reward model shipped with Maestro; then plays EVAL episodes with each run's policy
# (`train eval`), measures a uniformly random policy over the same number of steps, and plots
# the curves into docs/img/. Two runs go at a time (one per core).
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${FRAMES:-100000} eval_eps=${EVAL:-20} out=${OUT:-runs/docs}
mkdir -p "$out" docs/img bin
go build -o bin/ ./cmd/train ./cmd/play
common=(--algo appo --num-envs 8 --frames-per-batch 32 --total-frames "$frames" --seed 1 --force --blas-threads 1)
run() { # name env reward extra...
  local name=$1 env=$2 reward=$3
  shift 3
  ./bin/train "${common[@]}" --env "$env" --reward "$reward" --run-dir "$out/$name" "$@" >"$out/$name.log" 2>&1
  ./bin/train eval --run-dir "$out/$name" --episodes "$eval_eps" | tee -a "$out/summary.txt"
}
: >"$out/summary.txt"
for env in NetHackScore NetHackStaircase; do
  a2=0.1
  [ "$env" = NetHackStaircase ] && a2=10
  run "$env-extrinsic" "$env" extrinsic &
  run "$env-motif" "$env" motif --motif-a2 "$a2" &
  wait
  run "$env-motif-only" "$env" motif --motif-a2 0
  ./bin/play -task "$env" -steps $((frames)) -seed 7 -quiet -fps 0 | sed "s/^/random /" | tee -a "$out/summary.txt"
  ./bin/train plot --out "docs/img/$env-return.png" --title "$env: task return (mean of last 20 episodes)" \
    "$out/$env-extrinsic" "$out/$env-motif" "$out/$env-motif-only"
  ./bin/train plot --out "docs/img/$env-intrinsic.png" --column mean_intrinsic_return_last20 \
    --title "$env: Motif intrinsic return (mean of last 20 episodes)" "$out/$env-motif" "$out/$env-motif-only"
done
cat "$out/summary.txt"
