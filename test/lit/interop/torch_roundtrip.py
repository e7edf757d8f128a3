"""Weights move both ways between rnnc and PyTorch.

1. Loads an rnnc checkpoint (safetensors) into torch.nn modules named as the
   .rnn model names its layers, strictly (every name and shape must match).
2. Runs them on the given inputs and writes torch's outputs.
3. Perturbs the weights and saves them as a safetensors state dict that rnnrun
   loads (written here by hand: the format is 8 bytes of header length, a JSON
   header and the raw little-endian data).

usage: torch_roundtrip.py CHECKPOINT INPUTS.txt CELL BIDIRECTIONAL OUT_DIR
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "I64": torch.int64}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        tensors[name] = torch.frombuffer(raw, dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).clone()
    return tensors


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        blob = tensors[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class Model(torch.nn.Module):
    """h = lstm/gru(x, hidden=8, bidirectional=...) over x [B, 6, 3]; p = dense(last step, units=1)."""

    def __init__(self, cell, bidirectional):
        super().__init__()
        rnn = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
        self.h = rnn(3, 8, batch_first=True, bidirectional=bidirectional)
        self.bidirectional = bidirectional
        self.p = torch.nn.Linear(16 if bidirectional else 8, 1)

    def forward(self, x):
        y, _ = self.h(x)
        if self.bidirectional:  # rnnc's returns="last": last step forward, first step reverse
            last = torch.cat([y[:, -1, :8], y[:, 0, 8:]], dim=1)
        else:
            last = y[:, -1]
        return self.p(last)


def main():
    checkpoint, inputs, cell, bidirectional, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "true", sys.argv[5]
    torch.manual_seed(0)
    model = Model(cell, bidirectional)
    state = {k: v for k, v in load_safetensors(checkpoint).items() if not k.startswith(("optimizer.", "training."))}
    model.load_state_dict(state, strict=True)
    x = torch.tensor([float(v) for v in open(inputs).read().split()]).reshape(-1, 6, 3)
    with torch.no_grad():
        for name, y in (("torch_outputs.txt", model(x)),):
            open(f"{out}/{name}", "w").write("\n".join(f"{v:.6f}" for v in y.flatten().tolist()) + "\n")
        for p in model.parameters():
            p.mul_(0.5).add_(0.01)
        open(f"{out}/torch_perturbed.txt", "w").write("\n".join(f"{v:.6f}" for v in model(x).flatten().tolist()) + "\n")
    save_safetensors(f"{out}/from_torch.safetensors", {k: v for k, v in model.state_dict().items()})
    print("loaded", len(state), "tensors strictly")


if __name__ == "__main__":  # test/python/test_torch.py imports Model
    main()
