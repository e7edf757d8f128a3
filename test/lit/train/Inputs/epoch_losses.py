"""Prints the training loss of each epoch of rnnrun --json reports, one line
per report, to compare runs: epoch_losses.py A.json [B.json ...]."""
import json
import sys

for path in sys.argv[1:]:
    with open(path) as f:
        print(" ".join(repr(e["train_loss"]) for e in json.load(f)["epochs"]))
