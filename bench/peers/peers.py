#!/usr/bin/env python3
"""The benchmark workloads of ../shared/docs/BENCHMARKS.md in PyTorch, for a
side-by-side table with rnnc (bench/peers/README.md).

W1  time-series epoch, one sequence T=1077, batch 1, I=43 -> LSTM 64 -> dense 1
    -> dropout 0.01 -> dense 1; MSE; forward + backward + Adam
W2  1077 optimizer steps of batch 1 and sequence length 1, same network
W3  prediction: 359 samples as one sequence (time per sample); one step (T=1, B=1)
W4  IMDB training step: embedding 20000x64 -> 2-layer bidirectional LSTM 128 ->
    concat(first, last) -> dense 2; softmax cross-entropy; B=256, T=256
W5  IMDB inference: B=256 (per batch) and B=1 (latency of one review)
W6  W1, W4 and W5 with GRU
W7  W4 and W5 on batches of the IMDB training split's real lengths (cut at 256;
    bench/imdb_train_lengths.txt), shuffled and bucketed as rnnbench's W7, with
    pack_padded_sequence(..., enforce_sorted=False): time per batch and real
    tokens per second, next to the padded W4/W5 of the same run

Debian's python3-torch links the reference BLAS unless OpenBLAS is selected,
which makes it 16-22x slower on these shapes and would flatter rnnc: run it as
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp python3 bench/peers/peers.py
The script says which BLAS torch reports. Prints a markdown table and writes
JSON with --json FILE. Each figure is the median of --repeat runs after a
warm-up run.
"""
import argparse
import json
import os
import statistics
import time

import torch


def median_seconds(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Series(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.h = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(43, 64, batch_first=True)
        self.d1 = torch.nn.Linear(64, 1)
        self.drop = torch.nn.Dropout(0.01)
        self.pred = torch.nn.Linear(1, 1)

    def forward(self, x):  # every step's prediction: [B, T, 1]
        y, _ = self.h(x)
        return self.pred(self.drop(self.d1(y)))


class Imdb(torch.nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.x = torch.nn.Embedding(20000, 64)
        self.h = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(64, 128, num_layers=2, bidirectional=True,
                                                                      batch_first=True)
        self.out = torch.nn.Linear(512, 2)

    def forward(self, tokens):
        y, _ = self.h(self.x(tokens))
        return self.out(torch.cat([y[:, 0], y[:, -1]], dim=1))


class ImdbPacked(Imdb):
    """Imdb over packed sequences: each review runs for its own length;
    concat(first, last) takes step 0 and step length-1 (as rnnc's
    bench/w7_bilstm_len.rnn, W4's network with lengths)."""

    def forward(self, inputs):
        tokens, lengths = inputs
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.x(tokens), lengths, batch_first=True,
                                                         enforce_sorted=False)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(self.h(packed)[0], batch_first=True)
        last = y[torch.arange(len(lengths)), lengths - 1]
        return self.out(torch.cat([y[:, 0], last], dim=1))


def imdb_lengths(path):
    """The lengths of bench/imdb_train_lengths.txt ("LENGTH COUNT" lines)."""
    lengths = []
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            length, count = map(int, line.split())
            lengths += [length] * count
    return lengths


def w7_batches(lengths, bucket, batches=4, batch=256, window=16, seed=42):
    """rnnbench's W7 batches (bench/Workloads.cpp): the epoch's batches
    shuffled, or sorted by length in windows of `window` batches and the
    batches shuffled; `batches` of them at the quantiles of the batches' real
    tokens, random ids up
    to each length. (Python's shuffle, not rnnbench's generator: the same
    distribution, not the same reviews.)"""
    import random
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    full = len(order) // batch * batch
    if bucket:
        for start in range(0, full, window * batch):
            order[start:min(start + window * batch, full)] = sorted(order[start:min(start + window * batch, full)],
                                                                    key=lambda i: lengths[i])
        rows = [order[b * batch:(b + 1) * batch] for b in range(full // batch)]
        rng.shuffle(rows)
        order = [i for r in rows for i in r]
    steps = full // batch
    by_tokens = sorted(range(steps), key=lambda b: sum(lengths[i] for i in order[b * batch:(b + 1) * batch]))
    out = []
    for k in range(batches):  # the batches at the quantiles of their real tokens
        b = by_tokens[(2 * k + 1) * steps // (2 * batches)]
        n = torch.tensor([lengths[i] for i in order[b * batch:(b + 1) * batch]])
        tokens = torch.randint(2, 20000, (batch, 256)) * (torch.arange(256)[None, :] < n[:, None])
        out.append((tokens, n))
    return out


def w7_rows(repeat, lengths, count=4):
    torch.manual_seed(0)
    model = ImdbPacked("lstm")
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    ce = torch.nn.CrossEntropyLoss()
    labels = torch.randint(0, 2, (256,))
    rows = []
    for bucket in (False, True):
        batches = w7_batches(lengths, bucket, count)
        real = sum(int(n.sum()) for _, n in batches) / len(batches)
        label = ", bucketed" if bucket else ""
        model.train()
        seconds = median_seconds(lambda: [train_step(model, adam, ce, b, labels) for b in batches], repeat) / len(batches)
        rows.append((f"W7 imdb lstm train step, IMDB lengths{label}, packed (B=256)", seconds, real))
        model.eval()
        with torch.no_grad():
            seconds = median_seconds(lambda: [model(b) for b in batches], repeat) / len(batches)
        rows.append((f"W7 imdb lstm inference, IMDB lengths{label}, packed (B=256)", seconds, real))
    return rows


def train_step(model, optimizer, loss_fn, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()


def workloads(cell, repeat, imdb, want=lambda code: True):
    """The rows of W1-W6 for one cell whose code `want` accepts (the GRU rows
    are W6's)."""
    torch.manual_seed(0)
    rows = []
    if cell != "lstm":
        gru = want("W6")
        want = lambda code: gru  # noqa: E731
    series = Series(cell)
    adam = torch.optim.Adam(series.parameters(), lr=1e-3)
    mse = torch.nn.MSELoss()
    x, y = torch.rand(1, 1077, 43), torch.rand(1, 1077, 1)
    if want("W1"):
        rows.append((f"W1 {cell} epoch (one sequence of 1077)", median_seconds(lambda: train_step(series, adam, mse, x, y), repeat), "s"))
    if cell == "lstm" and want("W2"):
        def keras_epoch():
            for t in range(1077):
                train_step(series, adam, mse, x[:, t:t + 1], y[:, t:t + 1])
        rows.append(("W2 lstm epoch (1077 steps of batch 1)", median_seconds(keras_epoch, max(1, repeat // 3)), "s"))
    if cell == "lstm" and want("W3"):
        series.eval()
        with torch.no_grad():
            seq = torch.rand(1, 359, 43)
            rows.append(("W3 prediction per sample (359 as one sequence)", median_seconds(lambda: series(seq), repeat) / 359, "s"))
            one = torch.rand(1, 1, 43)
            rows.append(("W3 latency of one step (T=1, B=1)", median_seconds(lambda: series(one), repeat * 10), "s"))
    if imdb and (want("W4") or want("W5")):
        model = Imdb(cell)
        adam = torch.optim.Adam(model.parameters(), lr=1e-3)
        ce = torch.nn.CrossEntropyLoss()
        tokens, labels = torch.randint(0, 20000, (256, 256)), torch.randint(0, 2, (256,))
        if want("W4"):
            rows.append((f"W4 imdb {cell} train step (B=256)", median_seconds(lambda: train_step(model, adam, ce, tokens, labels), max(1, repeat // 3)), "s"))
        model.eval()
        with torch.no_grad():
            if want("W5"):
                rows.append((f"W5 imdb {cell} inference (B=256)", median_seconds(lambda: model(tokens), max(1, repeat // 3)), "s"))
                rows.append((f"W5 imdb {cell} latency (B=1)", median_seconds(lambda: model(tokens[:1]), repeat), "s"))
    return rows


def load_etth1(path, window=24, split=(0.6, 0.2, 0.2),
               features=("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"), target="OT"):
    """The windows rnnrun makes (runtime/data/CsvSeries.cpp): rows split in time
    order, min-max scaling fitted on the training rows, each window of `window`
    rows predicting the target of the next row."""
    import csv
    with open(path) as f:
        reader = csv.reader(f)
        header = next(reader)
        columns = [header.index(c) for c in features] + [header.index(target)]
        values = [[float(row[c]) for c in columns] for row in reader]
    rows = len(values)
    train_end = int(rows * split[0] + 1e-9)
    valid_end = int(rows * (split[0] + split[1]) + 1e-9)
    lows = [min(v[k] for v in values[:train_end]) for k in range(len(columns))]
    highs = [max(v[k] for v in values[:train_end]) for k in range(len(columns))]
    scaled = torch.tensor([[(v[k] - lows[k]) / (highs[k] - lows[k]) if highs[k] > lows[k] else 0.0
                            for k in range(len(columns))] for v in values])

    def windows(begin, end):
        xs = torch.stack([scaled[t - window:t, :-1] for t in range(begin + window, end)])
        return xs, scaled[begin + window:end, -1]
    return windows(0, train_end), windows(valid_end, rows)


class SeriesLast(torch.nn.Module):
    """models/etth1_{lstm,gru}.rnn in PyTorch: the last step's state -> dense 1 -> dropout -> dense 1."""
    def __init__(self, cell, features):
        super().__init__()
        self.h = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(features, 64, batch_first=True)
        self.d1 = torch.nn.Linear(64, 1)
        self.drop = torch.nn.Dropout(0.01)
        self.pred = torch.nn.Linear(1, 1)

    def forward(self, x):
        y, _ = self.h(x)
        return self.pred(self.drop(self.d1(y[:, -1]))).squeeze(1)


def main_job(args):
    """The PyTorch column of the main job's table (scripts/main.sh): the ETTh1 models
    trained on the same windows as rnnrun, and the epoch definitions W1 and W2."""
    torch.set_num_threads(1)
    out = {"torch": torch.__version__, "blas": blas_name(), "models": {}}
    (train_x, train_y), (test_x, test_y) = load_etth1(args.main_job_csv)
    for cell in ("lstm", "gru"):
        torch.manual_seed(7)
        model = SeriesLast(cell, train_x.shape[2])
        adam = torch.optim.Adam(model.parameters(), lr=1e-3)
        mse = torch.nn.MSELoss()
        epoch_seconds = []
        for epoch in range(args.epochs):
            order = torch.randperm(len(train_y))
            start = time.perf_counter()
            model.train()
            for b in range(0, len(order), 32):
                idx = order[b:b + 32]
                train_step(model, adam, mse, train_x[idx], train_y[idx])
            epoch_seconds.append(time.perf_counter() - start)
        model.eval()
        with torch.no_grad():
            start = time.perf_counter()
            pred = torch.cat([model(test_x[b:b + 32]) for b in range(0, len(test_y), 32)])
            predict = (time.perf_counter() - start) / len(test_y)
        r2 = 1 - float(((pred - test_y) ** 2).sum() / ((test_y - test_y.mean()) ** 2).sum())
        out["models"][f"etth1_{cell}"] = {"epoch_seconds": statistics.mean(epoch_seconds), "epochs": args.epochs,
                                          "predict_seconds_per_sample": predict, "test_r2": r2}
    rows = dict((name, seconds) for name, seconds, _ in workloads("lstm", 3, False))
    out["epoch_definitions"] = {"W1": rows["W1 lstm epoch (one sequence of 1077)"],
                                "W2": rows["W2 lstm epoch (1077 steps of batch 1)"]}
    with open(args.main_job, "w") as f:
        json.dump(out, f, indent=2)
    print(f"PyTorch {torch.__version__} ({out['blas']}): wrote {args.main_job}")


def blas_name():
    torch.rand(64, 64) @ torch.rand(64, 64)  # loads the BLAS
    maps = open("/proc/self/maps").read().lower()
    return ("OpenBLAS" if "openblas" in maps else "MKL" if "libmkl" in maps
            else "the reference BLAS (slow: see --help)" if "libblas" in maps else "unknown")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-imdb", action="store_true", help="skip W4/W5 (minutes per run on a slow BLAS)")
    parser.add_argument("--w7", action="store_true", help="also W7 (packed sequences; W4/W5 as the padded rows)")
    parser.add_argument("--w7-lengths", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                             "imdb_train_lengths.txt"))
    parser.add_argument("--w7-batches", type=int, default=4,
                        help="W7: batches at the quantiles of their real tokens (PyTorch 1.13's packed backward "
                        "takes ~100 s per batch on one core: 1 keeps a run to minutes)")
    parser.add_argument("--only", metavar="W4,W5,W7", help="only these workloads (W6: the GRU rows; W7 as --w7, "
                        "whose ratio column needs W4 and W5 in the same run)")
    parser.add_argument("--json")
    parser.add_argument("--main-job", metavar="OUT.json", help="the main job's PyTorch column (needs --main-job-csv)")
    parser.add_argument("--main-job-csv", metavar="ETTh1.csv")
    parser.add_argument("--epochs", type=int, default=3, help="--main-job: ETTh1 epochs")
    args = parser.parse_args()
    if args.main_job:
        return main_job(args)
    blas = blas_name()
    print(f"PyTorch {torch.__version__}, BLAS: {blas}")
    only = set(args.only.upper().split(",")) if args.only else None
    known = {f"W{k}" for k in range(1, 8)}
    if only and not only <= known:
        parser.error(f"--only: unknown workload {', '.join(sorted(only - known))} (W1-W7)")
    want = lambda code: only is None or code in only  # noqa: E731
    w7 = args.w7 or (only is not None and "W7" in only)
    results, real_tokens = {}, {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for cell in ("lstm", "gru"):
            for name, seconds, unit in workloads(cell, args.repeat, not args.no_imdb, want):
                results.setdefault(name, {})[threads] = seconds
                print(f"  {threads} thread(s): {name}: {seconds * 1e3:.3f} ms", flush=True)
        if w7:
            for name, seconds, real in w7_rows(max(1, args.repeat // 3), imdb_lengths(args.w7_lengths), args.w7_batches):
                results.setdefault(name, {})[threads] = seconds
                real_tokens[name] = real
                print(f"  {threads} thread(s): {name}: {seconds * 1e3:.3f} ms", flush=True)
    header = " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in args.threads)
    print(f"\n| workload (PyTorch {torch.__version__}) | {header} |\n|---|" + "---|" * len(args.threads))
    for name, by_threads in results.items():
        cells = " | ".join(f"{by_threads[t] * 1e3:.3f} ms" if by_threads[t] < 1 else f"{by_threads[t]:.3f} s" for t in args.threads)
        print(f"| {name} | {cells} |")
    if real_tokens:  # W7 against the padded W4/W5 rows of this run
        print(f"\n| W7 (PyTorch {torch.__version__}, pack_padded_sequence) | threads | time per batch | real tokens "
              "per batch | real tokens/s | padded row | ratio to (real / padded) x padded time |\n|---|---|---|---|---|---|---|")
        for name, real in real_tokens.items():
            padded = "W4 imdb lstm train step (B=256)" if "train" in name else "W5 imdb lstm inference (B=256)"
            for t in args.threads:
                seconds, base = results[name][t], results.get(padded, {}).get(t)
                ratio = f"{seconds / (real / 65536 * base):.2f}" if base else "-"
                print(f"| {name} | {t} | {seconds:.3f} s | {real:.0f} ({real / 655.36:.0f}%) | {real / seconds:.0f} | "
                      f"{base:.3f} s | {ratio} |" if base else f"| {name} | {t} | {seconds:.3f} s | {real:.0f} | "
                      f"{real / seconds:.0f} | - | - |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "blas": blas, "results": results, "w7_real_tokens": real_tokens}, f,
                      indent=2)


if __name__ == "__main__":
    main()
