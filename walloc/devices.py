"""One reading of the devices users name (``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``), and the
process group torchrun launches."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def as_device(name: str | torch.device | None, default: str = "cpu") -> torch.device:
    """The device ``name`` means (``default`` when None); ValueError for a name torch does not know and for
    CUDA where torch sees no CUDA device."""
    try:
        device = torch.device(default if name is None else name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(name)!r}: no CUDA device is visible to torch here")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    return device


def init_distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size), initialising the process group when launched by torchrun (``WORLD_SIZE`` > 1): NCCL
    between GPUs, gloo between CPU processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)
