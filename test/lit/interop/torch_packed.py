"""An rnnc model with sequence lengths against torch.nn.LSTM / GRU on
pack_padded_sequence(..., enforce_sorted=False) with the same weights: the
outputs and the gradients of every parameter, through the C ABI of the
compiled model.so (ctypes), for both plans.

usage: torch_packed.py RNNC WORKDIR"""
import ctypes
import os
import subprocess
import sys

import numpy as np
import torch

RNNC, WORK = sys.argv[1], sys.argv[2]
B, T, I, H, O = 6, 7, 3, 5, 4
LENGTHS = [7, 1, 4, 7, 2, 5]  # mixed, unsorted, with 1 and T


class Desc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.c_int64 * 8), ("offset", ctypes.c_int64), ("init", ctypes.c_int32),
                ("init_scale", ctypes.c_float)]


class Info(ctypes.Structure):  # the leading fields of rnnc_model_info (abi.h)
    _fields_ = [("abi_version", ctypes.c_uint32), ("model_name", ctypes.c_char_p), ("compiler_version", ctypes.c_char_p),
                ("plan", ctypes.c_char_p), ("target_cpu", ctypes.c_char_p), ("target_features", ctypes.c_char_p),
                ("num_inputs", ctypes.c_int32), ("inputs", ctypes.POINTER(Desc)),
                ("num_outputs", ctypes.c_int32), ("outputs", ctypes.POINTER(Desc)),
                ("num_params", ctypes.c_int32), ("params", ctypes.POINTER(Desc)), ("param_elements", ctypes.c_int64)]


def model_text(cell, returns):
    head = f"input x: f32[batch, {T}, {I}]\n input lengths: i32[batch]\n"
    layer = f"h = {cell}(x, hidden={H}, layers=2, bidirectional=true, returns=\"{returns}\", lengths=lengths)\n"
    if returns == "pool":  # mean and max over each sample's steps
        layer = f"h = {cell}(x, hidden={H}, layers=2, bidirectional=true, lengths=lengths)\n"
        return f"model m {{ {head} target y: f32[batch, {O}]\n {layer} p = dense(concat(mean(h), max(h)), units={O})\n loss mse(p, y) }}"
    if returns == "last":
        return f"model m {{ {head} target y: f32[batch, {O}]\n {layer} p = dense(h, units={O})\n loss mse(p, y) }}"
    return f"model m {{ {head} target y: f32[batch, {T}, {O}]\n {layer} p = dense(h, units={O})\n loss mse(p, y) }}"


class Torch(torch.nn.Module):
    def __init__(self, cell, returns):
        super().__init__()
        self.returns = returns
        self.h = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, H, num_layers=2, bidirectional=True, batch_first=True)
        self.p = torch.nn.Linear((4 if returns == "pool" else 2) * H, O)

    def forward(self, x, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.h(packed)
        if self.returns == "last":
            h_n = state[0] if isinstance(state, tuple) else state
            return self.p(torch.cat([h_n[-2], h_n[-1]], dim=1))  # the last layer, forward then reverse
        seq, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
        if self.returns == "pool":  # the padded outputs are 0: the mean divides by the lengths, the max skips them
            mean = seq.sum(1) / lengths.to(seq.dtype).unsqueeze(1)
            pad = torch.arange(T).unsqueeze(0) >= lengths.unsqueeze(1)
            top = seq.masked_fill(pad.unsqueeze(2), float("-inf")).max(1).values
            return self.p(torch.cat([mean, top], dim=1))
        return self.p(seq)


def check(cell, returns, plan):
    torch.manual_seed(0)
    net = Torch(cell, returns).double()
    with torch.no_grad():  # weights that float32 holds exactly
        for p in net.parameters():
            p.copy_(p.float().double())
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(B, T, I)).astype(np.float32)
    for b, length in enumerate(LENGTHS):  # the padding holds garbage: it must not matter
        x[b, length:] = 9.0
    y = rng.uniform(-1, 1, size=(B, O) if returns != "sequence" else (B, T, O)).astype(np.float32)
    lengths = np.array(LENGTHS, dtype=np.int32)

    src, lib = os.path.join(WORK, "m.rnn"), os.path.join(WORK, f"m_{cell}_{returns}_{plan}.so")
    with open(src, "w") as f:
        f.write(model_text(cell, returns))
    subprocess.run([RNNC, src, "-o", lib, f"--plan={plan}"], check=True)
    so = ctypes.CDLL(lib)
    so.rnnc_model_info_get.restype = ctypes.POINTER(Info)
    so.rnnc_create.restype = ctypes.c_void_p
    so.rnnc_params.restype = ctypes.POINTER(ctypes.c_float)
    so.rnnc_gradients.restype = ctypes.POINTER(ctypes.c_float)
    so.rnnc_status_message.restype = ctypes.c_char_p
    for fn in ("rnnc_params", "rnnc_gradients", "rnnc_params_changed", "rnnc_destroy"):
        getattr(so, fn).argtypes = [ctypes.c_void_p]
    so.rnnc_forward.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
    so.rnnc_train_step.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    info = so.rnnc_model_info_get().contents
    inst = so.rnnc_create(B)
    params = so.rnnc_params(inst)
    named = dict(net.named_parameters())
    for k in range(info.num_params):
        d = info.params[k]
        value = named[d.name.decode()].detach().numpy().astype(np.float32).ravel()
        for e, v in enumerate(value):
            params[d.offset + e] = float(v)
    so.rnnc_params_changed(inst)

    inputs = (ctypes.c_void_p * 2)(x.ctypes.data, lengths.ctypes.data)
    out = np.full((B,) + y.shape[1:], np.nan, dtype=np.float32)
    outputs = (ctypes.c_void_p * 1)(out.ctypes.data)
    status = so.rnnc_forward(inst, B, inputs, outputs)
    assert status == 0, so.rnnc_status_message(status)
    xt = torch.from_numpy(x).double()
    want = net(xt, torch.from_numpy(lengths).long())
    np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=f"{cell} {returns} {plan}: outputs")

    loss = torch.nn.functional.mse_loss(want, torch.from_numpy(y).double())
    loss.backward()
    targets = (ctypes.c_void_p * 1)(y.ctypes.data)
    got_loss = ctypes.c_float(np.nan)
    status = so.rnnc_train_step(inst, B, inputs, targets, ctypes.byref(got_loss))
    assert status == 0, so.rnnc_status_message(status)
    assert abs(got_loss.value - loss.item()) <= 1e-5 * max(1, abs(loss.item())), (got_loss.value, loss.item())
    grads = so.rnnc_gradients(inst)
    for k in range(info.num_params):
        d = info.params[k]
        g = named[d.name.decode()].grad.numpy().ravel()
        mine = np.array([grads[d.offset + e] for e in range(g.size)])
        scale = max(np.abs(g).max(), 1e-3)
        np.testing.assert_allclose(mine, g, rtol=0, atol=1e-4 * scale, err_msg=f"{cell} {returns} {plan}: d {d.name.decode()}")

    lengths[1] = T + 1  # outside [1, T]: the new status, never a result
    status = so.rnnc_forward(inst, B, inputs, outputs)
    assert status == 5, status
    print(f"{cell} {returns} {plan}: outputs and gradients match torch; length {T + 1}: {so.rnnc_status_message(status).decode()}")
    so.rnnc_destroy(inst)


for cell in ("lstm", "gru"):
    for returns in ("last", "sequence", "pool"):
        for plan in ("symbolic", "imperative"):
            check(cell, returns, plan)
