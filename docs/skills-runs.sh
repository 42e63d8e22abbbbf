#!/usr/bin/env bash
# docs/skills-runs.sh: the documented MaestroMotif run of docs/skills.md. It trains, for FRAMES
# frames each (APPO, Motif's hyper-parameters, 8 envs, rollouts of 32), the skill-conditioned
# agent (`train --skills default`: the five skills, the reference skill code, the shipped
# per-skill reward models) and the Motif-only agent at the same budget (`--reward motif
# --motif-a2 0`: the shipped Motif reward model alone), the two side by side (one per core).
# Then `compose` plays each task of TASKS for EPISODES episodes of up to MAX_STEPS steps: the
# skills run with a policy over skills for the task (written by the coder at CODER_URL /
# CODER_MODEL when set, else POLICY_DIR's policy.star), and the Motif run as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${FRAMES:-100000} episodes=${EPISODES:-20} max_steps=${MAX_STEPS:-2000} out=${OUT:-runs/docs-skills}
tasks=${TASKS:-gnomish-mines delphi}
mkdir -p "$out" docs/img bin
go build -o bin/ ./cmd/train ./cmd/compose
common=(--algo appo --env NetHackScore --num-envs 8 --frames-per-batch 32 --total-frames "$frames" --seed 1 --force --blas-threads 1)
./bin/train "${common[@]}" --skills default --run-dir "$out/skills" >"$out/skills.log" 2>&1 &
./bin/train "${common[@]}" --reward motif --motif-a2 0 --run-dir "$out/motif" >"$out/motif.log" 2>&1 &
wait
tail -n 2 "$out/skills.log" "$out/motif.log" | tr '\r' '\n' | grep -v '^$' | tail -n 5
coder=()
if [ -n "${CODER_URL:-}" ]; then
  coder=(--llm-url "$CODER_URL" --llm-model "${CODER_MODEL:?set CODER_MODEL with CODER_URL}" --search tree --rounds 6)
else
  coder=(--code "${POLICY_DIR:-docs/skills-policies}")
fi
for task in $tasks; do
  pol=()
  [ -z "${CODER_URL:-}" ] && pol=(--code "${POLICY_DIR:-docs/skills-policies}/$task")
  [ -n "${CODER_URL:-}" ] && pol=("${coder[@]}")
  ./bin/compose --task "$task" --skills "$out/skills" "${pol[@]}" --episodes "$episodes" --max-steps "$max_steps" \
    --envs 2 --out "$out/compose-$task" | tee "$out/compose-$task.txt"
  ./bin/compose --task "$task" --skills "$out/motif" --episodes "$episodes" --max-steps "$max_steps" \
    --envs 2 --out "$out/motif-$task" | tee "$out/motif-$task.txt"
  cp "$out/compose-$task/timeline.png" "docs/img/skills-timeline-$task.png"
done
./bin/train plot --out docs/img/skills-intrinsic.png --column mean_intrinsic_return_last20 \
  --title "NetHackScore: intrinsic return (mean of last 20 episodes)" "$out/skills" "$out/motif"
grep -h 'success in' "$out"/*.txt
