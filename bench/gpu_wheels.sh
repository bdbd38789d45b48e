#!/usr/bin/env bash
# Fills the git-ignored .whl/ folder with the Python 3.12 wheels the GPU machine lacks (it cannot download):
# those of ../shared/wheels-cp312/ and, downloaded here, walloc's other pure-runtime dependencies (without
# their own dependencies, so no second torch). About 25 MB, inside the device call's 64 MiB carry.
#   bash bench/gpu_wheels.sh && run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
cp ../shared/wheels-cp312/*.whl .whl/
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .whl \
  safetensors tqdm Pillow matplotlib contourpy cycler fonttools kiwisolver pyparsing python-dateutil six \
  pytorch-msssim einops
du -sh .whl
