#!/usr/bin/env bash
# bench/run.sh NAME: side-by-side benchmarks against the Python peers (make bench BENCH=NAME).
# Each prints its measurements and ends with "RESULT NAME ratio=<x> ..." (ratio > 1: Maestro
# is ahead). Runs alternate between the sides and report medians, since absolute times on a
# shared 2-core machine drift.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:-}
cache=${MAESTRO_CACHE:-$HOME/.cache/maestro}
. scripts/nle.lock
nle="$cache/nle-$NLE_VERSION"
py="$cache/peer-nle-$NLE_VERSION/bin/python"
bpy="$cache/peer-bench/bin/python" # torch, tensordict, torchrl: scripts/setup.sh --bench
out=bench/out
mkdir -p "$out"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { awk -v k="$1" '{for (i=1;i<NF;i++) if ($i==k) print $(i+1)}'; }

bench_nle() {
  local reps=${REPS:-3} steps=${STEPS:-300000} envsteps=${ENV_STEPS:-40000}
  gcc -O2 -o "$out/cloop" bench/nle/cloop/cloop.c envs/nethack/internal/nledl/nledl.c -ldl -lpthread
  go build -o "$out/nlebench" ./bench/nle
  local lib="$nle/libnethack.so" nhdat="$nle/nethackdir/nhdat"
  : >"$out/nle.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    echo "c $("$out/cloop" "$lib" "$nhdat" 1 1 "$steps")" >>"$out/nle.txt"
    echo "go_raw $("$out/nlebench" -mode raw -steps "$steps")" >>"$out/nle.txt"
    echo "python_raw $("$py" bench/nle/peer_bench.py raw "$steps" 2>/dev/null)" >>"$out/nle.txt"
    echo "go_env $("$out/nlebench" -mode env -steps "$envsteps")" >>"$out/nle.txt"
    echo "python_env $("$py" bench/nle/peer_bench.py env "$envsteps" 2>/dev/null)" >>"$out/nle.txt"
    echo "c_2cores $("$out/cloop" "$lib" "$nhdat" 2 1 "$steps")" >>"$out/nle.txt"
    echo "go_2cores $("$out/nlebench" -mode raw2 -games 1 -steps "$steps")" >>"$out/nle.txt"
    echo "go_2cores_batch4 $("$out/nlebench" -mode raw2 -games 4 -steps "$((steps / 4))")" >>"$out/nle.txt"
    echo "c_2cores_batch4 $("$out/cloop" "$lib" "$nhdat" 2 4 "$((steps / 4))")" >>"$out/nle.txt"
  done
  cat "$out/nle.txt"
  m() { grep "^$1 " "$out/nle.txt" | field steps_per_s | median; }
  local c go_raw py_raw go_env py_env c2 go2 go2b c2b allocs
  c=$(m c); go_raw=$(m go_raw); py_raw=$(m python_raw); go_env=$(m go_env); py_env=$(m python_env)
  c2=$(m c_2cores); go2=$(m go_2cores); go2b=$(m go_2cores_batch4); c2b=$(m c_2cores_batch4)
  allocs=$(grep "^go_env " "$out/nle.txt" | field allocs_per_step | median)
  awk -v c="$c" -v gr="$go_raw" -v pr="$py_raw" -v ge="$go_env" -v pe="$py_env" -v c2="$c2" \
      -v g2="$go2" -v g2b="$go2b" -v c2b="$c2b" -v al="$allocs" 'BEGIN {
    printf "RESULT nle ratio=%.2f c_efficiency=%.3f go_sps=%.0f python_env_sps=%.0f go_raw_sps=%.0f python_raw_sps=%.0f raw_ratio=%.2f c_sps=%.0f go_2cores_sps=%.0f c_2cores_sps=%.0f two_core_efficiency=%.3f go_2cores_batch4_sps=%.0f c_2cores_batch4_sps=%.0f env_allocs_per_step=%s\n",
      ge/pe, gr/c, ge, pe, gr, pr, gr/pr, c, g2, c2, g2/c2, g2b, c2b, al }'
}

# side_by_side NAME REPS GO_BINARY PY_SCRIPT: runs both sides REPS times, alternating, into
# $out/NAME.txt, then prints bench/summarize.py's table and RESULT line.
side_by_side() {
  local name=$1 reps=$2 gobin=$3 py=$4
  : >"$out/$name.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    "$gobin" | sed 's/^/go /' >>"$out/$name.txt"
    if [ "$name" = nn ] && [ -x "$out/gorgoniabench" ]; then
      "$out/gorgoniabench" | sed 's/^/gorgonia /' >>"$out/$name.txt"
    fi
    "$bpy" "$py" 2>/dev/null | sed 's/^/py /' >>"$out/$name.txt"
  done
  "$bpy" bench/summarize.py "$name" "$out/$name.txt"
}

bench_distributed() {
  # The learner fed by 1, 2 and 4 actor processes through a standalone JetStream broker against
  # the same learner with its envs in-process (4 envs either way), every setup in each round;
  # each broker run audits every unroll (lost, learnt twice). ENV=MiniHack-Room-5x5-v0 for MiniHack.
  go build -o "$out/train" ./cmd/train
  go build -o "$out/distbench" ./bench/distributed
  "$out/distbench" -train "$out/train" -env "${ENV:-CartPole}" -frames "${FRAMES:-30000}" -reps "${REPS:-3}" | tee "$out/distributed.txt"
}

bench_tensordict() {
  go build -o "$out/tdbench" ./bench/tensordict
  side_by_side tensordict "${REPS:-3}" "$out/tdbench" bench/tensordict/peer.py
}

bench_rollout() {
  local reps=${REPS:-3} steps=${STEPS:-1000}
  go build -o "$out/rolloutbench" ./bench/rollout
  : >"$out/rollout.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    for n in 1 2; do
      echo "go_$n $("$out/rolloutbench" -envs $n -steps "$steps")" >>"$out/rollout.txt"
      echo "torchrl_$n $("$bpy" bench/rollout/peer.py $n "$steps")" >>"$out/rollout.txt"
    done
    echo "go_agent $("$out/rolloutbench" -envs 1 -steps "$steps" -agent-keys)" >>"$out/rollout.txt"
    echo "torchrl_agent $("$bpy" bench/rollout/peer.py 1 "$steps" agent-keys)" >>"$out/rollout.txt"
  done
  cat "$out/rollout.txt"
  m() { grep "^$1 " "$out/rollout.txt" | field steps_per_s | median; }
  local g1 t1 g2 t2 ga ta al
  g1=$(m go_1); t1=$(m torchrl_1); g2=$(m go_2); t2=$(m torchrl_2); ga=$(m go_agent); ta=$(m torchrl_agent)
  al=$(grep "^go_1 " "$out/rollout.txt" | field allocs_per_step | median)
  awk -v g1="$g1" -v t1="$t1" -v g2="$g2" -v t2="$t2" -v ga="$ga" -v ta="$ta" -v al="$al" 'BEGIN {
    printf "RESULT rollout ratio=%.2f go_sps=%.0f torchrl_sps=%.0f parallel2_ratio=%.2f go_parallel2_sps=%.0f torchrl_parallel2_sps=%.0f agent_keys_ratio=%.2f go_agent_sps=%.0f torchrl_agent_sps=%.0f go_allocs_per_step=%s\n",
      g1/t1, g1, t1, g2/t2, g2, t2, ga/ta, ga, ta, al }'
}

bench_replaybuffer() {
  local reps=${REPS:-3}
  go build -o "$out/rbbench" ./bench/replaybuffer
  : >"$out/replaybuffer.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    "$out/rbbench" | sed 's/^/go /' >>"$out/replaybuffer.txt"
    "$bpy" bench/replaybuffer/peer.py 2>/dev/null | grep -v INFO | sed 's/^/py /' >>"$out/replaybuffer.txt"
  done
  "$bpy" bench/summarize.py replaybuffer "$out/replaybuffer.txt"
}

bench_collector() {
  # MultiSync strictly synchronous (as TorchRL's MultiSyncCollector), with RunAhead, and Async,
  # against the env alone on two threads (raw) and the env alone with the workers meeting every
  # 64 steps as a synchronous collector's must (raw-sync: the most any synchronous collector
  # can reach, since NetHack's time per batch varies several-fold). Every Go mode plays the same
  # seeded games with the same actions. The machine's speed drifts, so each round runs every
  # mode back to back and the efficiencies are medians of the rounds' own ratios.
  local reps=${REPS:-5} frames=${FRAMES:-100000} ra=${RUNAHEAD:-8}
  go build -o "$out/collectorbench" ./bench/collector
  : >"$out/collector.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    echo "$r raw $("$out/collectorbench" -mode raw -frames "$frames")" >>"$out/collector.txt"
    echo "$r raw_sync $("$out/collectorbench" -mode raw-sync -frames "$frames")" >>"$out/collector.txt"
    echo "$r go $("$out/collectorbench" -frames "$frames")" >>"$out/collector.txt"
    echo "$r go_runahead $("$out/collectorbench" -runahead "$ra" -frames "$frames")" >>"$out/collector.txt"
    echo "$r go_async $("$out/collectorbench" -mode async -frames "$frames")" >>"$out/collector.txt"
    echo "$r torchrl $("$bpy" bench/collector/peer.py $((frames / 20)) 2>/dev/null | grep frames_per_s)" >>"$out/collector.txt"
  done
  cat "$out/collector.txt"
  m() { awk -v k="$1" '$2==k' "$out/collector.txt" | field frames_per_s | median; }
  # per-round ratio a/b, median over rounds
  rr() { awk -v a="$1" -v b="$2" '{for (i=3;i<NF;i++) if ($i=="frames_per_s") v[$1" "$2]=$(i+1); r[$1]=1}
    END {for (k in r) if (v[k" "b] > 0) print v[k" "a]/v[k" "b]}' "$out/collector.txt" | median | xargs printf %.3f; }
  local al
  al=$(awk '$2=="go"' "$out/collector.txt" | field allocs_per_frame | median)
  echo "RESULT collector ratio=$(rr go torchrl) efficiency=$(rr go raw) efficiency_runahead$ra=$(rr go_runahead raw)" \
    "efficiency_async=$(rr go_async raw) sync_bound=$(rr raw_sync raw) efficiency_vs_sync_bound=$(rr go raw_sync)" \
    "go_fps=$(m go) go_runahead${ra}_fps=$(m go_runahead) go_async_fps=$(m go_async) torchrl_fps=$(m torchrl)" \
    "raw_env_fps=$(m raw) raw_sync_fps=$(m raw_sync) go_allocs_per_frame=$al"
}

bench_nn() {
  go build -o "$out/nnbench" ./bench/nn
  # gorgonia v0.9.18 on the MLP case, for the record (its own module: Maestro does not depend on it).
  (cd bench/gorgonia && go build -o "../../$out/gorgoniabench" .) ||
    echo "bench: gorgonia did not build; its case is left out" >&2
  side_by_side nn "${REPS:-3}" "$out/nnbench" bench/nn/peer.py
}

bench_rewardmodel() {
  # The reward-model case of the nn benchmark alone, more rounds.
  go build -o "$out/nnbench" ./bench/nn
  MAESTRO_NN_CASES=rm_step side_by_side rewardmodel "${REPS:-5}" "$out/nnbench" bench/nn/peer.py
}

# build_base: with BASE=<git ref>, builds that commit's `train` into $out/train-base (a
# before/after comparison in one run); without BASE, removes it.
build_base() {
  rm -f "$out/train-base"
  [ -n "${BASE:-}" ] || return 0
  rm -rf "$out/base-src"
  git worktree prune
  git worktree add -f --detach "$out/base-src" "$BASE" >"$out/base-build.log" 2>&1 &&
    (cd "$out/base-src" && go build -o ../train-base ./cmd/train) >>"$out/base-build.log" 2>&1 || {
    echo "bench: BASE=$BASE: could not build its train (see $out/base-build.log)" >&2
    git worktree remove -f "$out/base-src" 2>/dev/null || true
    exit 1
  }
  git worktree remove -f "$out/base-src"
}

bench_ppo() {
  # End-to-end PPO training on NetHackScore, same network, envs, batch and epochs: `train` against
  # TorchRL (bench/ppo/peer.py). FRAMES per run (default 2048: 8 batches of 8 envs x 32 steps).
  # With BASE=<git ref>, that commit's `train` runs the same job in each round (before/after).
  local reps=${REPS:-3} frames=${FRAMES:-2048}
  go build -o "$out/train" ./cmd/train
  build_base
  ppo_run() { # binary label
    "$1" --algo ppo --env NetHackScore --num-envs 8 --frames-per-batch 32 --total-frames "$frames" \
      --run-dir "$out/ppo-run" --force --seed "$r" --checkpoint-every 0 2>/dev/null | tail -1 |
      awk -v l="$2" '{for (i=1;i<NF;i++) if ($(i+1)=="frames" && $(i+2)=="in") {f=$i; s=$(i+3)}} END {sub("s;","",s); printf "%s frames_per_s=%.1f frames=%d seconds=%s\n", l, f/s, f, s}' >>"$out/ppo.txt"
  }
  : >"$out/ppo.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    ppo_run "$out/train" go
    [ -x "$out/train-base" ] && ppo_run "$out/train-base" base
    "$bpy" bench/ppo/peer.py "$frames" 2>/dev/null | tail -1 >>"$out/ppo.txt"
  done
  # For the record (SF=1, after scripts/setup.sh --sample-factory): sample-factory's APPO with the
  # same network, envs and batches against `train --algo appo`, SF_FRAMES each (sample-factory
  # takes ~15 s to start its processes; its rate is timed between its progress reports).
  if [ "${SF:-0}" = 1 ]; then
    local sfpy="$cache/peer-sf/bin/python" sfframes=${SF_FRAMES:-16384}
    [ -x "$sfpy" ] || { echo "bench: SF=1 needs scripts/setup.sh --sample-factory" >&2; exit 2; }
    for r in $(seq "$reps"); do
      echo "sample-factory round $r/$reps" >&2
      "$out/train" --algo appo --env NetHackScore --num-envs 8 --frames-per-batch 32 --total-frames "$sfframes" \
        --run-dir "$out/ppo-run" --force --seed "$r" --checkpoint-every 0 2>/dev/null | tail -1 |
        awk '{for (i=1;i<NF;i++) if ($(i+1)=="frames" && $(i+2)=="in") {f=$i; s=$(i+3)}} END {sub("s;","",s); printf "go_appo frames_per_s=%.1f frames=%d seconds=%s\n", f/s, f, s}' >>"$out/ppo.txt"
      "$sfpy" bench/ppo/sf_appo.py "$sfframes" "$out/sf-run" 2>/dev/null | tail -1 >>"$out/ppo.txt"
    done
  fi
  cat "$out/ppo.txt"
  m() { grep "^$1 " "$out/ppo.txt" | tr ' ' '\n' | grep "^${2:-frames_per_s}=" | cut -d= -f2 | median; }
  local go tr extra=""
  go=$(m go); tr=$(m torchrl)
  if [ "${SF:-0}" = 1 ]; then
    extra=$(awk -v ga="$(m go_appo)" -v sf="$(m sample_factory)" -v sfo="$(m sample_factory overall_frames_per_s)" \
      'BEGIN { printf " go_appo_fps=%.1f sample_factory_appo_fps=%.1f sample_factory_overall_fps=%.1f", ga, sf, sfo }')
  fi
  [ -x "$out/train-base" ] && extra+=$(awk -v b="$(m base)" -v g="$go" -v ref="$BASE" 'BEGIN { printf " base=%s base_fps=%.1f speedup=%.2f", ref, b, g / b }')
  awk -v go="$go" -v tr="$tr" -v extra="$extra" 'BEGIN { printf "RESULT ppo ratio=%.2f go_fps=%.1f torchrl_fps=%.1f%s\n", go/tr, go, tr, extra }'
}

bench_annotate() {
  # Both sides against the embedded llama-server (scripts/setup.sh --llm); the naive side sends
  # every request, one at a time, so it takes a few minutes.
  bash scripts/setup.sh --llm >/dev/null
  go build -o "$out/annotatebench" ./bench/annotate
  : >"$out/annotate.txt"
  "$out/annotatebench" -side maestro | tee -a "$out/annotate.txt"
  "$out/annotatebench" -side naive | tee -a "$out/annotate.txt"
  local m n mr nr
  m=$(grep '^maestro ' "$out/annotate.txt" | tr ' ' '\n' | grep '^pairs_per_s=' | cut -d= -f2)
  n=$(grep '^naive ' "$out/annotate.txt" | tr ' ' '\n' | grep '^pairs_per_s=' | cut -d= -f2)
  mr=$(grep '^maestro ' "$out/annotate.txt" | tr ' ' '\n' | grep '^requests=' | cut -d= -f2)
  nr=$(grep '^naive ' "$out/annotate.txt" | tr ' ' '\n' | grep '^requests=' | cut -d= -f2)
  awk -v m="$m" -v n="$n" -v mr="$mr" -v nr="$nr" 'BEGIN {
    printf "RESULT annotate ratio=%.2f pairs_per_s=%.3f naive_pairs_per_s=%.3f requests=%d naive_requests=%d\n", m/n, m, n, mr, nr }'
}

bench_hostile() {
  # Replays issue #15's hostile inputs against the built commands (not a speed benchmark).
  mkdir -p "$out/hostile-bin"
  go build -o "$out/hostile-bin/" ./cmd/train ./cmd/annotate ./cmd/compose
  go build -o "$out/hostile" ./bench/hostile
  "$out/hostile" -bin "$out/hostile-bin" | tee "$out/hostile.txt"
}

bench_minihack() {
  # MiniHack's Room-5x5 and MazeWalk-9x9 through Maestro's Env API (bench/minihack) and Python
  # MiniHack's gym env (bench/minihack/peer.py): same keys (MiniHack's defaults, crops included),
  # same actions, alternating sides. ratio is Go/Python steps/s on Room-5x5; reset_ms is a
  # reset on a compiled level, make_cold_ms an env's creation with the level compiled and
  # packed, make_warm_ms a second env on the same des text (Maestro's cache hit; Python MiniHack
  # compiles at every make).
  local reps=${REPS:-3} steps=${STEPS:-20000} resets=${RESETS:-50}
  go build -o "$out/minihackbench" ./bench/minihack
  : >"$out/minihack.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    for t in Room-5x5 MazeWalk-9x9; do
      echo "go_$t $("$out/minihackbench" -task "MiniHack-$t-v0" -steps "$steps" -resets "$resets")" >>"$out/minihack.txt"
      echo "python_$t $("$py" bench/minihack/peer.py "MiniHack-$t-v0" "$steps" "$resets" 2>/dev/null)" >>"$out/minihack.txt"
    done
  done
  cat "$out/minihack.txt"
  m() { grep "^$1 " "$out/minihack.txt" | field "${2:-steps_per_s}" | median; }
  echo "RESULT minihack ratio=$(awk -v g="$(m go_Room-5x5)" -v p="$(m python_Room-5x5)" 'BEGIN{printf "%.2f", g/p}')" \
    "go_sps=$(m go_Room-5x5) python_sps=$(m python_Room-5x5) reset_ms=$(m go_Room-5x5 reset_ms)" \
    "python_reset_ms=$(m python_Room-5x5 reset_ms) make_cold_ms=$(m go_Room-5x5 make_cold_ms)" \
    "make_warm_ms=$(m go_Room-5x5 make_warm_ms) python_make_ms=$(m python_Room-5x5 make_warm_ms)" \
    "maze_ratio=$(awk -v g="$(m go_MazeWalk-9x9)" -v p="$(m python_MazeWalk-9x9)" 'BEGIN{printf "%.2f", g/p}')" \
    "go_maze_sps=$(m go_MazeWalk-9x9) python_maze_sps=$(m python_MazeWalk-9x9)" \
    "go_allocs_per_step=$(m go_Room-5x5 allocs_per_step)"
}

bench_speedrun() {
  # Time to a target, Maestro against TorchRL, same agents and settings, in one run, alternating:
  # - MiniHack-Room-5x5-v0 to eval success TARGET (0.95): PPO, 8 envs x 32 steps, Motif's
  #   hyper-parameters, EVAL_EPISODES (20) episodes every EVAL_EVERY (1,024) frames
  #   (`train --target-success`, bench/ppo/peer.py with MAESTRO_PPO_TARGET);
  # - CartPole-v1 to an eval mean return of CP_TARGET (475): PPO with rl's defaults, 4 envs x 128
  #   steps, 10 episodes every 4,096 frames, one thread each side (`train --target-return`,
  #   bench/ppo/cartpole_peer.py; the learning rate annealed to 0 over CP_FRAMES on both).
  # Evaluations sample from the policy. The wall time counts training and evaluations from the
  # first batch; env and network construction and interpreter start are left out on both sides.
  # ratio = the geometric mean over the targets of TorchRL's seconds / Maestro's (medians over the
  # rounds that reached the target); nan unless both sides reached both targets.
  local reps=${REPS:-3} target=${TARGET:-0.95} every=${EVAL_EVERY:-1024} neval=${EVAL_EPISODES:-20} frames=${FRAMES:-200000}
  local cptarget=${CP_TARGET:-475} cpframes=${CP_FRAMES:-500000}
  go build -o "$out/train" ./cmd/train
  : >"$out/speedrun.txt"
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    "$out/train" --algo ppo --env MiniHack-Room-5x5-v0 --num-envs 8 --frames-per-batch 32 --total-frames "$frames" \
      --eval-every "$every" --eval-episodes "$neval" --target-success "$target" --seed "$r" --run-dir "$out/speedrun-run" \
      --force --checkpoint-every 0 2>/dev/null | grep -a '^target:' | sed 's/^/go room /' >>"$out/speedrun.txt"
    MAESTRO_PPO_TARGET=$target MAESTRO_PPO_EVAL_EVERY=$every MAESTRO_PPO_EVAL_EPISODES=$neval \
      "$bpy" bench/ppo/peer.py "$frames" MiniHack-Room-5x5-v0 2>/dev/null | grep target | sed 's/^torchrl /py room /' >>"$out/speedrun.txt"
    "$out/train" --algo ppo --env CartPole --num-envs 4 --frames-per-batch 128 --total-frames "$cpframes" \
      --eval-every 4096 --eval-episodes 10 --target-return "$cptarget" --seed "$r" --blas-threads 1 --run-dir "$out/speedrun-cp" \
      --force --checkpoint-every 0 2>/dev/null | grep -a '^target:' | sed 's/^/go cartpole /' >>"$out/speedrun.txt"
    MAESTRO_TORCH_THREADS=1 MAESTRO_PPO_TARGET=$cptarget "$bpy" bench/ppo/cartpole_peer.py "$cpframes" 2>/dev/null | grep target | sed 's/^torchrl /py cartpole /' >>"$out/speedrun.txt"
  done
  cat "$out/speedrun.txt"
  # med SIDE TASK FIELD: the median of FIELD over the rounds that reached the target
  med() { grep -E "^$1 $2 (target: reached|target_frames)" "$out/speedrun.txt" | tr ' ' '\n' | grep "^$3=" | cut -d= -f2 | median; }
  cnt() { grep -cE "^$1 $2 (target: reached|target_frames)" "$out/speedrun.txt" || true; }
  local line="" ratios=() t
  for t in room cartpole; do
    local gn pn
    gn=$(cnt go $t) pn=$(cnt py $t)
    if [ "$gn" = 0 ] || [ "$pn" = 0 ]; then
      line+=" ${t}=not_reached ${t}_go_reached=$gn/$reps ${t}_torchrl_reached=$pn/$reps"
      continue
    fi
    local gs gf ps pf
    gs=$(med go $t seconds) gf=$(med go $t frames) ps=$(med py $t target_seconds) pf=$(med py $t target_frames)
    ratios+=("$(awk -v a="$ps" -v b="$gs" 'BEGIN { printf "%.4f", a / b }')")
    line+=$(awk -v t="$t" -v gs="$gs" -v gf="$gf" -v ps="$ps" -v pf="$pf" -v gn="$gn" -v pn="$pn" -v reps="$reps" 'BEGIN {
      printf " %s_ratio=%.2f %s_go_seconds=%.1f %s_go_frames=%d %s_torchrl_seconds=%.1f %s_torchrl_frames=%d %s_reached=%d/%d,%d/%d", t, ps/gs, t, gs, t, gf, t, ps, t, pf, t, gn, reps, pn, reps }')
  done
  local ratio=nan # unless every target was reached by both sides
  [ "${#ratios[@]}" = 2 ] && ratio=$(printf '%s\n' "${ratios[@]}" | awk '{ s += log($1); n++ } END { printf "%.2f", exp(s / n) }')
  echo "RESULT speedrun ratio=$ratio room_target_success=$target cartpole_target_return=$cptarget$line"
}

bench_ceiling() {
  # How far `make train` is from the compute bound (issue #18): bench/ceiling counts the Motif
  # agent's FLOPs per frame from its layers, times sgemm at the shapes they need and runs the
  # job collect-then-learn with the products traced; then `make train`'s job (APPO + Motif,
  # overlapped) runs FRAMES frames REPS times, profiled once, and, with BASE=<git ref>, that
  # commit's `train` alternates with it on the same job. ratio = train's frames/s / the ceiling.
  local reps=${REPS:-2} frames=${FRAMES:-51200}
  go build -o "$out/ceiling" ./bench/ceiling
  go build -o "$out/train" ./cmd/train
  "$out/ceiling" | tee "$out/ceiling.txt"
  build_base
  local args=(--algo appo --env NetHackScore --reward motif --num-envs 8 --frames-per-batch 32 --total-frames "$frames" --eval-every 0 --checkpoint-every 1000 --force)
  fps_of() { # binary run-dir [extra flags]: frames/s over the whole run, start-up included
    local bin=$1 dir=$2 t0 t1
    shift 2
    t0=$(date +%s.%N)
    if ! "$bin" "${args[@]}" --run-dir "$dir" "$@" >"$dir.log" 2>&1; then
      echo "bench: $bin failed (see $dir.log)" >&2
      return 1
    fi
    t1=$(date +%s.%N)
    awk -v f="$frames" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", f / (b - a) }'
  }
  : >"$out/ceiling-train.txt"
  local r fps
  for r in $(seq "$reps"); do
    echo "round $r/$reps" >&2
    if [ "$r" = 1 ]; then
      fps=$(fps_of "$out/train" "$out/ceiling-run" --cpuprofile "$out/train.prof") || exit 1
    else
      fps=$(fps_of "$out/train" "$out/ceiling-run") || exit 1
    fi
    echo "train $fps" >>"$out/ceiling-train.txt"
    if [ -x "$out/train-base" ]; then
      fps=$(fps_of "$out/train-base" "$out/ceiling-base") || exit 1
      echo "base $fps" >>"$out/ceiling-train.txt"
    fi
  done
  cat "$out/ceiling-train.txt"
  echo "# where make train's job spends its time (pprof, first round)"
  go tool pprof -top -nodecount=25 "$out/train" "$out/train.prof" 2>/dev/null | tail -n +5
  local base=0 ceil
  fps=$(awk '$1 == "train" {print $2}' "$out/ceiling-train.txt" | median)
  [ -x "$out/train-base" ] && base=$(awk '$1 == "base" {print $2}' "$out/ceiling-train.txt" | median)
  ceil=$(grep '^RESULT ceiling' "$out/ceiling.txt" | tr ' ' '\n' | grep '^ceiling_fps=' | cut -d= -f2)
  awk -v f="$fps" -v b="$base" -v c="$ceil" -v ref="${BASE:-none}" -v rest="$(grep '^RESULT ceiling' "$out/ceiling.txt" | cut -d' ' -f4-)" 'BEGIN {
    printf "RESULT ceiling ratio=%.3f train_fps=%d base=%s base_fps=%d speedup=%.2f ceiling_fps=%d %s\n", f / c, f, ref, b, (b > 0 ? f / b : 0), c, rest }'
}

case "$name" in
  hostile) bench_hostile ;;
  annotate) bench_annotate ;;
  ppo) bench_ppo ;;
  rewardmodel) bench_rewardmodel ;;
  nle) bench_nle ;;
  minihack) bench_minihack ;;
  speedrun) bench_speedrun ;;
  ceiling) bench_ceiling ;;
  nn) bench_nn ;;
  collector) bench_collector ;;
  distributed) bench_distributed ;;
  replaybuffer) bench_replaybuffer ;;
  tensordict) bench_tensordict ;;
  rollout) bench_rollout ;;
  *) echo "bench: unknown benchmark '$name'; available: nle, minihack, speedrun, ceiling, tensordict, rollout, replaybuffer, collector, distributed, nn, annotate, rewardmodel, ppo, hostile" >&2; exit 2 ;;
esac
