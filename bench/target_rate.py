"""Target rates on real images: ``compress(image, bpp=target)`` with each codec of the image family on every image
and a ladder of targets, the achieved rate from the stream's real bytes. Inside a codec's range on an image
(between its rates at quality 1 and at its ``max_quality``) the stream must never exceed the target and should
come within 10% of it; below the range ``compress`` must raise ValueError; above it, it gives the top quality.
The family row takes, for each target, the first listed codec whose range on that image holds it.

    python bench/target_rate.py [--data DIR] [--codecs rgb-16x-vr rgb-4x] [--targets 0.1 0.15 ...]

Writes bench/results/target-rate-<device>.{json,csv} and prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch
from tqdm import tqdm

import walloc
from walloc import evaluation
from walloc.codec.wavelet import MIN_QUALITY
from walloc.media import find_media, read_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, write_csv, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
FAMILY = ["rgb-16x-vr", "rgb-4x"]
TARGETS = [0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5]


def image_rows(name: str, image: torch.Tensor, codec, targets: list[float]) -> list[dict]:
    """One row per target: where it lies in the codec's range on this image, and the rate it achieved."""
    low, high = (codec.rate(codec.compress(image, quality=q))["bpp"] for q in (MIN_QUALITY, codec.max_quality))
    rows = []
    for target in targets:
        row = {"item": name, "codec": codec.name, "target_bpp": target, "low_bpp": low, "high_bpp": high}
        try:
            rate = codec.rate(codec.compress(image, bpp=target))
        except ValueError as error:
            if "below this codec's range" not in str(error):
                raise
            rows.append({**row, "where": "below", "bpp": float("nan"), "quality": float("nan"), "raised": True})
            continue
        where = "inside" if low <= target < high else ("above" if target >= high else "below")
        rows.append({**row, "where": where, "bpp": rate["bpp"], "quality": rate["quality"], "raised": False})
    return rows


def summarize(rows: list[dict]) -> dict:
    """Over the rows inside the range: achieved / target (max, min, median), misses; and the rows below it."""
    inside = [r["bpp"] / r["target_bpp"] for r in rows if r["where"] == "inside"]
    below = [r for r in rows if r["where"] == "below"]
    return {"inside": len(inside), "max_ratio": max(inside, default=float("nan")),
            "min_ratio": min(inside, default=float("nan")),
            "median_ratio": statistics.median(inside) if inside else float("nan"),
            "over_target": sum(q > 1 for q in inside), "under_90pct": sum(q < 0.9 for q in inside),
            "below": len(below), "below_raised": sum(r["raised"] for r in below)}


def family_rows(rows: list[dict], members: list[str]) -> list[dict]:
    """Per image and target, the row of the first member whose range holds the target (the family's answer);
    targets no member holds are below or above the family's range on that image."""
    by_key = {(r["item"], r["target_bpp"], r["codec"]): r for r in rows}
    out = []
    for item, target in dict.fromkeys((r["item"], r["target_bpp"]) for r in rows):
        candidates = [by_key[item, target, m] for m in members]
        chosen = next((r for r in candidates if r["where"] == "inside"), None)
        if chosen is None:
            lowest = min(r["low_bpp"] for r in candidates)
            chosen = min(candidates, key=lambda r: r["low_bpp"]) if target < lowest else max(
                candidates, key=lambda r: r["high_bpp"])
        out.append({**chosen, "codec": "family"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=KODAK if KODAK.is_dir() else ROOT / "samples")
    parser.add_argument("--codecs", nargs="+", default=FAMILY, help=f"image codecs (default: {' '.join(FAMILY)})")
    parser.add_argument("--targets", nargs="+", type=float, default=TARGETS, help="bits per pixel")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    files = find_media([args.data], "image")
    codecs = [walloc.load(name) for name in args.codecs]
    rows = []
    for file in tqdm(files, desc="images", unit="image"):
        image = read_image(file)
        for codec in codecs:
            rows += image_rows(file.name, image, codec, args.targets)
    summary = {codec.name: summarize([r for r in rows if r["codec"] == codec.name]) for codec in codecs}
    if len(codecs) > 1:
        summary["family"] = summarize(family_rows(rows, [c.name for c in codecs]))
    shown = os.path.relpath(args.data, ROOT)
    print(f"\n{len(files)} images from {shown}; targets {', '.join(f'{t:g}' for t in args.targets)} bpp\n")
    print(evaluation.markdown_table(
        ["codec", "targets inside its range", "achieved / target: max", "min", "median", "over the target",
         "under 90%", "below the range: raised ValueError"],
        [[name, str(s["inside"]), f"{s['max_ratio']:.4f}", f"{s['min_ratio']:.4f}", f"{s['median_ratio']:.4f}",
          str(s["over_target"]), str(s["under_90pct"]), f"{s['below_raised']} of {s['below']}"]
         for name, s in summary.items()]))
    name = f"target-rate-{device_slug('cpu')}"
    write_csv(args.out, name, rows)
    write_results(args.out, name, {"data": shown, "images": len(files), "targets_bpp": args.targets,
                                   "summary": summary})
    print(f"\nwrote {args.out / name}.json, .csv")


if __name__ == "__main__":
    main()
