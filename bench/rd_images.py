"""Rate-distortion of image codecs on the same images: every walloc image codec against JPEG (libjpeg-turbo,
4:2:0), WebP and AVIF through Pillow, and the CompressAI factorized-prior baseline trained by ``walloc train``
(``bench/configs/factorized-prior.json``: rgb-16x's data, crops, batch and CPU time) when its export and
CompressAI are present; bpp from real bytes, PSNR (RGB), MS-SSIM (pytorch-msssim), and Bjontegaard deltas
against JPEG.

    python bench/rd_images.py [--data DIR] [--quick] [--codecs NAME ...] [--family NAME ...]
                              [--baseline runs/factorized-prior/baseline] [--rows bench/results/rd-images-cpu.csv]

``--rows`` reports and plots the rows of an earlier run (its CSV) without measuring again.

Writes bench/results/rd-images-<device>.{json,csv,png} and prints markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import json
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


def read_rows(path: Path) -> list[dict]:
    """The rows of a CSV this bench wrote, typed as :func:`walloc.evaluation.image_rate_distortion` makes them."""
    with open(path, newline="") as f:
        return [{"item": r["item"], "codec": r["codec"], "setting": _setting(r["setting"]),
                 **{k: float(r[k]) for k in ("bpp", "psnr_db", "ms_ssim")}} for r in csv.DictReader(f)]


def _setting(text: str) -> int | float | None:
    return None if not text else int(text) if text.lstrip("-").isdigit() else float(text)


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
    parser.add_argument("--rows", type=Path, help="the CSV of an earlier run: report it, measure nothing")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    if args.rows:
        rows = read_rows(args.rows)
        shown, images = json.loads(args.rows.with_suffix(".json").read_text())["data"], len({r["item"] for r in rows})
        names = [n for n in dict.fromkeys(r["codec"] for r in rows) if n not in evaluation.IMAGE_QUALITIES]
    else:
        files = find_media([args.data], "image")
        codecs = [c for c in map(walloc.load, args.codecs or walloc.available_codecs()) if c.kind == "image"]
        codecs += learned_baselines(args.baseline)
        qualities = evaluation.QUICK_IMAGE_QUALITIES if args.quick else evaluation.IMAGE_QUALITIES
        rows = evaluation.image_rate_distortion(((f.name, read_image(f)) for f in files), codecs, qualities)
        shown, images = os.path.relpath(args.data, ROOT), len(files)  # results name data relative to the repository
        names = [c.name for c in codecs]
    label = f"{images} images from {shown}"
    members = [name for name in names if name in args.family]
    families = {"family (" + " + ".join(members) + ")": members} if len(members) > 1 else {}
    text, summary = evaluation.image_report(rows, families)
    print(f"\n{label}; means over images:\n\n{text}")
    name = f"rd-images-{device_slug('cpu')}"
    write_csv(args.out, name, rows)
    # Zoom on the low rates where the walloc codecs sit, unless a learned codec lies further right.
    learned = [p["bpp"] for name in names for p in summary["curves"].get(name, [])]
    evaluation.plot_curves(summary["curves"], args.out / f"{name}.png", "bpp",
                           [("psnr_db", "PSNR (dB, RGB)"), ("ms_ssim", "MS-SSIM")], "bits per pixel", label,
                           max(2.0, 1.05 * max(learned, default=0.0)), {"ms_ssim": summary["ms_ssim_curves"]})
    write_results(args.out, name, {"data": shown, "images": images, **summary})
    print(f"\nwrote {args.out / name}.json, .csv, .png")


if __name__ == "__main__":
    main()
