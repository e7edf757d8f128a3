"""The package installs from the source tree with Debian's pip and
setuptools, without downloading anything, into a virtual environment that
sees Debian's NumPy, and works from there (not from the build tree)."""
import os
import subprocess
import sys

from conftest import ROOT, SERIES


def test_pip_install_from_the_source_tree(tmp_path):
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PIP_NO_INDEX"] = "1"  # nothing may be downloaded
    proc = subprocess.run([str(env_dir / "bin" / "pip"), "install",
                           os.path.join(ROOT, "python")], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = ("import numpy as np, rnnc; print(rnnc.__file__); m = rnnc.compile(%r); "
             "print(m.predict(np.zeros((2, 6, 3), np.float32)).shape)" % SERIES)
    proc = subprocess.run([str(env_dir / "bin" / "python"), "-c", check], env=env, capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    where, shape = proc.stdout.splitlines()
    assert where.startswith(str(env_dir)), where
    assert shape == "(2, 1)"
