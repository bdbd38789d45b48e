"""One reading of the devices users name: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a ``torch.device``."""

from __future__ import annotations

import torch


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
