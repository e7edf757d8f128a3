"""Installs the rnnc Python package from the source tree (see docs/python.md):

    /usr/bin/python3 -m venv --system-site-packages ~/rnnc-env
    ~/rnnc-env/bin/pip install ./python

The _rnnc extension is built by the project's own CMake build, in
$RNNC_BUILD_DIR (default: build/ at the top of the source tree), configured
there first if it is not yet; everything comes from Debian packages
(scripts/setup.sh) and nothing is downloaded.
"""
import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("RNNC_BUILD_DIR", os.path.join(ROOT, "build")))


class CMakeBuild(build_ext):
    """Builds the extension target with CMake and copies it into the wheel."""

    def build_extension(self, ext):
        if not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
            subprocess.check_call(["cmake", "-S", ROOT, "-B", BUILD, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                                   "-DRNNC_SANITIZED_TOOLS=OFF", "-DPython3_EXECUTABLE=" + sys.executable])
        subprocess.check_call(["cmake", "--build", BUILD, "--target", "rnnc_python", "-j", str(os.cpu_count() or 1)])
        built = os.path.join(BUILD, "python", "rnnc", "_rnnc" + sysconfig.get_config_var("EXT_SUFFIX"))
        if not os.path.exists(built):
            sys.exit(f"setup.py: {built} was not built; is {BUILD} configured for another Python "
                     f"than {sys.executable}? (set RNNC_BUILD_DIR to a fresh directory)")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built, target)


# setuptools' own scratch files go to the build tree, not the source tree.
SCRATCH = os.path.join(BUILD, "python-setuptools")
os.makedirs(SCRATCH, exist_ok=True)

setup(
    name="rnnc",
    version="0.1.0",
    description="Compile, train and run LSTM/GRU models on the CPU (rnnc's runtime, from Python)",
    packages=["rnnc"],
    package_dir={"rnnc": "rnnc"},
    ext_modules=[Extension("rnnc._rnnc", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
    options={"build": {"build_base": SCRATCH}, "egg_info": {"egg_base": SCRATCH}},
)
