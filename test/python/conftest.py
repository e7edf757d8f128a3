"""Fixtures of the Python package's tests: the build's tools, small generated
data sets (the same scripts the lit training tests use), and rnnrun runs to
compare with.

ctest runs these with PYTHONPATH=<build>/python and RNNC_TOOLS_DIR=<build>/bin;
by hand: PYTHONPATH=build/python /usr/bin/python3 -m pytest test/python
"""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INPUTS = os.path.join(ROOT, "test", "lit", "train", "Inputs")
TOOLS = os.environ.get("RNNC_TOOLS_DIR", os.path.join(ROOT, "build", "bin"))

SERIES = os.path.join(INPUTS, "series.rnn")
OTHER = os.path.join(INPUTS, "other.rnn")
IMDB_SMALL = os.path.join(INPUTS, "imdb_small.rnn")
IMDB_SMALL_LEN = os.path.join(INPUTS, "imdb_small_len.rnn")  # with a lengths input


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """The tokenized-IMDB cache in a temporary directory (for rnnrun too)."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


def run_tool(tool, *args, check=True, **kwargs):
    """Runs a build tool; returns the CompletedProcess (text)."""
    proc = subprocess.run([os.path.join(TOOLS, tool), *map(str, args)], capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def rnnrun(*args, **kwargs):
    return run_tool("rnnrun", *args, **kwargs)


def rnnrun_json(*args):
    """rnnrun ... --json FILE, the report as a dict."""
    out = os.path.join(os.environ["XDG_CACHE_HOME"], f"report-{os.getpid()}.json")
    rnnrun(*args, "--json", out, "-q")
    with open(out) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def series_dir(tmp_path_factory):
    """A data directory with series.csv (400 rows of the lit tests' series)."""
    d = tmp_path_factory.mktemp("series")
    subprocess.run([sys.executable, os.path.join(INPUTS, "make_series.py"), str(d / "series.csv"), "400"], check=True)
    return d


@pytest.fixture(scope="session")
def imdb_dir(tmp_path_factory):
    """A data directory with a tiny aclImdb_v1_labeled.tar.gz (120 + 120 reviews)."""
    d = tmp_path_factory.mktemp("imdb")
    subprocess.run([sys.executable, os.path.join(INPUTS, "make_imdb.py"), str(d / "aclImdb_v1_labeled.tar.gz")],
                   check=True)
    return d


def with_cell(tmp_path, cell, bidirectional):
    """series.rnn with its LSTM replaced (lstm|gru, one or two directions)."""
    text = open(SERIES).read().replace('h = lstm(x, hidden=8, returns="last")',
                                       f'h = {cell}(x, hidden=8, bidirectional={str(bidirectional).lower()}, '
                                       'returns="last")')
    path = tmp_path / f"series_{cell}_{bidirectional}.rnn"
    path.write_text(text)
    return str(path)
