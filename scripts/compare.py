#!/usr/bin/env python3
"""Prints the main job's comparison table from the reports scripts/main.sh writes:
rnnrun's --json reports (MODEL.PLAN.json), rnnbench's bench/bench.json (both epoch
definitions and the ablation) and, where PyTorch ran, pytorch.json (bench/peers/peers.py).

usage: compare.py REPORT_DIR
"""
import json
import os
import sys


def load(directory):
    runs = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json") and name.count(".") == 2:
            model, plan, _ = name.rsplit(".", 2)
            with open(os.path.join(directory, name)) as f:
                runs.setdefault(model, {})[plan] = json.load(f)
    return runs


def epoch_seconds(run):
    epochs = run.get("epochs", [])
    return sum(e["seconds"] for e in epochs) / len(epochs) if epochs else float("nan")


def metric(run):
    test = run.get("test", {})
    if "accuracy" in test:
        return f"accuracy {test['accuracy']:.4f}"
    if "r2" in test:
        return f"R2 {test['r2']:.4f}"
    return "-"


def baseline(run):
    b = run.get("baseline", {})
    scores = b.get("scores", {})
    if "accuracy" in scores:
        return f"{b['name']}: accuracy {scores['accuracy']:.4f}"
    if "r2" in scores:
        return f"{b['name']}: R2 {scores['r2']:.4f}"
    return "-"


def ratio(a, b):
    return f"{b / a:.2f}x" if a and a == a and b == b and a > 0 else "-"


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def duration(seconds):
    if seconds is None or seconds != seconds or seconds < 0:
        return "-"
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def bench_seconds(bench, workload, engine):
    for row in (bench or {}).get("results", []) + (bench or {}).get("ablation", []):
        if row["workload"] == workload and row["engine"] == engine and row["threads"] == 1:
            return row["seconds"]
    return None


def epoch_definitions(bench, torch):
    """The seed comparison's two epochs: MXNet's was one long sequence, Keras's many batch-1 steps."""
    print("\n### The two epoch definitions of the seed comparison (same network: I=43 -> LSTM 64 -> dense 1 -> "
          "dropout -> dense 1, Adam; 1 thread)\n")
    print("| epoch | rnnc symbolic | rnnc imperative | imperative / symbolic | PyTorch | PyTorch / symbolic |")
    print("|---|---|---|---|---|---|")
    defs = (torch or {}).get("epoch_definitions", {})
    for key, workload, label in (("W1", "W1 lstm epoch (one sequence of 1077)", "one sequence of 1077 steps, one optimizer step (MXNet style)"),
                                 ("W2", "W2 lstm epoch (1077 steps of batch 1)", "1077 optimizer steps of batch 1, sequence length 1 (Keras style)")):
        s, i, t = bench_seconds(bench, workload, "symbolic"), bench_seconds(bench, workload, "imperative"), defs.get(key)
        print(f"| {label} | {duration(s)} | {duration(i)} | {ratio(s, i) if s and i else '-'} | {duration(t)} | "
              f"{ratio(s, t) if s and t else '-'} |")


def ablation(bench):
    rows = (bench or {}).get("ablation", [])
    if not rows:
        return
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    labels = list(dict.fromkeys(r["engine"] for r in rows))
    print("\n### Where the symbolic plan's advantage comes from: each optimization switched off in turn "
          "(batch 32, 1 thread; x = times slower than the full symbolic plan)\n")
    print("| plan | " + " | ".join(w.replace("ablation ", "") for w in workloads) + " |")
    print("|---|" + "---|" * len(workloads))
    for label in labels:
        cells = []
        for w in workloads:
            v, base = bench_seconds(bench, w, label), bench_seconds(bench, w, "symbolic")
            cells.append(duration(v) + (f" ({v / base:.2f}x)" if v and base and label != "symbolic" else ""))
        print(f"| {label} | " + " | ".join(cells) + " |")


def main():
    directory = sys.argv[1]
    runs = load(directory)
    torch = load_json(os.path.join(directory, "pytorch.json"))
    bench = load_json(os.path.join(directory, "bench", "bench.json"))
    # (row, value, format, whether the value depends on the run's data and settings)
    rows = [
        ("training time per epoch", lambda r: epoch_seconds(r), lambda v: f"{v:.3f} s", True),
        ("prediction time per sample", lambda r: r["predict_seconds_per_sample"], lambda v: f"{v * 1e6:.1f} us", True),
        ("prediction time per batch", lambda r: r["predict_seconds_per_batch"], lambda v: f"{v * 1e3:.2f} ms", True),
        ("model library size", lambda r: r["library_bytes"], lambda v: f"{v / 1024:.0f} KiB", False),
        ("model load time", lambda r: r["load_seconds"], lambda v: f"{v * 1e3:.2f} ms", False),
        ("peak resident memory", lambda r: r["peak_resident_mib"], lambda v: f"{v:.0f} MiB", True),
        ("CPU utilisation", lambda r: r["cpu_utilisation"], lambda v: f"{v * 100:.0f}%", True),
    ]
    for model, plans in runs.items():
        s, i = plans.get("symbolic"), plans.get("imperative")
        if not s or not i:
            continue
        t = (torch or {}).get("models", {}).get(model)
        print(f"\n### {model}\n")
        # A ratio between two runs means something only when both ran the same epochs on the same data.
        same = s.get("epoch_definition") == i.get("epoch_definition") and s.get("data") == i.get("data") \
            and len(s.get("epochs", [])) == len(i.get("epochs", []))
        if same:
            print(f"epoch = {s['epoch_definition']}; data: {s['data']}\n")
        else:
            print(f"The two plans ran with different settings, so only the library size and load time are compared:\n"
                  f"symbolic: epoch = {s['epoch_definition']}, {len(s['epochs'])} epoch(s); data: {s['data']}\n"
                  f"imperative: epoch = {i['epoch_definition']}, {len(i['epochs'])} epoch(s); data: {i['data']}\n")
        if t:
            print(f"PyTorch {torch['torch']} ({torch['blas']}, 1 thread): the same windows, batch and optimizer.\n")
            print("| | rnnc symbolic | rnnc imperative | imperative / symbolic | PyTorch | PyTorch / symbolic |")
            print("|---|---|---|---|---|---|")
        else:
            print("| | rnnc symbolic | rnnc imperative | imperative / symbolic |")
            print("|---|---|---|---|")
        torch_rows = {"training time per epoch": "epoch_seconds", "prediction time per sample": "predict_seconds_per_sample"}
        for name, get, fmt, per_run in rows:
            a, b = get(s), get(i)
            compared = ratio(a, b) if same or not per_run else "- (other settings)"
            extra = ""
            if t:
                v = t.get(torch_rows.get(name, ""), None)
                extra = f" {fmt(v)} | {ratio(a, v)} |" if v is not None else " - | |"
            print(f"| {name} | {fmt(a)} | {fmt(b)} | {compared} |{extra}")
        extra = f" R2 {t['test_r2']:.4f} after {t['epochs']} epochs | |" if t else ""
        after = f"after {len(s['epochs'])} epochs" if same else \
            f"(symbolic {len(s['epochs'])} epochs, imperative {len(i['epochs'])})"
        print(f"| test metric {after} | {metric(s)} | {metric(i)} | |{extra}")
        print(f"| baseline | {baseline(s)} | | |" + (" | |" if t else ""))
    epoch_definitions(bench, torch)
    ablation(bench)


if __name__ == "__main__":
    main()
