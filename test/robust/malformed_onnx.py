#!/usr/bin/env python3
"""Robustness test: malformed and unsupported ONNX files give a clear error.

Builds small valid ONNX models (embedding + LSTM/GRU + dense, as
torch.onnx.export writes them) with the onnx package, checks that rnnc
compiles them, then derives a deterministic corpus from them:
  - classes that must be refused with a specific message: wrong opsets,
    missing initializers, unsupported ops, unknown domains, dynamic shapes,
    variable sequence lengths, non-zero initial states, external data,
    weights of the wrong shape, several outputs, empty / non-protobuf files;
  - truncations and random byte changes, which must give exit code 0 or 1
    (a changed weight is still a model), never a signal or a sanitizer report;
  - training stubs (rnnc --train STUB.rnn) for the valid model: one that is
    right compiles, and its truncations and byte changes give 0 or 1 too.

usage: malformed_onnx.py RNNC WORK_DIR [RNNC_FOR_VALID]
(RNNC_FOR_VALID compiles the valid models to libraries; default RNNC. The
sanitized rnnc runs the corpus: LLVM's own allocations read as leaks.)
"""
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNNC_FOR_VALID = None
SANITIZER = re.compile(rb'Sanitizer|runtime error:')
B, T, V, E, H, U = 4, 5, 11, 6, 7, 3


def base_model(cell="LSTM", opset=14, dynamic_time=False, extra=None, domains=()):
    """ids [batch, T] -> Gather -> Transpose -> LSTM/GRU -> last step -> Gemm."""
    rng = np.random.default_rng(1)
    g = 4 if cell == "LSTM" else 3
    f = lambda *s: numpy_helper.from_array(rng.standard_normal(s).astype(np.float32))
    inits = {"embed.weight": f(V, E), "W": f(1, g * H, E), "R": f(1, g * H, H), "Bias": f(1, 2 * g * H),
             "fc.weight": f(U, H), "fc.bias": f(U), "last": numpy_helper.from_array(np.array(-1, dtype=np.int64)),
             "axes": numpy_helper.from_array(np.array([1], dtype=np.int64))}
    for name, t in inits.items():
        t.name = name
    attrs = {"hidden_size": H}
    if cell == "GRU":
        attrs["linear_before_reset"] = 1
    nodes = [
        helper.make_node("Gather", ["embed.weight", "ids"], ["e"], name="/embed/Gather"),
        helper.make_node("Transpose", ["e"], ["et"], name="/rnn/Transpose", perm=[1, 0, 2]),
        helper.make_node(cell, ["et", "W", "R", "Bias"], ["Y", "Y_h"], name="/rnn/" + cell, **attrs),
        helper.make_node("Squeeze", ["Y", "axes"], ["ys"], name="/rnn/Squeeze"),
        helper.make_node("Gather", ["ys", "last"], ["h"], name="/Gather", axis=0),
        helper.make_node("Gemm", ["h", "fc.weight", "fc.bias"], ["y"], name="/fc/Gemm", transB=1),
    ]
    if extra:
        extra(nodes, inits)
    graph = helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq" if dynamic_time else T])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", U])], list(inits.values()))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)] +
                             [helper.make_opsetid(d, 1) for d in domains])


def insert_before_gemm(node):
    def edit(nodes, inits):
        nodes.insert(5, node)
        nodes[6].input[0] = node.output[0]
    return edit


def replace_node(index, node):
    def edit(nodes, inits):
        nodes[index] = node
    return edit


def drop_init(name):
    def edit(nodes, inits):
        del inits[name]
    return edit


def set_input(node_index, k, name, tensor=None):
    def edit(nodes, inits):
        n = nodes[node_index]
        while len(n.input) <= k:
            n.input.append("")
        n.input[k] = name
        if tensor is not None:
            tensor.name = name
            inits[name] = tensor
    return edit


def external(nodes, inits):
    t = inits["W"]
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", "weights.bin"


# (label, bytes or model, substring the error must contain)
def refused_cases():
    lens = lambda v: numpy_helper.from_array(np.array(v, dtype=np.int32))
    zeros = numpy_helper.from_array(np.zeros((1, B, H), dtype=np.float32))
    ones = numpy_helper.from_array(np.ones((1, B, H), dtype=np.float32))
    yield "opset-8", base_model(opset=8), "opset 8 is not supported"
    yield "opset-18", base_model(opset=18), "opset 18 is not supported"
    yield "opset-21", base_model(opset=21), "opset 21 is not supported"
    yield "missing-initializer", base_model(extra=drop_init("R")), "'R'"
    yield "missing-embedding", base_model(extra=drop_init("embed.weight")), "embed.weight"
    yield "unsupported-op", base_model(extra=insert_before_gemm(helper.make_node(
        "LpNormalization", ["h"], ["hn"], name="/norm/LpNormalization"))), \
        "node 5 '/norm/LpNormalization' (op type LpNormalization): not supported; rnnc supports"
    yield "unknown-domain", base_model(extra=replace_node(5, helper.make_node(
        "Attention", ["h", "fc.weight", "fc.bias"], ["y"], name="att", domain="com.microsoft")),
        domains=["com.microsoft"]), "node 5 'att' (op type Attention)"
    yield "dynamic-time", base_model(dynamic_time=True), "--onnx-dim seq=N"
    yield "sequence-lens", base_model(extra=set_input(2, 4, "lens", lens([5, 3, 5, 1]))), "variable-length sequences"
    yield "initial-state", base_model(extra=set_input(2, 5, "h0", ones)), "initial state is not zero"
    yield "external-data", base_model(extra=external), "weights.bin"
    yield "wrong-weight-shape", base_model(extra=lambda n, i: i.__setitem__(
        "W", _named(numpy_helper.from_array(np.zeros((1, 4 * H, E + 1), dtype=np.float32)), "W"))), "W"
    yield "middle-step", base_model(extra=lambda n, i: i.__setitem__(
        "last", _named(numpy_helper.from_array(np.array(2, dtype=np.int64)), "last"))), "first or the last step"
    yield "two-outputs", _two_outputs(), "one output"
    yield "gru-before-reset", base_model("GRU", extra=lambda n, i: n.__setitem__(2, helper.make_node(
        "GRU", ["et", "W", "R", "Bias"], ["Y", "Y_h"], name="/rnn/GRU", hidden_size=H))), "linear_before_reset=0"
    yield "empty-file", b"", "not an ONNX model"
    yield "text-file", b"model m { input x: f32[batch, 3] }\n", "not an ONNX model"


def _named(t, name):
    t.name = name
    return t


def _two_outputs():
    m = base_model()
    m.graph.output.append(helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", H]))
    return m


def run(rnnc, path, out_so):
    # Valid models go all the way to a library; the corpus stops after the
    # import (--emit=summary), where every ONNX error is raised.
    valid = os.path.basename(path).startswith("valid-")
    args = ["-o", out_so] if valid else ["--emit=summary"]
    p = subprocess.run([RNNC_FOR_VALID if valid else rnnc, path] + args, capture_output=True, timeout=120)
    return p.returncode, p.stderr


def main():
    global RNNC_FOR_VALID
    rnnc, work = sys.argv[1], sys.argv[2]
    RNNC_FOR_VALID = sys.argv[3] if len(sys.argv) > 3 else rnnc
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    failures = []

    def check(label, data, want, strict):
        path = os.path.join(work, label + ".onnx")
        with open(path, "wb") as f:
            f.write(data)
        rc, err = run(rnnc, path, os.path.join(work, label + ".so"))
        problem = None
        if rc < 0 or SANITIZER.search(err):
            problem = f"crashed (rc {rc})"
        elif strict is True and rc != 1:
            problem = f"exit {rc}, expected 1"
        elif strict is False and rc not in (0, 1):
            problem = f"exit {rc}"
        elif rc == 1 and b"error:" not in err:
            problem = "no error line"
        elif want and rc == 1 and want.encode() not in err:
            problem = f"error does not say {want!r}"
        if problem:
            failures.append(f"{label}: {problem}\n{err.decode(errors='replace')[-600:]}")
        return rc

    # The valid models compile.
    for cell in ("LSTM", "GRU"):
        data = base_model(cell).SerializeToString()
        if check("valid-" + cell, data, None, None) != 0:
            failures.append(f"valid-{cell}: the valid model does not compile")
    zero = numpy_helper.from_array(np.zeros((1, B, H), dtype=np.float32))
    if check("valid-zero-state", base_model(extra=set_input(2, 5, "h0", zero)).SerializeToString(), None, None) != 0:
        failures.append("valid-zero-state: a zero initial state is refused")
    # A dynamic sequence length given a size with --onnx-dim compiles.
    path = os.path.join(work, "dim-param.onnx")
    with open(path, "wb") as f:
        f.write(base_model(dynamic_time=True).SerializeToString())
    p = subprocess.run([rnnc, path, "--onnx-dim", f"seq={T}", "--emit=summary"], capture_output=True, timeout=120)
    if p.returncode != 0:
        failures.append("dim-param: --onnx-dim does not fix the dynamic length\n" + p.stderr.decode(errors="replace"))
    count = 4
    for label, model, want in refused_cases():
        data = model if isinstance(model, bytes) else model.SerializeToString()
        check(label, data, want, True)
        count += 1
    rng = random.Random(17)
    for cell in ("LSTM", "GRU"):
        data = base_model(cell).SerializeToString()
        for k in range(12):  # truncations
            cut = 1 + (len(data) - 2) * k // 12
            check(f"truncate-{cell}-{cut}", data[:cut], None, False)
            count += 1
        for k in range(12):  # random bytes changed
            b = bytearray(data)
            for _ in range(rng.randint(1, 6)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            check(f"bytes-{cell}-{k}", bytes(b), None, False)
            count += 1
    # Training stubs: the valid model made trainable, then damaged stubs.
    model = os.path.join(work, "stub-base.onnx")
    with open(model, "wb") as f:
        f.write(base_model().SerializeToString())

    def check_stub(label, text, strict):
        path = os.path.join(work, label + ".rnn")
        with open(path, "wb") as f:
            f.write(text)
        p = subprocess.run([rnnc, model, "--train", path, "--emit=summary"], capture_output=True, timeout=120)
        if p.returncode < 0 or SANITIZER.search(p.stderr) or p.returncode not in ((0,) if strict else (0, 1)) or \
                (p.returncode == 1 and b"error:" not in p.stderr):
            failures.append(f"{label}: exit {p.returncode}\n{p.stderr.decode(errors='replace')[-600:]}")

    stub = (f"model m {{\n  target label: i32[batch] classes {U}\n  loss softmax_cross_entropy(y, label)\n"
            f"  optimizer adam(lr=0.01)\n  train {{ batch=4 epochs=1 }}\n  data imdb {{ vocab={V} maxlen={T} }}\n}}\n").encode()
    check_stub("stub-valid", stub, True)
    count += 1
    for k in range(12):
        check_stub(f"stub-truncate-{k}", stub[:len(stub) * k // 12], False)
        b = bytearray(stub)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        check_stub(f"stub-bytes-{k}", bytes(b), False)
        count += 2
    if failures:
        print("\n".join(failures))
        print(f"{len(failures)} of {count} ONNX inputs mishandled")
        sys.exit(1)
    print(f"{count} ONNX inputs: valid ones compile, malformed ones give clear errors")


if __name__ == "__main__":
    main()
