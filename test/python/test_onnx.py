"""Models exported from PyTorch to ONNX compile with rnnc.compile, predict
torch's outputs, and carry PyTorch's parameter names: the imported
state_dict loads strictly into the torch module it came from."""
import os
import sys

import numpy as np
import pytest

import rnnc
from conftest import ROOT

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
sys.path.insert(0, os.path.join(ROOT, "test", "lit", "interop"))
from onnx_torch_models import Model  # noqa: E402  the models of the lit import test


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_export_imports_with_torch_names_and_outputs(tmp_path, cell, bidirectional):
    torch.manual_seed(3)
    net = Model(cell, 2, bidirectional, True, True, "last").eval()
    ids = torch.randint(0, 20, (4, 5), dtype=torch.int64)
    path = str(tmp_path / "net.onnx")
    torch.onnx.export(net, (ids,), path, opset_version=14, input_names=["ids"], output_names=["y"],
                      dynamic_axes={"ids": {0: "batch"}, "y": {0: "batch"}})
    m = rnnc.compile(path)
    with torch.no_grad():
        expected = net(ids).numpy()
    x = ids.numpy().astype(np.int32)
    np.testing.assert_allclose(m.predict(x), expected, rtol=1e-4, atol=1e-5)
    assert {p["init"] for p in m.info["parameters"]} == {"stored"}
    fresh = Model(cell, 2, bidirectional, True, True, "last").eval()
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()}, strict=True)
    with torch.no_grad():
        np.testing.assert_allclose(fresh(ids).numpy(), expected, rtol=1e-5, atol=1e-6)


from onnx_finetune import Series  # noqa: E402  the LSTM of the lit fine-tuning test

STUB = """// a training stub (docs/onnx.md): the import's output is y
model net {
  target t: f32[batch]
  loss mse(y, t)
  optimizer adam(lr=0.01)
  train { batch=16 epochs=6 seed=1 }
}
"""


def test_a_training_stub_fine_tunes_the_import_from_its_weights(tmp_path):
    torch.manual_seed(5)
    net = Series().eval()
    x = torch.randn(64, 6, 3)
    t = (0.5 * x[:, -1, 0] + x[:, :, 1].mean(dim=1)).numpy()
    path = str(tmp_path / "net.onnx")
    torch.onnx.export(net, (x[:4],), path, opset_version=14, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    (tmp_path / "stub.rnn").write_text(STUB)
    m = rnnc.compile(path, train=tmp_path / "stub.rnn")
    with torch.no_grad():
        np.testing.assert_allclose(m.predict(x.numpy()), net(x).numpy(), rtol=1e-4, atol=1e-5)
    history = m.fit(x.numpy(), t, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    tuned = Series()
    tuned.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()}, strict=True)
    moved = max(float((tuned.state_dict()[k] - v).abs().max()) for k, v in net.state_dict().items())
    assert moved > 1e-3
    with torch.no_grad():
        np.testing.assert_allclose(m.predict(x.numpy()), tuned(x).numpy(), rtol=1e-4, atol=1e-5)


def test_a_bad_training_stub_is_a_compile_error_at_its_line(tmp_path):
    torch.manual_seed(5)
    path = str(tmp_path / "net.onnx")
    torch.onnx.export(Series().eval(), (torch.randn(4, 6, 3),), path, opset_version=14, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    (tmp_path / "stub.rnn").write_text(STUB.replace("mse(y, t)", "mse(out, t)"))
    with pytest.raises(rnnc.CompileError, match=r"stub.rnn:4:12: error: undefined name 'out'.*output 'y'"):
        rnnc.compile(path, train=tmp_path / "stub.rnn")
