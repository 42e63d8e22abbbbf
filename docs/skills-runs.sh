#!/usr/bin/env bash
# docs/skills-runs.sh: the documented MaestroMotif run of docs/skills.md.
#  1. The coder (Qwen2.5-Coder-1.5B-Instruct from scripts/setup.sh --coder, served by the
#     embedded llama-server) writes the policy over skills for each task of TASKS
#     (`compose --functions policy --search tree`); POLICY_DIR=<dir> skips this and plays
#     <dir>/<task>/policy.star instead.
#  2. For FRAMES frames each (APPO, Motif's hyper-parameters, 8 envs, rollouts of 32), side by
#     side: the skill-conditioned agent (`train --skills default`: the five skills, the reference
#     skill code, the shipped per-skill reward models) and the Motif-only agent at the same
#     budget (`--reward motif --motif-a2 0`: the shipped Motif reward model alone).
#  3. `compose` plays each task for EPISODES episodes of up to MAX_STEPS steps: the skills run
#     with the coder's policy over skills for the task, the skills run with the hand-written
#     reference policy (skills/code/policy.star, the training-time strategy), and the Motif run
#     as it is (the baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${FRAMES:-100000} episodes=${EPISODES:-20} max_steps=${MAX_STEPS:-2000} out=${OUT:-runs/docs-skills}
tasks=${TASKS:-gnomish-mines delphi} rounds=${ROUNDS:-8}
mkdir -p "$out" docs/img bin
go build -o bin/ ./cmd/train ./cmd/compose
cache=${MAESTRO_CACHE:-$HOME/.cache/maestro}
policies=${POLICY_DIR:-}
if [ -z "$policies" ]; then
  scripts/setup.sh --coder
  policies="$out/policies"
  "$cache/llama.cpp/bin/llama-server" -m "$cache/llm-coder/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" --alias qwen2.5-coder-1.5b \
    --host 127.0.0.1 --port 8091 -c 8192 -np 1 -t "$(nproc)" --no-webui >"$out/coder.log" 2>&1 &
  coder=$!
  trap 'kill $coder 2>/dev/null || true' EXIT
  until curl -sf http://127.0.0.1:8091/v1/models >/dev/null; do sleep 1; done
  for task in $tasks; do
    ./bin/compose --task "$task" --functions policy --llm-url http://127.0.0.1:8091/v1 --llm-model qwen2.5-coder-1.5b \
      --search tree --rounds "$rounds" --out "$policies/$task" | tee "$out/coder-$task.txt"
  done
  kill $coder
fi
common=(--algo appo --env NetHackScore --num-envs 8 --frames-per-batch 32 --total-frames "$frames" --seed 1 --force --blas-threads 1)
if [ -z "${SKIP_TRAIN:-}" ]; then # SKIP_TRAIN=1 replays step 3 on the runs already in $out
  ./bin/train "${common[@]}" --skills default --run-dir "$out/skills" >"$out/skills.log" 2>&1 &
  ./bin/train "${common[@]}" --reward motif --motif-a2 0 --run-dir "$out/motif" >"$out/motif.log" 2>&1 &
  wait
fi
for task in $tasks; do
  ./bin/compose --task "$task" --skills "$out/skills" --code "$policies/$task" --episodes "$episodes" \
    --max-steps "$max_steps" --envs 2 --out "$out/compose-$task" | tee "$out/compose-$task.txt"
  ./bin/compose --task "$task" --skills "$out/skills" --code skills/code --episodes "$episodes" \
    --max-steps "$max_steps" --envs 2 --out "$out/reference-$task" | tee "$out/reference-$task.txt"
  ./bin/compose --task "$task" --skills "$out/motif" --episodes "$episodes" --max-steps "$max_steps" \
    --envs 2 --out "$out/motif-$task" | tee "$out/motif-$task.txt"
  cp "$out/compose-$task/timeline.png" "docs/img/skills-timeline-$task.png"
  cp "$out/reference-$task/timeline.png" "docs/img/skills-timeline-reference-$task.png"
done
./bin/train plot --out docs/img/skills-intrinsic.png --column mean_intrinsic_return_last20 \
  --title "NetHackScore: intrinsic return (mean of last 20 episodes)" "$out/skills" "$out/motif"
grep -H 'success in' "$out"/compose-*.txt "$out"/reference-*.txt "$out"/motif-*.txt
