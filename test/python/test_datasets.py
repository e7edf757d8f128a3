"""rnnc.datasets gives the splits, vocabulary, windows and scaling rnnrun
uses (rnnrun's own loaders), and its tokenization and normalization for
prediction on new text and new CSV files."""
import csv
import io
import subprocess
import sys

import numpy as np
import pytest

import rnnc
from conftest import IMDB_SMALL, IMDB_SMALL_LEN, INPUTS, SERIES, rnnrun


def description_of(model_path, data_dir):
    """The line rnnrun prints about the data it loaded."""
    err = rnnrun(model_path, "--data-dir", data_dir, "--epochs", 0).stderr
    return [line for line in err.splitlines() if "training" in line and "test" in line][0]


def test_csv_splits_are_rnnruns(series_dir):
    m = rnnc.compile(SERIES)
    data = rnnc.datasets.load("csv", m, data_dir=series_dir, verbose=0)
    assert data.description == description_of(SERIES, series_dir)
    assert data.kind == "csv" and data.vocab == [] and data.classes == 0
    (x, y), (xv, yv), (xt, yt) = data
    assert x.shape == (234, 6, 3) and x.dtype == np.float32 and y.shape == (234,) and y.dtype == np.float32
    assert len(xv) == len(yv) == len(xt) == len(yt) == 74
    assert x.min() >= 0 and x.max() <= 1 and y.min() >= 0 and y.max() <= 1  # scaled on the training rows
    # The windows: y of window i is the target column of the row after it,
    # which is also the last feature of window i + 1's last row.
    assert (x[1:, -1, 2] == y[:-1]).all()
    low, high = data.target_range
    raw = [float(r["target"]) for r in csv.DictReader(open(series_dir / "series.csv"))]
    np.testing.assert_allclose(data.denormalize(y), raw[6:240], rtol=1e-6)
    assert low == pytest.approx(min(raw[:240]), rel=1e-9) and high == pytest.approx(max(raw[:240]), rel=1e-9)
    assert set(data.metadata) == {"data", "normalization"}
    limited = rnnc.datasets.load(None, m, data_dir=series_dir, limit=10, verbose=0)
    assert [len(s[0]) for s in limited] == [10, 10, 10]
    assert (limited.train[0] == x[:10]).all()


def test_imdb_splits_and_vocabulary_are_rnnruns(imdb_dir):
    m = rnnc.compile(IMDB_SMALL)
    data = rnnc.datasets.load("imdb", m, data_dir=imdb_dir, verbose=0)
    # (whichever loads second reads the tokenized set from the cache, and says so)
    assert description_of(IMDB_SMALL, imdb_dir).replace(", cached", "") == data.description.replace(", cached", "")
    (x, y), (xv, yv), (xt, yt) = data
    assert x.shape == (108, 32) and x.dtype == np.int32 and y.dtype == np.int32
    assert len(xv) == 12 and len(xt) == 120
    assert data.vocab[:2] == ["<pad>", "<unk>"] and len(data.vocab) <= 500
    assert set(np.unique(y)) == {0, 1}
    assert set(data.metadata) == {"data", "vocab", "maxlen"}
    other_seed = rnnc.datasets.load("imdb", m, data_dir=imdb_dir, seed=1, verbose=0)
    assert not (other_seed.train[0] == x).all()  # the validation hold-out follows the seed
    assert other_seed.vocab == data.vocab
    quiet_run = rnnc.datasets.load("imdb", m, data_dir=imdb_dir, validation=0.5, verbose=0)
    assert len(quiet_run.validation[0]) == 60


def test_encode_and_predict_match_rnnrun_predict(tmp_path, imdb_dir):
    m = rnnc.compile(IMDB_SMALL)
    data = rnnc.datasets.load("imdb", m, data_dir=imdb_dir, verbose=0)
    m.fit(*data.train, epochs=10, batch_size=16, lr=0.03, verbose=0)
    ck = tmp_path / "ck.safetensors"
    m.save(ck)
    reviews = ["A wonderful, brilliant film. Loved it!", "Awful and boring, the worst plot.",
               "<br />Unheard-of words: zyzzyva, don't"]
    ids = data.encode(reviews)
    assert ids.shape == (3, 32) and ids.dtype == np.int32
    assert (ids[:, :20] == 0).all()  # padded at the front, as Keras' pad_sequences
    # A model that only read the checkpoint encodes the same way.
    reloaded = rnnc.compile(IMDB_SMALL).load_weights(ck)
    assert (rnnc.datasets.encode(reviews, reloaded) == ids).all()
    logits = reloaded.predict(ids).astype(np.float64)
    positive = 1 / (1 + np.exp(logits[:, 0] - logits[:, 1]))
    out = rnnrun(IMDB_SMALL, "--data-dir", imdb_dir, "--predict", "-", "--checkpoint", ck,
                 input="\n".join(reviews) + "\n").stdout
    rows = list(csv.reader(io.StringIO(out)))[1:]
    np.testing.assert_allclose(positive, [float(r[1]) for r in rows], rtol=1e-5)
    assert [r[0] for r in rows] == ["pos" if p >= 0.5 else "neg" for p in positive]


def test_imdb_with_lengths_is_left_aligned_and_trains_as_rnnrun(tmp_path, imdb_dir):
    m = rnnc.compile(IMDB_SMALL_LEN)
    data = rnnc.datasets.load("imdb", m, data_dir=imdb_dir, verbose=0)
    assert description_of(IMDB_SMALL_LEN, imdb_dir).replace(", cached", "") == data.description.replace(", cached", "")
    (x, y), (xv, yv), (xt, yt) = data
    tokens, lengths = x
    assert tokens.shape == (108, 32) and tokens.dtype == np.int32 and lengths.shape == (108,)
    assert lengths.dtype == np.int32 and lengths.min() >= 1 and lengths.max() == 32
    steps = np.arange(32)
    assert ((tokens != 0) == (steps[None, :] < lengths[:, None])).all()  # step 0 is the first word
    # The same reviews as the padded layout, moved to the front (those that fit).
    (padded, _), _, _ = rnnc.datasets.load("imdb", rnnc.compile(IMDB_SMALL), data_dir=imdb_dir, verbose=0)
    fits = lengths < 32
    assert all((tokens[i, :n] == padded[i, 32 - n:]).all() for i, n in zip(np.flatnonzero(fits), lengths[fits]))
    # fit buckets the batches (the model's default) reproducibly from the seed
    # (each run on a fresh model: init() keeps the optimizer's state).
    def losses(seed):
        fresh = rnnc.compile(IMDB_SMALL_LEN)
        fresh.init(seed=1)
        return fresh.fit(x, y, epochs=2, batch_size=16, seed=seed, verbose=0).history["loss"]
    first = losses(3)
    assert losses(3) == first and losses(4) != first
    m.fit(x, y, epochs=1, verbose=0)
    reviews = ["A wonderful, brilliant film. Loved it!", "Awful."]
    ids, n = data.encode(reviews)
    assert list(n) == [6, 1] and (ids[1, 1:] == 0).all() and ids[0, 0] != 0
    assert m.predict((ids, n)).shape == (2, 2)
    assert m.predict({"tokens": ids, "lengths": n}).shape == (2, 2)
    with pytest.raises(TypeError, match=r"pass x as the pair \(tokens, lengths\)"):
        m.predict(ids)
    with pytest.raises(ValueError, match=r"length 33 at index 1 is outside \[1, 32\]"):
        m.predict((ids, np.array([3, 33])))
    with pytest.raises(ValueError, match=r"length 0 at index 0"):
        m.evaluate((ids, np.array([0, 3])), np.array([1, 0]))


def test_windows_of_a_new_csv_match_rnnrun_predict(tmp_path, series_dir):
    m = rnnc.compile(SERIES)
    data = rnnc.datasets.load("csv", m, data_dir=series_dir, verbose=0)
    m.fit(*data.train, epochs=2, verbose=0)
    ck = tmp_path / "ck.safetensors"
    m.save(ck)
    new = tmp_path / "new.csv"
    subprocess.run([sys.executable, f"{INPUTS}/make_series.py", str(new), "30"], check=True)
    x, actual = data.windows(new)
    assert x.shape == (24, 6, 3) and actual.shape == (24,)
    predictions = data.denormalize(m.predict(x)[:, 0])
    out = rnnrun(SERIES, "--data-dir", series_dir, "--predict", new, "--checkpoint", ck).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    np.testing.assert_allclose(predictions, [float(r["prediction"]) for r in rows], rtol=1e-5)
    np.testing.assert_allclose(actual, [float(r["actual"]) for r in rows], rtol=1e-5)
    reloaded = rnnc.compile(SERIES).load_weights(ck)  # the normalization comes with the checkpoint
    x2, _ = rnnc.datasets.windows(new, reloaded)
    assert (x2 == x).all()
    np.testing.assert_allclose(rnnc.datasets.denormalize(reloaded.predict(x2)[:, 0], reloaded), predictions,
                               rtol=1e-6)


def test_evaluate_reports_errors_in_the_targets_units(series_dir):
    m = rnnc.compile(SERIES)
    data = rnnc.datasets.load("csv", m, data_dir=series_dir, verbose=0)
    xt, yt = data.test
    scores = m.evaluate(xt, yt)
    predictions = data.denormalize(m.predict(xt)[:, 0].astype(np.float64))
    assert scores["mae"] == pytest.approx(np.mean(np.abs(predictions - data.denormalize(yt))), rel=1e-5)


def test_verbose_load_prints_rnnruns_line(capsys, series_dir):
    m = rnnc.compile(SERIES)
    data = rnnc.datasets.load("csv", m, data_dir=series_dir)
    assert capsys.readouterr().out == data.description + "\n"
    assert repr(data).startswith("<rnnc.datasets.Dataset ")
