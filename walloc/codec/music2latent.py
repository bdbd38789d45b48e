"""The Music2Latent codec: 44.1 kHz audio of any length and channel count to 64-channel latents at 10.77 Hz,
real bitstreams of them, and back through the consistency decoder.

Framing: every channel is one item. The audio is padded with 3 hops (1536 samples) of silence in front and
enough at the end that every input sample lies where four STFT frames overlap (the reference crops instead:
it fades the first 35 ms and drops up to 4095 samples at the end); latent frame j then covers input samples
[4096 j - 1536, 4096 j + 4096). Long inputs run in windows of ``window`` latent frames that overlap by
``2 * overlap`` frames and are cross-faded, so joins are seamless and memory stays bounded.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import bitstream
from ..entropy import predictive
from ..entropy.symbols import from_symbols, to_symbols
from ..errors import BitstreamError
from ..models.music2latent import (
    Music2LatentConfig,
    Music2LatentModel,
    audio_to_spectrogram,
    karras_sigmas,
    spectrogram_to_audio,
)
from ..windows import blend as _blend
from ..windows import windows as _windows
from . import registry
from .audio import AudioInput, as_float, stream_kbps
from .base import Codec, TrainedCodec, exact_float32

LATENT_SCALE = 0.06  # the reference's latents are the encoder's tanh output divided by this
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@registry.register("music2latent", lambda arguments: Music2LatentModel(Music2LatentConfig.from_dict(arguments)))
class Music2LatentCodec(AudioInput, TrainedCodec):
    """A Music2Latent model as a codec. Audio: float (N, C, T) or (C, T) in [-1, 1] at 44.1 kHz, any length;
    audio at other rates is resampled, and ``decompress`` returns it at its rate.

    ``precision``: ``"float32"`` (default; the reference's arithmetic) or ``"bfloat16"``/``"float16"`` (autocast:
    several times faster on CPUs with AMX/AVX-512-BF16 and on GPUs, with outputs close to float32's).
    """

    kind = "audio"
    container_id = "walloc-music2latent"
    sample_rate = 44100

    def __init__(self, name: str, model: Music2LatentModel, device=None, precision: str = "float32",
                 window: int = 128, overlap: int = 4) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if overlap < 1 or window < 8 * overlap:
            raise ValueError(f"need overlap >= 1 and window >= 8 x overlap; got window {window}, overlap {overlap}")
        self.precision = precision
        self.window, self.overlap = window, overlap
        super().__init__(name, model, device)

    @property
    def config(self):
        return self.model.config

    @property
    def latent_dim(self) -> int:
        return self.config.latent_channels

    @property
    def hop(self) -> int:
        return self.config.hop

    @property
    def samples_per_latent(self) -> int:
        return self.config.samples_per_latent

    def to(self, device) -> "Music2LatentCodec":
        Codec.to(self, device)
        # channels-last convolutions measure ~1.3x faster on CPU (bench/music2latent.py)
        self.model.to(self.device, memory_format=torch.channels_last)
        return self

    def _describe(self) -> dict:
        return {"precision": self.precision}

    @contextlib.contextmanager
    def _arithmetic(self) -> Iterator[None]:
        with torch.inference_mode(), exact_float32():
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

    def as_batch(self, audio: Tensor) -> Tensor:
        """float32 (N, C, T) on the codec's device (int16 samples scaled by 1 / 32768)."""
        return as_float(super().as_batch(audio))

    # --- continuous latents ----------------------------------------------------------------------------------

    def encode(self, audio: Tensor, sample_rate: int | None = None) -> Tensor:
        """Latents (N, C, 64, L), L = ceil((T + 1536) / 4096), on the reference's scale (tanh output / 0.06)."""
        return self._encode_bounded(self._to_codec_rate(self.as_batch(audio), sample_rate)[0]) / LATENT_SCALE

    def _encode_bounded(self, x: Tensor) -> Tensor:
        n, c, t = x.shape
        frames = self.latent_frames(t)
        padded = F.pad(x.reshape(n * c, t), (3 * self.hop, frames * self.samples_per_latent - t))
        windows = _windows(frames, self.window, self.overlap)
        pieces = []
        with self._arithmetic():
            for start, end, _, _ in windows:
                segment = padded[:, start * self.samples_per_latent:end * self.samples_per_latent + 3 * self.hop]
                spectrogram = audio_to_spectrogram(segment, self.hop).contiguous(memory_format=torch.channels_last)
                pieces.append(self.model.encode(spectrogram).float())
        return _blend(pieces, windows, 1, self.overlap).reshape(n, c, self.latent_dim, frames)

    def decode(self, latents: Tensor, steps: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Audio (N, C, 4096 L - 1536) in [-1, 1] from latents (N, C, 64, L) on the reference's scale, by
        ``steps`` consistency steps from noise drawn with ``generator`` (a CPU generator; the global one when
        None), so a given generator state gives the same audio on every device."""
        latents = torch.as_tensor(latents, dtype=torch.float32)
        if latents.dim() != 4 or latents.shape[2] != self.latent_dim or latents.shape[-1] == 0:
            raise ValueError(f"expected latents (N, C, {self.latent_dim}, L), got shape {tuple(latents.shape)}")
        return self._decode_bounded(latents.to(self.device) * LATENT_SCALE, steps, generator)

    def _decode_bounded(self, bounded: Tensor, steps: int, generator: torch.Generator | None) -> Tensor:
        n, c, _, frames = bounded.shape
        sigmas = karras_sigmas(steps)
        per_latent = self.config.time_downsampling
        shape = (n * c, self.config.data_channels, self.config.bins, frames * per_latent)
        noises = [torch.randn(shape, generator=generator) for _ in range(steps)]  # CPU: device-independent
        flat = bounded.reshape(n * c, self.latent_dim, frames)
        windows = _windows(frames, self.window, self.overlap)
        pieces = []
        with self._arithmetic():
            for start, end, _, _ in windows:
                pyramid = self.model.pyramid(flat[..., start:end])
                span = slice(start * per_latent, end * per_latent)
                x = noises[0][..., span].to(self.device) * sigmas[0]
                for step in range(steps):
                    x = x.contiguous(memory_format=torch.channels_last)
                    clean = self.model.denoise(x, sigmas[step], pyramid).float()
                    if step + 1 < steps:
                        x = clean + math.sqrt(sigmas[step + 1] ** 2 - sigmas[-1] ** 2) * noises[step + 1][..., span].to(
                            self.device)
                pieces.append(clean)
            audio = spectrogram_to_audio(_blend(pieces, windows, per_latent, self.overlap), self.hop)
        return audio[:, 3 * self.hop:3 * self.hop + self.decoded_length(frames)].reshape(n, c, -1)

    # --- bitstreams ------------------------------------------------------------------------------------------

    def compress(self, audio: Tensor, sample_rate: int | None = None, bits: int = 8) -> bytes:
        """A walloc bitstream: the tanh-bounded latents quantized uniformly to ``bits`` bits (2 ** (bits - 1) - 1
        steps per unit) and coded by walloc's predictive latent coder."""
        if not 2 <= bits <= 12:
            raise ValueError(f"bits must be in [2, 12], got {bits}")
        x, conversion = self._to_codec_rate(self.as_batch(audio), sample_rate)
        quantized = torch.round(self._encode_bounded(x) * _levels(bits))
        n, c, k, frames = quantized.shape
        stream = predictive.compress_planes(to_symbols(quantized, bits).reshape(n * c, k, frames), bits, 1)
        meta = {"channels": c, "length": x.shape[-1], "sample_rate": self.sample_rate, "bits": bits, **conversion}
        return self._pack(meta, stream)

    def _unpack_quantized(self, data: bytes) -> tuple[dict, Tensor]:
        """(header, int32 quantized latents (N, C, 64, L) in [-levels, levels]) of a stream of this codec."""
        meta, symbols, _ = self._unpack_symbols(data)
        channels, length, bits = meta.get("channels"), meta.get("length"), meta.get("bits")
        if (not all(isinstance(v, int) for v in (channels, length, bits)) or channels < 1 or length < 1
                or not 2 <= bits <= 12):
            raise BitstreamError("corrupt walloc-music2latent stream: bad channel count, length or bits")
        if (symbols.dim() != 3 or symbols.shape[0] % channels or symbols.shape[1] != self.latent_dim
                or symbols.shape[2] != self.latent_frames(length)):
            raise BitstreamError(f"corrupt walloc-music2latent stream: latents of shape {tuple(symbols.shape)} "
                                 f"do not fit {channels} channels of {length} samples")
        quantized = from_symbols(symbols, bits)
        if quantized.numel() and quantized.abs().max() > _levels(bits):
            raise BitstreamError("corrupt walloc-music2latent stream: latents outside [-1, 1]")
        return meta, quantized.reshape(-1, channels, self.latent_dim, symbols.shape[2])

    def quantized_latents(self, data: bytes) -> Tensor:
        """The integer latents (N, C, 64, L) of a stream, ``round(tanh output x (2 ** (bits - 1) - 1))``;
        :meth:`stream_latents` gives them on the reference's scale, as ``decode`` takes them."""
        return self._unpack_quantized(data)[1]

    def stream_latents(self, data: bytes) -> tuple[dict, Tensor]:
        """(header, latents (N, C, 64, L) on the reference's scale) of a bitstream, as the decoder sees them."""
        meta, quantized = self._unpack_quantized(data)
        return meta, quantized.to(torch.float32) / _levels(meta["bits"]) / LATENT_SCALE

    def decompress(self, data: bytes, steps: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Audio (N, C, T) in [-1, 1], as long as it was compressed and at its sample rate
        (:meth:`decoded_sample_rate`); deterministic for a given generator."""
        meta, latents = self.stream_latents(data)
        return self._to_input_rate(self.decode(latents, steps, generator)[..., :meta["length"]], meta)

    @classmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        return stream_kbps(container, nbytes)

    def bitrate_kbps(self, data: bytes) -> float:
        """Kilobits per second of audio (all channels) of a bitstream of this codec."""
        return self.rate(data)["kbps"]


def _levels(bits: int) -> int:
    """Quantization steps per unit of the tanh-bounded latents at ``bits`` bits."""
    return 2 ** (bits - 1) - 1
