"""fit, evaluate, save and resume give what rnnrun gives for the same model,
data, seed and settings: the same checkpoint bytes, the same per-epoch
losses, the same test metrics; Ctrl-C stops after a step with a state that
resumes bit-exactly."""
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

import rnnc
from conftest import IMDB_SMALL, SERIES, rnnrun, rnnrun_json, run_tool


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def load_series(model, series_dir):
    return rnnc.datasets.load("csv", model, data_dir=series_dir, verbose=0)


def check_epochs(history, report):
    """Per-epoch train and validation figures equal rnnrun's (exactly)."""
    assert history.history["loss"] == [e["train_loss"] for e in report["epochs"]]
    assert history.history["val_loss"] == [e["validation"]["loss"] for e in report["epochs"]]
    key = "accuracy" if "accuracy" in report["epochs"][0]["validation"] else "r2"
    assert history.history["val_" + key] == [e["validation"][key] for e in report["epochs"]]


def check_scores(scores, reported):
    for key, value in scores.items():
        assert value == pytest.approx(reported[key], rel=1e-12, abs=1e-12), key


@pytest.mark.parametrize("plan", ["symbolic", "imperative"])
def test_fit_gives_rnnruns_checkpoint_bits(tmp_path, series_dir, plan):
    theirs, ours = tmp_path / "rnnrun.safetensors", tmp_path / "python.safetensors"
    report = rnnrun_json(SERIES, "--plan", plan, "--data-dir", series_dir, "--epochs", 3, "--seed", 5,
                         "--test-last", "--checkpoint", theirs)
    m = rnnc.compile(SERIES, plan=plan)
    m.init(seed=5)
    (x, y), validation, test = load_series(m, series_dir)
    history = m.fit(x, y, epochs=3, validation_data=validation, verbose=0)
    m.save(ours)
    assert same_bytes(ours, theirs)
    check_epochs(history, report)
    check_scores(m.evaluate(*test), report["test"])


def test_threads_checkpoint_and_best_as_rnnrun(tmp_path, series_dir):
    """threads=2, checkpoint=PATH (each epoch, and the best as PATH.best) and lr."""
    theirs, ours = tmp_path / "rnnrun.safetensors", tmp_path / "python.safetensors"
    report = rnnrun_json(SERIES, "--data-dir", series_dir, "--epochs", 6, "--lr", 1.0, "--threads", 2, "--batch", 8,
                         "--checkpoint", theirs)
    m = rnnc.compile(SERIES)
    m.init()
    (x, y), validation, test = load_series(m, series_dir)
    history = m.fit(x, y, epochs=6, batch_size=8, lr=1.0, threads=2, validation_data=validation, checkpoint=ours,
                    verbose=0)
    assert history.checkpoint == str(ours)
    assert same_bytes(ours, theirs)
    assert same_bytes(f"{ours}.best", f"{theirs}.best")
    check_epochs(history, report)


def test_restore_best_puts_back_the_best_epoch(tmp_path, series_dir):
    """restore_best=True ends with the parameters rnnrun scores the test split
    with (those of its .best checkpoint)."""
    ck = tmp_path / "ck.safetensors"
    report = rnnrun_json(SERIES, "--data-dir", series_dir, "--epochs", 8, "--lr", 1.0, "--checkpoint", ck)
    m = rnnc.compile(SERIES)
    (x, y), validation, test = load_series(m, series_dir)
    history = m.fit(x, y, epochs=8, lr=1.0, validation_data=validation, restore_best=True, verbose=0)
    best = min(range(8), key=lambda i: history.history["val_loss"][i]) + 1
    assert history.best_epoch == best
    check_scores(m.evaluate(*test), report["test"])
    reference = rnnc.compile(SERIES).load_weights(f"{ck}.best")
    for name, value in reference.state_dict().items():
        assert (m.state_dict()[name] == value).all(), name


def test_shared_library_gives_the_same_bits(tmp_path, series_dir):
    so = tmp_path / "series.so"
    run_tool("rnnc", SERIES, "-o", so)
    theirs, ours = tmp_path / "rnnrun.safetensors", tmp_path / "python.safetensors"
    rnnrun(so, "--data-dir", series_dir, "--epochs", 2, "-q", "--checkpoint", theirs)
    m = rnnc.load(so)
    assert m.info["compiler"].startswith("rnnc ")
    (x, y), validation, _ = load_series(m, series_dir)
    m.fit(x, y, epochs=2, validation_data=validation, verbose=0)
    m.save(ours)
    assert same_bytes(ours, theirs)


def test_imdb_fit_and_evaluate_as_rnnrun(tmp_path, imdb_dir):
    theirs, ours = tmp_path / "rnnrun.safetensors", tmp_path / "python.safetensors"
    report = rnnrun_json(IMDB_SMALL, "--data-dir", imdb_dir, "--epochs", 3, "--batch", 16, "--lr", 0.03, "--seed", 3,
                         "--test-last", "--checkpoint", theirs)
    m = rnnc.compile(IMDB_SMALL).init(seed=3)
    data = rnnc.datasets.load("imdb", m, data_dir=imdb_dir, verbose=0)
    (x, y), validation, test = data
    history = m.fit(x, y, epochs=3, batch_size=16, lr=0.03, validation_data=validation, verbose=0)
    m.save(ours)
    assert same_bytes(ours, theirs)  # the vocabulary in its metadata included
    check_epochs(history, report)
    check_scores(m.evaluate(*test, batch_size=16), report["test"])


def test_fit_continues_like_rnnrun_resume(tmp_path, series_dir):
    """Two fits (initial_epoch), a Python checkpoint resumed by rnnrun, and an
    rnnrun checkpoint resumed by fit(resume=True) all end where one
    uninterrupted rnnrun run does."""
    whole = tmp_path / "whole.safetensors"
    rnnrun(SERIES, "--data-dir", series_dir, "--epochs", 4, "-q", "--checkpoint", whole)

    m = rnnc.compile(SERIES)
    (x, y), validation, _ = load_series(m, series_dir)
    m.fit(x, y, epochs=2, validation_data=validation, verbose=0)
    half = tmp_path / "half.safetensors"
    m.save(half)
    history = m.fit(x, y, epochs=4, initial_epoch=2, validation_data=validation, verbose=0)
    assert history.epoch == [2, 3]
    m.save(tmp_path / "two_fits.safetensors")
    assert same_bytes(tmp_path / "two_fits.safetensors", whole)

    resumed = tmp_path / "resumed.safetensors"
    os.link(half, resumed)
    rnnrun(SERIES, "--data-dir", series_dir, "--epochs", 4, "-q", "--resume", "--checkpoint", resumed)
    assert same_bytes(resumed, whole)

    m2 = rnnc.compile(SERIES).load_weights(half)
    load_series(m2, series_dir)
    m2.fit(x, y, epochs=4, resume=True, validation_data=validation, verbose=0)
    m2.save(tmp_path / "fit_resumed.safetensors")
    assert same_bytes(tmp_path / "fit_resumed.safetensors", whole)


def test_evaluate_equals_rnnrun_eval_of_a_saved_model(tmp_path, series_dir):
    m = rnnc.compile(SERIES)
    (x, y), validation, test = load_series(m, series_dir)
    m.fit(x, y, epochs=2, verbose=0)
    ck = tmp_path / "ck.safetensors"
    m.save(ck)
    report = rnnrun_json(SERIES, "--data-dir", series_dir, "--eval", "--checkpoint", ck)
    check_scores(m.evaluate(*test), report["test"])
    scores = m.evaluate(*test)
    assert set(scores) == {"loss", "r2", "mae", "mape"}


def test_progress_lines_are_rnnruns(capsys, series_dir):
    m = rnnc.compile(SERIES)
    (x, y), validation, _ = load_series(m, series_dir)
    m.fit(x, y, epochs=2, validation_data=validation)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for k, line in enumerate(lines):
        assert re.fullmatch(rf"epoch {k + 1}/2: train loss [0-9.]+, [0-9.]+ s \([0-9]+ samples/s\); "
                            r"validation loss [0-9.]+, R2 -?[0-9.]+", line), line
    m.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_history_and_defaults(series_dir):
    m = rnnc.compile(SERIES)
    (x, y), validation, _ = load_series(m, series_dir)
    history = m.fit(x, y, validation_data=validation, verbose=0)  # the model's train block: 2 epochs
    assert m.history is history
    assert history.epoch == [0, 1]
    assert set(history.history) == {"loss", "val_loss", "val_r2", "val_mae", "val_mape", "seconds",
                                     "samples_per_second"}
    assert not history.interrupted
    assert m.fit(x, y, epochs=1, verbose=0).history.keys() == {"loss", "seconds", "samples_per_second"}


INTERRUPTED_RUN = """
import sys
import rnnc
m = rnnc.compile({model!r})
data = rnnc.datasets.load("csv", m, data_dir={data!r}, verbose=0)
print("ready", flush=True)
try:
    m.fit(*data.train, epochs=1000000, validation_data=data.validation, verbose=0)
except KeyboardInterrupt as e:
    m.save({checkpoint!r})
    epoch, step, seed = m._session.progress
    print("interrupted", epoch, step, len(m.history.epoch), "|", e, flush=True)
    m.fit(*data.train, epochs=1, verbose=0)  # the next fit trains normally
    print("trained again", len(m.history.epoch), flush=True)
    sys.exit(0)
sys.exit(1)
"""


def test_ctrl_c_stops_after_a_step_and_resumes_exactly(tmp_path, series_dir):
    ck = tmp_path / "interrupted.safetensors"
    script = INTERRUPTED_RUN.format(model=SERIES, data=str(series_dir), checkpoint=str(ck))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    first, second = out.strip().splitlines()
    fields = first.split("|")[0].split()
    epoch, step, epochs_done = int(fields[1]), int(fields[2]), int(fields[3])
    assert epochs_done == epoch
    assert "the parameters are those after that step" in first
    assert second == "trained again 1"
    # rnnrun continues the Python checkpoint to the same bits as one run.
    target = epoch + 2
    whole = tmp_path / "whole.safetensors"
    rnnrun(SERIES, "--data-dir", series_dir, "--epochs", target, "-q", "--checkpoint", whole)
    rnnrun(SERIES, "--data-dir", series_dir, "--epochs", target, "-q", "--resume", "--checkpoint", ck)
    assert same_bytes(ck, whole)
    assert step >= 0


def test_fit_releases_the_gil_and_guards_its_model(series_dir, monkeypatch):
    """Other Python threads run while fit trains; the model refuses a second
    call meanwhile instead of sharing its instance."""
    m = rnnc.compile(SERIES)
    (x, y), _, _ = load_series(m, series_dir)
    started = threading.Event()

    class Output(io.StringIO):
        def write(self, text):
            started.set()
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Output())
    worker = threading.Thread(target=m.fit, args=(x, y), kwargs={"epochs": 300, "verbose": 2})
    worker.start()
    assert started.wait(60)
    with pytest.raises(RuntimeError, match="busy in another thread"):
        m.predict(x[:2])
    worker.join()
    assert len(m.history.epoch) == 300
    assert m.predict(x[:2]).shape == (2, 1)
