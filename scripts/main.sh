#!/usr/bin/env bash
# The main job: set up a fresh Debian 12 machine, build rnnc and rnnrun, then
# answer the question this project asks with measurements: compile every seed
# model in models/ with both execution plans (symbolic: whole graph, fused
# cells; imperative: op by op), train and evaluate each on its data set, and
# print the comparison table.
#
#   scripts/main.sh          quick run (a few epochs, a subset of IMDB; under 10 minutes on 2 cores)
#   scripts/main.sh --full   the models' own epochs on the whole data sets (hours)
#
# Data come from --data-dir / $RNN_DATA_DIR / ./data / ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RNNC_MAIN_BUILD_DIR:-build-main}
out="$build/comparison"
full=0
[[ "${1:-}" == "--full" ]] && full=1

bash scripts/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNC_SANITIZED_TOOLS=OFF -DRNNC_BUILD_TESTS=OFF > /dev/null
cmake --build "$build" -j "$(nproc)" --target rnnc rnnrun
rm -rf "$out" && mkdir -p "$out"

if ((full)); then
  echo "== full run: every model for its own epochs on the whole data set"
  settings_series=() settings_imdb=()
else
  echo "== quick run: ETTh1 models 3 epochs; IMDB models 1 epoch on 256 training reviews (scripts/main.sh --full for everything)"
  settings_series=(--epochs 3) settings_imdb=(--epochs 1 --limit 256)
fi

for model in models/*.rnn; do
  name=$(basename "$model" .rnn)
  settings=("${settings_series[@]}")
  [[ $name == imdb* ]] && settings=("${settings_imdb[@]}")
  for plan in symbolic imperative; do
    echo "== $name, $plan plan: compile, train, evaluate"
    "$build/bin/rnnc" "$model" --plan=$plan -o "$out/$name.$plan.so"
    "$build/bin/rnnrun" "$out/$name.$plan.so" "${settings[@]}" --quiet --json "$out/$name.$plan.json" \
      --checkpoint "$out/$name.$plan.safetensors" | grep -E '^\| (test|linear|majority|training time)'
  done
done

echo
echo "## rnnc: symbolic versus imperative plans (measured now, on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
python3 scripts/compare.py "$out"
