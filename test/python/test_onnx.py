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
