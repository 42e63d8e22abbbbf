#!/usr/bin/env bash
# setup.sh: installs what Maestro needs on a fresh Debian machine, idempotently.
#
#   scripts/setup.sh          system packages + the NetHack Learning Environment library
#   scripts/setup.sh --peer   also the Python NLE peer (a virtualenv) used by the parity tests
#   scripts/setup.sh --bench  also the benchmark peers: PyTorch (CPU use only, but PyPI's wheel
#                             brings its CUDA libraries: ~5 GB), TensorDict, TorchRL
#
# Downloads go to $MAESTRO_CACHE (default ~/.cache/maestro) and are verified against the
# checksums in scripts/nle.lock. A second run reuses them and prints what it skipped.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=nle.lock
. "$here/nle.lock"
cache=${MAESTRO_CACHE:-$HOME/.cache/maestro}
nle_dir="$cache/nle-$NLE_VERSION"
peer_dir="$cache/peer-nle-$NLE_VERSION"
bench_dir="$cache/peer-bench"
want_peer=0 want_bench=0
case "${1:-}" in
  --peer) want_peer=1 ;;
  --bench) want_peer=1 want_bench=1 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--peer|--bench]" >&2; exit 2 ;;
esac

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$cache/downloads" || die "cannot create the cache folder $cache; set MAESTRO_CACHE to a writable folder"
[ -w "$cache" ] || die "the cache folder $cache is not writable; set MAESTRO_CACHE to a writable folder"

# --- system packages -------------------------------------------------------------------------
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# OpenBLAS for nn's matrix products (loaded at run time; without it nn uses pure-Go BLAS).
ldconfig -p 2>/dev/null | grep -q 'libopenblas.so.0' || need+=(libopenblas0-pthread)
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
fi
