#!/usr/bin/env bash
# docs/minihack-runs.sh: the documented MiniHack runs of docs/minihack.md. For each task of
# TASKS it trains PPO and APPO side by side (one per core; Motif's hyper-parameters, the
# MiniHack agent, 8 envs, rollouts of 32, seed 1) for FRAMES frames (ROOM5_FRAMES on
# Room-5x5, which is solved far sooner), evaluates each run's policy on EVAL episodes of
# other seeds (`train eval`: success rate and return), measures a uniformly random policy over
# RANDOM_STEPS steps (`play -quiet`), and plots the success curves into docs/img/. Then, on
# each task of MOTIF_TASKS, APPO with Motif's intrinsic reward (the shipped reward model) plus
# 10 x the task's (Motif's weight on sparse tasks), the same frames, against the APPO run on the
# task's reward alone. On each task of RECOMPUTE_TASKS, APPO with --recompute-values (V-trace
# reads the learner's values over the stored sequences, as sample-factory does) beside APPO
# with the values recorded at acting time, RECOMPUTE_FRAMES each. Last, on each task of TORCHRL_TASKS, TorchRL's PPO with the twin of the
# MiniHack agent (bench/ppo/peer.py, the same settings, one thread) for the frames of the Go PPO
# run, its curve in $OUT/<task>-torchrl/log.csv, plotted against the Go run.
#
# TASKS, MOTIF_TASKS, RECOMPUTE_TASKS and TORCHRL_TASKS unset take the defaults below; set
# empty, none.
# Resumable: a run with an eval.json is skipped, an unfinished one continues from its last
# checkpoint (--resume), so the script can be stopped (kill it, then Ctrl-C or SIGINT the
# trains: they checkpoint) and started again; results collect in $OUT/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${FRAMES:-1000000} room5=${ROOM5_FRAMES:-200000} eval_eps=${EVAL:-200} out=${OUT:-runs/docs-minihack}
random_steps=${RANDOM_STEPS:-100000}
tasks=${TASKS-Room-5x5 Room-15x15 KeyRoom-S5 Corridor-R3 MazeWalk-9x9 River-Narrow Eat}
motif_tasks=${MOTIF_TASKS-KeyRoom-S5} torchrl_tasks=${TORCHRL_TASKS-Room-5x5}
recompute_tasks=${RECOMPUTE_TASKS-River-Narrow} recompute_frames=${RECOMPUTE_FRAMES:-600000}
bpy=${MAESTRO_CACHE:-$HOME/.cache/maestro}/peer-bench/bin/python # scripts/setup.sh --bench
mkdir -p "$out" docs/img bin
go build -o bin/ ./cmd/train ./cmd/play
common=(--num-envs 8 --frames-per-batch 32 --seed 1 --blas-threads 1 --checkpoint-every 50 --eval-every 0)
run() { # task algo frames [name suffix, extra train flags...]
  local task=$1 algo=$2 n=$3 dir="$out/$1-$2${4:-}"
  shift $(($# < 4 ? $# : 4))
  [ -f "$dir/eval.json" ] && return 0
  local mode=(--force)
  [ -f "$dir/ckpt/train.json" ] && mode=(--resume)
  ./bin/train "${common[@]}" --algo "$algo" --env "MiniHack-$task-v0" --total-frames "$n" --run-dir "$dir" "${mode[@]}" "$@" >>"$dir.log" 2>&1
  [ -f "$dir/params.mtd" ] || return 0 # interrupted (Ctrl-C checkpoints): run the script again to resume
  ./bin/train eval --run-dir "$dir" --episodes "$eval_eps" | grep -v "best and worst" | tee -a "$out/summary.txt"
}
for task in $tasks; do
  n=$frames
  [ "$task" = Room-5x5 ] && n=$room5
  run "$task" ppo "$n" &
  run "$task" appo "$n" &
  wait
  if ! grep -q "^random MiniHack-$task-v0" "$out/summary.txt" 2>/dev/null; then
    ./bin/play -task "MiniHack-$task-v0" -steps "$random_steps" -seed 7 -quiet -fps 0 | sed 's/, returns \[.*\]//; s/^play: /random /' | tee -a "$out/summary.txt"
  fi
  ./bin/train plot --out "docs/img/minihack-$task.png" --column success_last20 \
    --title "MiniHack-$task-v0: success rate (last 20 episodes)" "$out/$task-ppo" "$out/$task-appo"
done
for task in $motif_tasks; do
  run "$task" appo "$frames" -motif --reward motif --motif-a2 10
  ./bin/train plot --out "docs/img/minihack-$task-motif.png" --column success_last20 \
    --title "MiniHack-$task-v0: APPO, task reward vs Motif + 10 x task" "$out/$task-appo" "$out/$task-appo-motif"
done
for task in $recompute_tasks; do
  run "$task" appo "$recompute_frames" -values &
  run "$task" appo "$recompute_frames" -recompute --recompute-values &
  wait
  ./bin/train plot --out "docs/img/minihack-$task-recompute.png" --column success_last20 \
    --title "MiniHack-$task-v0: APPO, acting's values vs recomputed (--recompute-values)" "$out/$task-appo-values" "$out/$task-appo-recompute"
done
for task in $torchrl_tasks; do
  n=$frames
  [ "$task" = Room-5x5 ] && n=$room5
  dir="$out/$task-torchrl"
  if [ ! -f "$dir/done" ]; then
    [ -x "$bpy" ] || scripts/setup.sh --bench
    mkdir -p "$dir"
    MAESTRO_TORCH_THREADS=1 MAESTRO_PPO_CURVE="$dir/log.csv" "$bpy" bench/ppo/peer.py "$n" "MiniHack-$task-v0" 2>/dev/null |
      sed "s/^/$task /" | tee -a "$out/summary.txt"
    touch "$dir/done"
  fi
  ./bin/train plot --out "docs/img/minihack-$task-torchrl.png" --column success_last20 \
    --title "MiniHack-$task-v0: PPO, Maestro vs TorchRL (same agent and settings)" "$out/$task-ppo" "$dir"
done
cat "$out/summary.txt"
