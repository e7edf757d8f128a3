"""rnnc: compile, train and predict LSTM/GRU models on the CPU, from Python.

    import rnnc
    m = rnnc.compile("models/etth1_lstm.rnn")            # or rnnc.load("etth1.so")
    (x, y), (xv, yv), (xt, yt) = rnnc.datasets.load("csv", m)
    m.fit(x, y, epochs=3, validation_data=(xv, yv))
    print(m.evaluate(xt, yt))                             # {'loss': ..., 'r2': ...}
    m.save("etth1.safetensors")                           # rnnrun's checkpoint

The computation is rnnc's C++ runtime (the same training loop, data loaders,
metrics and checkpoints as rnnrun); see docs/python.md.
"""
from rnnc._rnnc import CheckpointError, CompileError, DataError, Error, LoadError, TrainingError
from rnnc.model import History, Model, compile, load
from rnnc import datasets

__version__ = "0.1.0"
__all__ = ["compile", "load", "Model", "History", "datasets", "Error", "CompileError", "LoadError", "DataError",
           "CheckpointError", "TrainingError"]
