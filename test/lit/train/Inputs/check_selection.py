"""Checks rnnrun's model selection (test/lit/train/model_selection.test):
run.json's test_epoch is the epoch of lowest validation loss (absent when that
is the last epoch), and the test R2 reported for it is what --eval gives with
the .best checkpoint."""
import json
import re
import sys

run = json.load(open(sys.argv[1]))
report, best_eval = open(sys.argv[2]).read(), open(sys.argv[3]).read()
losses = [e["validation"]["loss"] for e in run["epochs"]]
best = min(range(len(losses)), key=lambda i: losses[i]) + 1
if best == len(losses):
    assert "test_epoch" not in run, run
    assert "lowest validation loss" not in report, report
else:
    assert run["test_epoch"] == best, (run["test_epoch"], best, losses)
    assert "test_last_epoch" in run, run
    assert f"test (epoch {best}: lowest validation loss)" in report, report
    assert "test (last epoch)" in report, report
r2 = float(re.search(r"\| test\s*\| loss [0-9.]+, R2 (-?[0-9.]+)", best_eval).group(1))
assert abs(r2 - run["test"]["r2"]) < 1e-3, (r2, run["test"]["r2"])
print(f"selection ok (best epoch {best} of {len(losses)})")
