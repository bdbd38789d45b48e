#!/usr/bin/env bash
# Prepared runs on a lent GPU machine (see the `device` tool): build there, then either the CUDA tests,
# compute-sanitizer over the CUDA kernel tests and the GPU benchmarks (about 5 minutes on an H200), or with
# `suite` the whole test suite with CUDA present (over 5 minutes on its 16 cores), as two calls. Carry `.whl`
# (the wheels the machine lacks, gathered by bench/gpu_wheels.sh into the git-ignored .whl/ folder). Results
# land in $OUT (or bench/results when run by hand) and are committed with the device name.
#
# The working tree travels with a 64 MiB limit and the shipped codecs weigh more: untrack the largest for the
# call (`git rm -r --cached -q codecs/m2l2-small codecs/rgb-4x` and list both in .git/info/exclude; `git reset
# -q codecs` afterwards). Their two shipped-codec tests then fail there, for want of the weights.
#
#   bash bench/gpu_wheels.sh
#   run(command="bash bench/gpu_check.sh", carry=[".whl"], timeout_s=420)
#   run(command="bash bench/gpu_check.sh suite", carry=[".whl"], timeout_s=420)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench/results}"
mkdir -p "$out"
log="$out/gpu-check.log"
exec > >(tee "$log") 2>&1
export PYTHONUNBUFFERED=1 CMAKE_BUILD_PARALLEL_LEVEL=16
pytest_args=(-q -p no:cacheprovider --rootdir . -o addopts="--import-mode=importlib")

python3 -m pip install -q --no-index --no-deps --target .site .whl/*.whl && export PYTHONPATH=$PWD/.site
date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
time python3 -m pip install -q --no-build-isolation --no-deps .
python3 -P -c "import walloc; print(walloc.build_info(), 'cuda_available', walloc.cuda_available())"

if [ "${1:-}" = suite ]; then
  # Each test's outcome is printed as it ends, so a timeout still leaves the names of the failures so far.
  echo "== full test suite (16 workers)"
  timeout 360 python3 -P -m pytest "${pytest_args[@]}" -v --tb=short -rfEs -n 16 --durations=15 tests \
    | grep -v -e PASSED -e PytestBenchmarkWarning -e "warner("
  exit
fi

echo "== CUDA tests"
timeout 120 python3 -P -m pytest "${pytest_args[@]}" -rs tests -k cuda

echo "== compute-sanitizer over the CUDA kernel tests (memcheck: all kernels; racecheck: entropy)"
kernel_tests=(tests/test_wpt.py tests/test_quant.py tests/test_pointwise.py tests/test_entropy.py)
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 1 \
  python3 -P -m pytest "${pytest_args[@]}" -x "${kernel_tests[@]}" -k cuda
echo "memcheck exit: $?"
timeout 90 compute-sanitizer --tool racecheck --error-exitcode 1 \
  python3 -P -m pytest "${pytest_args[@]}" -x tests/test_entropy.py -k cuda
echo "racecheck exit: $?"

echo "== benchmarks"
timeout 90 python3 bench/wpt.py --devices cuda --repeats 10 --out "$out"
timeout 60 python3 bench/entropy.py --repeats 10 --out "$out"
timeout 90 python3 bench/throughput.py --devices cuda --repeats 5 --skip-reference --out "$out"
