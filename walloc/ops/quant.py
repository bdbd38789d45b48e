"""Quantization kernels as PyTorch custom operators: rounding around offsets, uniform training noise, and the
WaLLoC Gaussian-CDF compander with exact derivatives."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .. import _C

_KERNEL_DTYPES = {torch.float32: "float32", torch.float64: "float64"}
# Op codes of csrc/quant/quant.h.
ROUND_OFFSET, UNIFORM_NOISE, TO_UNIFORM, TO_UNIFORM_GRAD, TO_NORMAL, TO_NORMAL_GRAD = range(6)
CLIP_LOW, CLIP_HIGH = 1e-4, 0.9999


def _elementwise(op: int, x: Tensor, g: Optional[Tensor] = None, *, scale: float = 1.0, latent_max: float = 1.0,
                 seed: int = 0, offsets: Optional[Tensor] = None) -> Tensor:
    if x.dtype in (torch.float16, torch.bfloat16):
        g32 = None if g is None else g.float()
        return _elementwise(op, x.float(), g32, scale=scale, latent_max=latent_max, seed=seed,
                            offsets=offsets).to(x.dtype)
    if x.dtype not in _KERNEL_DTYPES:
        raise ValueError(f"walloc quantization needs a floating tensor, got {x.dtype}")
    x = x.contiguous()
    g = None if g is None else g.to(x.dtype).contiguous()
    y = torch.empty_like(x)
    channels, inner, offset_ptr = 1, 1, 0
    if offsets is not None:
        if x.dim() < 2 or offsets.numel() != x.shape[1]:
            raise ValueError(f"offsets need one value per channel (dim 1) of shape {tuple(x.shape)}")
        offsets = offsets.detach().to(device=x.device, dtype=torch.float64).contiguous()
        channels, inner, offset_ptr = x.shape[1], max(1, x[0, 0].numel()), offsets.data_ptr()
    if x.numel() == 0:
        return y
    args = (op, _KERNEL_DTYPES[x.dtype], x.data_ptr(), 0 if g is None else g.data_ptr(), y.data_ptr(), x.numel(),
            float(scale), float(latent_max), CLIP_LOW, CLIP_HIGH, int(seed), offset_ptr, channels, inner)
    if x.device.type == "cpu":
        _C.quant_cpu(*args, torch.get_num_threads())
    elif x.device.type == "cuda":
        if not _C.cuda_compiled:
            raise RuntimeError("this walloc build has no CUDA kernels (nvcc was not found or WALLOC_CUDA=0)")
        _C.quant_cuda(*args, x.device.index, torch.cuda.current_stream(x.device).cuda_stream)
    else:
        raise ValueError(f"walloc quantization runs on CPU and CUDA tensors, not {x.device.type}")
    return y


@torch.library.custom_op("walloc::round_offset", mutates_args=())
def round_offset(x: Tensor, offsets: Optional[Tensor]) -> Tensor:
    """round(x - offsets[c]) + offsets[c], half to even like torch.round; offsets per channel (dim 1)."""
    return _elementwise(ROUND_OFFSET, x, offsets=offsets)


@torch.library.custom_op("walloc::uniform_noise", mutates_args=())
def uniform_noise(x: Tensor, seed: int) -> Tensor:
    """x + u, u uniform in [-1/2, 1/2), a function of (seed, element index): identical on CPU and CUDA."""
    return _elementwise(UNIFORM_NOISE, x, seed=seed)


@torch.library.custom_op("walloc::to_uniform", mutates_args=())
def to_uniform(x: Tensor, scale: float, latent_max: float) -> Tensor:
    """WaLLoC's compander: 2 m (Phi(x / s) - 1/2), values in (-m, m)."""
    return _elementwise(TO_UNIFORM, x, scale=scale, latent_max=latent_max)


@torch.library.custom_op("walloc::to_uniform_grad", mutates_args=())
def to_uniform_grad(x: Tensor, grad: Tensor, scale: float, latent_max: float) -> Tensor:
    return _elementwise(TO_UNIFORM_GRAD, x, grad, scale=scale, latent_max=latent_max)


@torch.library.custom_op("walloc::to_normal", mutates_args=())
def to_normal(x: Tensor, scale: float, latent_max: float) -> Tensor:
    """Inverse compander: s Phi^-1(clamp(x / (2 m) + 1/2, 1e-4, 0.9999))."""
    return _elementwise(TO_NORMAL, x, scale=scale, latent_max=latent_max)


@torch.library.custom_op("walloc::to_normal_grad", mutates_args=())
def to_normal_grad(x: Tensor, grad: Tensor, scale: float, latent_max: float) -> Tensor:
    return _elementwise(TO_NORMAL_GRAD, x, grad, scale=scale, latent_max=latent_max)


def _register() -> None:
    for op in (round_offset, uniform_noise, to_uniform, to_normal, to_uniform_grad, to_normal_grad):
        op.register_fake(lambda x, *args: torch.empty_like(x))

    def save_input(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.args = inputs[1:]

    def no_state(ctx, inputs, output):
        pass

    round_offset.register_autograd(lambda ctx, g: (torch.zeros_like(g), None), setup_context=no_state)
    uniform_noise.register_autograd(lambda ctx, g: (g, None), setup_context=no_state)
    to_uniform.register_autograd(
        lambda ctx, g: (to_uniform_grad(ctx.saved_tensors[0], g, *ctx.args), None, None), setup_context=save_input
    )
    to_normal.register_autograd(
        lambda ctx, g: (to_normal_grad(ctx.saved_tensors[0], g, *ctx.args), None, None), setup_context=save_input
    )


_register()
