"""Pixels to the planes a codec transforms, as a PyTorch custom operator: one pass from any layout and uint8 or
float32, where ``(x.float() / divisor - shift).contiguous()`` takes two or three (a decoded file's interleaved
pixels are read with a stride, and each step writes a fresh full-size tensor)."""

from __future__ import annotations

import torch
from torch import Tensor

from . import kernels
from .library import kernel_op


@kernel_op("planes_from_pixels")
def planes_from_pixels(pixels: Tensor, divisor: float, shift: float) -> Tensor:
    """Contiguous float32 (N, C, H, W) planes pixels / divisor - shift, each operation rounded as torch rounds it,
    from uint8 or float32 (N, C, H, W) pixels in any layout."""
    if pixels.dim() != 4:
        raise ValueError(f"pixels must be (N, C, H, W), got shape {tuple(pixels.shape)}")
    planes = torch.empty(pixels.shape, dtype=torch.float32, device=pixels.device)
    if planes.numel():
        kernels.planes_from_pixels(pixels, planes, divisor, shift)
    return planes


def _register() -> None:
    torch.library.register_fake(
        planes_from_pixels, lambda pixels, divisor, shift: pixels.new_empty(pixels.shape, dtype=torch.float32))

    def keep_divisor(ctx, inputs, output):
        ctx.divisor = inputs[1]

    torch.library.register_autograd(planes_from_pixels, lambda ctx, g: (g / ctx.divisor, None, None),
                                    setup_context=keep_divisor)


_register()
