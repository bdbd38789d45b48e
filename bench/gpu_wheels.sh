#!/usr/bin/env bash
# Fills the git-ignored .whl/ folder with the Python 3.12 wheels the GPU machine lacks (it cannot download):
# those of ../shared/wheels-cp312/ (PyWavelets, soundfile) and, downloaded here without their own dependencies
# (so no second torch), soxr (resampling), SSIM for the video tests and the GPU wavelet libraries the benchmark
# compares against.
# The machine's image already has Pillow, matplotlib, safetensors, tqdm and einops.
#   bash bench/gpu_wheels.sh && run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir -p .whl
cp ../shared/wheels-cp312/*.whl .whl/
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .whl \
  soxr pytorch-msssim ptwt pytorch-wavelets
du -sh .whl
