"""``walloc train``: the shared training loop, on one process or many (torchrun), in small steps: the device and
process group, the schedule, one optimizer step, validation, logging (:mod:`walloc.training.log`) and
checkpoints (:mod:`walloc.training.checkpoint`).

What is trained comes from the config's ``kind`` (see :func:`build_task`): a WaLLoC codec, the CompressAI
baseline, a compressed-learning head, or a NeRV / NeRV++ network fitted to one video. Outputs in
``config.out``: ``log.csv``, ``loss.png``, ``checkpoint.safetensors`` (resumed automatically) and the exported
result (``codec/``, ``baseline/``, ``head/`` or ``video/``).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from ..devices import as_device, init_distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .log import RunLog
from .task import Task


def training_device(name: str | None) -> torch.device:
    """The config's device, or CUDA when present; a CUDA process of torchrun takes its local rank's GPU."""
    device = as_device(name or None, "cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _to_device(batch, device: torch.device):
    """A batch (a tensor, or a tuple / list / dict of them) on ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


# config.kind -> (module of walloc.training, task class); every other kind is a compressed-learning head
_TASKS = {"image": ("codec_task", "CodecTask"), "audio": ("codec_task", "CodecTask"),
          "factorized-prior": ("baseline", "FactorizedPriorTask"),
          "music2latent": ("consistency_task", "ConsistencyTask"),
          "music2latent2": ("ar_consistency_task", "ARConsistencyTask"), "video": ("video_task", "VideoFitTask")}


def build_task(config: TrainConfig) -> Task:
    """The objective named by ``config.kind`` (imported on demand: some need optional packages)."""
    import importlib

    if config.kind not in _TASKS:
        from .head_tasks import build_head_task

        return build_head_task(config)
    module, name = _TASKS[config.kind]
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)(config)


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warm-up over ``warmup_steps``, then a cosine decay over the run's progress in [0, 1]."""
    return config.lr * 0.5 * (1 + math.cos(math.pi * progress)) * min(1.0, (step + 1) / config.warmup_steps)


def _progress(config: TrainConfig, step: int, elapsed: float) -> float:
    """How far the run is, by steps or by its time budget, whichever is further."""
    progress = step / config.steps
    return max(progress, elapsed / config.time_budget_s) if config.time_budget_s else progress


def _all_stop(done: bool, device: torch.device, world: int) -> bool:
    """Whether to stop, agreed by every rank (so all stop at the same step)."""
    stop = torch.tensor(float(done), device=device)
    if world > 1:
        dist.all_reduce(stop)
    return bool(stop.item())


def _step(wrapped: nn.Module, task: Task, optimizer: torch.optim.Optimizer, batch, config: TrainConfig,
          device: torch.device) -> dict[str, float]:
    """One optimizer step on ``batch``; returns the task's metric values."""
    with torch.autocast(device.type, dtype=getattr(torch, config.precision), enabled=config.precision != "float32"):
        loss, values = wrapped(_to_device(batch, device))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.clip_grad_norm:
        nn.utils.clip_grad_norm_(task.parameters(), config.clip_grad_norm)
    optimizer.step()
    return values


def _validate(task: Task) -> dict[str, str]:
    task.eval()
    row = {k: f"{v:.5g}" for k, v in task.validate().items()}
    task.train()
    return row


def _replicate(task: Task, device: torch.device, world: int) -> nn.Module:
    """The module the steps run: ``task`` itself, or under torchrun DDP from rank 0's weights."""
    if world == 1:
        return task
    for p in task.parameters():
        dist.broadcast(p.data, 0)
    return nn.parallel.DistributedDataParallel(task, device_ids=[device.index] if device.type == "cuda" else None)


def run(task: Task, config: TrainConfig, resume: bool = True) -> Path:
    """Trains ``task`` under ``config``'s schedule and logging on ``config.device``; returns the exported
    folder. The task stays on that device."""
    from tqdm import tqdm

    device = training_device(config.device)
    rank, world = init_distributed(device)
    task.to_device(device)
    out = Path(config.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    optimizer = torch.optim.Adam(task.parameter_groups(), lr=config.lr, betas=task.adam_betas)
    checkpoint = out / "checkpoint.safetensors"
    step, elapsed = 0, 0.0
    if resume and checkpoint.exists():
        step, elapsed = load_checkpoint(checkpoint, {"system": task}, optimizer)
    wrapped = _replicate(task, device, world)
    generator = torch.Generator().manual_seed(config.seed * 1000 + rank + step * 7919)
    bar = tqdm(total=config.steps, initial=step, disable=rank != 0, desc=f"train {config.name}", unit="step")
    log = RunLog(task, out, fresh=step == 0) if rank == 0 else None
    started = time.perf_counter() - elapsed

    def save() -> None:
        save_checkpoint(checkpoint, {"system": task}, optimizer, step, time.perf_counter() - started)
        log.plot()

    task.train()
    while step < config.steps:
        progress = _progress(config, step, time.perf_counter() - started)
        if _all_stop(progress >= 1.0, device, world):
            break
        lr = learning_rate(config, step, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        values = _step(wrapped, task, optimizer, task.sample(config.batch_size, generator), config, device)
        step += 1
        bar.update(1)
        if rank != 0:
            continue
        validation = _validate(task) if step % config.validate_every == 0 or step == config.steps else {}
        if step % config.log_every == 0 or validation:
            bar.set_postfix({k: f"{values[k]:.4g}" for k in task.progress})
            log.write(step, started, lr, values, validation)
        if step % config.checkpoint_every == 0:
            save()
    bar.close()
    folder = out / task.export_name
    if rank == 0:
        save()
        log.close()
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
