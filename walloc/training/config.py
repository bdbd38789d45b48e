"""Training configurations: a JSON file of the fields of :class:`TrainConfig` (paths relative to the CWD)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path


@dataclasses.dataclass
class TrainConfig:
    name: str
    kind: str                      # "image" or "audio"
    data: list[str]                # folders (searched recursively) or files
    out: str                       # run folder: log, plot, checkpoints, exported codec
    model: dict                    # WallocImageModel / WallocAudioModel arguments
    holdout: int = 4               # files kept out of training, for validation (every k-th file)
    validation: list[str] | None = None  # or these files/folders, excluded from training
    crop: int = 256                # image crop side (pixels)
    segment: int = 65536           # audio segment (samples)
    sample_rate: int = 44100       # audio only: files at other rates are refused
    batch_size: int = 8
    steps: int = 2000
    time_budget_s: float | None = None   # stop early when reached; the schedule follows whichever ends first
    lr: float = 5e-4
    warmup_steps: int = 200        # linear learning-rate warm-up (Adam's first steps are large otherwise)
    rate_weight: float = 3e-4      # loss = MSE + rate_weight * estimated bits per pixel (or per time sample)
    pca_init: bool = True          # encoder (and linear skip) from a PCA of the wavelet packets
    seed: int = 0
    log_every: int = 10
    validate_every: int = 250
    checkpoint_every: int = 250
    threads: int | None = None     # torch CPU threads per process

    def __post_init__(self) -> None:
        if self.kind not in ("image", "audio"):
            raise ValueError(f"kind must be 'image' or 'audio', got {self.kind!r}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be positive")

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        try:
            fields = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(fields) - known
        if unknown:
            raise ValueError(f"{path}: unknown training options {sorted(unknown)}")
        return cls(**fields)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
