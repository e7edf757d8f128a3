#!/usr/bin/env bash
# The main job. Sets up a fresh Debian 12 machine, builds rnnc and rnnrun, and
# for every seed model in models/: prints its summary, compiles it with both
# plans into shared libraries and runs one forward batch with each. Training
# and the full symbolic-versus-imperative comparison join this job as they
# land (see the README's status section).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RNNC_MAIN_BUILD_DIR:-build-main}
out="$build/models"

bash scripts/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNC_SANITIZED_TOOLS=OFF -DRNNC_BUILD_TESTS=OFF
cmake --build "$build" -j "$(nproc)" --target rnnc rnnrun
mkdir -p "$out"

for model in models/*.rnn; do
  name=$(basename "$model" .rnn)
  echo "== $model"
  "$build/bin/rnnc" "$model" --emit=summary
  for plan in symbolic imperative; do
    "$build/bin/rnnc" "$model" --plan=$plan -o "$out/$name.$plan.so"
    "$build/bin/rnnrun" "$out/$name.$plan.so" --batch 8 --print 2 --repeat 5 --seed 1
  done
  echo
done
