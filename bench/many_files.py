"""Files per second of one ``walloc compress FOLDER OUT`` call against one ``walloc compress FILE OUT`` process per
file (what a shell loop does), on a folder of photos with one corrupt file among them.

    python bench/many_files.py [--data FOLDER] [--count 200] [--single 20]

Writes bench/results/many-files.json. The per-process rate is measured on the first ``--single`` files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import walloc
from common import device_name, write_results

ROOT = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent.parent / "shared/data/train-images/bsds500-train")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--single", type=int, default=20)
    args = parser.parse_args()
    photos = sorted(p for p in args.data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:args.count]
    if not photos:
        raise SystemExit(f"no photos in {args.data}")
    command = [sys.executable, "-m", "walloc"]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "photos"
        folder.mkdir()
        for photo in photos:
            shutil.copy(photo, folder / photo.name)
        (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
        start = time.perf_counter()
        batch = subprocess.run(command + ["compress", str(folder), str(Path(scratch) / "out")], capture_output=True,
                               text=True, cwd=scratch)
        one_call = time.perf_counter() - start
        written = len(list((Path(scratch) / "out").rglob("*.wlc")))
        errors = [line.replace(scratch, "<scratch>") for line in batch.stderr.splitlines() if "error" in line]
        start = time.perf_counter()
        for photo in photos[:args.single]:
            subprocess.run(command + ["compress", str(folder / photo.name), str(Path(scratch) / f"{photo.name}.wlc")],
                           check=True, capture_output=True, cwd=scratch)
        per_process = time.perf_counter() - start
    result = {"cpu": device_name("cpu"), "cpu_isa": walloc.build_info()["cpu_isa"], "files": len(photos), "written": written, "exit_status": batch.returncode,
              "error_lines": errors, "one_call_s": one_call, "one_call_files_per_s": len(photos) / one_call,
              "process_per_file_files_per_s": args.single / per_process}
    result["speedup"] = result["one_call_files_per_s"] / result["process_per_file_files_per_s"]
    write_results(ROOT / "results", "many-files", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
