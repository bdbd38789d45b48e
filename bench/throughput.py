"""End-to-end speed of codecs, tensor to bytes and back: walloc codecs, the reference WaLLoC package on the same
weights (its decoder width, 768), and JPEG/WebP/AVIF (Pillow) or Opus/MP3/AAC (PyAV); CPU with 1 thread and
with all threads, CUDA when present (synchronised timings; image codecs also on a batch of 64).

    python bench/throughput.py [--repeats 5] [--skip-reference]

Writes bench/results/throughput-<device>.{json,csv,png} and prints markdown tables. Images: one Kodak-size
image (768x512); audio: 10 s of 44.1 kHz stereo.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

import walloc
from walloc.evaluation import AUDIO_CODECS, av_round_trip, pillow_decode, pillow_encode
from walloc.media import find_media, read_audio, read_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    device_name, device_slug, interleaved_seconds, median_ratio, print_table, write_csv, write_results)
from reference_walloc import ReferenceUnavailable, load_reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
IMAGE_SETTINGS = {"JPEG": 75, "WebP": 75, "AVIF": 50}
AUDIO_KBPS = 64
REFERENCE = "reference walloc 1.2.1, width 768"
OURS_AT_REFERENCE_WIDTH = "walloc, reference width 768"


@dataclass
class Case:
    """One codec to time: ``encode()`` returns what ``decode`` takes; ``items`` media per call. No ``decode``:
    encode only, or (``round_trip``) one call that encodes and decodes, charged half to each."""

    name: str
    encode: Callable[[], object]
    decode: Optional[Callable[[object], object]] = None
    items: int = 1
    round_trip: bool = False


def reference_pair(device: str):
    """(reference Codec2D, walloc codec) with the same random weights at the reference's width."""
    from PIL import Image as PILImage

    reference = load_reference()
    torch.manual_seed(0)
    ref = reference.Codec2D(3, 3, None, 768, 12, 8, True).eval()
    with torch.no_grad():
        for key, value in ref.state_dict().items():
            if not key.startswith(("wt.", "iwt.")):
                value.copy_(torch.randn_like(value) * 0.02 + (1.0 if "norm" in key and key.endswith("weight") else 0))
    arguments = {"channels": 3, "J": 3, "Nd": 768, "latent_dim": 12}
    model = walloc.models.WallocImageModel(**arguments)
    model.load_state_dict(ref.state_dict())
    ours = walloc.ImageCodec("reference-width-random", model, device)
    ref.to(device)

    def encode(x: torch.Tensor) -> list[bytes]:
        with torch.no_grad():
            latents = ref.encoder(ref.wavelet_analysis(x.to(device) - 0.5, ref.J)).cpu()
        files = []
        for pil in reference.latent_to_pil(latents, 8, 3):
            buffer = io.BytesIO()
            pil.save(buffer, "WEBP", lossless=True)  # as its README does
            files.append(buffer.getvalue())
        return files

    def decode(files: list[bytes]) -> torch.Tensor:
        latents = reference.pil_to_latent([PILImage.open(io.BytesIO(f)) for f in files], 12, 8, 3).to(device)
        with torch.no_grad():
            return (ref.clamp(ref.wavelet_synthesis(ref.decoder(latents), ref.J)) + 0.5).cpu()

    return encode, decode, ours


def image_cases(image: torch.Tensor, device: str, with_reference: bool) -> list[Case]:
    """Every image codec on one image; walloc and the reference also on a batch of 16 (encode only)."""
    x = image.float().unsqueeze(0) / 255
    cases = []
    gpu_batch = x.to(device).expand(64, -1, -1, -1).contiguous() if device == "cuda" else None
    for codec in (walloc.load(n, device) for n in walloc.available_codecs()):
        if codec.kind == "image":
            cases.append(Case(f"walloc {codec.name}", lambda c=codec: c.compress(x), lambda d, c=codec: c.decompress(d)))
            if device == "cuda":  # a GPU needs a batch to fill it
                cases.append(Case(f"walloc {codec.name}, batch of 64", lambda c=codec: c.compress(gpu_batch),
                                  lambda d, c=codec: c.decompress(d), items=64))
    if with_reference:
        encode, decode, ours = reference_pair(device)
        torch.testing.assert_close(ours.decompress(ours.compress(x)), decode(encode(x)), atol=1e-4, rtol=0)
        cases.append(Case(OURS_AT_REFERENCE_WIDTH, lambda: ours.compress(x), ours.decompress))
        cases.append(Case(REFERENCE, lambda: encode(x), decode))
        batch = x.expand(16, -1, -1, -1).contiguous()
        cases.append(Case(f"{OURS_AT_REFERENCE_WIDTH}, batch of 16", lambda: ours.compress(batch), items=16))
        cases.append(Case(f"{REFERENCE}, batch of 16", lambda: encode(batch), items=16))
    if device == "cpu":
        for fmt, quality in IMAGE_SETTINGS.items():
            cases.append(Case(f"{fmt} q{quality} (Pillow)", lambda f=fmt, q=quality: pillow_encode(image, f, q),
                              pillow_decode))
    return cases


def audio_cases(audio: torch.Tensor, rate: int, device: str) -> list[Case]:
    cases = []
    for codec in (walloc.load(n, device) for n in walloc.available_codecs()):
        if codec.kind == "audio":
            cases.append(Case(f"walloc {codec.name}", lambda c=codec: c.compress(audio, sample_rate=rate),
                              lambda d, c=codec: c.decompress(d)))
    if device == "cpu" and importlib.util.find_spec("av") is not None:
        for name in AUDIO_CODECS:
            cases.append(Case(f"{name} {AUDIO_KBPS} kbps (PyAV, enc+dec / 2)",
                              lambda n=name: av_round_trip(audio.numpy(), rate, n, AUDIO_KBPS), round_trip=True))
    return cases


# Every case runs for this long before it is timed (a slow one once): what a loop over a folder sees, with the
# allocator's fresh pages and idle threads past (the first calls of a fast case took ~20% longer on the Xeon 6/167).
WARMUP_S = 0.5


def time_cases(cases: list[Case], units: float, repeats: int, device: str) -> list[dict]:
    """Rows of median seconds per item (and ``units`` per second). The cases' encodes run side by side, one call
    of each per round (:func:`interleaved_seconds`), then their decodes; a row keeps its encode times round by
    round, so that :func:`reference_speedups` compares walloc and the reference within each round."""
    encodes = interleaved_seconds({c.name: c.encode for c in cases}, repeats, device, WARMUP_S)
    decoders = {c.name: (lambda c=c, data=c.encode(): c.decode(data))
                for c in cases if c.decode is not None and not c.round_trip}
    decodes = interleaved_seconds(decoders, max(1, repeats // 2), device)
    rows = []
    for case in cases:
        rounds = [t / case.items for t in encodes[case.name]]
        encode_s = statistics.median(rounds)
        if case.round_trip:
            encode_s = decode_s = encode_s / 2
        elif case.name in decodes:
            decode_s = statistics.median(decodes[case.name]) / case.items
        else:
            decode_s = float("nan")
        rows.append({"codec": case.name, "encode_s": encode_s, "decode_s": decode_s,
                     "encode_rate": units / encode_s, "decode_rate": units / decode_s, "encode_rounds_s": rounds})
    return rows


def reference_speedups(rows: list[dict]) -> dict[str, float]:
    """walloc's encode speed-up over the reference package on the same weights, per case (one image, batch of
    16), as the median of round-by-round ratios."""
    by_name = {r["codec"]: r for r in rows}
    speedups = {}
    for name, row in by_name.items():
        if name.startswith(REFERENCE):
            ours = by_name.get(name.replace(REFERENCE, OURS_AT_REFERENCE_WIDTH))
            if ours is not None:
                case = name.removeprefix(REFERENCE).removeprefix(", ") or "one image"
                speedups[case] = median_ratio(row["encode_rounds_s"], ours["encode_rounds_s"])
    return speedups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--devices", nargs="+", choices=["cpu", "cuda"],
                        default=["cpu"] + (["cuda"] if walloc.cuda_available() else []))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    images = find_media([KODAK if KODAK.is_dir() else ROOT / "samples"], "image")
    image = read_image(images[0])
    audio, rate = read_audio(ROOT / "samples" / "amen.flac")
    audio = audio.repeat(1, 3)[:, : 10 * rate]
    devices = args.devices
    all_threads = torch.get_num_threads()
    results, speedups = [], []
    for device in devices:
        for threads in ([1, all_threads] if device == "cpu" else [all_threads]):
            torch.set_num_threads(threads)
            with_reference = not args.skip_reference
            try:
                cases = image_cases(image, device, with_reference)
            except ReferenceUnavailable as why:
                print(f"reference skipped: {why}")
                cases = image_cases(image, device, False)
            megapixels = image.shape[1] * image.shape[2] / 1e6
            image_rows = time_cases(cases, megapixels, args.repeats, device)
            for case, speedup in reference_speedups(image_rows).items():
                speedups.append({"device": device, "threads": threads, "case": case, "encode_speedup": speedup})
            audio_rows = time_cases(audio_cases(audio, rate, device), audio.shape[1] / 1e6, args.repeats, device)
            for media, rows in (("image", image_rows), ("audio", audio_rows)):
                for row in rows:
                    row.pop("encode_rounds_s")
                    results.append({"media": media, "device": device, "threads": threads, **row})
    torch.set_num_threads(all_threads)
    name = f"throughput-{device_slug(devices[-1])}"
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out, name, results)
    write_results(args.out, name, {"device": [device_name(d) for d in devices], "image": list(image.shape),
                                   "audio_samples": audio.shape[1], "rows": results,
                                   "encode_speedup_vs_reference": speedups})
    plot(results, args.out / f"{name}.png")
    for media, unit in (("image", "MP/s"), ("audio", "Msamples/s")):
        print(f"\n{media}: end to end (tensor -> bytes -> tensor), medians, {device_name(devices[-1])}\n")
        print_table(["codec", "device", "threads", "encode s", f"encode {unit}", "decode s", f"decode {unit}"],
                    [[r["codec"], r["device"], str(r["threads"]), f"{r['encode_s']:.4f}", f"{r['encode_rate']:.2f}",
                      f"{r['decode_s']:.4f}", f"{r['decode_rate']:.2f}"] for r in results if r["media"] == media])
    if speedups:
        print("\nencode (image to bytes), walloc over the reference on the same weights, median of round-by-round "
              "ratios: " + ", ".join(f"{s['case']} at {s['threads']} thread{'s' * (s['threads'] > 1)} "
                                      f"{s['encode_speedup']:.1f}x" for s in speedups))
    print(f"\nwrote {args.out / name}.json, .csv, .png")


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(14, 5))
    for ax, media, unit in zip(axes, ("image", "audio"), ("MP/s", "Msamples/s")):
        rows = [r for r in results if r["media"] == media]
        labels = [f"{r['codec']}\n{r['device']} x{r['threads']}" for r in rows]
        y = np.arange(len(rows))
        ax.barh(y - 0.2, [r["encode_rate"] for r in rows], 0.4, label="encode")
        ax.barh(y + 0.2, [r["decode_rate"] for r in rows], 0.4, label="decode")
        ax.set_yticks(y, labels, fontsize=7)
        ax.set_xscale("log")
        ax.set(xlabel=f"{unit} (log scale)", title=f"{media} codecs, end to end")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
