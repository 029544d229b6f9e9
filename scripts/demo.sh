#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target cryptogen
exec ./build/release/src/cli/cryptogen demo "$@"
