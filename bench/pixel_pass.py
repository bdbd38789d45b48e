"""The image encoder's first pass: a Kodak image compressed by rgb-16x in a loop, as a script compressing a folder
does, with walloc's encode (``WallocImageModel.encode_pixels``: contiguous float32 images centred as the packet
transform reads them, other layouts and uint8 through the pixel pass into planes the transform reuses) against a
pixel pass into a fresh tensor first (``encode(pixels_to_signal(x))``), for the inputs images arrive as, at 1 and 2
threads. Each variant runs in a fresh process, alternated: what the allocator does with a fresh full-size tensor
a call depends on the process's history (in one process with other work it may reuse it; in a plain loop glibc
gave its pages back to the system after each call), so the fresh pages each call faults in are counted too.
The streams are checked byte for byte.

    python bench/pixel_pass.py [--calls 200] [--launches 3] [--out bench/results]

Writes bench/results/pixel-pass-cpu.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time
from pathlib import Path

import torch

import walloc
from common import print_table, write_results
from walloc.media import read_image

ROOT = Path(__file__).resolve().parent
KODAK = ROOT.parents[1] / "shared" / "data" / "kodak" / "kodim01.png"
VARIANTS = ("walloc", "separate pixel pass")


def inputs() -> dict[str, torch.Tensor]:
    """A decoded file's HWC array seen as NCHW (uint8 and float32) and the contiguous float32 planes."""
    if KODAK.exists():
        pixels = read_image(KODAK).unsqueeze(0)
    else:
        pixels = torch.randint(0, 256, (1, 512, 768, 3), generator=torch.Generator().manual_seed(0),
                               dtype=torch.uint8).permute(0, 3, 1, 2)
    as_float = pixels.float() / 255
    return {"uint8, as decoded (HWC)": pixels, "float32, channels last": as_float,
            "float32, contiguous (N, C, H, W)": as_float.contiguous()}


def loop(variant: str, layout: str, threads: int, calls: int) -> tuple[float, float, bytes]:
    """In a fresh process: median seconds of a compress, fresh pages faulted in per compress, and the stream."""
    torch.set_num_threads(threads)
    x = inputs()[layout]
    codec = walloc.load("rgb-16x")
    model = codec.model
    if variant == "separate pixel pass":
        model.encode_pixels = lambda pixels: model.encode(model.pixels_to_signal(pixels))
    for _ in range(20):
        codec.compress(x)
    seconds = []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        start = time.perf_counter()
        codec.compress(x)
        seconds.append(time.perf_counter() - start)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return statistics.median(seconds), faults / calls, codec.compress(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--launches", type=int, default=3, help="fresh processes per variant, alternated")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    spawn = multiprocessing.get_context("spawn")
    rows, table = [], []
    for count in sorted({1, torch.get_num_threads()}):
        for layout in inputs():
            runs = {variant: [] for variant in VARIANTS}
            with spawn.Pool(1, maxtasksperchild=1) as pool:
                for _ in range(args.launches):
                    for variant in VARIANTS:
                        runs[variant].append(pool.apply(loop, (variant, layout, count, args.calls)))
            if len({stream for run in runs.values() for _, _, stream in run}) != 1:
                raise SystemExit("the two encodes gave different streams")
            seconds = {v: statistics.median(s for s, _, _ in run) for v, run in runs.items()}
            faults = {v: statistics.median(f for _, f, _ in run) for v, run in runs.items()}
            speedup = seconds["separate pixel pass"] / seconds["walloc"]
            rows.append({"threads": count, "input": layout, "seconds": seconds, "faults_per_call": faults,
                         "speedup": speedup,
                         "launches": {v: [{"seconds": s, "faults_per_call": f} for s, f, _ in run]
                                      for v, run in runs.items()}})
            table.append([str(count), layout,
                          *(f"{seconds[v] * 1e3:.2f} ms ({faults[v]:.0f} faults)" for v in VARIANTS),
                          f"{speedup:.2f}x"])
    print_table(["threads", "input", "walloc compress", "with a pixel pass into a fresh tensor", "speed-up"], table)
    result = {"rows": rows, "calls": args.calls, "launches": args.launches}
    print(f"wrote {write_results(args.out, 'pixel-pass-cpu', result)}")


if __name__ == "__main__":
    main()
