"""Quantization kernels as PyTorch custom operators: rounding around offsets, uniform training noise, and the
WaLLoC Gaussian-CDF compander with exact derivatives."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from . import kernels
from .library import kernel_op
from .kernels import QuantOp


def _elementwise(op: QuantOp, x: Tensor, g: Optional[Tensor] = None, *, scale: float = 1.0,
                 latent_max: float = 1.0, seed: int = 0, offsets: Optional[Tensor] = None) -> Tensor:
    if x.dtype in kernels.UPCAST_DTYPES:
        g32 = None if g is None else g.float()
        return _elementwise(op, x.float(), g32, scale=scale, latent_max=latent_max, seed=seed,
                            offsets=offsets).to(x.dtype)
    kernels.check_dtype(x.dtype, "walloc quantization")
    x = x.contiguous()
    g = None if g is None else g.to(x.dtype).contiguous()
    y = torch.empty_like(x)
    channels, inner = 1, 1
    if offsets is not None:
        if x.dim() < 2 or offsets.numel() != x.shape[1]:
            raise ValueError(f"offsets need one value per channel (dim 1) of shape {tuple(x.shape)}")
        offsets = offsets.detach().to(device=x.device, dtype=torch.float64).contiguous()
        channels, inner = x.shape[1], max(1, x[0, 0].numel())
    if x.numel() == 0:
        return y
    kernels.quant(op, x, g, y, scale=scale, latent_max=latent_max, seed=seed, offsets=offsets, channels=channels,
                  inner=inner)
    return y


@kernel_op("round_offset")
def round_offset(x: Tensor, offsets: Optional[Tensor]) -> Tensor:
    """round(x - offsets[c]) + offsets[c], half to even like torch.round; offsets per channel (dim 1)."""
    return _elementwise(QuantOp.RoundOffset, x, offsets=offsets)


@kernel_op("uniform_noise")
def uniform_noise(x: Tensor, seed: int) -> Tensor:
    """x + u, u uniform in [-1/2, 1/2), a function of (seed, element index): identical on CPU and CUDA."""
    return _elementwise(QuantOp.UniformNoise, x, seed=seed)


@kernel_op("to_uniform")
def to_uniform(x: Tensor, scale: float, latent_max: float) -> Tensor:
    """WaLLoC's compander: 2 m (Phi(x / s) - 1/2), values in (-m, m)."""
    return _elementwise(QuantOp.ToUniform, x, scale=scale, latent_max=latent_max)


@kernel_op("to_uniform_grad")
def to_uniform_grad(x: Tensor, grad: Tensor, scale: float, latent_max: float) -> Tensor:
    return _elementwise(QuantOp.ToUniformGrad, x, grad, scale=scale, latent_max=latent_max)


@kernel_op("to_normal")
def to_normal(x: Tensor, scale: float, latent_max: float) -> Tensor:
    """Inverse compander: s Phi^-1(clamp(x / (2 m) + 1/2, 1e-4, 0.9999))."""
    return _elementwise(QuantOp.ToNormal, x, scale=scale, latent_max=latent_max)


@kernel_op("to_normal_grad")
def to_normal_grad(x: Tensor, grad: Tensor, scale: float, latent_max: float) -> Tensor:
    return _elementwise(QuantOp.ToNormalGrad, x, grad, scale=scale, latent_max=latent_max)


def _register() -> None:
    for op in (round_offset, uniform_noise, to_uniform, to_normal, to_uniform_grad, to_normal_grad):
        torch.library.register_fake(op, lambda x, *args: torch.empty_like(x))

    def save_input(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.args = inputs[1:]

    def no_state(ctx, inputs, output):
        pass

    torch.library.register_autograd(round_offset, lambda ctx, g: (torch.zeros_like(g), None), setup_context=no_state)
    torch.library.register_autograd(uniform_noise, lambda ctx, g: (g, None), setup_context=no_state)
    torch.library.register_autograd(
        to_uniform, lambda ctx, g: (to_uniform_grad(ctx.saved_tensors[0], g, *ctx.args), None, None),
        setup_context=save_input)
    torch.library.register_autograd(
        to_normal, lambda ctx, g: (to_normal_grad(ctx.saved_tensors[0], g, *ctx.args), None, None),
        setup_context=save_input)


_register()
