#!/usr/bin/env bash
# Installs everything rnnc needs from Debian 12 packages. Idempotent: only
# missing packages are installed, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  llvm-16-dev llvm-16-tools lld-16 libzstd-dev zlib1g-dev libedit-dev libxml2-dev libffi-dev
  antlr4 libantlr4-runtime-dev
  libboost-program-options-dev
  libgtest-dev libgmock-dev
  nlohmann-json3-dev libarchive-dev
  libopenmpi-dev openmpi-bin  # data-parallel training under mpirun (rnnrun links MPI; model.so does not)
  libonnx-dev libprotobuf-dev python3-onnx  # ONNX import/export (compiler/onnx, docs/onnx.md) and its tests
  python3 python3-dev python3-numpy python3-pytest pybind11-dev  # the Python package (python/) and its tests
  python3-pip python3-setuptools python3-venv  # installing it from the source tree (docs/python.md)
  python3-torch   # the PyTorch interoperability test (test/lit/interop) and bench/peers
  libbenchmark-dev libopenblas0-openmp  # rnnbench (the main job times W1, W2 and the ablation); OpenBLAS for torch
)
# Benchmark-only dependencies, installed with --bench: oneDNN, the baseline.
# Debian's oneDNN CMake config calls find_package(OpenCL): its headers and ICD loader.
bench_packages=(libdnnl-dev ocl-icd-opencl-dev opencl-c-headers)

want=("${packages[@]}")
if [[ "${1:-}" == "--bench" ]]; then want+=("${bench_packages[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all dependencies present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
