"""What the consistency-decoded audio codecs (Music2Latent, Music2Latent2) share: their arithmetic (float32 or
autocast), framing by STFT hops, and bitstreams of tanh-bounded latents quantized to ``bits`` bits and coded by
walloc's predictive latent coder.

Framing: the audio is padded with 3 hops of silence in front and enough at the end that every input sample
lies where four STFT frames overlap; latent frame j then covers input samples
[samples_per_latent j - 3 hop, samples_per_latent (j + 1)).
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import bitstream
from ..entropy import predictive
from ..entropy.symbols import from_symbols, to_symbols
from ..errors import BitstreamError
from .audio import AudioInput, as_float, stream_kbps
from .base import TrainedCodec, exact_float32

PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ConsistencyCodec(AudioInput, TrainedCodec):
    """Base of the consistency-model audio codecs. Audio: float (N, C, T) or (C, T) in [-1, 1] at the codec's
    rate, any length; other rates are resampled, and ``decompress`` returns audio at its rate.

    Subclasses give the latent layout (:attr:`latent_shape`, :meth:`latent_items`), the scale ``decode`` takes
    latents on (:attr:`latent_scale`), and :meth:`_encode_bounded` / :meth:`decode`.
    """

    kind = "audio"
    latent_scale = 1.0  # decode takes latents = bounded latents / latent_scale

    def __init__(self, name: str, model: nn.Module, device=None, precision: str = "float32") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        self.precision = precision
        super().__init__(name, model, device)

    @property
    def config(self):
        return self.model.config

    @property
    def hop(self) -> int:
        return self.config.hop

    @property
    @abc.abstractmethod
    def samples_per_latent(self) -> int:
        """Input samples per latent frame."""

    @property
    @abc.abstractmethod
    def latent_shape(self) -> tuple[int, ...]:
        """The shape of one latent frame of one item (its last entry is a coded plane's row count)."""

    @abc.abstractmethod
    def latent_items(self, channels: int) -> int:
        """Latent items for ``channels`` audio channels."""

    @abc.abstractmethod
    def _encode_bounded(self, x: Tensor) -> Tensor:
        """float32 audio (N, C, T) at the codec's rate -> bounded latents (N, items, *latent_shape, frames)."""

    @abc.abstractmethod
    def decode(self, latents: Tensor, steps: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Audio (N, C, decoded_length(frames)) from latents (on ``decode``'s scale)."""

    def _describe(self) -> dict:
        return {"precision": self.precision}

    @contextlib.contextmanager
    def _arithmetic(self) -> Iterator[None]:
        with torch.inference_mode(), exact_float32(self.device):
            if self.precision == "float32":
                yield
            else:
                with torch.autocast(self.device.type, dtype=PRECISIONS[self.precision]):
                    yield

    # --- framing ---------------------------------------------------------------------------------------------

    def latent_frames(self, length: int) -> int:
        """Latent frames of a ``length``-sample input."""
        return max(1, math.ceil((length + 3 * self.hop) / self.samples_per_latent))

    def decoded_length(self, frames: int) -> int:
        """Samples that ``decode`` returns for ``frames`` latent frames (``decompress`` crops to the input's)."""
        return frames * self.samples_per_latent - 3 * self.hop

    def _frame_samples(self, x: Tensor, first: int, last: int) -> Tensor:
        """The samples latent frames [first, last) cover, [samples_per_latent first - 3 hop, samples_per_latent
        last), silent outside ``x``: the encoder's window into the padded signal without a padded copy of all of
        it (an hour of stereo is 1.3 GB of float32)."""
        start, end = first * self.samples_per_latent - 3 * self.hop, last * self.samples_per_latent
        length = x.shape[-1]
        inside_start = min(max(start, 0), length)
        inside_end = max(min(end, length), inside_start)
        before = min(max(0, -start), end - start)
        after = end - start - before - (inside_end - inside_start)
        return F.pad(x[..., inside_start:inside_end], (before, after))

    def as_batch(self, audio: Tensor) -> Tensor:
        """float32 (N, C, T) on the codec's device (int16 samples scaled by 1 / 32768)."""
        return as_float(super().as_batch(audio))

    def encode(self, audio: Tensor, sample_rate: int | None = None) -> Tensor:
        """Latents (N, items, *latent_shape, L), L = ceil((T + 3 hop) / samples_per_latent), on ``decode``'s
        scale."""
        return self._encode_bounded(self._to_codec_rate(self.as_batch(audio), sample_rate)[0]) / self.latent_scale

    # --- bitstreams ------------------------------------------------------------------------------------------

    def compress(self, audio: Tensor, sample_rate: int | None = None, bits: int = 8) -> bytes:
        """A walloc bitstream: the tanh-bounded latents quantized uniformly to ``bits`` bits (2 ** (bits - 1) - 1
        steps per unit) and coded by walloc's predictive latent coder."""
        if not 2 <= bits <= 12:
            raise ValueError(f"bits must be in [2, 12], got {bits}")
        x, conversion = self._to_codec_rate(self.as_batch(audio), sample_rate)
        quantized = torch.round(self._encode_bounded(x) * _levels(bits))
        planes = to_symbols(quantized, bits).reshape(-1, self.latent_shape[-1], quantized.shape[-1])
        stream = predictive.compress_planes(planes, bits, 1)
        meta = {"channels": x.shape[1], "length": x.shape[-1], "sample_rate": self.sample_rate, "bits": bits,
                **conversion}
        return self._pack(meta, stream)

    def _unpack_quantized(self, data: bytes) -> tuple[dict, Tensor]:
        """(header, int32 quantized latents (N, items, *latent_shape, L) in [-levels, levels])."""
        meta, symbols, symbol_bits, _ = self._unpack_symbols(data)
        channels, length, bits = meta.get("channels"), meta.get("length"), meta.get("bits")
        if (not all(isinstance(v, int) and not isinstance(v, bool) for v in (channels, length, bits))
                or not 1 <= channels <= 1 << 16 or length < 1 or not 2 <= bits <= 12 or symbol_bits != bits):
            raise BitstreamError(f"corrupt {self.container_id} stream: bad channel count, length or bits")
        planes_per_item = math.prod(self.latent_shape[:-1]) * self.latent_items(channels)
        if (symbols.dim() != 3 or symbols.shape[0] % planes_per_item or symbols.shape[0] == 0
                or symbols.shape[1] != self.latent_shape[-1] or symbols.shape[2] != self.latent_frames(length)):
            raise BitstreamError(f"corrupt {self.container_id} stream: latents of shape {tuple(symbols.shape)} "
                                 f"do not fit {channels} channels of {length} samples")
        quantized = from_symbols(symbols, bits)
        if quantized.numel() and quantized.abs().max() > _levels(bits):
            raise BitstreamError(f"corrupt {self.container_id} stream: latents outside [-1, 1]")
        return meta, quantized.reshape(-1, self.latent_items(channels), *self.latent_shape, symbols.shape[2])

    def quantized_latents(self, data: bytes) -> Tensor:
        """The integer latents of a stream, ``round(tanh output x (2 ** (bits - 1) - 1))``; :meth:`stream_latents`
        gives them on ``decode``'s scale."""
        return self._unpack_quantized(data)[1]

    def stream_latents(self, data: bytes) -> tuple[dict, Tensor]:
        """(header, latents on ``decode``'s scale) of a bitstream, as the decoder sees them."""
        meta, quantized = self._unpack_quantized(data)
        return meta, quantized.to(torch.float32) / _levels(meta["bits"]) / self.latent_scale

    def decompress(self, data: bytes, steps: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Audio (N, C, T) in [-1, 1], as long as it was compressed and at its sample rate
        (:meth:`decoded_sample_rate`); deterministic for a given generator."""
        meta, latents = self.stream_latents(data)
        audio = self.decode(latents, steps, generator)[:, :meta["channels"], :meta["length"]]
        return self._to_input_rate(audio, meta)

    @classmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        return stream_kbps(container, nbytes)

    def bitrate_kbps(self, data: bytes) -> float:
        """Kilobits per second of audio (all channels) of a bitstream of this codec."""
        return self.rate(data)["kbps"]


def _levels(bits: int) -> int:
    """Quantization steps per unit of the tanh-bounded latents at ``bits`` bits."""
    return 2 ** (bits - 1) - 1
