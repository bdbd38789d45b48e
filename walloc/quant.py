"""Quantizers for learned codecs: WaLLoC's Gaussian-CDF compander and rounding for training and coding."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from . import ops

_to_uniform, _to_normal = ops.eager(ops.to_uniform), ops.eager(ops.to_normal)
_round_offset, _uniform_noise = ops.eager(ops.round_offset), ops.eager(ops.uniform_noise)


def compander_constants(bits: int) -> tuple[float, float]:
    """WaLLoC's (scale, latent_max) for ``bits``-bit latents: ((2**(b-1) - 1) / 1.85, 2**(b-1) - 0.501)."""
    if not 2 <= bits <= 16:
        raise ValueError(f"latent bits must be in [2, 16], got {bits}")
    return (2 ** (bits - 1) - 1) / 1.85, 2 ** (bits - 1) - 0.501


#: ToNormal's clamp of Phi(x / s) before the inverse CDF (the kernels' ``QuantParams`` defaults, csrc/quant/quant.h).
NORMAL_CLIP = (1e-4, 0.9999)


class _Compander(nn.Module):
    def __init__(self, bits: int = 8) -> None:
        super().__init__()
        self.bits = bits
        self.scale, self.latent_max = compander_constants(bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"


class ToUniform(_Compander):
    """Gaussian latents -> values in (-latent_max, latent_max), roughly uniform, ready for rounding."""

    def forward(self, x: Tensor) -> Tensor:
        return _to_uniform(x, self.scale, self.latent_max)


class ToNormal(_Compander):
    """The inverse of :class:`ToUniform` (with its input clamped away from the ends)."""

    def forward(self, x: Tensor) -> Tensor:
        return _to_normal(x, self.scale, self.latent_max)


def quantize(x: Tensor, offsets: Optional[Tensor] = None) -> Tensor:
    """round(x - offsets) + offsets (half to even), offsets per channel; zero gradient."""
    return _round_offset(x, offsets)


def add_uniform_noise(x: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """x + U(-1/2, 1/2) noise, the training proxy for rounding; seeded from ``generator`` (or torch's seed),
    so CPU and CUDA draw the same noise for the same generator state."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return _uniform_noise(x, seed)
