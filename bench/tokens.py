"""JPEG-byte and AVC-byte tokenizers: tokens per image, bits per pixel and round-trip PSNR against JPEG
quality, byte-level vs BPE (vocabulary 320 trained on the training images, never on Kodak), and encode /
decode images per second; AVC tokens of a 15-frame, 3 fps clip.

    python bench/tokens.py [--data ../shared/data/kodak] [--train ../shared/data/train-images]
                           [--video ../shared/data/video/bigbuckbunny.mp4]

Writes bench/results/tokens-cpu.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from common import print_table, write_results
from walloc.metrics import psnr_from_mse
from walloc.tokenizers import AvcTokenizer, JpegTokenizer

HERE = Path(__file__).parent
SHARED = HERE.parent.parent / "shared" / "data"
QUALITIES = (10, 25, 50, 75, 90)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


def load_images(folder: Path, limit: int | None = None) -> list[Image.Image]:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not paths:
        raise SystemExit(f"no images in {folder}")
    return [Image.open(p).convert("RGB") for p in paths]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return psnr_from_mse(mse, 255)


def measure(tokenizer: JpegTokenizer, images: list[Image.Image]) -> dict:
    t0 = time.perf_counter()
    ids = tokenizer.batch_encode(images)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    decoded = [tokenizer.decode(i) for i in ids]
    decode_s = time.perf_counter() - t0
    references = [(tokenizer.canonical_jpeg(im), np.asarray(tokenizer.prepare(im))) for im in images]
    pixels = tokenizer.size**2
    return {
        "tokens_per_image": float(np.mean([len(i) for i in ids])),
        "stripped_bpp": float(np.mean([8 * len(tokenizer.strip_tables(c)) / pixels for c, _ in references])),
        "psnr_db": float(np.mean([psnr(np.asarray(d), r) for d, (_, r) in zip(decoded, references)])),
        "encode_images_per_s": len(images) / encode_s,
        "decode_images_per_s": len(images) / decode_s,
    }


def video_clip(path: Path, frames: int = 15, fps: int = 3) -> np.ndarray | None:
    try:
        import av
    except ImportError:
        return None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        step = max(1, round(float(stream.average_rate) / fps))
        out = [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % step == 0]
    return np.stack(out[:frames])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "kodak")
    parser.add_argument("--train", type=Path, default=SHARED / "train-images")
    parser.add_argument("--video", type=Path, default=SHARED / "video" / "bigbuckbunny.mp4")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    images = load_images(args.data)
    train = load_images(args.train)
    rows = []
    for quality in QUALITIES:
        rows.append({"tokenizer": "bytes", "quality": quality, **measure(JpegTokenizer(quality=quality), images)})
        print(f"quality {quality}: {rows[-1]['tokens_per_image']:.0f} tokens", flush=True)
    bpe = JpegTokenizer().train_bpe(train, vocab_size=320)
    rows.append({"tokenizer": "BPE 320 (trained on train-images)", "quality": 25, **measure(bpe, images)})
    result = {"data": args.data.name, "images": len(images), "train_images": len(train), "rows": rows}
    clip = video_clip(args.video) if args.video.exists() else None
    if clip is not None:
        avc = AvcTokenizer()
        ids = avc.encode(clip)
        frames = avc.decode(ids).numpy()
        resized = np.stack([np.asarray(Image.fromarray(f).resize((avc.width, avc.height))) for f in clip])
        result["avc"] = {"frames": len(clip), "tokens": len(ids), "bytes": len(ids) - 2,
                         "psnr_db": float(np.mean([psnr(a, b) for a, b in zip(frames, resized)]))}
        avc_bpe = AvcTokenizer().train_bpe([clip[:8], clip[8:]], vocab_size=1024)
        result["avc"]["tokens_bpe_1024_in_sample"] = len(avc_bpe.encode(clip))
    path = write_results(args.out, "tokens-cpu", result)
    print(f"\n{len(images)} images from {args.data.name}; BPE trained on {len(train)} images of {args.train.name}\n")
    print_table(
        ["tokenizer", "JPEG quality", "tokens/image", "stripped bpp", "PSNR dB", "encode img/s", "decode img/s"],
        [[r["tokenizer"], str(r["quality"]), f"{r['tokens_per_image']:.0f}", f"{r['stripped_bpp']:.3f}",
          f"{r['psnr_db']:.2f}", f"{r['encode_images_per_s']:.0f}", f"{r['decode_images_per_s']:.0f}"] for r in rows],
    )
    if "avc" in result:
        a = result["avc"]
        print(f"\nAVC: {a['frames']} frames at 3 fps, 256x144, QP 37: {a['tokens']} byte tokens "
              f"(BPE 1024 fitted on the same clip: {a['tokens_bpe_1024_in_sample']}), PSNR {a['psnr_db']:.2f} dB")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
