"""state_dict round trips through PyTorch: torch.nn.LSTM / GRU / Linear load
it strictly and compute what predict computes; weights changed in torch load
back with load_state_dict and predict then computes torch's outputs."""
import os
import sys

import numpy as np
import pytest

import rnnc
from conftest import ROOT, with_cell

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(ROOT, "test", "lit", "interop"))
from torch_roundtrip import Model as TorchSeries  # noqa: E402  series.rnn in torch, as the lit interop test has it


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_state_dict_round_trip_through_torch(tmp_path, series_dir, cell, bidirectional):
    m = rnnc.compile(with_cell(tmp_path, cell, bidirectional))
    (x, y), _, _ = rnnc.datasets.load("csv", m, data_dir=series_dir, verbose=0)
    m.fit(x, y, epochs=1, verbose=0)
    net = TorchSeries(cell, bidirectional)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()}, strict=True)
    batch = x[:16]
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(batch)).numpy(), m.predict(batch), rtol=1e-4, atol=1e-5)
        for p in net.parameters():
            p.mul_(0.5).add_(0.01)
        expected = net(torch.from_numpy(batch)).numpy()
    m.load_state_dict(net.state_dict())  # torch tensors are taken as they are
    np.testing.assert_allclose(m.predict(batch), expected, rtol=1e-4, atol=1e-5)
    # One layer into a bare torch module, by its prefix.
    rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(3, 8, batch_first=True, bidirectional=bidirectional)
    rnn.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict("h").items()}, strict=True)
    m.load_state_dict({k: v.detach() for k, v in rnn.named_parameters()}, layer="h")


def test_torch_parameters_requiring_grad_load(tmp_path):
    m = rnnc.compile(with_cell(tmp_path, "gru", False))
    net = TorchSeries("gru", False)
    m.load_state_dict(dict(net.named_parameters()))  # requires_grad tensors: detached, not refused
    x = np.random.default_rng(0).uniform(size=(4, 6, 3)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(m.predict(x), net(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-5)
