#!/bin/sh
# Side-by-side reference for `cryptogen bench he --json --sets paper`: builds
# Microsoft SEAL (optionally with Intel HEXL) from sources you provide, OUTSIDE
# this repository, and runs scripts/seal_bench/bench.cpp against it. Fetches
# nothing and installs nothing system-wide; SEAL is never part of cryptogen.
#
# Sources used for docs/PERFORMANCE.md (issue 18, second pass):
#   SEAL         https://github.com/microsoft/SEAL         356f2e6 (tag v4.4.3)
#   HEXL         https://github.com/intel/hexl             2d196fd (v1.2.5 + keyswitch opt.)
#   cpu_features https://github.com/google/cpu_features    044ec8c (HEXL's dependency)
# e.g. git clone --depth 1 -b v4.4.3 https://github.com/microsoft/SEAL seal-src
#
# Usage: scripts/bench_seal.sh SEAL_SRC BUILD_DIR [HEXL_SRC CPU_FEATURES_SRC]
# Prints one JSON object (same keys as bench he's "us") on stdout.
# Without HEXL_SRC, SEAL is built with its own intrinsics only (SEAL_USE_INTRIN).
# BUILD_ONLY=1 builds without running; JOBS=N sets the build's parallelism (2).
set -eu
[ $# -ge 2 ] || { sed -n 2,15p "$0"; exit 2; }
SEAL_SRC=$(realpath "$1"); B=$(realpath -m "$2")
HEXL_SRC=${3:+$(realpath "$3")}; CPUF_SRC=${4:+$(realpath "$4")}
HERE=$(dirname "$(realpath "$0")")
J=${JOBS:-2}
mkdir -p "$B"
PREFIX="$B/install"
HEXL_FLAGS="-DSEAL_USE_INTEL_HEXL=OFF"
if [ -n "$HEXL_SRC" ]; then
  [ -n "$CPUF_SRC" ] || { echo "HEXL needs CPU_FEATURES_SRC" >&2; exit 2; }
  if [ ! -f "$B/.cpuf-done" ]; then
    cmake -S "$CPUF_SRC" -B "$B/cpuf" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DBUILD_PIC=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
    nice cmake --build "$B/cpuf" -j"$J" >/dev/null && cmake --install "$B/cpuf" >/dev/null && touch "$B/.cpuf-done"
  fi
  if [ ! -f "$B/.hexl-done" ]; then
    cmake -S "$HEXL_SRC" -B "$B/hexl" -DCMAKE_BUILD_TYPE=Release -DHEXL_BENCHMARK=OFF \
      -DHEXL_TESTING=OFF -DHEXL_SHARED_LIB=OFF -DCMAKE_PREFIX_PATH="$PREFIX" \
      -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
    nice cmake --build "$B/hexl" -j"$J" >/dev/null && cmake --install "$B/hexl" >/dev/null && touch "$B/.hexl-done"
  fi
  HEXL_FLAGS="-DSEAL_USE_INTEL_HEXL=ON"
fi
if [ ! -f "$B/.seal-done" ]; then
cmake -S "$SEAL_SRC" -B "$B/seal" -DCMAKE_BUILD_TYPE=Release -DSEAL_BUILD_DEPS=OFF \
  -DSEAL_USE_MSGSL=OFF -DSEAL_USE_ZLIB=OFF -DSEAL_USE_ZSTD=OFF -DSEAL_USE_INTRIN=ON \
  -DSEAL_BUILD_EXAMPLES=OFF -DSEAL_BUILD_TESTS=OFF -DSEAL_BUILD_BENCH=OFF \
  $HEXL_FLAGS -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
nice cmake --build "$B/seal" -j"$J" >/dev/null && cmake --install "$B/seal" >/dev/null && touch "$B/.seal-done"
fi
cmake -S "$HERE/seal_bench" -B "$B/bench" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
nice cmake --build "$B/bench" >/dev/null
[ -n "${BUILD_ONLY:-}" ] || "$B/bench/seal_bench"
