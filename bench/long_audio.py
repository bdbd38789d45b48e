"""Long audio through stereo-17x from file to file: time and peak RSS of ``walloc compress`` and ``walloc
decompress`` on synthetic 44.1 kHz 16-bit stereo FLAC of several lengths (each call a process of its own).

    python bench/long_audio.py [--minutes 2 10 60]

Writes bench/results/long-audio.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

import walloc
from common import device_name, write_results

ROOT = Path(__file__).resolve().parent
# one CLI call, then its own peak RSS in kB on the last line
_CALL = ("import resource, sys\nfrom walloc.cli import main\nstatus = main(sys.argv[1:])\n"
         "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\nsys.exit(status)\n")


def _write_music(path: Path, minutes: float) -> None:
    """Two tones and a chirp, written block by block (an hour is 1.3 GB as float32)."""
    rate, total, block = 44100, int(minutes * 60 * 44100), 1 << 22
    with soundfile.SoundFile(str(path), "w", rate, 2, subtype="PCM_16") as file:
        for start in range(0, total, block):
            t = np.arange(start, min(total, start + block)) / rate
            left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * (300 + 5 * (t % 60)) * t)
            file.write(np.stack([left, 0.25 * np.sin(2 * np.pi * 331 * t)], -1).astype(np.float32))


def _call(argv: list[str], cwd: str) -> tuple[float, float]:
    """(seconds, peak RSS in GB) of one CLI call in a fresh process, run in ``cwd`` (not the source tree, which
    has no compiled _C and would shadow the installed package)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CALL, *argv], capture_output=True, text=True, check=True, cwd=cwd)
    return time.perf_counter() - start, int(done.stdout.strip().splitlines()[-1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2, 10, 60])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for minutes in args.minutes:
            source, stream, out = (Path(scratch) / name for name in ("in.flac", "in.wlc", "out.flac"))
            _write_music(source, minutes)
            compress_s, compress_gb = _call(["compress", str(source), str(stream), "--force"], scratch)
            decompress_s, decompress_gb = _call(["decompress", str(stream), str(out), "--force"], scratch)
            rows.append({"minutes": minutes, "bytes": stream.stat().st_size, "compress_s": compress_s,
                         "compress_peak_rss_gb": compress_gb, "decompress_s": decompress_s,
                         "decompress_peak_rss_gb": decompress_gb, "decompress_s_per_minute": decompress_s / minutes})
            print(rows[-1], flush=True)
    write_results(ROOT / "results", "long-audio", {"cpu": device_name("cpu"), "cpu_isa": walloc.build_info()["cpu_isa"],
                                                   "codec": "stereo-17x", "rows": rows})


if __name__ == "__main__":
    main()
