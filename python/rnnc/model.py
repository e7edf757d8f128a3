"""rnnc.Model: a compiled model, trained and run from Python with NumPy arrays.

Everything a Model computes is done by rnnc's C++ runtime (the _rnnc
extension): the training loop, prediction and metrics of runtime/train, the
checkpoints of runtime/state, the model's own compiled code. This
module adds the Pythonic surface: defaults, argument checks, History.
"""
import copy
import json
import os
import sys

from rnnc import _arrays, _rnnc


def compile(path, plan="symbolic", target_cpu="host", opt_level=2, fuse=True, hoist=True, memplan=True, train=None):
    """Compiles a .rnn model (or a .ir or .onnx one) in this process (LLVM's JIT, as `rnnrun model.rnn`).

    plan: "symbolic" (whole graph, fused cells) or "imperative" (op by op).
    fuse/hoist/memplan: the symbolic plan's optimizations (rnnc --no-fuse ...).
    train: for an ONNX model, the path of a training stub (`rnnc --train STUB.rnn`,
    docs/onnx.md) that adds the loss, optimizer, train and data blocks, so that
    the imported model can be fit.
    Raises rnnc.CompileError with the model's diagnostics (path:line:col).
    """
    return Model(_rnnc.compile(os.fspath(path), plan, target_cpu, _arrays.count_arg(opt_level, "opt_level", 0, 3),
                               bool(fuse), bool(hoist), bool(memplan), "" if train is None else os.fspath(train)))


def load(path):
    """Opens a model.so made by `rnnc model.rnn -o model.so` (after checking its
    ABI version and that this CPU has the features it was compiled for).
    Raises rnnc.LoadError naming the file otherwise."""
    return Model(_rnnc.load(os.fspath(path)))


class History:
    """What Model.fit returns (also kept as model.history), as Keras' History:
    history["loss"], ["val_loss"], ["val_accuracy"] or ["val_r2"], ["val_mae"],
    ["val_mape"], ["seconds"], ["samples_per_second"], one entry per epoch;
    epoch: the epochs' indices (0-based, as Keras).
    """

    def __init__(self, result):
        self.epoch = [e["epoch"] - 1 for e in result["epochs"]]
        self.history = {"loss": [e["loss"] for e in result["epochs"]]}
        for e in result["epochs"]:
            for key, value in e.get("validation", {}).items():
                self.history.setdefault("val_" + key, []).append(value)
        self.history["seconds"] = [e["seconds"] for e in result["epochs"]]
        self.history["samples_per_second"] = [e["samples_per_second"] for e in result["epochs"]]
        self.interrupted = result["result"] == "interrupted"
        #: the epoch (1-based) of the lowest validation loss, 0 if none
        self.best_epoch = result["best_epoch"]
        #: where the last checkpoint was written ("" if none)
        self.checkpoint = result["checkpoint"]

    def __repr__(self):
        last = {k: v[-1] for k, v in self.history.items() if v}
        return f"<History: {len(self.epoch)} epochs, last {last}>"


def _print(text):
    sys.stdout.write(text)
    sys.stdout.flush()


class Model:
    """A compiled model, its parameters and its optimizer state.

    Made by rnnc.compile or rnnc.load, initialized as `rnnrun --seed 0` does.
    Inputs are NumPy arrays (or anything np.asarray reads), converted only
    when their dtype or layout requires it.
    """

    def __init__(self, session):
        self._session = session
        raw = session.info()
        config = json.loads(raw.pop("config_json"))
        raw["optimizer"] = config.get("optimizer", {})
        raw["train"] = config.get("train", {})
        raw["data"] = config.get("data", {})
        self._info = raw
        #: the History of the last fit (also when it was interrupted)
        self.history = None

    # --- metadata --------------------------------------------------------
    @property
    def info(self):
        """The model's metadata: name, plan, compiler, target_cpu,
        target_features, inputs/outputs/targets/parameters ({name, shape,
        dtype}, None for the batch), parameter_count, loss, and the model
        file's optimizer, train and data settings."""
        return copy.deepcopy(self._info)

    @property
    def seed(self):
        """The seed of the last init (rnnrun --seed); fit and datasets.load default to it."""
        return self._session.seed

    @property
    def threads(self):
        """Threads each forward pass and training step runs on (rnnrun --threads)."""
        return self._session.threads

    @threads.setter
    def threads(self, value):
        self._session.threads = _arrays.count_arg(value, "threads", 1, 64)

    def __repr__(self):
        i = self._info
        ins = ", ".join(f"{d['name']}: {d['dtype']}{_arrays.shape_text(d['shape'])}" for d in i["inputs"])
        outs = ", ".join(f"{d['name']}: {d['dtype']}{_arrays.shape_text(d['shape'])}" for d in i["outputs"])
        return (f"<rnnc.Model {i['name']} ({i['plan']} plan, {i['parameter_count']:,} parameters): "
                f"{ins} -> {outs}>")

    def _batch(self, batch_size):
        if batch_size is None:
            return max(1, int(self._info["train"].get("batch", 32)))
        return _arrays.count_arg(batch_size, "batch_size", 1, 1 << 24)

    def _use_threads(self, threads):
        if threads is not None:
            self.threads = threads

    # --- parameters ------------------------------------------------------
    def init(self, seed=0):
        """Initializes every parameter as PyTorch does by default, as
        `rnnrun --seed SEED` does; returns the model."""
        self._session.init(_arrays.count_arg(seed, "seed", 0, (1 << 64) - 1))
        return self

    def save(self, path):
        """Writes rnnrun's checkpoint (safetensors, PyTorch names): parameters,
        optimizer state, progress, and the bound data set's vocabulary or
        normalization. `rnnrun --eval/--predict/--resume --checkpoint PATH` reads it."""
        self._session.save(os.fspath(path))

    def load_weights(self, path):
        """Reads a checkpoint (rnnrun's, this API's, or a PyTorch state dict saved
        as safetensors) after checking it whole; nothing changes if it fails.
        Returns the model."""
        self._session.load_weights(os.fspath(path))
        return self

    def _parameter_shapes(self):
        return {p["name"]: p["shape"] for p in self._info["parameters"]}

    def _layer_prefix(self, layer):
        if layer is None:
            return ""
        prefix = layer + "."
        if not any(name.startswith(prefix) for name in self._parameter_shapes()):
            layers = sorted({name.split(".")[0] for name in self._parameter_shapes()})
            raise KeyError(f"model '{self._info['name']}' has no layer '{layer}' with parameters "
                           f"(its layers: {', '.join(layers)})")
        return prefix

    def state_dict(self, layer=None):
        """{PyTorch name: float32 ndarray} (a copy). With `layer`, only that
        layer's parameters, named as that torch module names them, e.g.
        torch.nn.LSTM(...).load_state_dict({k: torch.from_numpy(v) for k, v in
        m.state_dict("h").items()})."""
        prefix = self._layer_prefix(layer)
        state = self._session.state_dict()
        return {name[len(prefix):]: value for name, value in state.items() if name.startswith(prefix)}

    def load_state_dict(self, state, strict=True, layer=None):
        """Loads {name: array} (NumPy arrays, torch tensors, ...) into the
        parameters, with the checkpoint loader's checks. strict: every
        parameter given and nothing else (else missing ones keep their values
        and unknown ones are reported). Returns (missing_keys, unexpected_keys)."""
        prefix = self._layer_prefix(layer)
        shapes = self._parameter_shapes()
        given = {prefix + str(k): v for k, v in dict(state).items()}
        wanted = [n for n in shapes if n.startswith(prefix)]
        missing = [n[len(prefix):] for n in wanted if n not in given]
        unexpected = [n[len(prefix):] for n in given if n not in shapes]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing " + ", ".join(repr(n) for n in missing))
            if unexpected:
                parts.append("unexpected " + ", ".join(repr(n) for n in unexpected))
            raise _rnnc.CheckpointError(f"state dict does not fit model '{self._info['name']}': "
                                        + "; ".join(parts))
        full = self._session.state_dict() if (missing or prefix or unexpected) else {}
        for name, value in given.items():
            if name in shapes:
                full[name] = _arrays.as_parameter(name, value, shapes[name])
        self._session.load_state_dict(full)
        return missing, unexpected

    # --- running ---------------------------------------------------------
    def predict(self, x, batch_size=None, threads=None):
        """The model's output for every sample of x, in batches (default: the
        model's training batch). Returns an ndarray [samples, ...output]."""
        x = _arrays.as_input(self._info, x)
        self._use_threads(threads)
        return self._session.predict(x, self._batch(batch_size))

    def evaluate(self, x, y, batch_size=None, threads=None):
        """Scores the model on (x, y) with rnnrun's metrics: {"loss", "accuracy"}
        for classification, {"loss", "r2", "mae", "mape"} for regression (MAE
        and MAPE in the target's units when a data set is bound)."""
        x = _arrays.as_input(self._info, x)
        y = _arrays.as_target(self._info, y, _arrays.input_count(x))
        self._use_threads(threads)
        return self._session.evaluate(x, y, self._batch(batch_size))

    def fit(self, x, y, epochs=None, batch_size=None, validation_data=None, threads=None, verbose=1,
            shuffle=None, seed=None, lr=None, checkpoint=None, resume=False, initial_epoch=0,
            restore_best=False, drop_last=False):
        """Trains with rnnrun's training loop (the same steps, shuffling and
        checkpoints: the same bits for the same data, seed and settings).

        epochs, batch_size, shuffle: default the model file's train block.
        validation_data: (x, y) scored after each epoch.
        verbose: 0 silent, 1 a line per epoch (and a live step line on a
          terminal), 2 a line per epoch.
        seed: the shuffling seed (default: the seed of the last init).
        lr: the learning rate from now on (default: the model's).
        checkpoint: save each epoch to PATH and the best to PATH.best, as
          rnnrun --checkpoint (and, on Ctrl-C, the interrupted state).
        resume: continue from where the last fit (or load_weights of a
          checkpoint) stopped, as rnnrun --resume; initial_epoch: start at
          this epoch instead (as Keras).
        restore_best: end with the parameters of the epoch of lowest
          validation loss.
        Returns a History. Ctrl-C stops after the current step (parameters
        and optimizer state consistent; model.history and the checkpoint
        hold what was done) and raises KeyboardInterrupt.
        """
        x = _arrays.as_input(self._info, x)
        y = _arrays.as_target(self._info, y, _arrays.input_count(x))
        vx = vy = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (x, y)")
            vx = _arrays.as_input(self._info, validation_data[0])
            vy = _arrays.as_target(self._info, validation_data[1], _arrays.input_count(vx))
        train = self._info["train"]
        epochs = _arrays.count_arg(train.get("epochs", 1) if epochs is None else epochs, "epochs", 0)
        batch = self._batch(batch_size)
        seed = self.seed if seed is None else _arrays.count_arg(seed, "seed", 0, (1 << 64) - 1)
        initial_epoch = _arrays.count_arg(initial_epoch, "initial_epoch", 0)
        if resume and initial_epoch:
            raise ValueError("give resume=True or initial_epoch, not both")
        if lr is not None and not (float(lr) > 0):
            raise ValueError(f"lr must be > 0, got {lr}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        if _arrays.input_count(x) == 0:
            raise ValueError("no training samples (x is empty)")
        self._use_threads(threads)
        shuffle = bool(train.get("shuffle", True) if shuffle is None else shuffle)
        step_lines = verbose == 1 and sys.stdout.isatty()
        checkpoint = "" if checkpoint is None else os.fspath(checkpoint)
        if checkpoint:  # refuse now rather than after the first epoch
            folder = os.path.dirname(os.path.abspath(checkpoint))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise _rnnc.CheckpointError(f"cannot write checkpoint '{checkpoint}': "
                                            f"'{folder}' is not a writable directory")
        result = self._session.fit(x, y, vx, vy, epochs, batch, float(lr or 0), shuffle, seed, verbose, step_lines,
                                   checkpoint, bool(resume), initial_epoch, bool(restore_best), bool(drop_last),
                                   _print)
        self.history = History(result)
        if result["result"] == "failed":
            raise _rnnc.TrainingError(result["error"])
        if result["result"] == "interrupted":
            where = f"; checkpoint written to {result['checkpoint']}" if result["checkpoint"] else ""
            raise KeyboardInterrupt(f"training interrupted at epoch {result['epoch'] + 1}, step {result['step']}: "
                                    f"the parameters are those after that step{where} (continue with resume=True)")
        return self.history
