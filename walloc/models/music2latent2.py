"""Music2Latent2 (Pasini, Lattner and Fazekas, ICASSP 2025): summary embeddings and an autoregressive
consistency decoder. No implementation or weights were released; this one is written for walloc from the
paper's figures and captions (see ``shared/reference/music2latent2-facts.md`` for what is known).

Audio is cut into chunks of ``chunk_frames`` STFT frames of Music2Latent's compressed complex STFT, all audio
channels of an item stacked as spectrogram channels (real and imaginary part of each). Three networks:

- ``encoder``: a chunk's spectrogram -> convolutional patchifier -> tokens, after ``summary_tokens`` learned
  tokens -> transformer; only those learned tokens' outputs are kept, projected to ``summary_channels`` and
  tanh-bounded: the chunk's *summary embeddings*, an unordered set (no position in time);
- ``decoder``: [the summary embeddings, one mask token per patch] -> transformer -> de-patchifier; its feature
  maps at every patchifier level condition the consistency model (sigma-independent: computed once per chunk);
- ``consistency``: two consecutive chunks, each with its own noise level, patchified separately, one
  transformer over both with the *chunked causal mask* (the previous chunk's tokens cannot attend to the current
  chunk's), then de-patchified: ``c_skip * x + c_out * F(c_in * x, sigma, features)`` for each chunk.

Convolutions never cross the chunk boundary, so the previous chunk's output depends only on itself: the mask
holds for the whole network, and a chunk evaluated as the previous one is the same function of its input
whatever follows it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .music2latent import (
    RHO,
    SIGMA_MAX,
    SIGMA_MIN,
    audio_to_spectrogram,
    consistency_scalings,
    positional_embedding,
    spectrogram_to_audio,
)

SUMMARY_GAIN = 0.5  # tanh(0.5 x) of unit-variance x: 99.7% of the values within +-0.9
FEATURE_BLOCK = 16  # chunks whose decoder maps generate() holds at once

#: (frequency, time) strides of the patchifier's three levels: a token covers 32 bins x 4 frames.
PATCH_STRIDES = ((4, 1), (2, 2), (4, 2))


def karras_sigma(t: float) -> float:
    """The Karras (rho 7) noise level at ``t`` in [0, 1] from sigma_min to sigma_max."""
    low, high = SIGMA_MIN ** (1 / RHO), SIGMA_MAX ** (1 / RHO)
    return (low + t * (high - low)) ** RHO


@dataclass(frozen=True)
class Music2Latent2Config:
    """Architecture hyper-parameters. The defaults follow the paper's scale: 32,768-sample stereo chunks of
    8 summary embeddings of 64 channels, 128x fewer values than samples (64x for a mono model, ``channels=1``)."""

    hop: int = 512
    channels: int = 2                 # audio channels per item (stereo: 2)
    chunk_frames: int = 64            # STFT frames per chunk
    summary_tokens: int = 8           # K
    summary_channels: int = 64        # D
    patch_channels: tuple[int, ...] = (32, 64, 128)  # convolution widths at the patchifier's three levels
    width: int = 512
    heads: int = 8
    encoder_depth: int = 8
    decoder_depth: int = 8
    consistency_depth: int = 12
    mlp_ratio: int = 4
    cond_channels: int = 256          # noise-level embedding
    cond_level: float = 0.4           # the previous chunk is re-noised to karras_sigma(cond_level) when decoding

    def __post_init__(self) -> None:
        if len(self.patch_channels) != 3:
            raise ValueError(f"patch_channels needs 3 widths, got {self.patch_channels}")
        if self.chunk_frames % 4 or self.bins % 32:
            raise ValueError(f"chunk_frames must be a multiple of 4 and 2 * hop of 32; got {self.chunk_frames}, "
                             f"{self.hop}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")

    @property
    def bins(self) -> int:
        return 2 * self.hop

    @property
    def data_channels(self) -> int:
        return 2 * self.channels  # real and imaginary part of each audio channel

    @property
    def chunk_samples(self) -> int:
        return self.chunk_frames * self.hop

    @property
    def token_grid(self) -> tuple[int, int]:
        """(frequency, time) tokens of one chunk."""
        return self.bins // 32, self.chunk_frames // 4

    @property
    def tokens(self) -> int:
        f, t = self.token_grid
        return f * t

    @property
    def compression_ratio(self) -> float:
        """Audio samples per latent value."""
        return self.channels * self.chunk_samples / (self.summary_tokens * self.summary_channels)

    @property
    def sigma_cond(self) -> float:
        return karras_sigma(self.cond_level)

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> Music2Latent2Config:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


# --- chunks of the compressed complex STFT ------------------------------------------------------------------


def audio_to_chunks(audio: Tensor, config: Music2Latent2Config) -> Tensor:
    """(B, channels, chunks * chunk_samples + 3 hop) audio -> (B, chunks, data_channels, bins, chunk_frames):
    Music2Latent's compressed complex STFT (:func:`audio_to_spectrogram`), each channel's real and imaginary
    parts stacked as spectrogram channels."""
    batch, channels, length = audio.shape
    spectrogram = audio_to_spectrogram(audio.reshape(batch * channels, length), config.hop)
    chunks = spectrogram.shape[-1] // config.chunk_frames
    return (spectrogram.reshape(batch, 2 * channels, config.bins, chunks, config.chunk_frames)
            .permute(0, 3, 1, 2, 4))


def chunks_to_audio(chunks: Tensor) -> Tensor:
    """Inverse of :func:`audio_to_chunks`: (B, chunks, 2 channels, bins, frames) -> (B, channels, samples)."""
    batch, count, data_channels, bins, frames = chunks.shape
    spectrogram = chunks.permute(0, 2, 3, 1, 4).reshape(batch * data_channels // 2, 2, bins, count * frames)
    audio = spectrogram_to_audio(spectrogram, bins // 2)
    return audio.reshape(batch, data_channels // 2, -1)


# --- layers --------------------------------------------------------------------------------------------------


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(channels // 4, 32), channels)


class ConvBlock(nn.Module):
    """x + conv(SiLU(GroupNorm(x) + noise embedding)), a 3x3 residual block that starts as the identity."""

    def __init__(self, channels: int, cond_channels: int | None = None) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.cond = nn.Linear(cond_channels, channels) if cond_channels else None

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = self.norm(x)
        if self.cond is not None:
            h = h + self.cond(cond)[:, :, None, None].to(h.dtype)
        return x + self.conv(F.silu(h))


class Patchifier(nn.Module):
    """(B, in, bins, frames) -> tokens (B, width, bins / 32, frames / 4), and the feature map of each level
    (finest first), which the de-patchifier takes back as skips. Strided, non-overlapping downsampling."""

    def __init__(self, in_channels: int, channels: tuple[int, ...], width: int, cond_channels: int | None = None):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        self.blocks = nn.ModuleList(ConvBlock(c, cond_channels) for c in channels)
        outs = (*channels[1:], width)
        self.downs = nn.ModuleList(nn.Conv2d(c, o, s, stride=s) for c, o, s in zip(channels, outs, PATCH_STRIDES))

    def forward(self, x: Tensor, cond: Tensor | None = None,
                features: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        """``features``: the decoder's maps at each level (then the tokens), added before each block."""
        x = self.conv_in(x)
        levels = []
        for i, (block, down) in enumerate(zip(self.blocks, self.downs)):
            if features is not None:
                x = x + features[i]
            x = block(x, cond)
            levels.append(x)
            x = down(x)
        return x, levels


class DePatchifier(nn.Module):
    """Tokens (B, width, bins / 32, frames / 4) -> (B, out, bins, frames), adding skips (and conditioning
    features) at each level; returns the output (None without ``out_channels``) and each level's map (coarsest
    first)."""

    def __init__(self, out_channels: int | None, channels: tuple[int, ...], width: int,
                 cond_channels: int | None = None):
        super().__init__()
        ins = (width, *channels[:0:-1])
        outs = channels[::-1]
        self.ups = nn.ModuleList(nn.ConvTranspose2d(i, o, s, stride=s)
                                 for i, o, s in zip(ins, outs, PATCH_STRIDES[::-1]))
        self.blocks = nn.ModuleList(ConvBlock(c, cond_channels) for c in outs)
        if out_channels is not None:
            self.norm_out = _norm(channels[0])
            self.conv_out = nn.Conv2d(channels[0], out_channels, 3, padding=1)

    def forward(self, x: Tensor, cond: Tensor | None = None, skips: list[list[Tensor]] = ()) -> tuple[Tensor, list[Tensor]]:
        """``skips``: lists of finest-first maps (one per level) added after each upsampling."""
        levels = []
        for i, (up, block) in enumerate(zip(self.ups, self.blocks)):
            x = up(x)
            for skip in skips:
                x = x + skip[len(self.ups) - 1 - i]
            x = block(x, cond)
            levels.append(x)
        if not hasattr(self, "conv_out"):
            return None, levels
        return self.conv_out(F.silu(self.norm_out(x))), levels


class TransformerBlock(nn.Module):
    """Pre-norm self-attention (QK RMS-norm) and MLP. With ``cond_channels`` the norms are adaptive: each token's
    scale, shift and residual gates come from its conditioning vector (adaLN-zero: the block starts as the
    identity). Without, the block is live from the start, so the encoder's summary tokens depend on the audio at
    the first step (identity blocks would make them constants, which tanh then saturates)."""

    def __init__(self, width: int, heads: int, mlp_ratio: int, cond_channels: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))
        adaptive = cond_channels is not None
        self.norm1 = nn.LayerNorm(width, elementwise_affine=not adaptive)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=not adaptive)
        if adaptive:
            self.modulation = nn.Linear(cond_channels, 6 * width)
            nn.init.zeros_(self.modulation.weight)
            nn.init.zeros_(self.modulation.bias)

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        if cond is None:
            h = self.norm1(x)
            x = x + self._attend(h, mask)
            return x + self.mlp(self.norm2(x))
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond).to(x.dtype).chunk(6, dim=-1)
        h = self.norm1(x) * (1 + scale1) + shift1
        x = x + gate1 * self._attend(h, mask)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.mlp(h)

    def _attend(self, x: Tensor, mask: Tensor | None) -> Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        q, k = F.rms_norm(q, q.shape[-1:]), F.rms_norm(k, k.shape[-1:])
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.proj(out.transpose(1, 2).reshape(batch, length, width))


def chunked_causal_mask(tokens: int, device=None) -> Tensor:
    """(2 tokens, 2 tokens) boolean attention mask over [previous chunk, current chunk]: every token attends
    within its chunk; the current chunk's tokens also attend to the previous chunk's, never the reverse."""
    half = torch.arange(2 * tokens, device=device) // tokens
    return half[None, :] <= half[:, None]


# --- the three networks --------------------------------------------------------------------------------------


class SummaryEncoder(nn.Module):
    """A chunk's spectrogram (B, data_channels, bins, chunk_frames) -> summary embeddings (B, K, D) in (-1, 1)."""

    def __init__(self, c: Music2Latent2Config) -> None:
        super().__init__()
        self.patchify = Patchifier(c.data_channels, c.patch_channels, c.width)
        self.positions = nn.Parameter(torch.randn(c.tokens, c.width) * 0.02)
        self.summary = nn.Parameter(torch.randn(c.summary_tokens, c.width) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(c.width, c.heads, c.mlp_ratio) for _ in range(c.encoder_depth))
        self.norm_out = nn.LayerNorm(c.width)
        self.project = nn.Linear(c.width, c.summary_channels)

    def forward(self, spectrogram: Tensor) -> Tensor:
        tokens, _ = self.patchify(spectrogram)
        tokens = tokens.flatten(2).transpose(1, 2) + self.positions
        x = torch.cat([self.summary.expand(tokens.shape[0], -1, -1).to(tokens.dtype), tokens], dim=1)
        for block in self.blocks:
            x = block(x)
        summaries = self.project(self.norm_out(x[:, :self.summary.shape[0]]))
        # each embedding normalised before the bound keeps tanh out of saturation, where no gradient would flow
        return torch.tanh(SUMMARY_GAIN * F.layer_norm(summaries, summaries.shape[-1:]))


class SummaryDecoder(nn.Module):
    """Summary embeddings (B, K, D) -> the conditioning feature maps of each patchifier level (finest first),
    then the token map: [summaries, mask tokens] -> transformer -> de-patchifier."""

    def __init__(self, c: Music2Latent2Config) -> None:
        super().__init__()
        self.grid = c.token_grid
        self.embed = nn.Linear(c.summary_channels, c.width)
        self.slots = nn.Parameter(torch.randn(c.summary_tokens, c.width) * 0.02)
        self.mask_tokens = nn.Parameter(torch.randn(c.tokens, c.width) * 0.02)  # a mask token with its position
        self.blocks = nn.ModuleList(TransformerBlock(c.width, c.heads, c.mlp_ratio) for _ in range(c.decoder_depth))
        self.norm_out = nn.LayerNorm(c.width)
        self.depatchify = DePatchifier(None, c.patch_channels, c.width)

    def forward(self, summaries: Tensor) -> list[Tensor]:
        k = summaries.shape[1]
        x = torch.cat([self.embed(summaries) + self.slots,
                       self.mask_tokens.expand(summaries.shape[0], -1, -1).to(summaries.dtype)], dim=1)
        for block in self.blocks:
            x = block(x)
        tokens = self.norm_out(x[:, k:]).transpose(1, 2).reshape(x.shape[0], -1, *self.grid)
        _, levels = self.depatchify(tokens)
        return [*levels[::-1], tokens]


class ConsistencyNetwork(nn.Module):
    """F over [previous, current] chunk pairs with the chunked causal mask; see :meth:`forward`."""

    def __init__(self, c: Music2Latent2Config) -> None:
        super().__init__()
        self.config = c
        k = c.cond_channels
        self.embed_sigma = nn.Sequential(nn.Linear(k, k), nn.SiLU(), nn.Linear(k, k), nn.SiLU())
        self.patchify = Patchifier(c.data_channels, c.patch_channels, c.width, k)
        self.positions = nn.Parameter(torch.randn(c.tokens, c.width) * 0.02)
        self.halves = nn.Parameter(torch.randn(2, c.width) * 0.02)  # which chunk of the pair a token is in
        self.blocks = nn.ModuleList(TransformerBlock(c.width, c.heads, c.mlp_ratio, k)
                                    for _ in range(c.consistency_depth))
        self.norm_tokens = nn.LayerNorm(c.width)
        self.depatchify = DePatchifier(c.data_channels, c.patch_channels, c.width, k)
        nn.init.zeros_(self.depatchify.conv_out.weight)
        nn.init.zeros_(self.depatchify.conv_out.bias)
        self.register_buffer("mask", chunked_causal_mask(c.tokens), persistent=False)

    def forward(self, noisy: Tensor, sigmas: Tensor, features: list[Tensor]) -> Tensor:
        """noisy (B, 2, data_channels, bins, chunk_frames): [previous, current] chunks; sigmas (B, 2) their noise
        levels; features: the decoder's maps of both chunks, each (2B, ...) in the order (item, chunk). Returns
        the clean estimates, shaped as ``noisy``."""
        batch = noisy.shape[0]
        flat_sigma = sigmas.reshape(-1).to(torch.float32)
        c_skip, c_out, c_in = consistency_scalings(flat_sigma)
        x = noisy.flatten(0, 1)
        cond = self.embed_sigma(positional_embedding(torch.log(flat_sigma) / 4.0, self.config.cond_channels))
        tokens, skips = self.patchify(c_in * x, cond, features)
        grid = tokens.shape[-2:]
        length = grid[0] * grid[1]
        tokens = tokens.flatten(2).transpose(1, 2) + features[-1].flatten(2).transpose(1, 2) + self.positions
        tokens = (tokens.view(batch, 2, length, -1) + self.halves[:, None].to(tokens.dtype)).flatten(1, 2)
        token_cond = cond.view(batch, 2, 1, -1).expand(-1, -1, length, -1).flatten(1, 2)
        for block in self.blocks:
            tokens = block(tokens, token_cond, self.mask)
        tokens = self.norm_tokens(tokens).view(batch * 2, length, -1).transpose(1, 2).reshape(batch * 2, -1, *grid)
        out, _ = self.depatchify(tokens, cond, [skips, features[:-1]])
        return torch.addcmul(c_skip * x, c_out, out.float()).view_as(noisy)


class Music2Latent2Model(nn.Module):
    """The summary-embedding autoencoder and its autoregressive consistency decoder."""

    def __init__(self, config: Music2Latent2Config | None = None) -> None:
        super().__init__()
        self.config = c = config or Music2Latent2Config()
        self.encoder = SummaryEncoder(c)
        self.decoder = SummaryDecoder(c)
        self.consistency = ConsistencyNetwork(c)

    def encode(self, chunks: Tensor) -> Tensor:
        """Chunk spectrograms (B, data_channels, bins, chunk_frames) -> summary embeddings (B, K, D) in (-1, 1)."""
        return self.encoder(chunks)

    def features(self, summaries: Tensor) -> list[Tensor]:
        """The decoder's conditioning maps for chunks of summaries (B, K, D)."""
        return self.decoder(summaries)

    def denoise_pair(self, noisy: Tensor, sigmas: Tensor, features: list[Tensor]) -> Tensor:
        """One consistency evaluation of [previous, current] chunk pairs (see :class:`ConsistencyNetwork`)."""
        return self.consistency(noisy, sigmas, features)

    def forward(self, summaries: Tensor, noisy: Tensor, sigmas: Tensor) -> Tensor:
        """Summaries (B, 2, K, D) of both chunks, noisy pairs, their levels -> clean estimates (the decoder's maps
        and one consistency evaluation; training computes the maps once for its student and teacher)."""
        return self.consistency(noisy, sigmas, self.features(summaries.flatten(0, 1)))

    def generate(self, summaries: Tensor, noise, steps: int = 1) -> Tensor:
        """Autoregressive decoding of chunk sequences: summaries (B, chunks, K, D) -> spectrograms
        (B, chunks, data_channels, bins, chunk_frames). ``noise(shape)`` draws standard Gaussian noise.

        Chunk ``p`` is generated from sigma_max as the current chunk of the pair whose previous chunk is chunk
        ``p - 1``'s first estimate re-noised to sigma_cond (a silent chunk of zero summaries before the first).
        The same evaluation also denoises that re-noised previous chunk: with ``steps=2`` those refined
        estimates are kept (every chunk but the last, which has no successor, so gets no second step at no
        cost). Both use one consistency evaluation per chunk."""
        if steps not in (1, 2):
            raise ValueError(f"Music2Latent2 decodes in 1 or 2 steps, got {steps}")
        c = self.config
        batch, chunks = summaries.shape[:2]
        shape = (batch, c.data_channels, c.bins, c.chunk_frames)
        sigma_cond = c.sigma_cond
        sigmas = torch.tensor([sigma_cond, SIGMA_MAX], device=summaries.device).expand(batch, 2)
        # [silence, chunks...]: the decoder's maps, computed a block of chunks at a time to bound memory
        padded = torch.cat([torch.zeros_like(summaries[:, :1]), summaries], 1)
        maps: list[Tensor] = []
        previous = torch.zeros(shape, device=summaries.device)
        out = []
        for p in range(chunks):
            if p % FEATURE_BLOCK == 0:
                block = padded[:, p:p + FEATURE_BLOCK + 1]
                maps = [m.unflatten(0, block.shape[:2]) for m in self.features(block.flatten(0, 1))]
            q = p % FEATURE_BLOCK
            pair = torch.stack([previous + sigma_cond * noise(shape), SIGMA_MAX * noise(shape)], dim=1)
            clean = self.denoise_pair(pair, sigmas, [m[:, q:q + 2].flatten(0, 1) for m in maps]).float()
            if steps == 2 and p > 0:
                out[-1] = clean[:, 0]
            previous = clean[:, 1]
            out.append(previous)
        return torch.stack(out, dim=1)

