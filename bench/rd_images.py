"""Rate-distortion of image codecs on the same images: every walloc image codec against JPEG (libjpeg-turbo,
4:2:0), WebP and AVIF through Pillow, with bpp from real bytes, PSNR (RGB), MS-SSIM (pytorch-msssim) and
Bjontegaard deltas against JPEG.

    python bench/rd_images.py [--data DIR] [--quick]

Writes bench/results/rd-images-<device>.{json,csv,png} and prints markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

import walloc
from walloc import metrics
from walloc.media import find_media, read_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, print_table, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
QUALITIES = {"JPEG": [10, 20, 30, 50, 70, 85, 95], "WebP": [10, 25, 50, 70, 85, 95], "AVIF": [10, 25, 40, 55, 70, 85]}
QUICK_QUALITIES = {"JPEG": [20, 50, 85], "WebP": [25, 70, 95], "AVIF": [25, 55, 85]}


PILLOW_OPTIONS = {"JPEG": {"subsampling": "4:2:0"}, "WebP": {"method": 4}, "AVIF": {"speed": 6}}


def pillow_encode(image: torch.Tensor, fmt: str, quality: int) -> bytes:
    """uint8 (3, H, W) -> file bytes through Pillow."""
    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, fmt.upper(), quality=quality, **PILLOW_OPTIONS[fmt])
    return buffer.getvalue()


def pillow_decode(data: bytes) -> torch.Tensor:
    """File bytes -> uint8 (3, H, W)."""
    return torch.from_numpy(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).copy()).permute(2, 0, 1)


def measure(image: torch.Tensor, nbytes: int, decoded: torch.Tensor) -> dict:
    x, y = image.float().unsqueeze(0), decoded.float().unsqueeze(0)
    return {"bpp": 8 * nbytes / (image.shape[1] * image.shape[2]), "psnr_db": metrics.psnr(x, y, 255),
            "ms_ssim": metrics.ms_ssim(x, y, 255)}


def run(images: list[Path], qualities: dict[str, list[int]]) -> list[dict]:
    codecs = [walloc.load(n) for n in walloc.available_codecs()]
    codecs = [c for c in codecs if c.kind == "image"]
    settings = [(c.name, None) for c in codecs] + [(f, q) for f, qs in qualities.items() for q in qs]
    rows = []
    for path in tqdm(images, desc="images", unit="image"):
        image = read_image(path)
        for name, quality in settings:
            if quality is None:
                codec = next(c for c in codecs if c.name == name)
                data = codec.compress(image)
                decoded = (codec.decompress(data)[0] * 255).round().to(torch.uint8)
                nbytes = len(data)
            else:
                data = pillow_encode(image, name, quality)
                nbytes, decoded = len(data), pillow_decode(data)
            rows.append({"image": path.name, "codec": name, "quality": quality, **measure(image, nbytes, decoded)})
    return rows


def curves(rows: list[dict]) -> dict[str, list[dict]]:
    """Per codec, the mean bpp/PSNR/MS-SSIM of each setting, sorted by rate."""
    out: dict[str, list[dict]] = {}
    for codec in dict.fromkeys(r["codec"] for r in rows):
        points = []
        for quality in dict.fromkeys(r["quality"] for r in rows if r["codec"] == codec):
            sel = [r for r in rows if r["codec"] == codec and r["quality"] == quality]
            points.append({"quality": quality, **{k: statistics.fmean(r[k] for r in sel)
                                                   for k in ("bpp", "psnr_db", "ms_ssim")}})
        out[codec] = sorted(points, key=lambda p: p["bpp"])
    return out


def bd_against(curve: dict[str, list[dict]], anchor: str = "JPEG") -> dict[str, dict]:
    a = curve[anchor]
    out = {}
    anchor_rate, anchor_psnr = [p["bpp"] for p in a], [p["psnr_db"] for p in a]
    for name, points in curve.items():
        if name == anchor:
            continue
        rate, quality = [p["bpp"] for p in points], [p["psnr_db"] for p in points]
        if len(points) >= 2:
            out[name] = {"bd_rate_pct": metrics.bd_rate(anchor_rate, anchor_psnr, rate, quality),
                         "bd_psnr_db": metrics.bd_psnr(anchor_rate, anchor_psnr, rate, quality), "kind": "curve"}
        else:  # one operating point: compare with the anchor's curve there
            out[name] = {"bd_rate_pct": metrics.rate_delta_at(anchor_rate, anchor_psnr, rate[0], quality[0]),
                         "bd_psnr_db": metrics.psnr_delta_at(anchor_rate, anchor_psnr, rate[0], quality[0]),
                         "kind": "point"}
    return out


def plot(curve: dict[str, list[dict]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, points in curve.items():
        style = {"marker": "*", "markersize": 14, "linestyle": "none"} if len(points) == 1 else {"marker": "o"}
        for ax, key in zip(axes, ("psnr_db", "ms_ssim")):
            ax.plot([p["bpp"] for p in points], [p[key] for p in points], label=name, **style)
    axes[0].set(xlabel="bits per pixel", ylabel="PSNR (dB, RGB)", title=title)
    axes[1].set(xlabel="bits per pixel", ylabel="MS-SSIM", title=title)
    for ax in axes:
        ax.set_xlim(0, 2.0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=KODAK if KODAK.is_dir() else ROOT / "samples")
    parser.add_argument("--quick", action="store_true", help="three qualities per standard codec")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    images = find_media([args.data], "image")
    rows = run(images, QUICK_QUALITIES if args.quick else QUALITIES)
    curve = curves(rows)
    deltas = bd_against(curve)
    name = f"rd-images-{device_slug('cpu')}"
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / f"{name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(curve, args.out / f"{name}.png", f"{args.data.name} ({len(images)} images)")
    write_results(args.out, name, {"data": str(args.data), "images": len(images), "curves": curve,
                                   "bd_vs_jpeg": deltas})
    print(f"\n{len(images)} images from {args.data}; means over images:\n")
    print_table(["codec", "setting", "bpp", "PSNR (dB)", "MS-SSIM"],
                [[n, "-" if p["quality"] is None else f"q{p['quality']}", f"{p['bpp']:.3f}", f"{p['psnr_db']:.2f}",
                  f"{p['ms_ssim']:.4f}"] for n, pts in curve.items() for p in pts])
    print("\nAgainst JPEG (PSNR): Bjontegaard deltas over whole curves; for a codec with one operating point, the\n"
          "rate change at equal PSNR and the PSNR change at equal rate there, against JPEG's interpolated curve\n"
          "(negative rate = fewer bits; nan: outside JPEG's range):\n")
    print_table(["codec", "rate change (BD-rate)", "PSNR change (BD-PSNR)", "over"],
                [[n, f"{d['bd_rate_pct']:+.1f}%", f"{d['bd_psnr_db']:+.2f} dB",
                  "curve" if d["kind"] == "curve" else "its point"] for n, d in deltas.items()])
    print(f"\nwrote {args.out / name}.json, .csv, .png")


if __name__ == "__main__":
    main()
