#!/usr/bin/env bash
# The main job: set up a fresh Debian 12 machine, build rnnc, rnnrun and
# rnnbench, then answer the question this project asks with measurements:
# compile every seed model in models/ with both execution plans (symbolic:
# whole graph, fused cells; imperative: op by op), train and evaluate each on
# its data set, time both epoch definitions of the seed comparison and each
# optimization switched off in turn, run PyTorch on the same windows where
# /usr/bin/python3 has torch, and print the comparison table.
#
#   scripts/main.sh                 quick run (3 ETTh1 epochs; imdb_bigru symbolic: 2 epochs on 6000 reviews, the
#                                   other IMDB runs 1 epoch on 256 reviews; 9.5 minutes in all on a fresh 2-core machine)
#   scripts/main.sh --full          the models' own epochs on the whole data sets (hours)
#   scripts/main.sh --data-dir DIR  where ETTh1.csv and the IMDB tarball (or aclImdb/) are
#
# Data come from --data-dir, $RNN_DATA_DIR, ./data or ../shared/data. With none
# of them holding the data sets, the job says so and runs on synthetic data of
# the same layout and size (scripts/synthetic_data.py), so it always completes.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RNNC_MAIN_BUILD_DIR:-build-main}
out="$build/comparison"
full=0 data=""
while (($#)); do
  case "$1" in
    --full) full=1 ;;
    --data-dir) data="${2:?--data-dir needs a directory}"; shift ;;
    *) echo "main.sh: unknown argument $1 (use --full, --data-dir DIR)" >&2; exit 2 ;;
  esac
  shift
done

has_data() { [[ -f "$1/ETTh1.csv" ]] && [[ -f "$1/aclImdb_v1_labeled.tar.gz" || -f "$1/aclImdb_v1.tar.gz" || -d "$1/aclImdb" ]]; }
if [[ -n $data ]]; then
  has_data "$data" || { echo "main.sh: $data has no ETTh1.csv and IMDB data set (see ../shared/data/README.md)" >&2; exit 1; }
else
  for dir in "${RNN_DATA_DIR:-}" ./data ../shared/data; do
    if [[ -n $dir ]] && has_data "$dir"; then data=$dir; break; fi
  done
fi

bash scripts/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNC_SANITIZED_TOOLS=OFF -DRNNC_BUILD_TESTS=OFF \
  -DRNNC_BUILD_BENCH=ON > /dev/null
cmake --build "$build" -j "$(nproc)" --target rnnc rnnrun rnnbench
rm -rf "$out" && mkdir -p "$out"

if [[ -z $data ]]; then
  data="$build/synthetic-data"
  echo "== no data directory holds ETTh1.csv and IMDB (looked in \$RNN_DATA_DIR, ./data, ../shared/data):"
  echo "== running on SYNTHETIC data of the same layout and size in $data; its accuracy figures mean nothing"
  [[ -f "$data/ETTh1.csv" ]] || python3 scripts/synthetic_data.py "$data"
fi
echo "== data: $data"

if ((full)); then
  echo "== full run: every model for its own epochs on the whole data set"
  settings_series=() settings_imdb=() torch_epochs=60  # the ETTh1 models' own train block
else
  echo "== quick run: ETTh1 models 3 epochs; IMDB models 1 epoch on 256 training reviews (scripts/main.sh --full for everything)"
  settings_series=(--epochs 3) settings_imdb=(--epochs 1 --limit 256) torch_epochs=3
  # One IMDB model learns within the budget: a stated subset and settings.
  settings_learn=(--limit 6000 --epochs 2 --batch 32 --lr 0.002 --threads 2)
  echo "== quick run: imdb_bigru (symbolic plan) learns on a subset: ${settings_learn[*]}"
  echo "   (1 epoch on 256 reviews only reaches the majority baseline; the full run, imdb_bilstm 7 epochs on all"
  echo "   25000 reviews, reaches test accuracy 0.8575: docs/results.md, 'rnnrun imdb.so --epochs 7 --threads 2')"
fi

for model in models/*.rnn; do
  name=$(basename "$model" .rnn)
  settings=("${settings_series[@]}")
  [[ $name == imdb* ]] && settings=("${settings_imdb[@]}")
  for plan in symbolic imperative; do
    if ((!full)) && [[ $name == imdb_bigru && $plan == symbolic ]]; then settings=("${settings_learn[@]}"); fi
    echo "== $name, $plan plan: compile, train, evaluate"
    "$build/bin/rnnc" "$model" --plan=$plan -o "$out/$name.$plan.so"
    "$build/bin/rnnrun" "$out/$name.$plan.so" --data-dir "$data" "${settings[@]}" --quiet --json "$out/$name.$plan.json" \
      --checkpoint "$out/$name.$plan.safetensors" | grep -E '^\| (test|linear|majority|training time)'
    [[ $name == imdb* ]] && settings=("${settings_imdb[@]}")
  done
done

echo "== both epoch definitions (W1, W2) and the ablation of the symbolic plan's optimizations (rnnbench)"
"$build/bin/rnnbench" --only W1,W2,ablation --threads 1 --no-onednn --no-scaling --repetitions 3 \
  --out "$out/bench" > "$out/bench.log" 2>&1 || { tail -20 "$out/bench.log"; exit 1; }

if /usr/bin/python3 -c "import torch" 2> /dev/null; then
  echo "== PyTorch on the same ETTh1 windows ($torch_epochs epochs) and epoch definitions (bench/peers/peers.py)"
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/peers/peers.py \
    --main-job "$out/pytorch.json" --main-job-csv "$data/ETTh1.csv" --epochs "$torch_epochs"
else
  echo "== no PyTorch column: /usr/bin/python3 has no torch (apt-get install python3-torch)"
fi

echo
echo "## rnnc: symbolic versus imperative plans (measured now, on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
python3 scripts/compare.py "$out"
