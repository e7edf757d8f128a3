"""Bad inputs raise a Python exception that names what is wrong (the input,
the tensor, the file) and what was expected; nothing crashes and nothing
changes."""
import numpy as np
import pytest

import rnnc
from conftest import IMDB_SMALL, OTHER, SERIES, rnnrun


@pytest.fixture(scope="module")
def series():
    return rnnc.compile(SERIES)


@pytest.fixture(scope="module")
def imdb():
    return rnnc.compile(IMDB_SMALL)


def windows(n):
    return np.zeros((n, 6, 3), np.float32)


@pytest.mark.parametrize("x, error, message", [
    (np.zeros((4, 6, 2), np.float32), ValueError, r"input 'x' expects shape \[batch, 6, 3\] \(float32\); got an array of shape \(4, 6, 2\)"),
    (np.zeros((6, 3), np.float32), ValueError, r"input 'x' expects shape \[batch, 6, 3\]"),
    (np.zeros((4, 6, 3), np.complex64), TypeError, r"input 'x' takes real numbers; got an array of complex64"),
    (np.array([["a"] * 3] * 6), TypeError, r"input 'x': expected numbers"),
    ([[[0.0] * 3] * 6, [[0.0] * 3] * 5], ValueError, r"input 'x': cannot be read as an array"),
])
def test_bad_float_inputs(series, x, error, message):
    with pytest.raises(error, match=message):
        series.predict(x)


@pytest.mark.parametrize("ids, error, message", [
    (np.full((2, 32), 500), ValueError, r"input 'tokens': token id 500 at index \(0, 0\) is outside \[0, 500\)"),
    (np.array([[1] * 31 + [-3]]), ValueError, r"token id -3 at index \(0, 31\) is outside \[0, 500\)"),
    (np.full((2, 32), 2**40), ValueError, r"token id 1099511627776 at index \(0, 0\)"),
    (np.zeros((2, 32), np.float32), TypeError, r"input 'tokens' takes integer token ids; got an array of float32"),
    (np.zeros((2, 31), np.int32), ValueError, r"input 'tokens' expects shape \[batch, 32\] \(int32\)"),
])
def test_bad_token_ids(imdb, ids, error, message):
    with pytest.raises(error, match=message):
        imdb.predict(ids)


def test_bad_targets(series, imdb):
    with pytest.raises(ValueError, match=r"target 'y' has 3 samples, but the input has 4"):
        series.fit(windows(4), np.zeros(3), verbose=0)
    with pytest.raises(ValueError, match=r"target 'y' expects shape \[batch\] \(one value per sample\); got an array of shape \(4, 2\)"):
        series.evaluate(windows(4), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"target 'label': class id 2 at index 1 is outside \[0, 2\)"):
        imdb.fit(np.zeros((3, 32), np.int32), np.array([0, 2, 1]), verbose=0)
    with pytest.raises(TypeError, match=r"target 'label' takes integer class ids; got an array of float64"):
        imdb.evaluate(np.zeros((3, 32), np.int32), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="validation_data must be a pair"):
        series.fit(windows(4), np.zeros(4), validation_data=windows(4), verbose=0)
    with pytest.raises(ValueError, match="no training samples"):
        series.fit(windows(0), np.zeros(0), verbose=0)
    series.evaluate(windows(4), np.zeros((4, 1)))  # (n, 1) is accepted for a [batch] target


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.predict(windows(2), batch_size=0), ValueError, "batch_size must be in"),
    (lambda m: m.predict(windows(2), batch_size=2.5), TypeError, "batch_size must be an integer"),
    (lambda m: m.fit(windows(2), np.zeros(2), epochs=-1), ValueError, "epochs must be at least 0"),
    (lambda m: m.fit(windows(2), np.zeros(2), lr=0), ValueError, "lr must be > 0"),
    (lambda m: m.fit(windows(2), np.zeros(2), verbose=3), ValueError, "verbose must be 0, 1 or 2"),
    (lambda m: m.fit(windows(2), np.zeros(2), resume=True, initial_epoch=1), ValueError, "not both"),
    (lambda m: m.predict(windows(2), threads=0), ValueError, r"threads must be in \[1, 64\]"),
    (lambda m: m.init(seed=-1), ValueError, "seed must be in"),
    (lambda m: m.state_dict(layer="nope"), KeyError, "has no layer 'nope'"),
])
def test_bad_arguments(series, call, error, message):
    with pytest.raises(error, match=message):
        call(series)


def test_a_model_without_a_loss(tmp_path):
    path = tmp_path / "forward_only.rnn"
    path.write_text("model forward_only {\n  input x: f32[batch, 6, 3]\n  h = gru(x, hidden=4, returns=\"last\")\n"
                    "  p = dense(h, units=2)\n  output p\n}\n")
    m = rnnc.compile(path)
    assert m.predict(windows(3)).shape == (3, 2)
    with pytest.raises(ValueError, match="has no target"):
        m.fit(windows(3), np.zeros(3), verbose=0)


def test_training_that_diverges_raises(series_dir):
    m = rnnc.compile(SERIES)
    (x, y), _, _ = rnnc.datasets.load("csv", m, data_dir=series_dir, verbose=0)
    with pytest.raises(rnnc.TrainingError, match="the loss is"):
        m.fit(x * 1e30, y, epochs=1, lr=1e30, verbose=0)
    assert m.history is not None


def test_compile_errors(tmp_path):
    bad = tmp_path / "bad.rnn"
    bad.write_text("model bad {\n  input x: f32[batch, 4]\n  h = lstn(x, hidden=3)\n}\n")
    with pytest.raises(rnnc.CompileError, match=r"bad.rnn:3:7: error: unknown layer 'lstn'") as e:
        rnnc.compile(bad)
    assert isinstance(e.value, ValueError) and isinstance(e.value, rnnc.Error)
    with pytest.raises(rnnc.CompileError, match="missing.rnn"):
        rnnc.compile(tmp_path / "missing.rnn")
    with pytest.raises(ValueError, match="plan must be 'symbolic' or 'imperative'"):
        rnnc.compile(SERIES, plan="eager")


def test_load_errors(tmp_path):
    with pytest.raises(rnnc.LoadError, match="missing.so") as e:
        rnnc.load(tmp_path / "missing.so")
    assert isinstance(e.value, OSError)
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"\x7fELF not really")
    with pytest.raises(rnnc.LoadError, match="junk.so"):
        rnnc.load(junk)


def test_checkpoint_errors(tmp_path, series_dir):
    ck = tmp_path / "series.safetensors"
    rnnrun(SERIES, "--data-dir", series_dir, "--epochs", 1, "-q", "--checkpoint", ck)
    other = rnnc.compile(OTHER)
    before = other.state_dict()
    with pytest.raises(rnnc.CheckpointError, match=r"series.safetensors: checkpoint of model 'series', not of 'other'"):
        other.load_weights(ck)
    with pytest.raises(rnnc.CheckpointError, match="nothing.safetensors"):
        other.load_weights(tmp_path / "nothing.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(ck.read_bytes()[:100])
    with pytest.raises(rnnc.CheckpointError, match="truncated.safetensors"):
        other.load_weights(truncated)
    with pytest.raises(rnnc.CheckpointError, match="cannot|directory"):
        other.save(tmp_path / "no" / "such" / "dir.safetensors")
    with pytest.raises(rnnc.CheckpointError, match="is not a writable directory"):  # before any training
        other.fit(np.zeros((4, 6, 3)), np.zeros(4), checkpoint=tmp_path / "no" / "ck.safetensors", verbose=0)
    assert not (tmp_path / "no").exists()
    state = other.state_dict()
    with pytest.raises(rnnc.CheckpointError, match=r"missing 'p.bias'"):
        other.load_state_dict({k: v for k, v in state.items() if k != "p.bias"})
    with pytest.raises(rnnc.CheckpointError, match=r"unexpected 'q.weight'"):
        other.load_state_dict({**state, "q.weight": np.zeros(3)})
    with pytest.raises(ValueError, match=r"tensor 'p.weight' has shape \(1, 8\), but the model's parameter is \(1, 16\)"):
        other.load_state_dict({**state, "p.weight": np.zeros((1, 8))})
    with pytest.raises(TypeError, match=r"tensor 'p.bias': expected floating-point values"):
        other.load_state_dict({**state, "p.bias": np.array([True])})
    after = other.state_dict()
    assert all((after[k] == v).all() for k, v in before.items())  # nothing changed


def test_data_errors(tmp_path, series):
    with pytest.raises(rnnc.DataError, match=r"the CSV file 'series.csv' is not in the data directory; looked in:"):
        rnnc.datasets.load("csv", series, data_dir=tmp_path, verbose=0)
    with pytest.raises(rnnc.DataError, match="the IMDB data set is not in the data directory"):
        rnnc.datasets.load("imdb", rnnc.compile(IMDB_SMALL), data_dir=tmp_path, verbose=0)
    with pytest.raises(rnnc.DataError, match="a CSV series feeds windows"):
        rnnc.datasets.load(str(tmp_path / "x.csv"), rnnc.compile(IMDB_SMALL), verbose=0)
    with pytest.raises(ValueError, match="unknown data set 'mnist'"):
        rnnc.datasets.load("mnist", series)
    with pytest.raises(ValueError, match="has no vocabulary"):
        rnnc.datasets.encode(["a review"], rnnc.compile(IMDB_SMALL))
    with pytest.raises(rnnc.DataError, match="holds no CSV normalization"):
        rnnc.datasets.windows(tmp_path / "x.csv", rnnc.compile(SERIES))
