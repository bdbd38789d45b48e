"""Compressed learning: task heads on codec latents against pixel heads of (a) the same tensor size and
(b) full resolution, all with the same body and width.

- classification: MNIST (the shared 10,000-digit split, fixed 8,000 / 2,000), digits padded to 32x32 as RGB,
  encoded with the shipped rgb-16x;
- colourisation: grey -> colour on 64x64 crops of ../shared/data/train-images (every 10th file held out),
  PSNR and MS-SSIM of the decoded colour image.

    python bench/heads.py [--epochs 10] [--steps 600]

Writes bench/results/heads-<device>.{json,csv,png} and prints a markdown table. Reports accuracy, parameters,
forward FLOPs per item, training and inference time, and bytes per item read from disk (the float32 latent
cache, or uint8 pixels).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import walloc
from walloc.data import LatentDataset
from walloc.heads import LatentClassifier, PixelClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, print_table, write_csv, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "classify" / "mnist"


def load_mnist(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 digits (10000, 3, 32, 32) (padded, grey as RGB) and int64 labels."""
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    digits = torch.from_numpy(np.pad(images, ((0, 0), (2, 2), (2, 2)))).unsqueeze(1).expand(-1, 3, -1, -1)
    return digits.contiguous(), torch.from_numpy(labels.astype(np.int64))


def flops_per_item(model: torch.nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        model(x[:1])
    return counter.get_total_flops()


def fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int = 0) -> float:
    """Adam with a cosine schedule; returns the wall time in seconds."""
    torch.manual_seed(seed)
    steps = epochs * ((len(x) + 127) // 128)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(128):
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(accuracy %, inference seconds per item)."""
    model.eval()
    start = time.perf_counter()
    predictions = torch.cat([model(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return 100 * (predictions == y).float().mean().item(), (time.perf_counter() - start) / len(x)


def colour_crops(files: list[Path], size: int, per_file: int, seed: int) -> torch.Tensor:
    """uint8 (N, 3, size, size) random crops."""
    from walloc.media import read_image

    g = torch.Generator().manual_seed(seed)
    crops = []
    for f in files:
        image = read_image(f)
        for _ in range(per_file):
            top = int(torch.randint(image.shape[1] - size + 1, (1,), generator=g))
            left = int(torch.randint(image.shape[2] - size + 1, (1,), generator=g))
            crops.append(image[:, top:top + size, left:left + size])
    return torch.stack(crops)


def colourisation(codec, steps: int, width: int) -> list[dict]:
    """Grey (as RGB) -> colour. Trained on 64x64 crops (the latent head against the colour image's unit-scale
    latents, pixel heads against pixels), evaluated on the whole held-out images after decoding."""
    from walloc import metrics
    from walloc.heads import LatentDenseHead, PixelDenseHead
    from walloc.media import find_media, read_image

    files = find_media([ROOT.parent / "shared" / "data" / "train-images"], "image")
    held = files[::10]
    train = colour_crops([f for f in files if f not in held], 64, 8, 0).float() / 255
    tests = [read_image(f).float() / 255 for f in held]
    tests = [t[:, : t.shape[1] // 8 * 8, : t.shape[2] // 8 * 8].unsqueeze(0) for t in tests]

    def grey(x: torch.Tensor) -> torch.Tensor:
        return x.mean(1, keepdim=True).expand(-1, 3, -1, -1)

    def half(x: torch.Tensor) -> torch.Tensor:  # 3 x H/2 x W/2 pixels: as many values as 12 x H/8 x W/8 latents
        return F.interpolate(x, scale_factor=0.5, mode="area")

    compander = codec.model.decoder[0]
    with torch.no_grad():
        z_grey = torch.cat([codec.encode(b) for b in grey(train).split(256)])
        target = torch.cat([compander(codec.encode(b)) / compander.scale for b in train.split(256)])

    def run(name: str, head, x: torch.Tensor) -> torch.Tensor:
        """Colour image in [0, 1] at x's size from grey x."""
        if name.startswith("latent"):
            latents = codec.model.encoder[1](head(codec.encode(grey(x))) * compander.scale)
            return codec.decode(latents)[..., : x.shape[2], : x.shape[3]]
        if "same tensor" in name:
            return F.interpolate(head(half(grey(x))) + 0.5, size=x.shape[2:], mode="bilinear", align_corners=False)
        return head(grey(x)) + 0.5

    # Residual heads: each starts as the identity (the grey image), as colour mostly keeps the luminance.
    heads = {"latent (12 x H/8 x W/8, rgb-16x)": LatentDenseHead(codec, width=width, depth=6, residual=True),
             "pixels, same tensor size (3 x H/2 x W/2)": PixelDenseHead(3, 3, width=width, depth=6, residual=True),
             "pixels, full resolution (3 x H x W)": PixelDenseHead(3, 3, width=width, depth=6, residual=True)}
    rows = []
    for name, head in heads.items():
        torch.manual_seed(0)
        optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-3, total_steps=steps)
        start = time.perf_counter()
        head.train()
        for _ in range(steps):
            batch = torch.randint(len(train), (16,))
            if name.startswith("latent"):
                loss = F.mse_loss(head(z_grey[batch]), target[batch])
            elif "same tensor" in name:
                loss = F.mse_loss(head(half(grey(train[batch]))), half(train[batch]) - 0.5)
            else:
                loss = F.mse_loss(head(grey(train[batch])), train[batch] - 0.5)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        seconds = time.perf_counter() - start
        head.eval()
        with torch.no_grad():
            outputs = [run(name, head, t).clamp(0, 1) for t in tests]
            probe = train[:1]
            flops_input = (codec.encode(grey(probe)) if name.startswith("latent")
                           else half(grey(probe)) if "same tensor" in name else grey(probe))
        rows.append({"task": "colourisation", "input": name,
                     "psnr_db": float(np.mean([metrics.psnr(o, t) for o, t in zip(outputs, tests)])),
                     "ms_ssim": float(np.mean([metrics.ms_ssim(o, t) for o, t in zip(outputs, tests)])),
                     "params": sum(p.numel() for p in head.parameters()), "flops": flops_per_item(head, flops_input),
                     "train_s": seconds})
        print(f"{name}: {rows[-1]['psnr_db']:.2f} dB", flush=True)
    rows.append({"task": "colourisation", "input": "the grey input itself", "psnr_db":
                 float(np.mean([metrics.psnr(grey(t), t) for t in tests])),
                 "ms_ssim": float(np.mean([metrics.ms_ssim(grey(t), t) for t in tests])), "params": 0, "flops": 0,
                 "train_s": 0.0})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--steps", type=int, default=600, help="colourisation training steps")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    codec = walloc.load("rgb-16x")
    digits, labels = load_mnist(MNIST)
    split = torch.Generator().manual_seed(0)
    order = torch.randperm(len(digits), generator=split)
    train, test = order[:8000], order[8000:]

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        latents_set = LatentDataset([(digits[i], int(labels[i])) for i in range(len(digits))], codec,
                                    cache_dir=cache, name="mnist-t10k-32x32-rgb")
        encode_s = time.perf_counter() - start
        latents = torch.stack([latents_set[i][0] for i in range(len(latents_set))])
    pixels = digits.float() / 255
    small = F.interpolate(pixels, size=(8, 8), mode="area")  # 3x8x8: as many values as the 12x4x4 latents
    inputs = {
        "latent (12x4x4, rgb-16x)": (LatentClassifier(codec, 10, width=args.width), latents, 12 * 4 * 4 * 4),
        "pixels, same tensor size (3x8x8)": (PixelClassifier(10, width=args.width), small, 3 * 8 * 8),
        "pixels, full resolution (3x32x32)": (PixelClassifier(10, width=args.width), pixels, 3 * 32 * 32),
    }
    rows = []
    for name, (model, x, nbytes) in inputs.items():
        seconds = fit(model, x[train], labels[train], args.epochs)
        accuracy, infer = evaluate(model, x[test], labels[test])
        rows.append({"task": "MNIST classification", "input": name, "accuracy_pct": accuracy,
                     "params": sum(p.numel() for p in model.parameters()), "flops": flops_per_item(model, x),
                     "train_s": seconds, "infer_ms": 1e3 * infer, "bytes_per_item": nbytes})
        print(f"{name}: {accuracy:.2f}%", flush=True)
    colour = colourisation(codec, args.steps, args.width)
    name = f"heads-{device_slug('cpu')}"
    write_csv(args.out, f"{name}-classification", rows)
    write_csv(args.out, f"{name}-colourisation", colour)
    write_results(args.out, name, {"epochs": args.epochs, "steps": args.steps, "width": args.width,
                                   "encode_s": encode_s, "classification": rows, "colourisation": colour})
    plot(rows, colour, args.out / f"{name}.png")
    print(f"\nMNIST, 8,000 train / 2,000 test, {args.epochs} epochs, width {args.width}; encoding 10,000 digits "
          f"with rgb-16x took {encode_s:.1f} s\n")
    print_table(["input", "accuracy", "params", "MFLOPs / item", "train (s)", "inference (ms / item)",
                 "bytes / item on disk"],
                [[r["input"], f"{r['accuracy_pct']:.2f}%", f"{r['params']:,}", f"{r['flops'] / 1e6:.2f}",
                  f"{r['train_s']:.1f}", f"{r['infer_ms']:.3f}", str(r["bytes_per_item"])] for r in rows])
    print(f"\nColourisation, {args.steps} steps of 16 crops of 64x64, whole held-out images; FLOPs per 64x64 crop\n")
    print_table(["input", "PSNR (dB)", "MS-SSIM", "params", "MFLOPs / crop", "train (s)"],
                [[r["input"], f"{r['psnr_db']:.2f}", f"{r['ms_ssim']:.4f}", f"{r['params']:,}",
                  f"{r['flops'] / 1e6:.1f}", f"{r['train_s']:.1f}"] for r in colour])
    print(f"\nwrote {args.out / name}.json, -classification.csv, -colourisation.csv, .png")


def plot(classification: list[dict], colour: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for rows, ax, key, label, title in ((classification, axes[0], "accuracy_pct", "test accuracy (%)", "MNIST"),
                                        (colour, axes[1], "psnr_db", "PSNR (dB)", "colourisation")):
        for r in rows:
            if r["flops"]:
                ax.scatter(r["flops"] / 1e6, r[key], s=80, label=r["input"])
            else:
                ax.axhline(r[key], color="grey", linestyle="--", label=r["input"])
        ax.set(xscale="log", xlabel="forward MFLOPs per item (log)", ylabel=label, title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
