# lit configuration for rnnc's FileCheck tests (see test/lit/README.md).
import os

import lit.formats

config.name = "rnnc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".rnn", ".ir", ".test"]
config.excludes = ["Inputs", "README.md", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in", "torch_roundtrip.py", "compare_outputs.py", "onnx_torch_models.py", "onnx_finetune.py", "torch_packed.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.rnnc_obj_root, "test", "lit")

# The build's tools first, then LLVM's FileCheck, not and split-file.
path = os.pathsep.join([config.rnnc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])])
config.environment["PATH"] = path
config.substitutions.append(("%models", os.path.join(config.rnnc_src_root, "models")))
config.substitutions.append(("%rnnc_src", config.rnnc_src_root))

# PyTorch, where /usr/bin/python3 has it, for the interoperability tests.
import subprocess
if subprocess.run(["/usr/bin/python3", "-c", "import torch"], capture_output=True).returncode == 0:
    config.available_features.add("torch")

# Open MPI's launcher, for the data-parallel tests (scripts/setup.sh installs it).
import shutil
if shutil.which("mpirun"):
    config.available_features.add("mpi")
