"""PyTorch's side of onnx_finetune.test: an imported model fine-tuned by rnnc.

export OUT_DIR
    Writes OUT_DIR/series.onnx (nn.LSTM + nn.Linear on 6 rows of 3 features,
    the last step's prediction) and OUT_DIR/imdb.onnx (nn.Embedding(500) +
    nn.GRU + nn.Linear on 32 token ids, two classes), exported by
    torch.onnx.export at opset 14 with a dynamic batch; their state dicts
    (NAME.pt); 4 windows of inputs (series_x.txt) and torch's outputs for them
    (series_torch.txt).
check OUT_DIR NAME CHECKPOINT (--near TOL | --moved)
    Loads an rnnc checkpoint's parameters (not its optimizer.* and training.*
    state) strictly into a fresh torch module of NAME (every PyTorch name and
    shape must match) and compares it with the
    exported weights: --near TOL: every weight within TOL of torch's (training
    started from the imported weights); --moved: training changed them.
falls REPORT.json
    The training loss of the last epoch is below that of the first.
"""
import json
import os
import sys

import torch

from torch_roundtrip import load_safetensors  # rnnc checkpoints as torch tensors

VOCAB, MAXLEN, STEPS, FEATURES = 500, 32, 6, 3


class Series(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(FEATURES, 8, batch_first=True)
        self.fc = torch.nn.Linear(8, 1)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1, :])


class Imdb(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, 8)
        self.rnn = torch.nn.GRU(8, 8, batch_first=True)
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, ids):
        y, _ = self.rnn(self.embed(ids))
        return self.fc(y[:, -1, :])


MODELS = {"series": (Series, lambda: torch.randn(4, STEPS, FEATURES), "x"),
          "imdb": (Imdb, lambda: torch.randint(0, VOCAB, (4, MAXLEN)), "ids")}


def export(out):
    for k, (name, (cls, example, input_name)) in enumerate(MODELS.items()):
        torch.manual_seed(11 + k)
        model = cls().eval()
        x = example()
        torch.onnx.export(model, (x,), os.path.join(out, name + ".onnx"), opset_version=14,
                          input_names=[input_name], output_names=["y"],
                          dynamic_axes={input_name: {0: "batch"}, "y": {0: "batch"}})
        torch.save(model.state_dict(), os.path.join(out, name + ".pt"))
        if name == "series":
            with torch.no_grad():
                y = model(x)
            with open(os.path.join(out, "series_x.txt"), "w") as f:
                f.write("\n".join(repr(float(v)) for v in x.flatten().tolist()) + "\n")
            with open(os.path.join(out, "series_torch.txt"), "w") as f:
                f.write("\n".join(repr(float(v)) for v in y.flatten().tolist()) + "\n")
        print("exported", name + ".onnx")


def check(out, name, checkpoint, mode, tol):
    exported = torch.load(os.path.join(out, name + ".pt"))
    fresh = MODELS[name][0]()
    tensors = {k: v for k, v in load_safetensors(checkpoint).items() if not k.startswith(("optimizer.", "training."))}
    fresh.load_state_dict(tensors, strict=True)  # raises on any name or shape torch does not have
    change = max(float((tensors[k] - exported[k]).abs().max()) for k in exported)
    print(f"{name}: loaded {len(tensors)} tensors strictly")
    if mode == "--near":
        assert change <= tol, f"a weight is {change} away from torch's: training did not start from the import"
        print(f"{name}: every weight within {tol} of torch's")
    else:
        assert change > 1e-3, f"training changed no weight by more than {change}"
        print(f"{name}: training moved the weights")


def falls(report):
    with open(report) as f:
        epochs = json.load(f)["epochs"]
    first, last = epochs[0]["train_loss"], epochs[-1]["train_loss"]
    assert len(epochs) >= 2 and last < first, f"the training loss went from {first} to {last}"
    print(f"training loss falls over {len(epochs)} epochs")


if __name__ == "__main__":
    if sys.argv[1] == "export":
        export(sys.argv[2])
    elif sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]) if len(sys.argv) > 6 else 0)
    else:
        falls(sys.argv[2])
