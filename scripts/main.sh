#!/usr/bin/env bash
# The main job. Sets up a fresh Debian 12 machine, builds rnnc and runs it on
# every seed model in models/: checks each model and prints its summary
# (inputs, output, loss, parameter table). Code generation, training and the
# symbolic-versus-imperative comparison join this job as they land (see the
# README's status section).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RNNC_MAIN_BUILD_DIR:-build-main}

bash scripts/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNC_SANITIZED_TOOLS=OFF -DRNNC_BUILD_TESTS=OFF
cmake --build "$build" -j "$(nproc)" --target rnnc

for model in models/*.rnn; do
  echo "== rnnc $model --emit=summary"
  "$build/bin/rnnc" "$model" --emit=summary
  echo
done
