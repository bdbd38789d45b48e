"""The image encoder's projection (its 1x1 convolution, 192 packets -> 12 latent channels on a Kodak image), side
by side in one run: walloc's ordered pointwise kernel (``ops.pointwise_linear``, the same bits on every CPU and
GPU) against MKL's matrix product (``torch.addmm``, what the encoder took before) and torch's convolution, alone
and inside rgb-16x's compress, at 1 and 2 threads (one call of each per round, medians). Also how far the
products' sums differ and how many rounded latents they move.

    python bench/projection.py [--repeats 100] [--out bench/results]

Writes bench/results/projection-cpu.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

import walloc
import walloc.models.wavelet_codec as wavelet_codec
from common import interleaved_seconds, median_ratio, print_table, write_results
from walloc.media import read_image

ROOT = Path(__file__).resolve().parent
KODAK = ROOT.parents[1] / "shared" / "data" / "kodak" / "kodim01.png"


def addmm_projection(conv: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The encoder's projection as it was: one MKL matrix product per item."""
    weight, bias = conv.weight.flatten(1), conv.bias.unsqueeze(1)
    return torch.stack([torch.addmm(bias, weight, item.flatten(1)).view(-1, *item.shape[1:]) for item in x])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    torch.set_grad_enabled(False)

    if KODAK.exists():
        image = read_image(KODAK).unsqueeze(0).float() / 255
    else:
        image = torch.rand(1, 3, 512, 768, generator=torch.Generator().manual_seed(0))
    codec = walloc.load("rgb-16x")
    model = codec.model
    conv = model.encoder[0]
    packets = model.transform(model.pixels_to_signal(image))
    ordered = wavelet_codec._pointwise

    kernels = {"walloc pointwise": lambda: ordered(conv, packets), "MKL addmm": lambda: addmm_projection(conv, packets),
               "torch conv2d": lambda: conv(packets)}
    ours = ordered(conv, packets)
    others = {name: fn() for name, fn in kernels.items() if name != "walloc pointwise"}
    agreement = {name: {"max_abs_difference": float((y - ours).abs().max()),
                        "latents_moved": int((model.quantize(model.encoder[1](y))
                                              != model.quantize(model.encoder[1](ours))).sum()),
                        "latents": ours.numel()} for name, y in others.items()}

    def compress_with(projection) -> bytes:
        wavelet_codec._pointwise = projection
        try:
            return codec.compress(image)
        finally:
            wavelet_codec._pointwise = ordered

    encodes = {"walloc pointwise": lambda: compress_with(ordered), "MKL addmm": lambda: compress_with(addmm_projection)}
    rows, table = [], []
    threads = torch.get_num_threads()
    for count in sorted({1, threads}):
        torch.set_num_threads(count)
        for what, variants in (("projection alone", kernels), ("rgb-16x compress", encodes)):
            times = interleaved_seconds(variants, args.repeats, warmup_s=0.5)
            medians = {name: statistics.median(t) for name, t in times.items()}
            ratios = {name: median_ratio(t, times["walloc pointwise"]) for name, t in times.items()}
            rows.append({"threads": count, "what": what, "seconds": medians, "speedup_of_walloc": ratios})
            cells = [f"{medians[n] * 1e3:.3f} ms ({ratios[n]:.2f}x)" if n in medians else "-" for n in kernels]
            table.append([str(count), what, *cells])
    torch.set_num_threads(threads)
    print("(in brackets: walloc's speed-up over each, the median of the round-by-round ratios)")
    print_table(["threads", "what", *kernels], table)
    for name, numbers in agreement.items():
        print(f"{name}: sums differ by up to {numbers['max_abs_difference']:.2e}; "
              f"{numbers['latents_moved']} of {numbers['latents']} rounded latents differ")
    path = write_results(args.out, "projection-cpu", {"rows": rows, "agreement": agreement, "repeats": args.repeats})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
