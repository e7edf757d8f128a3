"""Writes two rnnrun --json reports (m.symbolic.json, m.imperative.json) for compare.py's test:
'same' gives both plans the same epochs and data, 'other' gives the imperative plan fewer samples
and epochs."""
import json
import os
import sys

out, kind = sys.argv[1], sys.argv[2]


def report(plan, seconds, epochs, definition, library, memory):
    return {"plan": plan, "model": "m", "data": "d", "epoch_definition": definition,
            "epochs": [{"seconds": seconds}] * epochs, "test": {"accuracy": 0.8},
            "baseline": {"name": "majority class", "scores": {"accuracy": 0.5}},
            "predict_seconds_per_sample": seconds / 1000, "predict_seconds_per_batch": seconds / 10,
            "library_bytes": library, "load_seconds": 0.001, "peak_resident_mib": memory, "cpu_utilisation": 1.0}


steps = "100 samples in 4 optimizer steps of batch 25"
other = steps if kind == "same" else "10 samples in 1 optimizer steps of batch 10"
runs = {"symbolic": report("symbolic", 1.0, 2, steps, 1024, 100),
        "imperative": report("imperative", 3.0, 2 if kind == "same" else 1, other, 4096, 200)}
for plan, run in runs.items():
    with open(os.path.join(out, f"m.{plan}.json"), "w") as f:
        json.dump(run, f)
