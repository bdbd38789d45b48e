"""Compressed learning: task heads on codec latents against pixel heads of (a) the same tensor size and
(b) full resolution. So far the classification task: MNIST (the shared 10,000-digit split, fixed 8,000 /
2,000), digits padded to 32x32, as RGB, encoded with the shipped rgb-16x.

    python bench/heads.py [--epochs 10]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=int, default=32)
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
    name = f"heads-{device_slug('cpu')}"
    write_csv(args.out, name, rows)
    write_results(args.out, name, {"epochs": args.epochs, "width": args.width, "encode_s": encode_s, "rows": rows})
    plot(rows, args.out / f"{name}.png")
    print(f"\nMNIST, 8,000 train / 2,000 test, {args.epochs} epochs, width {args.width}; encoding 10,000 digits "
          f"with rgb-16x took {encode_s:.1f} s\n")
    print_table(["input", "accuracy", "params", "MFLOPs / item", "train (s)", "inference (ms / item)",
                 "bytes / item on disk"],
                [[r["input"], f"{r['accuracy_pct']:.2f}%", f"{r['params']:,}", f"{r['flops'] / 1e6:.2f}",
                  f"{r['train_s']:.1f}", f"{r['infer_ms']:.3f}", str(r["bytes_per_item"])] for r in rows])
    print(f"\nwrote {args.out / name}.json, .csv, .png")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        ax.scatter(r["flops"] / 1e6, r["accuracy_pct"], s=80, label=r["input"])
    ax.set(xscale="log", xlabel="forward MFLOPs per item (log)", ylabel="test accuracy (%)",
           title="MNIST: heads on latents vs pixels")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
