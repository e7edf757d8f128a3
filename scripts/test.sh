#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs the
# whole suite (GoogleTest units, lit/FileCheck tests, the sanitized robustness
# corpus) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RNNC_BUILD_DIR:-build}
jobs=$(nproc)

bash scripts/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNC_SANITIZED_TOOLS=ON
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
