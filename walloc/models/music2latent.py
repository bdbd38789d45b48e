"""Music2Latent (Pasini, Lattner and Fazekas, ISMIR 2024): a consistency autoencoder of 44.1 kHz audio.

Written for walloc from the paper and the layout of the released checkpoint, so ``music2latent.pt``'s
``gen_state_dict`` loads unchanged (``Music2LatentModel().load_state_dict(...)``). Three networks share one
module, as in the checkpoint:

- ``encoder``: a compressed complex STFT (2, 1024, frames) -> residual 2-D levels (attention across frequency
  at the coarse ones) -> frequency folded into channels -> 1-D residual blocks -> 64 tanh-bounded channels, one
  frame per 4096 samples;
- ``decoder``: latents -> one feature map per UNet level (the "pyramid"), independent of the noise level;
- the consistency UNet around them: ``output = c_skip * x + c_out * F(c_in * x, sigma, pyramid)``.

Differences from the reference implementation that change no output: the pyramid and its 1x1 projections are
computed once per decode rather than once per step, and the noise-level embedding once per batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SIGMA_DATA = 0.5
SIGMA_MIN = 0.002
SIGMA_MAX = 80.0
RHO = 7.0
STFT_ALPHA = 0.65  # complex compression beta * |c| ** alpha * exp(i angle(c))
STFT_BETA = 0.34


@dataclass(frozen=True)
class Music2LatentConfig:
    """Architecture hyper-parameters; the defaults are the released model's (58.19M parameters)."""

    hop: int = 512
    base_channels: int = 64
    multipliers: tuple[int, ...] = (1, 2, 4, 4, 4)
    unet_blocks: tuple[int, ...] = (2, 2, 2, 2, 2)
    encoder_blocks: tuple[int, ...] = (1, 1, 1, 1, 1)
    attention: tuple[bool, ...] = (False, False, True, True, True)
    bottleneck_channels: int = 512
    bottleneck_blocks: int = 4
    latent_channels: int = 64
    heads: int = 4
    cond_channels: int = 256
    data_channels: int = field(default=2, init=False)  # real and imaginary parts

    @property
    def bins(self) -> int:
        return 2 * self.hop

    @property
    def time_downsampling(self) -> int:
        """STFT frames per latent frame: the first level downsamples frequency only (4x), the others both (2x)."""
        return 2 ** (len(self.multipliers) - 2)

    @property
    def coarse_bins(self) -> int:
        return self.bins // 4 // self.time_downsampling

    @property
    def samples_per_latent(self) -> int:
        return self.hop * self.time_downsampling

    def as_dict(self) -> dict:
        out = asdict(self)
        out.pop("data_channels")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, values: dict) -> "Music2LatentConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(channels // 4, 32), channels)


def _norm_silu(norm: nn.GroupNorm, x: Tensor) -> Tensor:
    return F.silu(norm(x), inplace=True)


# --- the complex STFT representation -------------------------------------------------------------------------


def audio_to_spectrogram(audio: Tensor, hop: int = 512) -> Tensor:
    """(B, T) audio -> (B, 2, 2*hop, frames): the compressed complex STFT (Hann window of 4*hop, no centring,
    the Nyquist bin dropped), real and imaginary parts as channels; frames = (T - 4*hop) // hop + 1."""
    window = torch.hann_window(4 * hop, device=audio.device, dtype=audio.dtype)
    spectrum = torch.stft(audio, 4 * hop, hop, window=window, center=False, return_complex=True)[:, :2 * hop]
    magnitude = spectrum.abs()
    # beta * |c|**alpha * exp(i angle c) = c * beta * |c|**(alpha - 1); zero stays zero
    gain = STFT_BETA * magnitude.clamp_min(1e-30).pow(STFT_ALPHA - 1)
    return torch.view_as_real(spectrum * gain).permute(0, 3, 1, 2)


def spectrogram_to_audio(spectrogram: Tensor, hop: int = 512) -> Tensor:
    """Inverse of :func:`audio_to_spectrogram` (weighted overlap-add), clamped to [-1, 1]:
    (B, 2, 2*hop, frames) -> (B, 4*hop + hop * (frames - 1))."""
    spectrum = torch.complex(spectrogram[:, 0].float(), spectrogram[:, 1].float())
    scaled = spectrum / STFT_BETA
    magnitude = scaled.abs()
    spectrum = scaled * magnitude.clamp_min(1e-30).pow(1 / STFT_ALPHA - 1)
    spectrum = F.pad(spectrum, (0, 0, 0, 1))  # the Nyquist bin
    frames = torch.fft.irfft(spectrum, n=4 * hop, dim=1)  # (B, 4*hop, frames)
    frames = frames * _synthesis_window(hop, frames.device)[:, None]
    count = frames.shape[-1]
    length = 4 * hop + hop * (count - 1)
    audio = F.fold(frames, (1, length), (1, 4 * hop), stride=(1, hop))
    return audio.reshape(frames.shape[0], length).clamp(-1.0, 1.0)


def _synthesis_window(hop: int, device) -> Tensor:
    """The Hann window over the sum of its squares at every hop offset (exact inversion where 4 frames overlap)."""
    window = torch.hann_window(4 * hop, device=device)
    overlap = (window**2).reshape(4, hop).sum(0)
    return window / overlap.repeat(4)


# --- layers --------------------------------------------------------------------------------------------------


class PackedAttention(nn.Module):
    """Multi-head self-attention with packed q/k/v projections (``in_proj_weight``, ``out_proj``)."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * channels, channels))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * channels))
        self.out_proj = nn.Linear(channels, channels)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.weight)  # a new attention layer starts as the identity of its residual
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, tokens: Tensor) -> Tensor:
        batch, length, channels = tokens.shape
        qkv = F.linear(tokens, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.view(batch, length, 3, self.heads, channels // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.out_proj(attended.transpose(1, 2).reshape(batch, length, channels))


class FrequencyAttention(nn.Module):
    """Self-attention across frequency, separately at every time frame, with a residual."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.mha = PackedAttention(channels, heads)

    def forward(self, x: Tensor) -> Tensor:
        n, c, f, t = x.shape
        tokens = self.norm(x).permute(0, 3, 2, 1).reshape(n * t, f, c)
        return x + self.mha(tokens).reshape(n, t, f, c).permute(0, 3, 2, 1)


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> conv (+ noise embedding) -> GroupNorm -> SiLU -> conv, plus the input (a 1x1 conv
    when the width changes), then optional frequency attention. 2-D (3x3) or 1-D (3)."""

    def __init__(self, in_channels: int, out_channels: int, cond_channels: int | None = None,
                 attention_heads: int = 0, two_d: bool = True) -> None:
        super().__init__()
        conv = nn.Conv2d if two_d else nn.Conv1d
        self.two_d = two_d
        self.norm1 = _norm(in_channels)
        self.conv1 = conv(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.conv2 = conv(out_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as its shortcut
        nn.init.zeros_(self.conv2.bias)
        self.res_conv = conv(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        if cond_channels is not None:
            self.proj_emb = nn.Linear(cond_channels, out_channels)
            nn.init.zeros_(self.proj_emb.weight)
            nn.init.zeros_(self.proj_emb.bias)
        if attention_heads:
            self.att = FrequencyAttention(out_channels, attention_heads)

    def forward(self, x: Tensor, embedding: Tensor | None = None) -> Tensor:
        h = _norm_silu(self.norm1, x)
        if embedding is None:
            h = self.conv1(h)
        elif embedding.shape[0] == 1:  # one noise level for the whole batch: its projection joins the bias
            h = self.conv1._conv_forward(h, self.conv1.weight, self.conv1.bias + self.proj_emb(embedding)[0])
        else:
            h = self.conv1(h).add_(self.proj_emb(embedding).view(*h.shape[:2], *(1,) * (h.dim() - 2)))
        h = self.res_conv(x) + self.conv2(_norm_silu(self.norm2, h))
        return self.att(h) if hasattr(self, "att") else h


class Resample(nn.Module):
    """Down- or upsampling between UNet levels: frequency 4x with a (5, 1) kernel, or 2x in both axes with
    3x3; optionally GroupNorm first. The parameters live in ``c`` (and ``norm``)."""

    def __init__(self, in_channels: int, out_channels: int, up: bool, frequency_only: bool,
                 normalize: bool = False) -> None:
        super().__init__()
        self.up, self.frequency_only = up, frequency_only
        if normalize:
            self.norm = _norm(in_channels)
        if frequency_only:
            self.c = nn.Conv2d(in_channels, out_channels, (5, 1), stride=(1, 1) if up else (4, 1), padding=(2, 0))
        else:
            self.c = nn.Conv2d(in_channels, out_channels, 3, stride=1 if up else 2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        if hasattr(self, "norm"):
            x = self.norm(x)
        if self.up:
            x = F.interpolate(x, scale_factor=(4, 1) if self.frequency_only else (2, 2), mode="nearest")
        return self.c(x)


class FrequencyGain(nn.Module):
    """A learned gain per frequency bin (``scale``)."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, 1, bins, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)  # under autocast the features stay in the low precision


# --- the three networks --------------------------------------------------------------------------------------


class Music2LatentEncoder(nn.Module):
    """Spectrogram (B, 2, bins, 8 * L) -> tanh-bounded latents (B, latent_channels, L)."""

    def __init__(self, config: Music2LatentConfig) -> None:
        super().__init__()
        c = config
        width = c.base_channels * c.multipliers[0]
        self.gain = FrequencyGain(c.bins)
        self.conv_inp = nn.Conv2d(c.data_channels, width, 3, padding=1)
        layers: list[nn.Module] = []
        for level, (blocks, multiplier) in enumerate(zip(c.encoder_blocks, c.multipliers)):
            out = c.base_channels * multiplier
            for _ in range(blocks):
                layers.append(ResBlock(width, out, attention_heads=c.heads if c.attention[level] else 0))
                width = out
            if level < len(c.multipliers) - 1:
                layers.append(Resample(width, width, up=False, frequency_only=level == 0,
                                       normalize=True))
        self.down_layers = nn.ModuleList(layers)
        self.prenorm_1d_to_2d = _norm(width)
        self.bottleneck_layers = nn.ModuleList(
            [nn.Conv1d(width * c.coarse_bins, c.bottleneck_channels, 1)]
            + [ResBlock(c.bottleneck_channels, c.bottleneck_channels, two_d=False) for _ in range(c.bottleneck_blocks)])
        self.norm_out = _norm(c.bottleneck_channels)
        self.conv_out = nn.Conv1d(c.bottleneck_channels, c.latent_channels, 1)

    def forward(self, spectrogram: Tensor) -> Tensor:
        x = self.gain(self.conv_inp(spectrogram))
        for layer in self.down_layers:
            x = layer(x)
        x = self.prenorm_1d_to_2d(x)
        x = x.flatten(1, 2)  # (B, C * F, T): channel-major
        for layer in self.bottleneck_layers:
            x = layer(x)
        return torch.tanh(self.conv_out(_norm_silu(self.norm_out, x)))


class Music2LatentDecoder(nn.Module):
    """Latents (B, latent_channels, L) -> one feature map per UNet level, finest first."""

    def __init__(self, config: Music2LatentConfig) -> None:
        super().__init__()
        c = config
        self.coarse_bins = c.coarse_bins
        width = c.base_channels * c.multipliers[-1]
        self.conv_inp = nn.Conv1d(c.latent_channels, c.bottleneck_channels, 1)
        # the released model gives these blocks a noise embedding it never feeds: kept for its state_dict
        self.bottleneck_layers = nn.ModuleList(
            [ResBlock(c.bottleneck_channels, c.bottleneck_channels, c.cond_channels, two_d=False)
             for _ in range(c.bottleneck_blocks)])
        self.conv_out_bottleneck = nn.Conv1d(c.bottleneck_channels, width * c.coarse_bins, 1)
        levels = len(c.multipliers)
        up_multipliers = list(reversed(c.multipliers))[1:] + [c.multipliers[-1]]
        layers: list[nn.Module] = []
        self.level_ends: list[int] = []
        for i, blocks in enumerate(reversed(c.encoder_blocks)):
            heads = c.heads if c.attention[levels - 1 - i] else 0
            layers.extend(ResBlock(width, width, attention_heads=heads) for _ in range(blocks))
            self.level_ends.append(len(layers))
            if i < levels - 1:
                out = c.base_channels * up_multipliers[i]
                layers.append(Resample(width, out, up=True, frequency_only=i == levels - 2))
                width = out
        self.up_layers = nn.ModuleList(layers)

    def forward(self, latents: Tensor) -> list[Tensor]:
        x = self.conv_inp(latents)
        for layer in self.bottleneck_layers:
            x = layer(x)
        x = self.conv_out_bottleneck(x)
        n, _, t = x.shape
        x = x.view(n, self.coarse_bins, -1, t).transpose(1, 2)  # frequency-major channels -> (B, C, F, T)
        pyramid, start = [], 0
        for end in self.level_ends:
            for layer in self.up_layers[start:end]:
                x = layer(x)
            pyramid.append(x)
            if end < len(self.up_layers):
                x = self.up_layers[end](x)
            start = end + 1
        return pyramid[::-1]


def positional_embedding(values: Tensor, size: int, max_positions: float = 10000.0) -> Tensor:
    """Sinusoidal embedding (B,) -> (B, size): sines then cosines at frequencies max_positions ** -(k / (h - 1))."""
    half = size // 2
    freqs = (1.0 / max_positions) ** (torch.arange(half, dtype=torch.float32, device=values.device) / (half - 1))
    angles = torch.outer(values, freqs.to(values.dtype))
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def consistency_scalings(sigma: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(c_skip, c_out, c_in), each (B, 1, 1, 1): c_skip(sigma_min) = 1 and c_out(sigma_min) = 0, so the model is
    the identity at the smallest noise level (the consistency boundary condition)."""
    sigma = sigma.reshape(-1, 1, 1, 1)
    c_skip = SIGMA_DATA**2 / ((sigma - SIGMA_MIN) ** 2 + SIGMA_DATA**2)
    c_out = SIGMA_DATA * (sigma - SIGMA_MIN) / (SIGMA_DATA**2 + sigma**2) ** 0.5
    c_in = 1.0 / (sigma**2 + SIGMA_DATA**2) ** 0.5
    return c_skip, c_out, c_in


def karras_sigmas(steps: int) -> list[float]:
    """The noise levels of a ``steps``-step decode, sigma_max first, then the level each step ends at
    (sigma_min last): the Karras schedule with rho 7 on steps + 1 points."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    low, high = SIGMA_MIN ** (1 / RHO), SIGMA_MAX ** (1 / RHO)
    return [(low + (i / steps) * (high - low)) ** RHO for i in range(steps, -1, -1)]


class Music2LatentModel(nn.Module):
    """The consistency autoencoder: ``encoder``, ``decoder`` (the pyramid) and the UNet's own layers."""

    def __init__(self, config: Music2LatentConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or Music2LatentConfig()
        self.encoder = Music2LatentEncoder(c)
        self.decoder = Music2LatentDecoder(c)
        k = c.cond_channels
        self.emb_proj = nn.Sequential(nn.Linear(k, k), nn.SiLU(), nn.Linear(k, k), nn.SiLU())
        self.scale_inp = self._frequency_scaling(k, c.bins)
        self.scale_out = self._frequency_scaling(k, c.bins)
        width = c.base_channels * c.multipliers[0]
        self.conv_inp = nn.Conv2d(c.data_channels, width, 3, padding=1)
        levels = len(c.multipliers)
        # Each path is a list of modules (the checkpoint's numbering) and a plan over it: ("block", i, level) is
        # a 1x1 projection of pyramid map `level` at i followed by its ResBlock at i + 1; ("resample", i, None).
        down: list[nn.Module] = []
        self._down_plan: list[tuple[str, int, int | None]] = []
        for level, blocks in enumerate(c.unet_blocks):
            width = c.base_channels * c.multipliers[level]
            heads = c.heads if c.attention[level] else 0
            for _ in range(blocks):
                self._down_plan.append(("block", len(down), level))
                down += [nn.Conv2d(width, width, 1), ResBlock(width, width, k, attention_heads=heads)]
            if level < levels - 1:
                self._down_plan.append(("resample", len(down), None))
                down.append(Resample(width, c.base_channels * c.multipliers[level + 1], up=False,
                                     frequency_only=level == 0))
        up: list[nn.Module] = []
        self._up_plan: list[tuple[str, int, int | None]] = []
        up_multipliers = list(reversed(c.multipliers))[1:] + [c.multipliers[-1]]
        for i, blocks in enumerate(reversed(c.unet_blocks)):
            heads = c.heads if c.attention[levels - 1 - i] else 0
            for _ in range(blocks):
                self._up_plan.append(("block", len(up), levels - 1 - i))
                up += [nn.Conv2d(width, width, 1), ResBlock(width, width, k, attention_heads=heads)]
            if i < levels - 1:
                self._up_plan.append(("resample", len(up), None))
                out = c.base_channels * up_multipliers[i]
                up.append(Resample(width, out, up=True, frequency_only=i == levels - 2))
                width = out
        self.down_layers = nn.ModuleList(down)
        self.up_layers = nn.ModuleList(up)
        self.conv_decoded = nn.Conv2d(width, width, 1)
        self.norm_out = _norm(width)
        self.conv_out = nn.Conv2d(width, c.data_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    @staticmethod
    def _frequency_scaling(cond: int, bins: int) -> nn.Sequential:
        layers = nn.Sequential(nn.Linear(cond, cond), nn.SiLU(), nn.Linear(cond, cond), nn.SiLU(),
                               nn.Linear(cond, bins))
        nn.init.zeros_(layers[4].weight)
        nn.init.zeros_(layers[4].bias)
        return layers

    def encode(self, spectrogram: Tensor) -> Tensor:
        """(B, 2, bins, 8L) -> tanh-bounded latents (B, latent_channels, L)."""
        return self.encoder(spectrogram)

    def pyramid(self, latents: Tensor) -> list[Tensor]:
        """The decoder's feature maps and their 1x1 projections into every UNet block, in the order the blocks
        use them (sigma-independent: computed once per decode)."""
        maps = self.decoder(latents)
        projections = [layers[i](maps[level]) for layers, plan in ((self.down_layers, self._down_plan),
                                                                  (self.up_layers, self._up_plan))
                       for kind, i, level in plan if kind == "block"]
        return projections + [self.conv_decoded(maps[0])]

    def denoise(self, noisy: Tensor, sigma: Tensor | float, pyramid: list[Tensor]) -> Tensor:
        """One consistency-function evaluation: the clean spectrogram estimated from ``noisy`` at ``sigma``."""
        # a scalar sigma is embedded once for the batch (broadcast), a tensor one per item
        sigma = torch.as_tensor(sigma, dtype=torch.float32, device=noisy.device).reshape(-1)
        embedded = positional_embedding(torch.log(sigma) / 4.0, self.config.cond_channels)
        time = self.emb_proj(embedded)
        gain_in = 1.0 + self.scale_inp(embedded).view(-1, 1, self.config.bins, 1)
        gain_out = 1.0 + self.scale_out(embedded).view(-1, 1, self.config.bins, 1)
        c_skip, c_out, c_in = consistency_scalings(sigma)
        x = self.conv_inp(c_in * noisy).mul_(gain_in)
        projections = iter(pyramid)
        skips = []
        for kind, i, _ in self._down_plan:
            if kind == "block":
                x = self.down_layers[i + 1](torch.add(x, next(projections)).mul_(_SQRT_HALF), time)
                skips.append(x)
            else:
                x = self.down_layers[i](x)
        for kind, i, _ in self._up_plan:
            if kind == "block":
                mixed = torch.add(x, skips.pop()).add_(next(projections)).mul_(_SQRT_THIRD)
                x = self.up_layers[i + 1](mixed, time)
            else:
                x = self.up_layers[i](x)
        x = torch.add(x, next(projections)).mul_(_SQRT_HALF)
        x = self.conv_out(_norm_silu(self.norm_out, x).mul_(gain_out))
        return torch.addcmul(c_skip * noisy, c_out, x)

    def forward(self, latents: Tensor, noisy: Tensor, sigma: Tensor | float) -> Tensor:
        """The consistency function F(noisy, sigma | latents) (training)."""
        return self.denoise(noisy, sigma, self.pyramid(latents))


_SQRT_HALF = 1 / math.sqrt(2.0)
_SQRT_THIRD = 1 / math.sqrt(3.0)
