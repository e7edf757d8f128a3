"""docs/python.md's examples run as written, one after the other, and the
examples in examples/python run with --quick; both on synthetic data of the
real data sets' layout (scripts/synthetic_data.py), found through
$RNN_DATA_DIR as rnnrun finds data."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, TOOLS


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch directory that looks like the top of the source tree
    (models/, build/bin/), with RNN_DATA_DIR pointing to synthetic data."""
    data = tmp_path_factory.mktemp("data")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "synthetic_data.py"), str(data), "--reviews", "40"],
                   check=True, capture_output=True)
    work = tmp_path_factory.mktemp("work")
    os.symlink(os.path.join(ROOT, "models"), work / "models")
    os.symlink(os.path.join(ROOT, "examples"), work / "examples")
    os.makedirs(work / "build")
    os.symlink(TOOLS, work / "build" / "bin")
    return work, data


def python_blocks(path):
    text = open(path).read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_every_example_of_the_api_reference_runs(workdir, monkeypatch, capsys):
    work, data = workdir
    monkeypatch.chdir(work)
    monkeypatch.setenv("RNN_DATA_DIR", str(data))
    doc = os.path.join(ROOT, "docs", "python.md")
    blocks = python_blocks(doc)
    assert len(blocks) == open(doc).read().count("\n### ")  # one example for every entry of the reference
    namespace = {}
    for block in blocks:
        try:
            exec(compile(block, "docs/python.md", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"this example of docs/python.md fails ({e!r}):\n{block}") from e
    out = capsys.readouterr().out
    assert "<rnnc.Model etth1_lstm (symbolic plan, " in out
    assert "input 'x' expects shape [batch, 24, 7] (float32); got an array of shape (2, 24, 6)" in out


@pytest.mark.parametrize("example", ["etth1.py", "imdb.py"])
def test_examples_run_quick(workdir, example):
    work, data = workdir
    env = dict(os.environ, RNN_DATA_DIR=str(data))
    proc = subprocess.run([sys.executable, os.path.join("examples", "python", example), "--quick"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^test: \{'loss': ", proc.stdout, re.M), proc.stdout
    assert "epoch 2/" in proc.stdout
