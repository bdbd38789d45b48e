"""The image encoder's first pass, side by side in one run: contiguous float32 images centred as the packet
transform reads them (``WallocImageModel.encode_pixels``) against a pixel pass of their own first
(``pixels_to_signal``, which the other layouts take), on a Kodak image compressed by rgb-16x at 1 and 2 threads
(one call of each per round, medians; the streams are checked byte for byte).

    python bench/pixel_pass.py [--repeats 100] [--out bench/results]

Writes bench/results/pixel-pass-cpu.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

import walloc
from common import interleaved_seconds, median_ratio, print_table, write_results
from walloc.media import read_image

ROOT = Path(__file__).resolve().parent
KODAK = ROOT.parents[1] / "shared" / "data" / "kodak" / "kodim01.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    if KODAK.exists():
        image = read_image(KODAK).unsqueeze(0).float() / 255  # the decoded file's HWC array seen as NCHW
    else:
        image = torch.rand(1, 512, 768, 3, generator=torch.Generator().manual_seed(0)).permute(0, 3, 1, 2)
    inputs = {"float32, contiguous (N, C, H, W)": image.contiguous(), "float32, channels last": image}
    codec = walloc.load("rgb-16x")
    model = codec.model
    centred = model.encode_pixels

    def separate_pass(pixels: torch.Tensor) -> torch.Tensor:
        return model.encode(model.pixels_to_signal(pixels))

    def compress_with(encode, x: torch.Tensor) -> bytes:
        model.encode_pixels = encode
        return codec.compress(x)

    rows, table = [], []
    threads = torch.get_num_threads()
    for count in sorted({1, threads}):
        torch.set_num_threads(count)
        for layout, x in inputs.items():
            variants = {"walloc": lambda x=x: compress_with(centred, x),
                        "separate pixel pass": lambda x=x: compress_with(separate_pass, x)}
            if len({fn() for fn in variants.values()}) != 1:
                raise SystemExit("the two encodes gave different streams")
            times = interleaved_seconds(variants, args.repeats, warmup_s=0.5)
            ratio = median_ratio(times["separate pixel pass"], times["walloc"])
            rows.append({"threads": count, "input": layout, **{k: statistics.median(v) for k, v in times.items()},
                         "speedup": ratio})
            table.append([str(count), layout, *(f"{statistics.median(v) * 1e3:.2f} ms" for v in times.values()),
                          f"{ratio:.2f}x"])
    model.encode_pixels = centred
    torch.set_num_threads(threads)
    print_table(["threads", "input", "walloc compress", "with a separate pixel pass", "speed-up"], table)
    print(f"wrote {write_results(args.out, 'pixel-pass-cpu', {'rows': rows, 'repeats': args.repeats})}")


if __name__ == "__main__":
    main()
