#!/usr/bin/env bash
# Builds walloc._C with AddressSanitizer and UndefinedBehaviorSanitizer (CPU kernels, debug info) into a
# scratch folder and runs the whole test suite against it, the short fuzz pass included. Any report aborts.
#
#   bash bench/sanitize.sh            # about 5 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(mktemp -d)
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
WALLOC_CUDA=0 python -m pip install -q --no-deps --no-build-isolation --target "$target" . \
  -Ccmake.build-type=RelWithDebInfo -Cbuild-dir=build/sanitize -Ccmake.define.CMAKE_CXX_FLAGS="$flags"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
PYTHONPATH="$target" python -P -m pytest -q -p no:cacheprovider tests -k "not compile"
