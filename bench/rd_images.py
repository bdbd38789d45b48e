"""Rate-distortion of image codecs on the same images: every walloc image codec against JPEG (libjpeg-turbo,
4:2:0), WebP and AVIF through Pillow, and the CompressAI factorized-prior baseline trained by ``walloc train``
(``bench/configs/factorized-prior.json``: rgb-16x's data, crops, batch and CPU time) when its export and
CompressAI are present; bpp from real bytes, PSNR (RGB), MS-SSIM (pytorch-msssim), and Bjontegaard deltas
against JPEG.

    python bench/rd_images.py [--data DIR] [--quick] [--codecs NAME ...] [--family NAME ...]
                              [--baseline runs/factorized-prior/baseline]

Writes bench/results/rd-images-<device>.{json,csv,png} and prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

import walloc
from walloc import evaluation
from walloc.media import find_media, read_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, write_csv, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
BASELINE = ROOT / "runs" / "factorized-prior" / "baseline"
FAMILY = ["rgb-16x-vr", "rgb-4x"]  # the shipped image codecs that together cover JPEG's range of rates


def learned_baselines(folder: Path) -> list:
    """The trained CompressAI baseline, if it was trained and CompressAI is installed."""
    import importlib.util

    if not (folder / "config.json").exists() or importlib.util.find_spec("compressai") is None:
        print(f"no factorized-prior baseline ({folder} or compressai missing): train it with "
              "walloc train bench/configs/factorized-prior.json")
        return []
    from walloc.training.baseline import FactorizedPriorCodec

    return [FactorizedPriorCodec(folder)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=KODAK if KODAK.is_dir() else ROOT / "samples")
    parser.add_argument("--quick", action="store_true", help="three qualities per standard codec")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="a factorized-prior export")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--codecs", nargs="+", help="walloc codecs (names or folders; default: every installed "
                                                     "image codec)")
    parser.add_argument("--family", nargs="+", default=FAMILY,
                        help=f"codecs whose best points form one curve (default: {' '.join(FAMILY)})")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    files = find_media([args.data], "image")
    codecs = [c for c in map(walloc.load, args.codecs or walloc.available_codecs()) if c.kind == "image"]
    codecs += learned_baselines(args.baseline)
    qualities = evaluation.QUICK_IMAGE_QUALITIES if args.quick else evaluation.IMAGE_QUALITIES
    rows = evaluation.image_rate_distortion(((f.name, read_image(f)) for f in files), codecs, qualities)
    shown = os.path.relpath(args.data, ROOT)  # results name data relative to the repository
    label = f"{len(files)} images from {shown}"
    members = [c.name for c in codecs if c.name in args.family]
    families = {"family (" + " + ".join(members) + ")": members} if len(members) > 1 else {}
    text, summary = evaluation.image_report(rows, families)
    print(f"\n{label}; means over images:\n\n{text}")
    name = f"rd-images-{device_slug('cpu')}"
    write_csv(args.out, name, rows)
    # Zoom on the low rates where the walloc codecs sit, unless a learned codec lies further right.
    learned = [p["bpp"] for c in codecs for p in summary["curves"].get(c.name, [])]
    evaluation.plot_curves(summary["curves"], args.out / f"{name}.png", "bpp",
                           [("psnr_db", "PSNR (dB, RGB)"), ("ms_ssim", "MS-SSIM")], "bits per pixel", label,
                           max(2.0, 1.05 * max(learned, default=0.0)))
    write_results(args.out, name, {"data": shown, "images": len(files), **summary})
    print(f"\nwrote {args.out / name}.json, .csv, .png")


if __name__ == "__main__":
    main()
