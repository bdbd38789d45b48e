"""``walloc train``: the shared training loop, on one process or many (torchrun).

What is trained comes from the config's ``kind`` (see :func:`build_task`): a WaLLoC codec, the CompressAI
baseline, a compressed-learning head, or a NeRV / NeRV++ network fitted to one video. Outputs in
``config.out``: ``log.csv``, ``loss.png``, ``checkpoint.safetensors`` (resumed automatically) and the exported
result (``codec/``, ``baseline/``, ``head/`` or ``video/``).
"""

from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .task import Task

_FIXED_FIELDS = ["step", "elapsed_s", "lr"]


def training_device(name: str | None) -> torch.device:
    """The config's device, or CUDA when present; a CUDA process of torchrun takes its local rank's GPU."""
    try:
        device = torch.device(name if name else ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: no CUDA device is visible to torch here")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size), initialising the process group when launched by torchrun: NCCL between GPUs,
    gloo between CPU processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _to_device(batch, device: torch.device):
    """A batch (a tensor, or a tuple / list / dict of them) on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def build_task(config: TrainConfig) -> Task:
    """The objective named by ``config.kind``."""
    if config.kind in ("image", "audio"):
        from .codec_task import CodecTask

        return CodecTask(config)
    if config.kind == "factorized-prior":
        from .baseline import FactorizedPriorTask

        return FactorizedPriorTask(config)
    if config.kind == "music2latent":
        from .consistency_task import ConsistencyTask

        return ConsistencyTask(config)
    if config.kind == "video":
        from .video_task import VideoFitTask

        return VideoFitTask(config)
    from .head_tasks import build_head_task

    return build_head_task(config)


def _plot(task: Task, log_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(log_path.open()))
    if not rows:
        return
    step = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, len(task.panels), figsize=(5 * len(task.panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], task.panels):
        if panel.train:
            ax.plot(step, [float(r[panel.train]) for r in rows], label="train", lw=0.8)
        val = [(int(r["step"]), float(r[panel.validation])) for r in rows if panel.validation and r[panel.validation]]
        if val:
            ax.plot(*zip(*val), "o-", label="held out")
        ax.set(xlabel="step", ylabel=panel.ylabel)
        ax.set_title(panel.title, fontsize=9)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def run(task: Task, config: TrainConfig, resume: bool = True) -> Path:
    """Trains ``task`` under ``config``'s schedule and logging on ``config.device``; returns the exported
    folder. The task stays on that device."""
    device = training_device(config.device)
    rank, world = _distributed(device)
    task.to_device(device)
    out = Path(config.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    optimizer = torch.optim.Adam(task.parameter_groups(), lr=config.lr, betas=task.adam_betas)
    checkpoint = out / "checkpoint.safetensors"
    log_path = out / "log.csv"
    step, elapsed = 0, 0.0
    if resume and checkpoint.exists():
        step, elapsed = load_checkpoint(checkpoint, {"system": task}, optimizer)
    if world > 1:
        for p in task.parameters():  # every rank starts from rank 0's weights
            dist.broadcast(p.data, 0)
    device_ids = [device.index] if device.type == "cuda" else None
    wrapped = nn.parallel.DistributedDataParallel(task, device_ids=device_ids) if world > 1 else task
    generator = torch.Generator().manual_seed(config.seed * 1000 + rank + step * 7919)

    from tqdm import tqdm

    bar = tqdm(total=config.steps, initial=step, disable=rank != 0, desc=f"train {config.name}", unit="step")
    new_log = rank == 0 and (not log_path.exists() or step == 0)
    log_file = log_path.open("w" if new_log else "a", newline="") if rank == 0 else None
    writer = csv.DictWriter(log_file, _FIXED_FIELDS + list(task.metrics) + list(task.val_metrics)) if log_file else None
    if new_log:
        writer.writeheader()
    started = time.perf_counter() - elapsed
    task.train()
    while step < config.steps:
        elapsed = time.perf_counter() - started
        progress = step / config.steps
        if config.time_budget_s:
            progress = max(progress, elapsed / config.time_budget_s)
        stop = torch.tensor(float(progress >= 1.0), device=device)
        if world > 1:
            dist.all_reduce(stop)  # every rank stops at the same step
        if stop.item():
            break
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * progress)) * min(1.0, (step + 1) / config.warmup_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        with torch.autocast(device.type, dtype=getattr(torch, config.precision),
                            enabled=config.precision != "float32"):
            loss, values = wrapped(_to_device(task.sample(config.batch_size, generator), device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_grad_norm:
            nn.utils.clip_grad_norm_(task.parameters(), config.clip_grad_norm)
        optimizer.step()
        step += 1
        bar.update(1)
        if rank != 0:
            continue
        row = {}
        if step % config.validate_every == 0 or step == config.steps:
            task.eval()
            row = {k: f"{v:.5g}" for k, v in task.validate().items()}
            task.train()
        if step % config.log_every == 0 or row:
            bar.set_postfix({k: f"{values[k]:.4g}" for k in task.progress})
            writer.writerow({"step": step, "elapsed_s": f"{time.perf_counter() - started:.1f}", "lr": f"{lr:.3g}",
                             **{k: f"{v:.6g}" for k, v in values.items()}, **row})
            log_file.flush()
        if step % config.checkpoint_every == 0:
            save_checkpoint(checkpoint, {"system": task}, optimizer, step, time.perf_counter() - started)
            _plot(task, log_path, out / "loss.png")
    bar.close()
    folder = out / task.export_name
    if rank == 0:
        save_checkpoint(checkpoint, {"system": task}, optimizer, step, time.perf_counter() - started)
        log_file.close()
        _plot(task, log_path, out / "loss.png")
        task.eval()
        task.export(folder)
    if world > 1:
        dist.barrier()
    return folder


def train(config: TrainConfig, resume: bool = True) -> Path:
    """Runs (or resumes) the training run ``config`` describes; returns the exported folder."""
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    return run(build_task(config), config, resume)
