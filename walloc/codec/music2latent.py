"""The Music2Latent codec: 44.1 kHz audio of any length and channel count to 64-channel latents at 10.77 Hz,
real bitstreams of them, and back through the consistency decoder.

Framing (see :mod:`walloc.codec.consistency`): every channel is one item; latent frame j covers input samples
[4096 j - 1536, 4096 j + 4096) (the reference crops instead: it fades the first 35 ms and drops up to 4095
samples at the end). Long inputs run in windows of ``window`` latent frames that overlap by ``2 * overlap``
frames and are cross-faded, so joins are seamless and memory stays bounded.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

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
from .base import Codec
from .consistency import ConsistencyCodec

LATENT_SCALE = 0.06  # the reference's latents are the encoder's tanh output divided by this


@registry.register("music2latent", lambda arguments: Music2LatentModel(Music2LatentConfig.from_dict(arguments)))
class Music2LatentCodec(ConsistencyCodec):
    """A Music2Latent model as a codec. Audio: float (N, C, T) or (C, T) in [-1, 1] at 44.1 kHz, any length;
    audio at other rates is resampled, and ``decompress`` returns it at its rate.

    ``precision``: ``"float32"`` (default; the reference's arithmetic) or ``"bfloat16"``/``"float16"`` (autocast:
    several times faster on CPUs with AMX/AVX-512-BF16 and on GPUs, with outputs close to float32's).
    """

    container_id = "walloc-music2latent"
    sample_rate = 44100
    latent_scale = LATENT_SCALE

    def __init__(self, name: str, model: Music2LatentModel, device=None, precision: str = "float32",
                 window: int = 128, overlap: int = 4) -> None:
        if overlap < 1 or window < 8 * overlap:
            raise ValueError(f"need overlap >= 1 and window >= 8 x overlap; got window {window}, overlap {overlap}")
        self.window, self.overlap = window, overlap
        super().__init__(name, model, device, precision)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_channels

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

    def latent_items(self, channels: int) -> int:
        return channels

    @property
    def samples_per_latent(self) -> int:
        return self.config.samples_per_latent

    def to(self, device) -> "Music2LatentCodec":
        Codec.to(self, device)
        # channels-last convolutions measure ~1.3x faster on CPU (bench/music2latent.py)
        self.model.to(self.device, memory_format=torch.channels_last)
        return self

    # --- continuous latents ----------------------------------------------------------------------------------

    def encode(self, audio: Tensor, sample_rate: int | None = None) -> Tensor:
        """Latents (N, C, 64, L), L = ceil((T + 1536) / 4096), on the reference's scale (tanh output / 0.06)."""
        return super().encode(audio, sample_rate)

    def _encode_bounded(self, x: Tensor) -> Tensor:
        n, c, t = x.shape
        frames = self.latent_frames(t)
        flat = x.reshape(n * c, t)
        windows = _windows(frames, self.window, self.overlap)
        pieces = []
        with self._arithmetic():
            for start, end, _, _ in windows:
                segment = self._frame_samples(flat, start, end)
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
