"""The scaling model of docs/distributed.md: step time of data-parallel
training on N machines from a measured one-machine step and the gradient size.

  python3 bench/scaling_model.py [STEP_SECONDS] [GRADIENT_MB]

Defaults: the W4 train step (IMDB BiLSTM, global batch 256) on one machine of
2 threads, 1.87 s (docs/bench.md, bash bench/run.sh), and its gradient, 1.9 M
parameters = 7.5 MB. Compute shrinks as 1/N (each machine runs B/N rows);
the exchange is rnnrun's exact rule (ring all-gather: every machine receives
the N-1 gradients it did not compute) or, for comparison, a ring all-reduce of
the summed gradient (2 (N-1)/N gradients), at 10 and 25 Gb/s, no overlap.
"""
import sys

step = float(sys.argv[1]) if len(sys.argv) > 1 else 1.87
grad_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 7.5
print("| machines | compute/step | 10 Gb/s all-gather | 10 Gb/s all-reduce | 25 Gb/s all-gather | 25 Gb/s all-reduce |")
print("|---|---|---|---|---|---|")
for n in (2, 4, 8, 16, 32, 64):
    compute = step / n
    cells = []
    for gbps in (10, 25):
        per_grad = grad_mb * 1e6 * 8 / (gbps * 1e9)
        for volume in (n - 1, 2 * (n - 1) / n):
            comm = volume * per_grad
            speedup = step / (compute + comm)
            cells.append("%.0f ms (%.1fx)%s" % (1e3 * comm, speedup, " **comm > compute**" if comm > compute else ""))
    print("| %d | %.0f ms | %s |" % (n, 1e3 * compute, " | ".join([cells[0], cells[1], cells[2], cells[3]])))
