"""A training run's record: ``log.csv`` (one row per logged step, appended on resume) and ``loss.png`` (the task's
panels of training and held-out metrics)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from .task import Task

FIXED_FIELDS = ["step", "elapsed_s", "lr"]


class RunLog:
    """The log of rank 0 (other ranks log nothing): ``write`` a row, ``plot`` the panels, ``close``."""

    def __init__(self, task: Task, out: Path, fresh: bool) -> None:
        self.task, self.path, self.plot_path = task, out / "log.csv", out / "loss.png"
        new = fresh or not self.path.exists()
        self.file = self.path.open("w" if new else "a", newline="")
        self.writer = csv.DictWriter(self.file, FIXED_FIELDS + list(task.metrics) + list(task.val_metrics))
        if new:
            self.writer.writeheader()

    def write(self, step: int, started: float, lr: float, values: dict[str, float],
              validation: dict[str, str]) -> None:
        self.writer.writerow({"step": step, "elapsed_s": f"{time.perf_counter() - started:.1f}", "lr": f"{lr:.3g}",
                              **{k: f"{v:.6g}" for k, v in values.items()}, **validation})
        self.file.flush()

    def plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = list(csv.DictReader(self.path.open()))
        if not rows:
            return
        panels = self.task.panels
        step = [int(r["step"]) for r in rows]
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
        for ax, panel in zip(axes[0], panels):
            if panel.train:
                ax.plot(step, [float(r[panel.train]) for r in rows], label="train", lw=0.8)
            val = [(int(r["step"]), float(r[panel.validation])) for r in rows
                   if panel.validation and r[panel.validation]]
            if val:
                ax.plot(*zip(*val), "o-", label="held out")
            ax.set(xlabel="step", ylabel=panel.ylabel)
            ax.set_title(panel.title, fontsize=9)
            ax.legend()
        fig.tight_layout()
        fig.savefig(self.plot_path, dpi=110)
        plt.close(fig)

    def close(self) -> None:
        self.file.close()
