"""A variable-rate WaLLoC image codec (``walloc train`` with ``qualities``) against the fixed-rate codec it was
fine-tuned from, on the same images over the whole quality scale: bpp from real bytes, PSNR of the 8-bit RGB
output, MS-SSIM; the PSNR change at the default and at the lowest quality (the same quantizer step), and the
Bjontegaard deltas of the variable-rate curve against the fixed-rate one.

    python bench/variable_rate.py runs/rgb-16x-vr/codec [--base rgb-16x] [--data DIR]

Writes bench/results/variable-rate-<device>.{json,csv,png} and prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

import walloc
from walloc import evaluation, metrics
from walloc.codec.wavelet import DEFAULT_QUALITY, MIN_QUALITY
from walloc.media import find_media, read_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, write_csv, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("codec", help="the variable-rate codec (name or folder)")
    parser.add_argument("--base", default="rgb-16x", help="the fixed-rate codec it started from")
    parser.add_argument("--data", type=Path, default=KODAK if KODAK.is_dir() else ROOT / "samples")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    base, tuned = walloc.load(args.base), walloc.load(args.codec)
    files = find_media([args.data], "image")
    rows = evaluation.image_rate_distortion(((f.name, read_image(f)) for f in files), [base, tuned], {})
    curve = evaluation.curves(rows, "bpp")
    at = {name: {p["setting"]: p for p in points} for name, points in curve.items()}
    change = {f"psnr_change_at_quality_{q:g}_db": at[tuned.name][q]["psnr_db"] - at[base.name][q]["psnr_db"]
              for q in (DEFAULT_QUALITY, MIN_QUALITY)}
    a, b = curve[base.name], curve[tuned.name]
    bd = {"bd_rate_pct": metrics.bd_rate([p["bpp"] for p in a], [p["psnr_db"] for p in a],
                                         [p["bpp"] for p in b], [p["psnr_db"] for p in b]),
          "bd_psnr_db": metrics.bd_psnr([p["bpp"] for p in a], [p["psnr_db"] for p in a],
                                        [p["bpp"] for p in b], [p["psnr_db"] for p in b])}
    shown = os.path.relpath(args.data, ROOT)
    label = f"{len(files)} images from {shown}"
    text, _ = evaluation.image_report(rows)
    print(f"\n{label}; means over images:\n\n{text}\n")
    print(evaluation.markdown_table(["", tuned.name + " - " + base.name],
                                    [[k, f"{v:+.3f}"] for k, v in {**change, **bd}.items()]))
    name = f"variable-rate-{device_slug('cpu')}"
    write_csv(args.out, name, rows)
    evaluation.plot_curves(curve, args.out / f"{name}.png", "bpp", [("psnr_db", "PSNR (dB, RGB)"),
                                                                    ("ms_ssim", "MS-SSIM")], "bits per pixel", label)
    write_results(args.out, name, {"data": shown, "images": len(files), "base": base.name, "codec": tuned.name,
                                   **change, **bd, "curves": curve})
    print(f"\nwrote {args.out / name}.json, .csv, .png")


if __name__ == "__main__":
    main()
