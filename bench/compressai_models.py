"""CompressAI models with their own coder and with walloc's drop-in (``walloc.compressai.convert``): the time of
the entropy-coding stage (the latents of a Kodak-sized image through ``compress``/``decompress`` of each entropy
model) and the stream bytes, with the same tables, side by side in one run. The models are CompressAI's
architectures at random initialisation (``pretrained=False``: no download), so their rates are not theirs after
training; the coders' speed and per-stream overhead are what is compared.

    python bench/compressai_models.py [--image kodim01.png] [--repeats 7]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_name, median_seconds, print_table, write_results  # noqa: E402
from reference_compressai import load_reference  # noqa: E402


def entropy_stage(net, x: torch.Tensor) -> tuple:
    """(encode, decode, total bytes) closures of the entropy models of a factorized or hyperprior ``net``."""
    y = net.g_a(x)
    if hasattr(net, "h_a"):
        z = net.h_a(y)
        z_strings = net.entropy_bottleneck.compress(z)
        z_hat = net.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        indexes = net.gaussian_conditional.build_indexes(net.h_s(z_hat))

        def encode():
            return net.entropy_bottleneck.compress(z), net.gaussian_conditional.compress(y, indexes)

        def decode(strings):
            net.entropy_bottleneck.decompress(strings[0], z.shape[-2:])
            return net.gaussian_conditional.decompress(strings[1], indexes)
    else:
        def encode():
            return (net.entropy_bottleneck.compress(y),)

        def decode(strings):
            return net.entropy_bottleneck.decompress(strings[0], y.shape[-2:])
    strings = encode()
    return encode, lambda: decode(strings), sum(len(s) for group in strings for s in group)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, help="an image file (default: random 512x768)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    compressai = load_reference()
    import walloc.compressai
    from walloc.media import read_image

    torch.manual_seed(0)
    x = read_image(args.image)[None].float() / 255 if args.image else torch.rand(1, 3, 512, 768)
    rows, table = [], []
    for architecture in ("bmshj2018_factorized", "bmshj2018_hyperprior"):
        theirs = getattr(compressai.zoo, architecture)(quality=3, pretrained=False).eval()
        ours = walloc.compressai.convert(copy.deepcopy(theirs))
        theirs.update(force=True), ours.update(force=True)
        with torch.no_grad():
            for coder, net in (("CompressAI rANS", theirs), ("walloc rANS (drop-in)", ours)):
                encode, decode, size = entropy_stage(net, x)
                row = {"model": architecture, "coder": coder, "bytes": size,
                       "encode_ms": 1e3 * median_seconds(encode, args.repeats),
                       "decode_ms": 1e3 * median_seconds(decode, args.repeats)}
                rows.append(row)
                table.append([architecture, coder, f"{row['encode_ms']:.1f}", f"{row['decode_ms']:.1f}", str(size)])
    cpu = device_name("cpu")
    print(f"entropy-coding stage, {tuple(x.shape)} image, {torch.get_num_threads()} threads, {cpu}")
    print_table(["model", "coder", "encode ms", "decode ms", "bytes"], table)
    result = {"cpu": cpu, "threads": torch.get_num_threads(), "image": args.image.name if args.image else "random",
              "shape": list(x.shape), "rows": rows}
    print(f"wrote {write_results(args.out, 'compressai-models-cpu', result)}")


if __name__ == "__main__":
    main()
