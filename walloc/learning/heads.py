"""Task heads on codec latents ("compressed learning") and their pixel- or sample-domain twins.

A latent head and its twin share one body and one width, so a comparison measures the input
representation, not the network: ``LatentClassifier`` / ``PixelClassifier``, ``LatentDenseHead`` /
``PixelDenseHead`` (image to image), ``LatentAudioHead`` / ``WaveformAudioHead`` (audio to audio). Latent heads
take the codec's continuous latents (``codec.encode``), mapped back through the compander to unit scale;
dense and audio heads predict latents, which ``head.decode`` turns into media with the (frozen) codec.

``walloc train`` trains them (kinds ``classify``, ``colourise``, ``separate``; see
:mod:`walloc.training.config`) and exports ``head/``, which :func:`load_head` reads back.
"""

from __future__ import annotations

import math
from pathlib import Path

from torch import Tensor, nn

from ..codec import AudioCodec, ImageCodec
from ..codec.package import read_folder
from ..models import WallocImageModel


def _conv(dims: int):
    return nn.Conv2d if dims == 2 else nn.Conv1d


class ResidualBlock(nn.Module):
    """GroupNorm -> GELU -> 3-tap conv, twice, plus the input."""

    def __init__(self, width: int, dims: int = 2) -> None:
        super().__init__()
        conv = _conv(dims)
        self.body = nn.Sequential(nn.GroupNorm(8, width), nn.GELU(), conv(width, width, 3, padding=1),
                                  nn.GroupNorm(8, width), nn.GELU(), conv(width, width, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ConvBody(nn.Module):
    """Stem conv, ``depth`` residual blocks at constant width; ``downsample`` halves the resolution after
    every second block (classifiers), otherwise the resolution is kept (dense heads)."""

    def __init__(self, in_channels: int, width: int, depth: int, dims: int = 2, downsample: bool = False,
                 stem_stride: int = 1) -> None:
        super().__init__()
        conv = _conv(dims)
        layers: list[nn.Module] = [conv(in_channels, width, max(3, stem_stride), stride=stem_stride,
                                        padding=max(3, stem_stride) // 2)]
        for i in range(depth):
            layers.append(ResidualBlock(width, dims))
            if downsample and i % 2 == 1 and i < depth - 1:
                layers.append(conv(width, width, 3, stride=2, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class _Classifier(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, width: int, depth: int, stem_stride: int) -> None:
        super().__init__()
        self.body = ConvBody(in_channels, width, depth, 2, downsample=True, stem_stride=stem_stride)
        self.head = nn.Sequential(nn.GroupNorm(8, width), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(width, num_classes))

    def features(self, x: Tensor) -> Tensor:
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(self.features(x)))


def unit_latents(codec: ImageCodec | AudioCodec, latents: Tensor) -> Tensor:
    """Latents back through the compander (to the encoder's Gaussian domain) and to about unit scale: the
    domain latent heads work in."""
    to_normal = codec.model.decoder[0]
    return to_normal(latents) / to_normal.scale


def latents_from_unit(codec: ImageCodec | AudioCodec, unit: Tensor) -> Tensor:
    """The inverse of :func:`unit_latents`: a head's unit-scale prediction as codec latents (for decoding)."""
    return codec.model.encoder[1](unit * codec.model.decoder[0].scale)


def same_size_scale(codec: ImageCodec | AudioCodec) -> float:
    """The resampling factor (per axis for images, in time for audio) that gives pixels or samples as many values
    as the codec's latents: the input size of a fair "same tensor size" twin (1/4 for rgb-16x)."""
    model = codec.model
    if codec.kind == "image":
        return math.sqrt(codec.latent_dim / (model.channels * 4**model.J))
    return codec.latent_dim / (model.channels * 2**model.J)


class LatentClassifier(_Classifier):
    """``forward(latents) -> logits`` for image-codec latents (N, latent_dim, h, w)."""

    def __init__(self, codec: ImageCodec, num_classes: int, width: int = 64, depth: int = 4) -> None:
        super().__init__(codec.latent_dim, num_classes, width, depth, stem_stride=1)
        self.codec = codec

    def features(self, latents: Tensor) -> Tensor:
        return unit_latents(self.codec, latents)


class PixelClassifier(_Classifier):
    """The pixel twin: ``forward(images in [0, 1]) -> logits``; ``stem_stride`` sets where the body runs
    (``2**J`` puts it at the latent resolution: the same body FLOPs as the latent classifier)."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 64, depth: int = 4,
                 stem_stride: int = 1) -> None:
        super().__init__(in_channels, num_classes, width, depth, stem_stride)

    def features(self, images: Tensor) -> Tensor:
        return WallocImageModel.to_signal(images)


class _DenseHead(nn.Module):
    """``residual=True`` (input and output of the same size) predicts a change of the input, so an untrained
    head is the identity: right for tasks whose output mostly equals the input (colourisation, enhancement)."""

    def __init__(self, in_channels: int, out_channels: int, width: int, depth: int, dims: int,
                 residual: bool = False) -> None:
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError(f"a residual head needs equal input and output channels, got {in_channels} and "
                             f"{out_channels}")
        self.residual = residual
        self.body = ConvBody(in_channels, width, depth, dims)
        self.out = nn.Sequential(nn.GroupNorm(8, width), nn.GELU(), _conv(dims)(width, out_channels, 3, padding=1))
        if residual:
            nn.init.zeros_(self.out[-1].weight)
            nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.prepare(x)
        y = self.out(self.body(x))
        return x + y if self.residual else y

    def prepare(self, x: Tensor) -> Tensor:
        return x


class _LatentToLatentHead(_DenseHead):
    """A dense head from a codec's latents to latents of the same codec, which :meth:`decode` turns into media
    (differentiably, so it can be trained through the decoder)."""

    def __init__(self, codec: ImageCodec | AudioCodec, out_channels: int, width: int, depth: int,
                 residual: bool) -> None:
        super().__init__(codec.latent_dim, out_channels, width, depth, codec.plane_dims, residual)
        self.codec = codec

    def prepare(self, latents: Tensor) -> Tensor:
        return unit_latents(self.codec, latents)

    def decode(self, latents: Tensor) -> Tensor:
        return self.codec.model.to_media(self.codec.model.decode(latents))


class LatentDenseHead(_LatentToLatentHead):
    """Image to image in latent space: latents of the input -> latents of the target (decode with
    :meth:`decode`). Train against ``codec.encode(target)``, or through ``decode`` in the pixel domain."""

    def __init__(self, codec: ImageCodec, out_channels: int | None = None, width: int = 64, depth: int = 6,
                 residual: bool = False) -> None:
        super().__init__(codec, out_channels or codec.latent_dim, width, depth, residual)


class PixelDenseHead(_DenseHead):
    """The pixel twin: images (N, in_channels, H, W) in [0, 1] -> (N, out_channels, H, W)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 64, depth: int = 6,
                 residual: bool = False) -> None:
        super().__init__(in_channels, out_channels, width, depth, 2, residual)

    def prepare(self, images: Tensor) -> Tensor:
        return WallocImageModel.to_signal(images)


class LatentAudioHead(_LatentToLatentHead):
    """Audio to audio in latent space (source separation, enhancement): latents -> latents of the target,
    :meth:`decode` to samples in [-1, 1]."""

    def __init__(self, codec: AudioCodec, width: int = 128, depth: int = 6, residual: bool = False) -> None:
        super().__init__(codec, codec.latent_dim, width, depth, residual)


class WaveformAudioHead(_DenseHead):
    """The sample-domain twin: audio (N, channels, T) -> (N, channels, T)."""

    def __init__(self, channels: int = 2, width: int = 128, depth: int = 6, residual: bool = False) -> None:
        super().__init__(channels, channels, width, depth, 1, residual)


HEAD_DEFAULTS = {"classify": {"width": 32, "depth": 4}, "colourise": {"width": 32, "depth": 6},
                 "separate": {"width": 32, "depth": 6}}


def build_head(kind: str, arguments: dict, codec: ImageCodec | AudioCodec, num_classes: int | None = None) -> nn.Module:
    """The head for a task ``kind`` and ``arguments["input"]`` (defaults for width and depth per task)."""
    options = {**HEAD_DEFAULTS[kind], **{k: v for k, v in arguments.items() if k in ("width", "depth")}}
    latent = arguments["input"] == "latent"
    if kind == "classify":
        return (LatentClassifier(codec, num_classes, **options) if latent
                else PixelClassifier(num_classes, codec.model.channels, **options))
    if kind == "colourise":
        return (LatentDenseHead(codec, residual=True, **options) if latent
                else PixelDenseHead(3, 3, residual=True, **options))
    return (LatentAudioHead(codec, residual=True, **options) if latent
            else WaveformAudioHead(codec.model.channels, residual=True, **options))


def frozen_codec(arguments: dict) -> ImageCodec | AudioCodec:
    """The codec named by a head's arguments (``"codec"``: a name or folder)."""
    from ..codec import load

    if "codec" not in arguments:
        raise ValueError("a head's 'model' needs 'codec': the name or folder of the frozen codec")
    return load(arguments["codec"])


def load_head(folder: str | Path, codec: ImageCodec | AudioCodec | None = None) -> nn.Module:
    """A trained head from a ``walloc train`` export (``head/``), on its codec (loaded by name unless given),
    in eval mode. Refuses a codec whose weights differ from the one the head was trained on."""
    config, state = read_folder(folder)
    codec = codec or frozen_codec(config["model"])
    if codec.fingerprint != config["codec_fingerprint"]:
        raise ValueError(f"{folder}: trained on other weights than codec {codec.name!r}'s")
    head = build_head(config["kind"], config["model"], codec, config["num_classes"])
    head.load_state_dict(state)
    return head.eval()
