"""compile, load, info, init, predict, state_dict, save and load_weights,
on both plans; predictions equal rnnrun's for the same parameters."""
import numpy as np
import pytest

import rnnc
from rnnc import _arrays
from conftest import IMDB_SMALL, SERIES, rnnrun, run_tool


def rnnrun_forward(model_path, x, tmp_path, *args):
    """rnnrun --forward on x (batch-major numbers in a file): the outputs."""
    inputs = tmp_path / "x.txt"
    inputs.write_text(" ".join(repr(float(v)) if x.dtype.kind == "f" else str(int(v)) for v in x.ravel()))
    out = rnnrun(model_path, "--forward", "--batch", x.shape[0], "--input", f"{_input_name(model_path)}={inputs}",
                 "--print", x.shape[0], *args).stdout
    rows = [line.split("]", 1)[1].split() for line in out.splitlines() if line.strip().startswith("[")]
    return np.array(rows, dtype=np.float64)


def _input_name(model_path):
    return "tokens" if "imdb" in str(model_path) else "x"


def some_windows(n=5, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("plan", ["symbolic", "imperative"])
def test_compile_and_info(plan):
    m = rnnc.compile(SERIES, plan=plan)
    info = m.info
    assert info["name"] == "series" and info["plan"] == plan
    assert info["compiler"] == "rnnc (JIT)"
    assert info["inputs"] == [{"name": "x", "shape": (None, 6, 3), "dtype": "float32"}]
    assert info["outputs"][0]["shape"] == (None, 1)
    assert info["targets"] == [{"name": "y", "shape": (None,), "dtype": "float32"}]
    assert [p["name"] for p in info["parameters"]] == ["h.weight_ih_l0", "h.weight_hh_l0", "h.bias_ih_l0",
                                                       "h.bias_hh_l0", "p.weight", "p.bias"]
    assert info["parameter_count"] == sum(int(np.prod(p["shape"])) for p in info["parameters"])
    assert info["loss"] == "mse" and info["optimizer"]["kind"] == "adam" and info["train"]["batch"] == 16
    assert info["data"]["kind"] == "csv" and info["target_cpu"]
    assert "series" in repr(m) and plan in repr(m)
    info["name"] = "changed"
    assert m.info["name"] == "series"  # a copy


def test_imdb_info():
    info = rnnc.compile(IMDB_SMALL).info
    assert info["inputs"] == [{"name": "tokens", "shape": (None, 32), "dtype": "int32", "vocab": 500}]
    assert info["targets"] == [{"name": "label", "shape": (None,), "dtype": "int32", "classes": 2}]


def test_init_is_rnnruns_seed():
    """init(seed) is rnnrun --seed: the model's seed (1 for series.rnn) ^ seed."""
    a, b = rnnc.compile(SERIES), rnnc.compile(SERIES)
    a.init(seed=3)
    b.init(seed=3)
    assert all((a.state_dict()[k] == v).all() for k, v in b.state_dict().items())
    b.init(seed=4)
    assert any((a.state_dict()[k] != v).any() for k, v in b.state_dict().items())
    assert a.seed == 3 and b.seed == 4


def test_predict_equals_rnnrun_forward(tmp_path):
    m = rnnc.compile(SERIES).init(seed=6)
    x = some_windows(7)
    theirs = rnnrun_forward(SERIES, x, tmp_path, "--seed", 1 ^ 6)  # --forward inits from --seed itself
    ours = m.predict(x)
    assert ours.shape == (7, 1) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("plan", ["symbolic", "imperative"])
def test_predict_with_a_checkpoint_equals_rnnrun(tmp_path, series_dir, plan):
    m = rnnc.compile(SERIES, plan=plan)
    (x, y), _, _ = rnnc.datasets.load("csv", m, data_dir=series_dir, verbose=0)
    m.fit(x, y, epochs=1, verbose=0)
    ck = tmp_path / "ck.safetensors"
    m.save(ck)
    theirs = rnnrun_forward(SERIES, x[:9], tmp_path, "--plan", plan, "--checkpoint", ck)
    np.testing.assert_allclose(m.predict(x[:9]), theirs, rtol=1e-5, atol=1e-6)


def test_both_plans_and_the_library_agree(tmp_path):
    so = tmp_path / "series.so"
    run_tool("rnnc", SERIES, "--plan=imperative", "-o", so)
    x = some_windows(20)
    outputs = [m.init(seed=2).predict(x) for m in (rnnc.compile(SERIES), rnnc.compile(SERIES, plan="imperative"),
                                                   rnnc.load(so))]
    assert rnnc.load(so).info["plan"] == "imperative"
    for other in outputs[1:]:
        np.testing.assert_allclose(other, outputs[0], rtol=1e-5, atol=1e-6)


def test_batches_threads_and_capacity():
    m = rnnc.compile(SERIES).init(seed=1)
    x = some_windows(50)
    whole = m.predict(x, batch_size=50)  # above the model's batch of 16: the instance grows
    assert (m.predict(x, batch_size=3) == whole).all()
    assert (m.predict(x) == whole).all()
    m.threads = 2
    assert (m.predict(x, batch_size=50) == whole).all()  # forward results do not depend on threads
    assert m.predict(x, threads=1).shape == (50, 1) and m.threads == 1
    assert m.predict(x[:0]).shape == (0, 1)
    assert (m.predict(x[:3], batch_size=1 << 20) == whole[:3]).all()
    assert m._session.capacity == 50  # room for the batches it runs, not for the batch_size asked


def test_inputs_converted_only_when_needed():
    info = rnnc.compile(SERIES).info
    x = some_windows(4)
    assert _arrays.as_input(info, x) is x
    for other in (x.astype(np.float64), np.asfortranarray(x), x.tolist(), x[::1, :, :]):
        converted = _arrays.as_input(info, other)
        assert converted.dtype == np.float32 and converted.flags.c_contiguous and (converted == x).all()
    ids = np.zeros((2, 32), np.int32)
    assert _arrays.as_input(rnnc.compile(IMDB_SMALL).info, ids) is ids


def test_token_ids_and_predict_on_imdb():
    m = rnnc.compile(IMDB_SMALL)
    ids = np.random.default_rng(0).integers(0, 500, size=(6, 32))
    logits = m.predict(ids)  # int64 ids, converted
    assert logits.shape == (6, 2)
    assert (m.predict(ids.astype(np.int32)) == logits).all()


def test_state_dict_round_trip_and_save_load(tmp_path):
    m = rnnc.compile(SERIES).init(seed=9)
    state = m.state_dict()
    assert list(state) == [p["name"] for p in m.info["parameters"]]
    assert state["h.weight_ih_l0"].shape == (32, 3) and state["h.weight_ih_l0"].dtype == np.float32
    state["h.weight_ih_l0"][:] = 0  # a copy: the model is unchanged
    assert (m.state_dict()["h.weight_ih_l0"] != 0).any()
    x = some_windows(5)
    before = m.predict(x)
    other = rnnc.compile(SERIES)
    other.load_state_dict(m.state_dict())
    assert (other.predict(x) == before).all()
    ck = tmp_path / "m.safetensors"
    m.save(ck)
    np.testing.assert_allclose(rnnc.compile(SERIES, plan="imperative").load_weights(ck).predict(x), before,
                               rtol=1e-5, atol=1e-6)
    lstm = m.state_dict(layer="h")
    assert sorted(lstm) == ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"]
    fresh = rnnc.compile(SERIES)
    fresh.load_state_dict(lstm, layer="h", strict=False)
    assert (fresh.state_dict()["h.weight_hh_l0"] == m.state_dict()["h.weight_hh_l0"]).all()
    missing, unexpected = fresh.load_state_dict({"p.weight": np.ones((1, 8)), "extra": np.ones(2)}, strict=False)
    assert "p.bias" in missing and unexpected == ["extra"]
    assert (fresh.state_dict()["p.weight"] == 1).all()
