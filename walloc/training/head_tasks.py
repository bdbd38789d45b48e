"""Training compressed-learning heads (:mod:`walloc.learning.heads`) with ``walloc train``: classification,
colourisation and source separation, each from a frozen codec's latents or from pixels / samples (at full
resolution or resampled to as many values as the latents), so a latent head and its twins train under one
schedule, log and checkpoint format.

A :class:`View` maps media to what a head takes and back: the latent view encodes with the codec (heads work on
unit-scale latents) and decodes predictions with it; the pixel/sample views resample (or not).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..learning import heads as H
from .. import metrics
from ..codec import AudioCodec, ImageCodec
from ..codec.package import write_folder
from ..media import find_media
from ..models import WallocImageModel
from .config import TrainConfig
from .data import AudioSegments, ImageCrops, split_files
from .task import Panel, Task

IMAGE_INPUTS = ("latent", "pixels", "pixels-same-size")
AUDIO_INPUTS = ("latent", "waveform", "waveform-same-size")


class View:
    """Media <-> head space. ``input(x)``: what the head takes; ``target(x)``: what it is trained to output for
    media ``x``; ``media(y, like)``: a prediction back to media of ``like``'s size."""

    def __init__(self, codec: ImageCodec | AudioCodec, kind: str) -> None:
        self.codec, self.kind = codec, kind
        self.scale = H.same_size_scale(codec) if kind.endswith("same-size") else 1.0
        # Pixel heads centre their input themselves and predict centred images; waveforms are already centred.
        self.offset = 0.5 if codec.kind == "image" else 0.0

    def _resample(self, x: Tensor, size) -> Tensor:
        if x.dim() == 4:
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return F.interpolate(x, size=size, mode="linear", align_corners=False)

    def _down(self, x: Tensor) -> Tensor:
        if self.scale == 1.0:
            return x
        return self._resample(x, [max(1, round(n * self.scale)) for n in x.shape[2:]])

    def input(self, x: Tensor) -> Tensor:
        return self.codec.encode(x) if self.kind == "latent" else self._down(x)

    def target(self, x: Tensor) -> Tensor:
        if self.kind == "latent":
            return H.unit_latents(self.codec, self.codec.encode(x))
        return self._down(x) - self.offset

    def media(self, y: Tensor, like: Tensor) -> Tensor:
        if self.kind == "latent":
            decoded = self.codec.decode(H.latents_from_unit(self.codec, y))
            return decoded[(..., *(slice(0, n) for n in like.shape[2:]))]  # the codec padded; crop back
        y = y + self.offset
        return y if self.scale == 1.0 else self._resample(y, like.shape[2:])


class HeadTask(Task):
    """Shared by the three head tasks: the frozen codec (outside the module tree), the view, the head, export."""

    export_name = "head"

    def __init__(self, config: TrainConfig, codec: ImageCodec | AudioCodec | None = None,
                 num_classes: int | None = None) -> None:
        super().__init__()
        self.config = config
        arguments = config.model
        allowed = IMAGE_INPUTS if self.media_kind == "image" else AUDIO_INPUTS
        if arguments.get("input") not in allowed:
            raise ValueError(f"{config.kind}: model.input must be one of {', '.join(allowed)}; "
                             f"got {arguments.get('input')!r}")
        self.codec = codec = codec or H.frozen_codec(arguments)  # a Codec is not an nn.Module: never trained
        if codec.kind != self.media_kind:
            raise ValueError(f"{config.kind} needs an {self.media_kind} codec; {codec.name!r} codes {codec.kind}")
        self.view = View(codec, arguments["input"])
        self.num_classes = num_classes
        self.head = H.build_head(config.kind, arguments, codec, num_classes)

    def to_device(self, device: torch.device) -> "HeadTask":
        self.codec.to(device)  # frozen, outside the module tree
        return self.to(device)

    def predict(self, x: Tensor) -> Tensor:
        """Media in, the head's output as media (decoded by the codec for latent heads)."""
        return self.view.media(self.head(self.view.input(self._task_input(x))), x)

    def _regression_loss(self, given: Tensor, wanted: Tensor) -> tuple[Tensor, dict[str, float]]:
        """MSE between the head's output for media ``given`` and ``wanted`` in the head's space (dense tasks)."""
        with torch.no_grad():
            inputs, target = self.view.input(given), self.view.target(wanted)
        loss = F.mse_loss(self.head(inputs), target)
        return loss, {"loss": loss.item()}

    def _task_input(self, x: Tensor) -> Tensor:
        """What the task gives the head from target media ``x`` (the grey image for colourisation)."""
        return x

    def export(self, folder: Path) -> None:
        config = {"kind": self.config.kind, "name": self.config.name, "model": self.config.model,
                  "codec_fingerprint": self.codec.fingerprint, "num_classes": self.num_classes,
                  "classes": getattr(self, "classes", [])}
        write_folder(folder, config, self.head.state_dict())


class ClassifyTask(HeadTask):
    """Cross-entropy on precomputed inputs: latents are cached with :class:`walloc.learning.LatentDataset`."""

    media_kind = "image"
    metrics = ("loss", "accuracy")
    progress = ("loss", "accuracy")
    val_metrics = ("val_accuracy",)
    panels = (Panel("loss", None, "cross-entropy", "training loss"),
              Panel("accuracy", "val_accuracy", "accuracy (%)", "accuracy (train batch; held out)"))

    def __init__(self, config: TrainConfig, inputs: Tensor | None = None, labels: Tensor | None = None,
                 codec: ImageCodec | None = None, validation: tuple[Tensor, Tensor] | None = None,
                 classes: list[str] | None = None) -> None:
        """From ``config.data`` (one folder of class sub-folders), or from media ``inputs`` (N, C, H, W) with
        ``labels`` and an optional ``validation`` pair of the same kind."""
        if inputs is None:
            inputs, labels, validation, classes = _class_folder(config)
        num_classes = int(max(labels.max(), validation[1].max() if validation else 0)) + 1
        super().__init__(config, codec, num_classes)
        self.classes = classes or []
        self.x, self.y = self._prepare(inputs, "train"), labels
        self.val = (self._prepare(validation[0], "validation"), validation[1]) if validation else None

    @torch.no_grad()
    def _prepare(self, images: Tensor, split: str) -> Tensor:
        if self.view.kind != "latent":
            return torch.cat([self.view.input(b.float() / 255 if b.dtype == torch.uint8 else b)
                              for b in images.split(256)])
        from ..learning.latents import LatentDataset

        dataset = LatentDataset(images, self.codec, cache_dir=Path(self.config.out) / "latent-cache",
                                name=f"{self.config.name}-{split}-{len(images)}")
        return torch.stack([dataset[i][0] for i in range(len(dataset))])

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        index = torch.randint(len(self.x), (batch_size,), generator=generator)
        return self.x[index], self.y[index]

    def forward(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        x, y = batch
        logits = self.head(x)
        loss = F.cross_entropy(logits, y)
        return loss, {"loss": loss.item(), "accuracy": 100 * (logits.argmax(1) == y).float().mean().item()}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        return {"val_accuracy": self.accuracy(*self.val)} if self.val else {}

    def predict(self, images: Tensor) -> Tensor:
        """Logits for images (N, C, H, W) in [0, 1] or uint8."""
        images = images.float() / 255 if images.dtype == torch.uint8 else images
        return self.head(self.view.input(images))

    @torch.no_grad()
    def accuracy(self, x: Tensor, y: Tensor) -> float:
        """Top-1 accuracy (%) on prepared inputs ``x``."""
        predictions = torch.cat([self.head(b.to(self.device)).argmax(1).cpu() for b in x.split(500)])
        return 100 * (predictions == y.cpu()).float().mean().item()


def _class_folder(config: TrainConfig) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor] | None, list[str]]:
    """uint8 images and labels of one folder of class sub-folders, every ``holdout``-th file held out."""
    from ..learning.latents import _folder_items
    from ..media import read_image

    if len(config.data) != 1:
        raise ValueError("classify reads one folder whose sub-folders are the classes; got "
                         f"{len(config.data)} entries in data")
    files, labels, classes = _folder_items(Path(config.data[0]), "image")
    if not classes:
        raise ValueError(f"{config.data[0]}: no class sub-folders")
    images = [read_image(f) for f in files]
    if len({tuple(im.shape) for im in images}) != 1:
        raise ValueError(f"{config.data[0]}: classify needs images of one size and channel count; resize first")
    x, y = torch.stack(images), torch.tensor(labels)
    held = torch.zeros(len(x), dtype=torch.bool)
    if config.holdout:
        held[:: config.holdout] = True
    return x[~held], y[~held], ((x[held], y[held]) if held.any() else None), classes


def grey(images: Tensor) -> Tensor:
    """Luma-free grey as RGB: the mean of the channels, repeated."""
    return images.mean(1, keepdim=True).expand(-1, 3, -1, -1)


class ColouriseTask(HeadTask):
    """Grey (as RGB) -> colour on random crops; held-out PSNR on fixed crops of held-out files, decoded."""

    media_kind = "image"
    metrics = ("loss",)
    val_metrics = ("val_psnr_db",)
    panels = (Panel("loss", None, "MSE in the head's output space", "training loss"),
              Panel(None, "val_psnr_db", "PSNR (dB)", "held-out colour PSNR (decoded)"))

    def __init__(self, config: TrainConfig, codec: ImageCodec | None = None) -> None:
        super().__init__(config, codec)
        train_files, val_files = split_files(config.data, "image", config.holdout, config.validation)
        self.data = ImageCrops(train_files, config.crop)
        self.val = WallocImageModel.to_media(ImageCrops(val_files, config.crop).sample(
            16, torch.Generator().manual_seed(1234))) if val_files else None

    def _task_input(self, x: Tensor) -> Tensor:
        return grey(x)

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        return WallocImageModel.to_media(self.data.sample(batch_size, generator))

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        return self._regression_loss(grey(x), x)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        if self.val is None:
            return {}
        val = self.val.to(self.device)
        return {"val_psnr_db": metrics.psnr(self.predict(val).clamp(0, 1), val)}


class SeparateTask(HeadTask):
    """Mixture (a segment of ``data`` plus one of ``interference``, random gains) -> the ``data`` segment;
    held-out SI-SDR on fixed mixtures of held-out files, decoded."""

    media_kind = "audio"
    metrics = ("loss",)
    val_metrics = ("val_si_sdr_db",)
    panels = (Panel("loss", None, "MSE in the head's output space", "training loss"),
              Panel(None, "val_si_sdr_db", "SI-SDR (dB)", "held-out SI-SDR of the source (decoded)"))

    def __init__(self, config: TrainConfig, codec: AudioCodec | None = None) -> None:
        """``config.validation`` may name files of both ``data`` and ``interference``; each side without one
        holds out every ``holdout``-th file."""
        super().__init__(config, codec)
        channels, rate = self.codec.model.channels, self.codec.sample_rate
        listed = {f.resolve() for f in find_media(config.validation, "audio")} if config.validation else set()
        sides = []
        for folders in (config.data, config.interference):
            files = find_media(folders, "audio")
            held = [f for f in files if f.resolve() in listed]
            train, held = ([f for f in files if f not in held], held) if held else split_files(folders, "audio",
                                                                                                 config.holdout)
            sides.append([AudioSegments(group, config.segment, channels, rate, mix=False) if group else None
                          for group in (train, held)])
        (self.sources, self.val_sources), (self.interference, self.val_interference) = sides
        self.val = self.held_out_mixtures(8) if self.val_sources and self.val_interference else None

    def held_out_mixtures(self, count: int, seed: int = 1234) -> tuple[Tensor, Tensor]:
        """``count`` fixed (mixture, source) pairs of held-out files."""
        return _mixtures(self.val_sources, self.val_interference, count, torch.Generator().manual_seed(seed))

    def sample(self, batch_size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return _mixtures(self.sources, self.interference, batch_size, generator)

    def forward(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        return self._regression_loss(*batch)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        if self.val is None:
            return {}
        mixture, source = (t.to(self.device) for t in self.val)
        return {"val_si_sdr_db": metrics.si_sdr(source, self.predict(mixture))}


def _rms(x: Tensor) -> Tensor:
    return x.pow(2).mean((1, 2), keepdim=True).sqrt().clamp_min(1e-6)


def _mixtures(sources: AudioSegments, interference: AudioSegments, count: int,
              generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(mixtures, sources) in [-1, 1]: the interference at the source's RMS level times a random gain of -6 to
    +6 dB (so every mixture is a real separation problem), both scaled down together where the sum would clip."""
    source, other = sources.sample(count, generator), interference.sample(count, generator)
    gain = 10 ** ((12 * torch.rand(count, 1, 1, generator=generator) - 6) / 20)
    other = other * gain * _rms(source) / _rms(other)
    peak = (source + other).abs().amax((1, 2), keepdim=True)
    fit = torch.clamp(0.99 / peak.clamp_min(1e-6), max=1.0)
    return (source + other) * fit, source * fit


def build_head_task(config: TrainConfig) -> HeadTask:
    tasks = {"classify": ClassifyTask, "colourise": ColouriseTask, "separate": SeparateTask}
    return tasks[config.kind](config)
