"""rnnc.datasets: the data sets rnnrun trains on, as NumPy arrays.

The loading, splitting, tokenization, vocabulary, windowing and min-max
scaling are rnnrun's own (runtime/train/Datasets, runtime/data), so a model
trained here on these arrays sees exactly what `rnnrun` would feed it.

    (x, y), (xv, yv), (xt, yt) = rnnc.datasets.load("imdb", model)
"""
import os
import sys

from rnnc import _arrays, _rnnc


def _print(text):
    sys.stdout.write(text)
    sys.stdout.flush()


class Dataset:
    """Three splits, each a pair (x, y) of NumPy arrays shaped for the model:
    train, validation, test (iterating gives them in that order). For a model
    with a lengths input, x is the pair (tokens, lengths): left-aligned token
    ids and each review's length.

    kind: "imdb" or "csv"; description: rnnrun's line about it; vocab (IMDB):
    id -> word, 0 is <pad> and 1 <unk>; metadata: what its checkpoints keep
    (vocabulary, normalization); target_range (CSV): the target's training
    [min, max], which the scaled y values map to [0, 1].
    """

    def __init__(self, model, raw):
        self._model = model
        self.kind = raw["kind"]
        self.description = raw["description"]
        self.vocab = raw["vocab"]
        self.metadata = raw["metadata"]
        self.classes = raw["classes"]
        self.target_range = (raw["target_min"], raw["target_max"]) if self.kind == "csv" else None
        self.train = raw["train"]
        self.validation = raw["validation"]
        self.test = raw["test"]

    def __iter__(self):
        return iter((self.train, self.validation, self.test))

    def __repr__(self):
        return f"<rnnc.datasets.Dataset {self.description}>"

    def denormalize(self, values):
        """Scaled target values (y, or predictions) back in the target's units."""
        if self.target_range is None:
            raise ValueError(f"a {self.kind} data set has no target scaling")
        return _rnnc.denormalize(values, *self.target_range)

    def encode(self, reviews):
        """IMDB: texts -> token ids with this vocabulary, as rnnrun --predict does."""
        return _encode(reviews, self.vocab, self._model)

    def windows(self, path, missing=None, na_values=()):
        """CSV: every window of another CSV file with the model's columns, scaled
        as the training split was. Returns (x, actual target in its units)."""
        return windows(path, self._model, missing, na_values)


def _name_flag(name, model):
    """load()'s name as rnnrun's --data: "" (the model's own), imdb, csv:PATH."""
    data = model._info["data"]
    if name is None:
        return ""
    name = os.fspath(name)
    if name == "imdb":
        return "imdb"
    if name == "csv":
        if data.get("kind") != "csv":
            raise _rnnc.DataError(f"model '{model._info['name']}' has no csv data block; "
                                  "give the file: load('csv:PATH', model) or load('PATH.csv', model)")
        return ""
    if name.startswith("csv:"):
        return name
    if name.endswith(".csv"):
        return "csv:" + name
    raise ValueError(f"unknown data set {name!r} (expected 'imdb', 'csv', 'csv:PATH' or a .csv path)")


def load(name, model, data_dir=None, limit=0, seed=None, validation=0.1, missing=None, na_values=(),
         verbose=1):
    """Loads a data set for `model`, as rnnrun does, and binds the model to it
    (its checkpoints then keep the vocabulary or normalization, and evaluate
    reports MAE/MAPE in the target's units).

    name: "imdb"; "csv" (the file the model's data block names); "csv:PATH" or
      "PATH.csv"; None (whatever the model's data block says).
    data_dir: where to look (default: $RNN_DATA_DIR, ./data, ../shared/data).
    limit: at most this many samples per split (rnnrun --limit).
    seed: IMDB's subset and validation hold-out (rnnrun --seed; default model.seed).
    validation: IMDB: the fraction of training reviews held out.
    missing: CSV missing cells: "error", "drop" or "ffill"; na_values: cell
      values meaning missing.
    Raises rnnc.DataError (what was looked for, and where) when it fails.
    """
    flag = _name_flag(name, model)
    limit = _arrays.count_arg(limit, "limit", 0)
    seed = model.seed if seed is None else _arrays.count_arg(seed, "seed", 0, (1 << 64) - 1)
    if not 0 <= float(validation) < 1:
        raise ValueError(f"validation must be in [0, 1), got {validation}")
    if missing not in (None, "error", "drop", "ffill"):
        raise ValueError(f"missing must be 'error', 'drop' or 'ffill', got {missing!r}")
    raw = _rnnc.load_data(model._session, flag, "" if data_dir is None else os.fspath(data_dir), limit, seed,
                          float(validation), missing or "", [str(v) for v in na_values], not verbose, _print)
    if verbose:
        _print(raw["description"] + "\n")
    return Dataset(model, raw)


def _encode(reviews, vocab, model):
    if isinstance(reviews, str):
        raise TypeError("reviews must be a list of texts, not one string")
    d = _arrays.single_input(model._info)
    if d["dtype"] != "int32" or len(d["shape"]) != 2:
        raise ValueError(f"model '{model._info['name']}' does not take token ids")
    if not vocab:
        raise ValueError(f"model '{model._info['name']}' has no vocabulary: load its data set "
                         "(rnnc.datasets.load) or a checkpoint trained on IMDB (load_weights)")
    return _rnnc.encode_reviews([str(r) for r in reviews], vocab, d["shape"][1],
                                _arrays.lengths_input(model._info) is not None)


def encode(reviews, model):
    """Texts -> token ids with the vocabulary of the model's data set or
    checkpoint, padded or truncated as rnnrun does: keep the last tokens, or,
    for a model with a lengths input, the first ones (left-aligned), and then
    the pair (tokens, lengths)."""
    return _encode(reviews, model._session.vocab, model)


def windows(path, model, missing=None, na_values=()):
    """Every window of a CSV file, scaled with the normalization of the model's
    data set or checkpoint (as rnnrun --predict FILE.csv). Returns (x, actual):
    actual is each window's target in its units."""
    x, actual, low, high = _rnnc.csv_windows(model._session, os.fspath(path), missing or "",
                                             [str(v) for v in na_values])
    return x, actual


def denormalize(values, model):
    """Scaled predictions back in the target's units (the model's CSV data set
    or checkpoint says the range)."""
    target_range = model._session.target_range
    if target_range is None:
        raise ValueError(f"model '{model._info['name']}' is bound to no scaled CSV target")
    return _rnnc.denormalize(values, *target_range)
