#!/usr/bin/env bash
# build-nle-sdist.sh CACHE OUT: the fallback when PyPI serves no nle wheel for this machine.
# Builds libnethack.so and nethackdir/nhdat from NLE's source distribution with its own CMake
# and puts them in OUT. NLE's CMakeLists fetches pybind11, deboost.context and bzip2 with git at
# configure time, so this needs access to their repositories; where that is blocked it stops
# with a message saying so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/nle.lock"
cache=$1 out=$2
say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

need=()
for t in cmake bison flex make g++; do command -v $t >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "building NLE needs: ${need[*]}; install them (sudo apt-get install cmake bison flex build-essential libbz2-dev) and rerun"
  say "installing build tools: cmake bison flex build-essential"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake bison flex build-essential git >/dev/null
fi
sdist="$cache/downloads/$NLE_SDIST"
if [ ! -f "$sdist" ] || [ "$(sha256sum "$sdist" | cut -d' ' -f1)" != "$NLE_SDIST_SHA256" ]; then
  say "downloading the nle==$NLE_VERSION source distribution"
  rm -f "$sdist"
  python3 -m pip download --quiet --no-deps --no-binary=:all: --no-build-isolation -d "$cache/downloads" "nle==$NLE_VERSION" 2>/dev/null ||
    python3 -m pip download --quiet --no-deps --no-binary=:all: -d "$cache/downloads" "nle==$NLE_VERSION"
fi
[ "$(sha256sum "$sdist" | cut -d' ' -f1)" = "$NLE_SDIST_SHA256" ] ||
  die "checksum mismatch for $sdist; expected $NLE_SDIST_SHA256 (scripts/nle.lock). Delete it and rerun."
src="$out/src"
mkdir -p "$src" && tar xzf "$sdist" -C "$src" --strip-components=1
say "configuring NLE with CMake (fetches pybind11, deboost.context and bzip2 with git)"
cmake -S "$src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DHACKDIR="$out/nethackdir" >"$out/cmake.log" 2>&1 ||
  die "CMake could not configure NLE (see $out/cmake.log); its git dependencies may be unreachable from this machine. Install a machine-matching nle wheel's libnethack.so and nethackdir into a folder and set MAESTRO_NLE_DIR instead."
say "building libnethack.so and the game data ($(nproc) jobs)"
cmake --build "$out/build" -j"$(nproc)" --target nethack >>"$out/cmake.log" 2>&1 || die "the NLE build failed (see $out/cmake.log)"
cmake --install "$out/build" >>"$out/cmake.log" 2>&1 || true
lib=$(find "$out/build" -name libnethack.so | head -n 1)
[ -n "$lib" ] || die "the build made no libnethack.so (see $out/cmake.log)"
cp "$lib" "$out/libnethack.so"
[ -f "$out/nethackdir/nhdat" ] || die "the build made no nethackdir/nhdat (see $out/cmake.log)"
rm -rf "$src" "$out/build"
say "built NLE $NLE_VERSION from source"
