"""What the WaLLoC image and audio codecs share: quantized latents coded plane by plane with the predictive
latent coder, the quality scale and target rates, and a check that a stream's latents fit the codec.

The quality scale: ``quality`` in [MIN_QUALITY, MAX_QUALITY] (any real number) quantizes the companded latents
(in (-127.5, 127.5) for 8-bit latents) with a uniform step of ``2 ** ((DEFAULT_QUALITY - quality) / 2)``:
quality 8, the default, rounds them to integers (every stream written before the scale); every two levels down
double the step, so quality 1 is a step of 11.3; quality 10 halves it, and its levels take one symbol bit more
than the latents. The step travels in the stream as an integer in 1/STEP_UNIT of a latent unit, so the decoder
rebuilds the same latents on every machine.

Each codec tops its scale at ``max_quality`` (its folder config's ``"max_quality"``, default 8): past the
integers only a decoder that is not itself the limit gains (rgb-4x: +0.8 dB at quality 10 for 45% more bits;
rgb-16x: +0.07 dB on four Kodak images), so a target rate never spends bits where they buy nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..entropy import predictive
from ..entropy.symbols import from_symbols, to_symbols
from ..errors import BitstreamError
from ..models import WallocAudioModel, WallocImageModel
from .base import TrainedCodec

MIN_QUALITY = 1.0
DEFAULT_QUALITY = 8.0
MAX_QUALITY = 10.0
STEP_UNIT = 64  # quantizer steps in the stream: integers in 1/64 of a latent unit (64: rounding to integers)
_STEP_FIELD = "latent_step"  # absent: STEP_UNIT
_MIN_STEP_FIELD = STEP_UNIT // 2  # MAX_QUALITY's step: levels of one bit more than the latents
_MAX_STEP_FIELD = 1 << 16


def step_size(quality: float | Tensor) -> float | Tensor:
    """The quantizer step of ``quality`` in latent units, unrounded (what training's noise uses)."""
    return 2 ** ((DEFAULT_QUALITY - quality) / 2)


def quality_step(quality: float, top: float = MAX_QUALITY) -> int:
    """The latent quantizer step of ``quality`` in [MIN_QUALITY, ``top``] (see the module docs), in 1/STEP_UNIT
    of a latent unit."""
    if not isinstance(quality, (int, float)) or not MIN_QUALITY <= quality <= top:
        raise ValueError(f"quality must be a number in [{MIN_QUALITY:g}, {top:g}], got {quality!r}")
    return round(STEP_UNIT * step_size(quality))


def step_quality(step: int) -> float:
    """The quality of a quantizer step (in 1/STEP_UNIT), the inverse of :func:`quality_step`."""
    return DEFAULT_QUALITY - 2 * math.log2(step / STEP_UNIT)


def level_bits(latent_bits: int, step: int) -> int:
    """The symbol width of the quantizer's levels for ``step``: the latents' own below the default quality's
    step, one bit more for the finer steps above it."""
    return latent_bits + (step < STEP_UNIT)


def stream_step(meta: dict, container_id: str) -> int:
    """The quantizer step a stream's header gives (in 1/STEP_UNIT); BitstreamError for a bad one."""
    step = meta.get(_STEP_FIELD, STEP_UNIT)
    if type(step) is not int or not _MIN_STEP_FIELD <= step <= _MAX_STEP_FIELD:
        raise BitstreamError(f"corrupt {container_id} stream: bad latent quantizer step {step!r}")
    return step


def stream_quality(meta: dict) -> dict:
    """``{"quality": q}`` of a stream header whose step is valid, for ``rate``; ``{}`` otherwise."""
    try:
        return {"quality": round(step_quality(stream_step(meta, "")), 3)}
    except BitstreamError:
        return {}


class WallocCodec(TrainedCodec):
    """A trained WaLLoC codec (:class:`ImageCodec` or :class:`AudioCodec`)."""

    model: WallocImageModel | WallocAudioModel
    plane_dims: int  # latents are coded as planes of this many trailing dims (2: images, 1: audio)
    max_quality: float = DEFAULT_QUALITY  # the top of this codec's quality scale (see the module docs)

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    @property
    def latent_bits(self) -> int:
        return self.model.latent_bits

    @property
    def block(self) -> int:
        """Sizes are padded to a multiple of this (2**J)."""
        return 2**self.model.J

    @classmethod
    def _from_folder(cls, config: dict, model, device=None, **options) -> "WallocCodec":
        if options:
            raise ValueError(f"codec {config['name']!r} takes no options; got {sorted(options)}")
        codec = cls(config["name"], model, device=device, **cls._folder_arguments(config))
        top = config.get("max_quality", DEFAULT_QUALITY)
        if type(top) not in (int, float) or not DEFAULT_QUALITY <= top <= MAX_QUALITY:
            raise ValueError(f"codec {config['name']!r}: max_quality must be a number in "
                             f"[{DEFAULT_QUALITY:g}, {MAX_QUALITY:g}], got {top!r}")
        codec.max_quality = float(top)
        return codec

    @classmethod
    def _folder_arguments(cls, config: dict) -> dict:
        """Constructor arguments that a codec folder's config holds besides the model."""
        return {}

    def _describe(self) -> dict:
        return {"latent_dim": self.latent_dim, "latent_bits": self.latent_bits, "max_quality": self.max_quality}

    def quantize(self, latents: Tensor, quality: float = DEFAULT_QUALITY) -> Tensor:
        """The latents as they travel in a bitstream of ``quality``: multiples of its step (integers at the
        default quality)."""
        step = quality_step(quality, self.max_quality)
        return _indexes(latents, step) if step == STEP_UNIT else _indexes(latents, step) * (step / STEP_UNIT)

    def _pack_latents(self, latents: Tensor, meta: dict, extras: dict[str, bytes] | None = None,
                      quality: float | None = None, target: tuple[str, float] | None = None) -> bytes:
        """The stream of ``latents`` at ``quality`` (default DEFAULT_QUALITY), or at the highest quality up to
        ``max_quality`` whose stream meets ``target`` = (rate name, most allowed), a rate of :meth:`rate` such as
        ``("bpp", 0.3)``."""
        if quality is not None and target is not None:
            raise ValueError("give a quality or a target rate, not both")
        if target is None:
            quality = DEFAULT_QUALITY if quality is None else quality
            return self._pack_step(latents, meta, extras, quality_step(quality, self.max_quality))
        key, most = target
        if not isinstance(most, (int, float)) or not most > 0:
            raise ValueError(f"the target {key} must be a positive number, got {most!r}")
        return _largest_within(lambda step: self._pack_step(latents, meta, extras, step),
                               lambda data: self.rate(data)[key], key, most, quality_step(self.max_quality))

    def _pack_step(self, latents: Tensor, meta: dict, extras: dict[str, bytes] | None, step: int) -> bytes:
        bits = level_bits(self.latent_bits, step)
        stream = predictive.compress_planes(to_symbols(_indexes(latents, step), bits), bits, self.plane_dims)
        return self._pack(meta if step == STEP_UNIT else {**meta, _STEP_FIELD: step}, stream, extras)

    def _unpack_latents(self, data: bytes) -> tuple[dict, Tensor, dict[str, bytes]]:
        """(header, quantized latents as float32 on the codec's device, extra streams) of a stream of this codec."""
        meta, symbols, bits, extras = self._unpack_symbols(data)
        if symbols.dim() < 3 or symbols.shape[1] != self.latent_dim:
            raise BitstreamError(f"corrupt {self.container_id} stream: latents of shape {tuple(symbols.shape)} "
                                 f"do not fit this codec's {self.latent_dim} channels")
        step = stream_step(meta, self.container_id)
        if bits != level_bits(self.latent_bits, step):
            raise BitstreamError(f"corrupt {self.container_id} stream: {bits}-bit latent symbols for a quantizer "
                                 f"step of {step}/{STEP_UNIT}")
        latents = from_symbols(symbols, bits).to(self.device, torch.float32)
        return meta, latents if step == STEP_UNIT else latents * (step / STEP_UNIT), extras

    def quantized_latents(self, data: bytes) -> Tensor:
        """The quantized latents of a stream, on the CPU: ``decompress(data)`` decodes exactly these. int32 for
        streams at the default quality (integers), float32 multiples of the stream's step otherwise."""
        meta, latents, _ = self._unpack_latents(data)
        return latents.cpu().to(torch.int32) if _STEP_FIELD not in meta else latents.cpu()


def _indexes(latents: Tensor, step: int) -> Tensor:
    """The quantizer's integer levels of ``latents`` for ``step`` (in 1/STEP_UNIT); exact scaling by 64."""
    return torch.round(latents) if step == STEP_UNIT else torch.round(latents * STEP_UNIT / step)


def _largest_within(pack: Callable[[int], bytes], rate: Callable[[bytes], float], key: str, most: float,
                    finest: int) -> bytes:
    """The stream of the smallest quantizer step from ``finest`` up (the highest quality) whose ``rate`` is at
    most ``most``, by bisection over the integer steps of the quality scale (the rate falls as the step grows):
    about ten packs of the same latents, so one model encode."""
    low, high = finest, quality_step(MIN_QUALITY)
    best = pack(low)
    if rate(best) <= most:
        return best
    best = pack(high)
    if rate(best) > most:
        raise ValueError(f"a target of {most:g} {key} is below this codec's range: its lowest quality "
                         f"({MIN_QUALITY:g}) makes {rate(best):.4g} {key}")
    while high - low > 1:  # pack(low) misses the target, pack(high) meets it
        middle = (low + high) // 2
        data = pack(middle)
        if rate(data) <= most:
            high, best = middle, data
        else:
            low = middle
    return best
