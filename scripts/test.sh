#!/usr/bin/env bash
# The README's test command: installs what is missing, then
#  1. a warnings-as-errors release build, the structure check (layering,
#     cycles, exported symbols, file sizes: scripts/check_structure.py) and
#     the whole ctest suite,
#  2. an AddressSanitizer + UndefinedBehaviorSanitizer build and the same suite,
#  3. a short run of every libFuzzer harness (clang).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

echo "== build (Werror) and test"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=Release -DCG_WERROR=ON >/dev/null
cmake --build build/ci -j"$jobs"
python3 scripts/check_structure.py build/ci
ctest --test-dir build/ci --output-on-failure -j"$jobs"

echo "== build (ASan+UBSan) and test"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCG_WERROR=ON -DCG_SANITIZE=ON >/dev/null
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs"

if ls fuzz/fuzz_*.c >/dev/null 2>&1; then
  echo "== fuzz (short)"
  CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCG_FUZZ=ON -DCG_BUILD_TESTS=OFF >/dev/null
  cmake --build build/fuzz -j"$jobs" --target fuzzers
  for f in build/fuzz/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus="fuzz/corpus/${name#fuzz_}"
    mkdir -p build/fuzz/work/"$name"
    echo "-- $name"
    "$f" -max_total_time="${CG_FUZZ_SECONDS:-20}" -rss_limit_mb=2048 build/fuzz/work/"$name" \
      $( [ -d "$corpus" ] && echo "$corpus" ) 2>&1 | tail -n 2
  done
fi
echo "== all checks passed"
