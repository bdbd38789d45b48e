"""WaLLoC codecs: quality and real bitstream sizes of the shipped codecs on Kodak and held-out music, and the
size of the reference package's lossless-WebP storage of the same latents (speed: bench/throughput.py).

    python bench/walloc_codecs.py                      # about a minute

Writes bench/results/walloc-codecs-<device>.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import sys
from pathlib import Path

import torch

import walloc
from walloc import metrics
from walloc.media import find_media, read_audio, read_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_name, device_slug, median_seconds, print_table, write_results  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HELD_OUT_MUSIC = [SHARED / "audio" / "music-ogg" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
                  SHARED / "audio" / "music-ogg" /
                  "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg"]


def webp_lossless_bytes(symbols: torch.Tensor, strongest: bool = False) -> int:
    """The reference package's storage: 8-bit latents tiled into an RGB image (C = 3), lossless WebP with
    Pillow's defaults, as its README does, or (``strongest``) at quality 100, method 6."""
    from PIL import Image

    n, c, h, w = symbols.shape
    tiles = int(math.isqrt(c // 3))
    if 3 * tiles * tiles != c:
        raise ValueError(f"{c} channels do not tile as 3 * n**2")
    grid = symbols.view(n, 3, tiles, tiles, h, w).permute(0, 2, 4, 3, 5, 1).reshape(n, tiles * h, tiles * w, 3)
    total = 0
    for image in grid:
        buffer = io.BytesIO()
        options = {"quality": 100, "method": 6} if strongest else {}
        Image.fromarray(image.to(torch.uint8).numpy(), "RGB").save(buffer, "WEBP", lossless=True, **options)
        total += buffer.tell()
    return total


def evaluate_images(codec, files: list[Path]) -> dict:
    rows = []
    for path in files:
        image = read_image(path)
        data = codec.compress(image)
        decoded = (codec.decompress(data)[0] * 255).round()
        symbols = (torch.round(codec.encode(image)) + 128).cpu()
        pixels = image.shape[1] * image.shape[2]
        rows.append({"image": path.name, "bytes": len(data), "bpp": metrics.bits_per_pixel(len(data), pixels),
                     "psnr_db": metrics.psnr(image.float(), decoded, data_range=255),
                     "webp_latent_bpp": 8 * webp_lossless_bytes(symbols) / pixels,
                     "webp_max_latent_bpp": 8 * webp_lossless_bytes(symbols, strongest=True) / pixels})
    mean = {k: statistics.fmean(r[k] for r in rows) for k in ("bpp", "psnr_db", "webp_latent_bpp", "webp_max_latent_bpp")}
    mean["saving_vs_webp"] = 1 - mean["bpp"] / mean["webp_latent_bpp"]
    mean["saving_vs_webp_max"] = 1 - mean["bpp"] / mean["webp_max_latent_bpp"]
    return {"codec": codec.name, "images": len(rows), "mean": mean, "per_image": rows}


def evaluate_audio(codec, files: list[Path]) -> dict:
    rows = []
    for path in files:
        audio, rate = read_audio(path)
        if audio.shape[0] == 1:
            audio = audio.expand(2, -1)
        data = codec.compress(audio, sample_rate=rate)
        decoded = codec.decompress(data)[0]
        mse = torch.mean((decoded.double() - audio.double()) ** 2).item()
        seconds = audio.shape[1] / rate
        rows.append({"file": path.name, "seconds": seconds, "kbps": metrics.kbps(len(data), seconds),
                     "psnr_db": metrics.psnr(audio, decoded, data_range=2.0),
                     "snr_db": 10 * math.log10(torch.mean(audio**2).item() / mse)})
    seconds = sum(r["seconds"] for r in rows)
    mean = {"kbps": sum(r["kbps"] * r["seconds"] for r in rows) / seconds,
            "psnr_db": statistics.fmean(r["psnr_db"] for r in rows),
            "snr_db": statistics.fmean(r["snr_db"] for r in rows)}
    reduction = 2 * 2**codec.model.J / codec.latent_dim
    return {"codec": codec.name, "dimensionality_reduction": reduction, "mean": mean, "per_file": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=SHARED / "kodak")
    parser.add_argument("--audio", type=Path, nargs="*", default=HELD_OUT_MUSIC)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    result = {"device": device_name("cpu"), "threads": torch.get_num_threads(), "image": [], "audio": []}

    images = find_media([args.images], "image")
    codecs = [walloc.load(name) for name in walloc.available_codecs()]
    for codec in (c for c in codecs if c.kind == "image"):
        result["image"].append(evaluate_images(codec, images))
        kodak = read_image(images[0])
        data = codec.compress(kodak)
        result["image"][-1]["decode_s"] = median_seconds(lambda: codec.decompress(data), args.repeats)
        result["image"][-1]["encode_s"] = median_seconds(lambda: codec.compress(kodak), args.repeats)
    print(f"\nImages ({len(images)} from {args.images}); PSNR of the 8-bit decoded image, bpp from real bytes:\n")
    print_table(["codec", "PSNR (dB)", "bpp", "same latents as lossless WebP, reference's settings (bpp)", "saving",
                 "WebP at its strongest (bpp)", "saving", "encode (s)", "decode (s)"],
                [[r["codec"], f"{r['mean']['psnr_db']:.2f}", f"{r['mean']['bpp']:.3f}",
                  f"{r['mean']['webp_latent_bpp']:.3f}", f"{100 * r['mean']['saving_vs_webp']:.1f}%",
                  f"{r['mean']['webp_max_latent_bpp']:.3f}", f"{100 * r['mean']['saving_vs_webp_max']:.1f}%",
                  f"{r['encode_s']:.3f}", f"{r['decode_s']:.3f}"] for r in result["image"]])

    for codec in (c for c in codecs if c.kind == "audio"):
        result["audio"].append(evaluate_audio(codec, args.audio))
    print("\nAudio (held-out music; PSNR over the full range of [-1, 1], i.e. peak-to-peak 2, the reference's "
          "convention: subtract 6.02 dB for peak 1; SNR does not depend on the convention):\n")
    print_table(["codec", "reduction", "PSNR (dB)", "SNR (dB)", "kbps"],
                [[r["codec"], f"{r['dimensionality_reduction']:.1f}x", f"{r['mean']['psnr_db']:.2f}",
                  f"{r['mean']['snr_db']:.2f}", f"{r['mean']['kbps']:.1f}"] for r in result["audio"]])

    path = write_results(Path(__file__).resolve().parent / "results", f"walloc-codecs-{device_slug('cpu')}", result)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
