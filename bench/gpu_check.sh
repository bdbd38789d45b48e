#!/usr/bin/env bash
# One prepared run on a lent GPU machine (see the `device` tool): build there, run the whole test suite (CUDA
# tests included), compute-sanitizer over the CUDA kernel tests, and the GPU benchmarks. Carry `.whl` (the
# wheels the machine lacks, gathered by bench/gpu_wheels.sh into the git-ignored .whl/ folder). Results land
# in $OUT (or bench/results when run by hand) and are committed with the device name.
#
#   bash bench/gpu_wheels.sh
#   run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=540)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}"
mkdir -p "$out"
log="$out/gpu-check.log"
exec > >(tee "$log") 2>&1

python3 -m pip install -q --no-index --no-deps --target .site .whl/*.whl && export PYTHONPATH=$PWD/.site
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
time python3 -m pip install -q --no-build-isolation --no-deps .
python3 -c "import walloc; print(walloc.build_info(), 'cuda_available', walloc.cuda_available())"

echo "== full test suite"
timeout 240 python3 -P -m pytest -q -p no:cacheprovider --rootdir . tests -o addopts="--import-mode=importlib"

echo "== compute-sanitizer over the CUDA tests (memcheck: all; racecheck: entropy)"
if command -v compute-sanitizer >/dev/null; then
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 1 \
    python3 -P -m pytest -q -x -o addopts="--import-mode=importlib" tests -k cuda
  echo "memcheck exit: $?"
  timeout 90 compute-sanitizer --tool racecheck --error-exitcode 1 \
    python3 -P -m pytest -q -x -o addopts="--import-mode=importlib" tests/test_entropy.py -k cuda
  echo "racecheck exit: $?"
else
  echo "compute-sanitizer not found"
fi

echo "== benchmarks"
timeout 120 python3 bench/wpt.py --repeats 10 --out "$out"
timeout 90 python3 bench/entropy.py --repeats 10 --out "$out"
timeout 120 python3 bench/throughput.py --repeats 5 --skip-reference --out "$out"
