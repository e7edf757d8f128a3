"""Checks and converts what users pass (NumPy arrays, lists, torch tensors)
into exactly what the runtime reads, with messages that name the input.

An array already of the right dtype and C-contiguous is passed on as it is
(no copy); anything else is converted once, when its dtype allows it.
"""
import numbers

import numpy as np

_INT32_MAX = np.iinfo(np.int32).max


def shape_text(shape):
    """(None, 24, 7) -> '[batch, 24, 7]'."""
    return "[" + ", ".join("batch" if d is None else str(d) for d in shape) + "]"


def _asarray(value, what):
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, possibly requiring grad
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{what}: cannot be read as an array ({e})") from None
    if a.dtype == object or a.dtype.kind in "USV":
        raise TypeError(f"{what}: expected numbers, got an array of {a.dtype} "
                        "(a ragged or non-numeric sequence?)")
    return a


def _first_outside(a, low, high):
    """The index and value of the first element of `a` outside [low, high)."""
    where = tuple(np.argwhere((a < low) | (a >= high))[0])
    return (where if len(where) > 1 else where[0]), a[where].item()


def _check_ids(a, what, high, kind):
    """Integer ids in [0, high): `kind` is 'token id' or 'class id'."""
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{what} takes integer {kind}s; got an array of {a.dtype}")
    if a.size:
        limit = high if high > 0 else _INT32_MAX + 1
        low_seen, high_seen = a.min(), a.max()
        if low_seen < 0 or high_seen >= limit:
            where, value = _first_outside(a, 0, limit)
            raise ValueError(f"{what}: {kind} {value} at index {where} is outside [0, {limit})")
    return np.ascontiguousarray(a, dtype=np.int32)


def _check_real(a, what):
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{what} takes real numbers; got an array of {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def lengths_input(info):
    """The model's lengths input (int32 [batch]: each sequence's length), or None."""
    for d in info["inputs"]:
        if d["dtype"] == "int32" and len(d["shape"]) == 1:
            return d
    return None


def single_input(info):
    """The input the data feeds (the training loop and data sets feed one,
    and the sequence lengths to a lengths input)."""
    lengths = lengths_input(info)
    data = [d for d in info["inputs"] if d is not lengths]
    if len(data) != 1:
        names = ", ".join(d["name"] for d in info["inputs"])
        raise ValueError(f"model '{info['name']}' has {len(info['inputs'])} inputs ({names}); "
                         "rnnc's Python API, like rnnrun's training loop, feeds models with one input "
                         "(and an int32 [batch] lengths input)")
    return data[0]


def _one_input(d, x):
    what = f"input '{d['name']}'"
    a = _asarray(x, what)
    want = shape_text(d["shape"])
    if a.ndim != len(d["shape"]) or tuple(a.shape[1:]) != tuple(d["shape"][1:]):
        raise ValueError(f"{what} expects shape {want} ({d['dtype']}); got an array of shape {a.shape}")
    if d["dtype"] == "int32":
        return _check_ids(a, what, d.get("vocab", 0), "token id")
    return _check_real(a, what)


def as_input(info, x):
    """x as the model's input: float32 [batch, ...] or int32 token ids; for a
    model with a lengths input, the pair (tokens, lengths) (or a dict by input
    name), lengths int32 in [1, T], one per sample."""
    d = single_input(info)
    lengths = lengths_input(info)
    if lengths is None:
        return _one_input(d, x)
    if isinstance(x, dict):
        unknown = sorted(set(x) - {d["name"], lengths["name"]})
        if unknown or len(x) != 2:
            raise ValueError(f"model '{info['name']}' takes the inputs '{d['name']}' and '{lengths['name']}'; "
                             f"got {sorted(x)}")
        x = (x[d["name"]], x[lengths["name"]])
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError(f"model '{info['name']}' takes each sequence's length: pass x as the pair "
                        f"({d['name']}, {lengths['name']})")
    tokens = _one_input(d, x[0])
    what = f"input '{lengths['name']}'"
    n = _asarray(x[1], what)
    if n.ndim != 1 or n.shape[0] != tokens.shape[0]:
        raise ValueError(f"{what} takes one length per sample ({tokens.shape[0]}); got an array of shape {n.shape}")
    if not np.issubdtype(n.dtype, np.integer):
        raise TypeError(f"{what} takes integer lengths; got an array of {n.dtype}")
    steps = d["shape"][1]
    if n.size and (n.min() < 1 or n.max() > steps):
        where, value = _first_outside(n, 1, steps + 1)
        raise ValueError(f"{what}: length {value} at index {where} is outside [1, {steps}]")
    return tokens, np.ascontiguousarray(n, dtype=np.int32)


def input_count(x):
    """The samples in what as_input returned."""
    return (x[0] if isinstance(x, tuple) else x).shape[0]


def as_target(info, y, count):
    """y as the model's target for `count` samples: one value per sample,
    class ids in [0, classes) or float32 values; (count,) or (count, 1)."""
    if not info["targets"]:
        raise ValueError(f"model '{info['name']}' has no target to train or evaluate against")
    d = info["targets"][0]
    what = f"target '{d['name']}'"
    if any(k != 1 for k in d["shape"][1:]):
        raise ValueError(f"{what} is {shape_text(d['shape'])}; the training loop feeds one target value per sample")
    a = _asarray(y, what)
    samples = a.shape[0] if a.ndim else 0
    if a.ndim == 0 or samples != count:
        raise ValueError(f"{what} has {samples} samples, but the input has {count}")
    if a.size != count:
        raise ValueError(f"{what} expects shape {shape_text(d['shape'])} (one value per sample); "
                         f"got an array of shape {a.shape}")
    a = a.reshape(count)
    if d["dtype"] == "int32":
        return _check_ids(a, what, d.get("classes", 0), "class id")
    return _check_real(a, what)


def as_parameter(name, value, shape):
    """A state dict entry as float32 of the parameter's exact shape."""
    what = f"tensor '{name}'"
    a = _asarray(value, what)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{what}: expected floating-point values, got {a.dtype}")
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise ValueError(f"{what} has shape {tuple(a.shape)}, but the model's parameter is {tuple(shape)}")
    return np.ascontiguousarray(a, dtype=np.float32)


def count_arg(value, what, low, high=None):
    """An integer argument in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f"at least {low}"
        raise ValueError(f"{what} must be {bound}, got {value}")
    return value
