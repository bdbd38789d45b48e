"""Training configurations: a JSON file of the fields of :class:`TrainConfig` (paths relative to the CWD).

``kind`` names what is trained:

- ``"image"``, ``"audio"``: a WaLLoC codec; ``model`` holds the ``WallocImageModel`` / ``WallocAudioModel``
  arguments.
- ``"factorized-prior"``: the CompressAI factorized-prior baseline (Balle et al. 2018); ``model`` holds
  ``{"N": 128, "M": 192}``.
- ``"classify"``, ``"colourise"``, ``"separate"``: a compressed-learning head (``walloc.learning.heads``) on a frozen
  codec; ``model`` holds ``{"codec": name or folder, "input": ..., "width": ..., "depth": ...}`` where
  ``input`` is ``"latent"``, ``"pixels"``/``"waveform"`` (full resolution) or ``"pixels-same-size"``/
  ``"waveform-same-size"`` (resampled to as many values as the latents). ``classify`` reads class
  sub-folders of ``data``; ``colourise`` trains on ``crop``-sized crops of ``data``; ``separate`` mixes
  segments of ``data`` (the source to recover) with segments of ``interference``.
- ``"video"``: a NeRV / NeRV++ network fitted to the video file ``data[0]``; ``model`` holds
  ``{"arch": "nervpp", "size": "S", "frame_size": [180, 320]}`` (see :class:`walloc.video.NervCodec`).
- ``"music2latent"``: a Music2Latent consistency autoencoder trained by consistency training on mono items of
  ``segment`` samples; ``model`` holds :class:`walloc.models.Music2LatentConfig` fields (``{}``: the released
  58M-parameter size). Exports a codec folder loadable with ``walloc.load``.
- ``"music2latent2"``: a Music2Latent2 autoencoder (summary embeddings, autoregressive consistency decoder)
  trained by consistency training on pairs of consecutive chunks; ``model`` holds
  :class:`walloc.models.Music2Latent2Config` fields (``segment`` is set by the chunk length). Exports a codec
  folder.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..codec.wavelet import MAX_QUALITY, MIN_QUALITY


@dataclasses.dataclass
class TrainConfig:
    name: str
    kind: str                      # see the module docstring
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
    clip_grad_norm: float | None = None  # clip the gradient's global norm (CompressAI's recipe uses 1.0)
    rate_weight: float = 3e-4      # loss = MSE + rate_weight * estimated bits per pixel (or per time sample)
    pca_init: bool = True          # encoder (and linear skip) from a PCA of the wavelet packets
    init_codec: str | None = None  # or every weight from this trained codec (name or folder; same model)
    qualities: list[float] | None = None  # image/audio: variable rate over this [low, high] of the quality scale
    seed: int = 0
    log_every: int = 10
    validate_every: int = 250
    checkpoint_every: int = 250
    threads: int | None = None     # torch CPU threads per process
    device: str | None = None      # "cpu", "cuda"; None: CUDA when present (under torchrun, the local rank's GPU)
    precision: str = "float32"     # "bfloat16": forward passes under autocast (fast on AMX CPUs and GPUs)
    interference: list[str] | None = None  # "separate" only: what is mixed into the source
    consistency: dict | None = None  # "music2latent(2)" only: schedule options of ConsistencySchedule

    KINDS = ("image", "audio", "factorized-prior", "classify", "colourise", "separate", "video", "music2latent",
             "music2latent2")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"kind must be one of {', '.join(self.KINDS)}; got {self.kind!r}")
        if self.kind == "separate" and not self.interference:
            raise ValueError("kind 'separate' needs 'interference': the folders mixed into the source")
        if self.precision not in ("float32", "bfloat16"):  # float16 would need loss scaling
            raise ValueError(f"precision must be float32 or bfloat16; got {self.precision!r}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be positive")
        if self.qualities is not None and (len(self.qualities) != 2 or not MIN_QUALITY <= self.qualities[0]
                                           <= self.qualities[1] <= MAX_QUALITY):
            raise ValueError(f"qualities must be [low, high] with {MIN_QUALITY:g} <= low <= high <= "
                             f"{MAX_QUALITY:g}; got {self.qualities!r}")

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
