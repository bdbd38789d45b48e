"""A pointwise linear map (a 1x1 convolution) as a PyTorch custom operator whose outputs are the same bits on
every CPU, instruction set, thread count, batch and GPU: each output is the bias plus the channels' products
added in channel order, every product and addition rounded on its own. The encoders' projection takes it, so
an image or a clip gives the same latents, and the same stream, wherever it is encoded."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import kernels
from .library import kernel_op


@kernel_op("pointwise_linear")
def pointwise_linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """(N, O, *S) = bias[o] + sum_c weight[o, c] x[:, c] for x (N, C, *S), weight (O, C), bias (O); float32 or
    float64 (float16 and bfloat16 computed in float32)."""
    if x.dim() < 2 or weight.dim() != 2 or bias.shape != weight.shape[:1] or x.shape[1] != weight.shape[1]:
        raise ValueError(f"pointwise map: x (N, C, ...) {tuple(x.shape)}, weight (O, C) {tuple(weight.shape)} and "
                         f"bias (O,) {tuple(bias.shape)} do not match")
    dtype = torch.float32 if x.dtype in kernels.UPCAST_DTYPES else x.dtype
    kernels.check_dtype(dtype, "walloc pointwise map")
    size = math.prod(x.shape[2:])
    flat = x.to(dtype).contiguous().view(x.shape[0], x.shape[1], size)
    y = torch.empty((x.shape[0], weight.shape[0], size), dtype=dtype, device=x.device)
    if y.numel():
        kernels.pointwise(flat, weight.to(dtype).contiguous(), bias.to(dtype).contiguous(), y)
    return y.view(x.shape[0], weight.shape[0], *x.shape[2:]).to(x.dtype)


def _backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    x, weight = ctx.saved_tensors
    g = grad.reshape(grad.shape[0], grad.shape[1], -1)
    grad_x = torch.matmul(weight.t().to(g.dtype), g).view(x.shape)
    grad_weight = torch.matmul(g, x.reshape(g.shape[0], x.shape[1], -1).transpose(1, 2).to(g.dtype)).sum(0)
    return grad_x, grad_weight.to(weight.dtype), g.sum((0, 2))


def _register() -> None:
    torch.library.register_fake(
        pointwise_linear, lambda x, weight, bias: x.new_empty((x.shape[0], weight.shape[0], *x.shape[2:])))

    def save_inputs(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], inputs[1])

    torch.library.register_autograd(pointwise_linear, _backward, setup_context=save_inputs)


_register()
