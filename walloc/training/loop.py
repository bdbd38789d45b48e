"""``walloc train``: fits a WaLLoC codec with a rate-distortion loss, on one process or many (torchrun).

Loss: MSE in the signal domain ([-0.5, 0.5]) + ``rate_weight`` x the bits per pixel (images) or per time
sample (audio) of the latents under a factorized entropy model (a differentiable proxy for the coder, which
also exploits spatial correlation and so spends fewer bits). Uniform noise stands in for rounding.

Outputs in ``config.out``: ``log.csv``, ``loss.png``, ``checkpoint.safetensors`` (resumed automatically) and
``codec/`` (the trained codec, loadable with ``walloc.load``).
"""

from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..codec.package import build_model, save_codec
from ..entropy import EntropyBottleneck
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import AudioSegments, ImageCrops, split_files
from .init import pca_init

LOG_FIELDS = ["step", "elapsed_s", "loss", "mse", "psnr_db", "rate_estimate", "lr", "val_psnr_db", "val_rate"]


def _distributed() -> tuple[int, int]:
    """(rank, world size), initialising the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _psnr(mse: float) -> float:
    """PSNR in dB over the full range of the signal: [0, 1] for images, [-1, 1] for audio (the model sees both
    as [-0.5, 0.5], so this is 10 log10(1 / MSE) there; the reference WaLLoC's convention)."""
    return 10 * math.log10(1 / max(mse, 1e-12))


class _RateDistortion(nn.Module):
    """Model + entropy model; one forward gives (reconstruction, bits)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.entropy = EntropyBottleneck(model.latent_dim, init_scale=30.0)
        # Only the density is needed for the rate term; its coding range (quantiles) is never used here.
        self.entropy.quantiles.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noisy, likelihoods = self.entropy(self.model.encode(x), training=True)
        x_hat = self.model.synthesis(self.model.decode_packets(noisy))
        return x_hat, -torch.log2(likelihoods).sum()


def _parameter_groups(system: _RateDistortion) -> list[dict]:
    """The linear skip's weights are ~100x smaller than the rest; Adam's steps are scale-free, so it gets a
    proportionally smaller learning rate (otherwise the first steps wreck the PCA start)."""
    skip = list(system.model.skip.parameters()) if system.model.skip is not None else []
    skip_ids = {id(p) for p in skip}
    rest = [p for p in system.parameters() if id(p) not in skip_ids and p.requires_grad]
    return [{"params": rest, "lr_scale": 1.0}] + ([{"params": skip, "lr_scale": _SKIP_LR_SCALE}] if skip else [])


_SKIP_LR_SCALE = 0.02


def _samples_per_item(x: torch.Tensor) -> int:
    return x.shape[-1] * (x.shape[-2] if x.dim() == 4 else 1)


@torch.no_grad()
def _validate(model: nn.Module, data: ImageCrops | AudioSegments, batches: int) -> tuple[float, float]:
    """(PSNR dB, real coded bits per pixel / time sample) on fixed held-out samples, in eval mode."""
    from ..entropy.adaptive import compress_symbols

    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(1234)
    mses, bits, count = [], 0, 0
    for _ in range(batches):
        x = data.sample(4, generator)
        x_hat, latents = model(x)
        mses.append(F.mse_loss(x_hat, x).item())
        symbols = (latents + 2 ** (model.latent_bits - 1)).to(torch.int32)
        bits += 8 * len(compress_symbols(symbols, model.latent_bits))
        count += x.shape[0] * _samples_per_item(x)
    model.train(was_training)
    return _psnr(sum(mses) / len(mses)), bits / count


def _plot(log_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(log_path.open()))
    if not rows:
        return
    step = [int(r["step"]) for r in rows]
    panels = [("psnr_db", "val_psnr_db", "PSNR (dB)", "distortion", "train (noisy latents)", "held out (rounded)"),
              ("rate_estimate", "val_rate", "bits per pixel / sample", "rate", "entropy-model estimate",
               "held out, real bytes")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (key, val_key, ylabel, title, label, val_label) in zip(axes, panels):
        ax.plot(step, [float(r[key]) for r in rows], label=label, lw=0.8)
        val = [(int(r["step"]), float(r[val_key])) for r in rows if r[val_key]]
        if val:
            ax.plot(*zip(*val), "o-", label=val_label)
        ax.set(xlabel="step", ylabel=ylabel, title=title)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def train(config: TrainConfig, resume: bool = True) -> Path:
    """Runs (or resumes) a training run; returns the exported codec folder."""
    rank, world = _distributed()
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    train_files, val_files = split_files(config.data, config.kind, config.holdout, config.validation)
    channels = config.model.get("channels", 3 if config.kind == "image" else 2)
    if config.kind == "image":
        data = ImageCrops(train_files, config.crop)
        val_data = ImageCrops(val_files, config.crop) if val_files else None
    else:
        data = AudioSegments(train_files, config.segment, channels, config.sample_rate)
        val_data = (AudioSegments(val_files, config.segment, channels, config.sample_rate, mix=False)
                    if val_files else None)

    torch.manual_seed(config.seed)
    model = build_model(config.kind, config.model)
    system = _RateDistortion(model)
    if config.pca_init:
        pca_init(model, data.sample(32, torch.Generator().manual_seed(config.seed)))
    optimizer = torch.optim.Adam(_parameter_groups(system), lr=config.lr)
    checkpoint = out / "checkpoint.safetensors"
    log_path = out / "log.csv"
    step, elapsed = 0, 0.0
    if resume and checkpoint.exists():
        step, elapsed = load_checkpoint(checkpoint, {"system": system}, optimizer)
    if world > 1:
        for p in system.parameters():  # every rank starts from rank 0's weights
            dist.broadcast(p.data, 0)
    wrapped = nn.parallel.DistributedDataParallel(system) if world > 1 else system
    generator = torch.Generator().manual_seed(config.seed * 1000 + rank + step * 7919)

    from tqdm import tqdm

    bar = tqdm(total=config.steps, initial=step, disable=rank != 0, desc=f"train {config.name}", unit="step")
    new_log = rank == 0 and (not log_path.exists() or step == 0)
    log_file = log_path.open("w" if new_log else "a", newline="") if rank == 0 else None
    writer = csv.DictWriter(log_file, LOG_FIELDS) if log_file else None
    if new_log:
        writer.writeheader()
    started = time.perf_counter() - elapsed
    model.train()
    while step < config.steps:
        elapsed = time.perf_counter() - started
        progress = step / config.steps
        if config.time_budget_s:
            progress = max(progress, elapsed / config.time_budget_s)
        stop = torch.tensor(float(progress >= 1.0))
        if world > 1:
            dist.all_reduce(stop)  # every rank stops at the same step
        if stop.item():
            break
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * progress)) * min(1.0, (step + 1) / config.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        x = data.sample(config.batch_size, generator)
        x_hat, bits = wrapped(x)
        mse = F.mse_loss(x_hat, x)
        rate = bits / (x.shape[0] * _samples_per_item(x))
        loss = mse + config.rate_weight * rate
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        if rank != 0:
            continue
        row = {}
        if val_data is not None and (step % config.validate_every == 0 or step == config.steps):
            val_psnr, val_rate = _validate(model, val_data, 2)
            row = {"val_psnr_db": f"{val_psnr:.3f}", "val_rate": f"{val_rate:.4f}"}
        if step % config.log_every == 0 or row:
            bar.set_postfix(psnr=f"{_psnr(mse.item()):.2f}", rate=f"{rate.item():.3f}")
            writer.writerow({"step": step, "elapsed_s": f"{time.perf_counter() - started:.1f}",
                             "loss": f"{loss.item():.6g}", "mse": f"{mse.item():.6g}",
                             "psnr_db": f"{_psnr(mse.item()):.3f}", "rate_estimate": f"{rate.item():.4f}",
                             "lr": f"{lr:.3g}", **row})
            log_file.flush()
        if step % config.checkpoint_every == 0:
            save_checkpoint(checkpoint, {"system": system}, optimizer, step, time.perf_counter() - started)
            _plot(log_path, out / "loss.png")
    bar.close()
    folder = out / "codec"
    if rank == 0:
        save_checkpoint(checkpoint, {"system": system}, optimizer, step, time.perf_counter() - started)
        log_file.close()
        _plot(log_path, out / "loss.png")
        extra = {"sample_rate": config.sample_rate} if config.kind == "audio" else {}
        save_codec(folder, config.name, config.kind, config.model, model.eval(), **extra)
    if world > 1:
        dist.barrier()
    return folder
