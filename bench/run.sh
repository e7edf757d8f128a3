#!/usr/bin/env bash
# The benchmark suite in one command: installs the benchmark-only packages
# (oneDNN, Google Benchmark, OpenBLAS for the PyTorch peers), builds rnnc and
# rnnbench in build-bench/, and runs W1-W6 of ../shared/docs/BENCHMARKS.md with
# rnnc's symbolic plan, its imperative plan and oneDNN on 1 and 2 threads,
# plus the scaling sweep. Writes build-bench/results/{bench.md,bench.json,scaling.svg}
# and prints the table. Takes about 10 minutes on 2 cores once built. Arguments go to
# rnnbench (e.g. --only W1,W3 --repetitions 3; rnnbench --help lists them).
#
#   bash bench/run.sh            # everything
#   bash bench/run.sh --peers    # then PyTorch on the same workloads (bench/peers)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RNNC_BENCH_BUILD_DIR:-build-bench}
peers=0
args=()
for a in "$@"; do
  if [[ $a == --peers ]]; then peers=1; else args+=("$a"); fi
done

bash scripts/setup.sh --bench
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRNNC_SANITIZED_TOOLS=OFF \
  -DRNNC_BUILD_TESTS=OFF -DRNNC_BUILD_BENCH=ON > /dev/null
cmake --build "$build" -j "$(nproc)" --target rnnc rnnbench
"$build/bin/rnnbench" --out "$build/results" "${args[@]}"

if ((peers)); then
  echo
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/peers/peers.py \
    --threads 1 2 --json "$build/results/peers.json" | tee "$build/results/peers.md"
fi
