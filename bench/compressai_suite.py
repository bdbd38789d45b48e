"""Runs CompressAI's own entropy-model tests with walloc's drop-in bottleneck swapped in.

CompressAI's ``tests/test_entropy_models.py`` (from a checkout of the tag that matches the installed CompressAI,
e.g. ``git clone -b v1.2.8 https://github.com/InterDigitalInc/CompressAI``) is collected three times: with
CompressAI's ``EntropyBottleneck``, with ``walloc.compressai.EntropyBottleneck`` in its place, and with the
dependency-free ``walloc.EntropyBottleneck``; the outcome of every ``TestEntropyBottleneck`` test is recorded
(``test_update`` downloads pretrained weights, so it is deselected unless ``--network``).

    python bench/compressai_suite.py --tests CompressAI/tests/test_entropy_models.py
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_results  # noqa: E402

# Runs in a child process per variant: pytest caches imported test modules, and the swap must precede collection.
_CHILD = r"""
import sys
sys.path.insert(0, {bench!r})
import pytest
from reference_compressai import load_reference

compressai = load_reference()
if {swap!r} == "dropin":
    import walloc.compressai
    compressai.entropy_models.EntropyBottleneck = walloc.compressai.EntropyBottleneck
elif {swap!r} == "plain":
    import walloc
    compressai.entropy_models.EntropyBottleneck = walloc.EntropyBottleneck

class Outcomes:
    def __init__(self):
        self.outcomes = {{}}
    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            self.outcomes.setdefault(report.nodeid.split("::", 1)[1], report.outcome)

plugin = Outcomes()
pytest.main([{tests!r}, "-q", "-p", "no:cacheprovider", "-k", {select!r}], plugins=[plugin])
print("OUTCOMES", repr(plugin.outcomes))
"""


def run(tests: Path, swap: str, select: str) -> dict[str, str]:
    """{test id: outcome} of one pytest run in a child process (cwd outside the source tree); ``swap``: "none"
    (CompressAI's class), "dropin" (walloc.compressai's) or "plain" (the dependency-free walloc.EntropyBottleneck)."""
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent), swap=swap, tests=str(tests.resolve()),
                         select=select)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tests.parent,
                            check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("OUTCOMES ")]
    if not lines:
        raise SystemExit(f"pytest did not run:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return ast.literal_eval(lines[-1][len("OUTCOMES "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=Path, required=True, help="CompressAI's tests/test_entropy_models.py")
    parser.add_argument("--network", action="store_true", help="also run test_update (downloads weights)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    select = "TestEntropyBottleneck" + ("" if args.network else " and not test_update")
    shipped, swapped, plain = (run(args.tests, swap, select) for swap in ("none", "dropin", "plain"))
    print(f"{'test':<50} {'CompressAI':>11} {'walloc.compressai':>18} {'walloc (no CompressAI)':>23}")
    for name in sorted(shipped | swapped | plain):
        print(f"{name:<50} {shipped.get(name, '-'):>11} {swapped.get(name, '-'):>18} {plain.get(name, '-'):>23}")
    result = {"compressai": version("compressai"), "tests": args.tests.name, "select": select,
              "compressai_classes": shipped, "walloc_dropin": swapped, "walloc_plain": plain,
              "all_pass": all(outcome == "passed" for outcome in swapped.values()) and bool(swapped)}
    print(f"wrote {write_results(args.out, 'compressai-suite', result)}")


if __name__ == "__main__":
    main()
