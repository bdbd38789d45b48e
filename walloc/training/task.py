"""What the training loop needs from an objective: a batch sampler, a loss, validation and an export.

``walloc train`` owns everything shared (distribution, optimizer and schedule, progress bar, ``log.csv``,
``loss.png``, checkpoints and resume); a :class:`Task` owns what differs between a codec, a baseline and a
task head. A task is an ``nn.Module`` whose sub-modules are the trained state (frozen codecs are kept
outside the module tree, so checkpoints hold only what is trained).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Panel:
    """One panel of ``loss.png``: a logged training metric and/or a validation metric."""

    train: str | None
    validation: str | None
    ylabel: str
    title: str


class Task(nn.Module, ABC):
    """Subclasses set ``metrics`` (logged every step), ``progress``, ``val_metrics`` and ``panels``, and implement
    :meth:`sample`, :meth:`forward` (returns the loss and the metric values) and :meth:`export`."""

    metrics: tuple[str, ...] = ("loss",)
    progress: tuple[str, ...] = ("loss",)  # shown beside the progress bar
    val_metrics: tuple[str, ...] = ()
    panels: tuple[Panel, ...] = (Panel("loss", None, "loss", "training loss"),)
    export_name = "model"
    adam_betas: tuple[float, float] = (0.9, 0.999)

    @abstractmethod
    def sample(self, batch_size: int, generator: torch.Generator) -> Any:
        """A training batch, drawn with ``generator``."""

    @abstractmethod
    def forward(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        """(loss, the values of ``metrics``) for a batch."""

    @property
    def device(self) -> torch.device:
        """Where the trained parameters live (the loop moves the task to its device)."""
        return next(self.parameters()).device

    def to_device(self, device: torch.device) -> "Task":
        """Moves the task, and anything it keeps outside the module tree, to ``device``."""
        return self.to(device)

    def parameter_groups(self) -> list[dict]:
        """Optimizer groups; ``lr_scale`` multiplies the scheduled learning rate."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr_scale": 1.0}]

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Held-out metrics (called in eval mode); empty when there is nothing held out."""
        return {}

    @abstractmethod
    def export(self, folder: Path) -> None:
        """Writes the trained result (a codec, baseline, head or network folder) into ``folder``."""
