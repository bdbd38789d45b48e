"""The Music2Latent2 codec: audio of any length and channel count to summary embeddings, real bitstreams of
them, and back by autoregressive consistency decoding (:mod:`walloc.models.music2latent2`).

Framing (see :mod:`walloc.codec.consistency`): the audio channels are taken in groups of the model's
``channels`` (a stereo model codes a stereo pair as one item; a mono input is coded as the pair L = R, and an odd
last channel likewise), each group cut into chunks of ``chunk_samples``; chunk j covers input samples
[chunk_samples j - 3 hop, chunk_samples (j + 1)). Latents: (N, groups, K, D, chunks), the tanh-bounded summary
embeddings (one unordered set of K per chunk).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..models.music2latent2 import (
    Music2Latent2Config,
    Music2Latent2Model,
    audio_to_chunks,
    chunks_to_audio,
)
from . import registry
from .consistency import ConsistencyCodec

ENCODE_BLOCK = 32  # chunks encoded at once (bounds the memory of long inputs)


@registry.register("music2latent2", lambda arguments: Music2Latent2Model(Music2Latent2Config.from_dict(arguments)))
class Music2Latent2Codec(ConsistencyCodec):
    """A Music2Latent2 model as a codec: ``encode`` -> summary embeddings (N, groups, K, D, chunks) in (-1, 1);
    ``decode(latents, steps=1 | 2, generator=...)``: one consistency evaluation per chunk either way (two steps
    keep each chunk's refinement from the next chunk's evaluation). Audio at 44.1 kHz; other rates are
    resampled, and ``decompress`` returns audio at its rate. ``precision`` as for :class:`Music2LatentCodec`."""

    container_id = "walloc-music2latent2"
    sample_rate = 44100

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.config.summary_tokens, self.config.summary_channels)

    def latent_items(self, channels: int) -> int:
        return math.ceil(channels / self.config.channels)

    @property
    def samples_per_latent(self) -> int:
        return self.config.chunk_samples

    def _groups(self, audio: Tensor) -> Tensor:
        """(N, C, T) -> (N * groups, model channels, T), repeating the last channel to fill the last group."""
        c, t = audio.shape[1:]
        width = self.config.channels
        if c % width == 0:
            return audio.reshape(-1, width, t)  # no copy of a long input
        index = torch.arange(self.latent_items(c) * width, device=audio.device).clamp_max(c - 1)
        return audio[:, index].reshape(-1, width, t)

    def _encode_bounded(self, x: Tensor) -> Tensor:
        n, c, t = x.shape
        chunks = self.latent_frames(t)
        groups = self._groups(x)
        pieces = []
        with self._arithmetic():
            for start in range(0, chunks, ENCODE_BLOCK):
                end = min(start + ENCODE_BLOCK, chunks)
                spectrograms = audio_to_chunks(self._frame_samples(groups, start, end), self.config)
                pieces.append(self.model.encode(spectrograms.flatten(0, 1)).float().unflatten(0, spectrograms.shape[:2]))
        latents = torch.cat(pieces, 1)  # (N * groups, chunks, K, D)
        return latents.permute(0, 2, 3, 1).reshape(n, self.latent_items(c), *self.latent_shape, chunks)

    def decode(self, latents: Tensor, steps: int = 1, generator: torch.Generator | None = None) -> Tensor:
        """Audio (N, groups x channels, chunk_samples L - 3 hop) in [-1, 1] from latents (N, groups, K, D, L),
        decoded chunk after chunk from noise drawn with ``generator`` (a CPU generator; the global one when None),
        so a given generator state gives the same audio on every device."""
        latents = torch.as_tensor(latents, dtype=torch.float32)
        if latents.dim() != 5 or tuple(latents.shape[2:4]) != self.latent_shape or latents.shape[-1] == 0:
            raise ValueError(f"expected latents (N, groups, {', '.join(map(str, self.latent_shape))}, L), got shape "
                             f"{tuple(latents.shape)}")
        n, groups, _, _, chunks = latents.shape
        summaries = latents.to(self.device).permute(0, 1, 4, 2, 3).reshape(n * groups, chunks, *self.latent_shape)

        def noise(shape):  # on the CPU: device-independent
            return torch.randn(shape, generator=generator).to(self.device)

        with self._arithmetic():
            audio = chunks_to_audio(self.model.generate(summaries, noise, steps))
        audio = audio[..., 3 * self.hop:3 * self.hop + self.decoded_length(chunks)]
        return audio.reshape(n, groups * self.config.channels, -1)
