"""Training checkpoints as safetensors: model, entropy-model and optimizer tensors, with the step, elapsed
time and optimizer hyper-parameters in the file's metadata."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def save_checkpoint(path: Path, modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer,
                    step: int, elapsed: float) -> None:
    tensors = {f"{prefix}.{k}": v.detach().contiguous().cpu()
               for prefix, module in modules.items() for k, v in module.state_dict().items()}
    state = optimizer.state_dict()
    for index, slots in state["state"].items():
        for slot, value in slots.items():
            tensors[f"optimizer.{index}.{slot}"] = torch.as_tensor(value).contiguous().cpu()
    metadata = {"step": str(step), "elapsed": repr(elapsed), "param_groups": json.dumps(state["param_groups"])}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)  # a crash mid-write never leaves a truncated checkpoint behind


def load_checkpoint(path: Path, modules: dict[str, nn.Module], optimizer: torch.optim.Optimizer) -> tuple[int, float]:
    """Restores ``modules`` and ``optimizer`` in place; returns (step, elapsed seconds)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    for prefix, module in modules.items():
        module.load_state_dict({k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")})
    slots: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, slot = key.split(".", 2)
            slots.setdefault(int(index), {})[slot] = value
    optimizer.load_state_dict({"state": slots, "param_groups": json.loads(metadata["param_groups"])})
    return int(metadata["step"]), float(metadata["elapsed"])
