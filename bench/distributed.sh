#!/usr/bin/env bash
# Data-parallel training against one process (docs/distributed.md, issue 15):
# W4 (models/imdb_bilstm.rnn, train step of global batch 256, symbolic plan)
# on 1 process x 2 threads and on 2 MPI ranks x 1 thread over loopback,
# alternated ROUNDS times (the machine is shared: each figure is the median
# of its rounds, with the load average before each), then the bandwidth of
# MPI_Allgatherv / MPI_Allreduce of the gradient, then the scaling model from
# the measured one-process step and gradient size.
#
#   bash bench/distributed.sh [ROUNDS] [STEPS]      # defaults 3 rounds of 3 steps
# Needs a build with -DRNNC_BUILD_BENCH=ON (RNNC_BENCH_BUILD_DIR, default build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${RNNC_BENCH_BUILD_DIR:-build-bench}
rounds=${1:-3}
steps=${2:-3}
cmake --build "$build" -j 2 --target rnnc rnnbench-dist > /dev/null
out="$build/results"
mkdir -p "$out"
"$build/bin/rnnc" models/imdb_bilstm.rnn -o "$out/w4.so"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,tcp \
  OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1
log="$out/distributed.txt"
: > "$log"
date -u | tee -a "$log"
for ((r = 1; r <= rounds; ++r)); do
  echo "round $r: load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
  "$build/bin/rnnbench-dist" "$out/w4.so" --batch 256 --threads 2 --steps "$steps" | tee -a "$log"
  echo "round $r: load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
  mpirun --oversubscribe -np 2 "$build/bin/rnnbench-dist" "$out/w4.so" --batch 256 --threads 1 --steps "$steps" |
    tee -a "$log"
done
echo "after: load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
python3 - "$log" <<'PY'
import re, statistics, subprocess, sys
one, two, comm, gather, reduce, grad = [], [], [], [], [], 7.5
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=([\w.]+)", line))
    if "step_s" in kv:
        grad = float(kv["gradient_MB"])
        (one if kv["ranks"] == "1" else two).append(float(kv["step_s"]))
        if kv["ranks"] != "1":
            comm.append(float(kv["comm_ms_per_step"]))
    if "allgatherv_ms" in kv:
        gather.append((float(kv["allgatherv_ms"]), float(kv["allgatherv_GBps"])))
        reduce.append((float(kv["allreduce_ms"]), float(kv["allreduce_algbw_GBps"])))
m1, m2 = statistics.median(one), statistics.median(two)
print("\n| W4 train step, B=256 | median step | samples/s |")
print("|---|---|---|")
print("| 1 process x 2 threads | %.2f s | %.1f |" % (m1, 256 / m1))
print("| 2 ranks x 1 thread (loopback) | %.2f s | %.1f |" % (m2, 256 / m2))
print("\n2 ranks / 1 process throughput: %.2fx (target >= 0.95x)" % (m1 / m2))
print("time in the step's collectives (exchange + waiting for the other rank): %.0f ms per step (median), %.0f%% of the step"
      % (statistics.median(comm), 100 * statistics.median(comm) / 1e3 / m2))
g, r = sorted(gather)[len(gather) // 2], sorted(reduce)[len(reduce) // 2]
print("MPI_Allgatherv of one %.2f MB gradient per rank: %.1f ms, %.2f GB/s received; "
      "MPI_Allreduce of it: %.1f ms, %.2f GB/s algorithm bandwidth" % (grad, g[0], g[1], r[0], r[1]))
print("\nscaling model from the measured step (bench/scaling_model.py %.2f %.2f):\n" % (m1, grad))
sys.stdout.flush()
subprocess.run([sys.executable, "bench/scaling_model.py", "%.2f" % m1, "%.2f" % grad], check=True)
PY
