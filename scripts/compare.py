#!/usr/bin/env python3
"""Prints the symbolic-versus-imperative table from rnnrun's --json reports.

usage: compare.py REPORT_DIR   (files MODEL.PLAN.json, as scripts/main.sh writes them)
"""
import json
import os
import sys


def load(directory):
    runs = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
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


def main():
    runs = load(sys.argv[1])
    rows = [
        ("training time per epoch", lambda r: epoch_seconds(r), lambda v: f"{v:.3f} s"),
        ("prediction time per sample", lambda r: r["predict_seconds_per_sample"], lambda v: f"{v * 1e6:.1f} us"),
        ("prediction time per batch", lambda r: r["predict_seconds_per_batch"], lambda v: f"{v * 1e3:.2f} ms"),
        ("model library size", lambda r: r["library_bytes"], lambda v: f"{v / 1024:.0f} KiB"),
        ("model load time", lambda r: r["load_seconds"], lambda v: f"{v * 1e3:.2f} ms"),
        ("peak resident memory", lambda r: r["peak_resident_mib"], lambda v: f"{v:.0f} MiB"),
        ("CPU utilisation", lambda r: r["cpu_utilisation"], lambda v: f"{v * 100:.0f}%"),
    ]
    for model, plans in runs.items():
        s, i = plans.get("symbolic"), plans.get("imperative")
        if not s or not i:
            continue
        print(f"\n### {model}\n")
        print(f"epoch = {s['epoch_definition']}; data: {s['data']}\n")
        print("| | rnnc symbolic | rnnc imperative | imperative / symbolic |")
        print("|---|---|---|---|")
        for name, get, fmt in rows:
            a, b = get(s), get(i)
            print(f"| {name} | {fmt(a)} | {fmt(b)} | {ratio(a, b)} |")
        print(f"| test metric after {len(s['epochs'])} epochs | {metric(s)} | {metric(i)} | |")
        print(f"| baseline | {baseline(s)} | | |")


if __name__ == "__main__":
    main()
