"""Exports PyTorch models to ONNX for rnnc's import test (onnx_import.test).

Every case is an nn.Embedding (or float features) + nn.LSTM / nn.GRU (1-2
layers, one direction or two, batch_first or not) + nn.Linear, exported with
torch.onnx.export at one of several opsets. For each case CASE, OUT_DIR/CASE/
gets model.onnx, the inputs (one value a line, as rnnrun --input reads them)
and torch's outputs (torch_outputs.txt). The case names go to OUT_DIR/cases.

usage: onnx_torch_models.py OUT_DIR
"""
import os
import sys

import torch

BATCH, STEPS, VOCAB, EMBED, FEATURES, HIDDEN, UNITS = 4, 5, 20, 6, 3, 7, 3

# (name, cell, layers, bidirectional, batch_first, token ids?, readout, opset, dynamic batch?)
CASES = [
    ("lstm_l1_uni_bf_ids", "lstm", 1, False, True, True, "last", 14, True),
    ("lstm_l2_bi_bf_ids", "lstm", 2, True, True, True, "last", 17, True),
    ("lstm_l1_bi_tf_ids", "lstm", 1, True, False, True, "last", 11, False),
    ("lstm_l2_uni_tf_feat", "lstm", 2, False, False, False, "hn", 13, True),
    ("lstm_l1_bi_bf_feat_hn", "lstm", 1, True, True, False, "hn", 9, False),
    ("gru_l1_uni_bf_ids", "gru", 1, False, True, True, "last", 14, True),
    ("gru_l2_bi_bf_ids", "gru", 2, True, True, True, "last", 11, False),
    ("gru_l1_bi_tf_feat", "gru", 1, True, False, False, "first", 17, True),
    ("gru_l2_uni_bf_feat_hn", "gru", 2, False, True, False, "hn", 15, False),
]


class Model(torch.nn.Module):
    def __init__(self, cell, layers, bidirectional, batch_first, ids, readout):
        super().__init__()
        rnn = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
        self.ids = ids
        if ids:
            self.embed = torch.nn.Embedding(VOCAB, EMBED)
        self.rnn = rnn(EMBED if ids else FEATURES, HIDDEN, num_layers=layers, bidirectional=bidirectional,
                       batch_first=batch_first)
        self.batch_first, self.bidirectional, self.readout = batch_first, bidirectional, readout
        self.fc = torch.nn.Linear(HIDDEN * (2 if bidirectional else 1), UNITS)

    def forward(self, x):
        e = self.embed(x) if self.ids else x
        if not self.batch_first:
            e = e.transpose(0, 1)
        y, state = self.rnn(e)
        if self.readout == "hn":
            h = state[0] if isinstance(state, tuple) else state
            r = torch.cat([h[-2], h[-1]], dim=1) if self.bidirectional else h[-1]
        else:
            step = -1 if self.readout == "last" else 0
            r = y[:, step, :] if self.batch_first else y[step]
        return self.fc(torch.tanh(r))


def main():
    out = sys.argv[1]
    names = []
    for k, (name, cell, layers, bi, bf, ids, readout, opset, dynamic) in enumerate(CASES):
        torch.manual_seed(100 + k)
        model = Model(cell, layers, bi, bf, ids, readout).eval()
        if ids:
            x = torch.randint(0, VOCAB, (BATCH, STEPS), dtype=torch.int64)
        else:
            x = torch.randn(BATCH, STEPS, FEATURES)
        with torch.no_grad():
            y = model(x)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        input_name = "ids" if ids else "x"
        torch.onnx.export(model, (x,), os.path.join(d, "model.onnx"), opset_version=opset, input_names=[input_name],
                          output_names=["y"], dynamic_axes={input_name: {0: "batch"}, "y": {0: "batch"}} if dynamic else None)
        with open(os.path.join(d, "input.txt"), "w") as f:
            f.write("\n".join(str(v) for v in x.flatten().tolist()) + "\n")
        with open(os.path.join(d, "input_name"), "w") as f:
            f.write(input_name + "\n")
        with open(os.path.join(d, "torch_outputs.txt"), "w") as f:
            f.write("\n".join(repr(float(v)) for v in y.flatten().tolist()) + "\n")
        names.append(name)
    with open(os.path.join(out, "cases"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"exported {len(names)} models")


if __name__ == "__main__":
    main()
