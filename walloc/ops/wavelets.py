"""Wavelet packet tree kernels as PyTorch custom operators with fake kernels and exact adjoint gradients.

``walloc::wpt1d`` and ``walloc::wpt2d`` run a full packet tree of ``levels`` levels with one polyphase bank:
``merge=False`` splits (N, C, *S) into (N, C * B**levels, *S / 2**levels) with B = 2 (1-D) or 4 (2-D);
``merge=True`` is the reverse. The gradient of a split with bank P is a merge with P's transpose (and vice
versa), so double backward works too. ``lifting`` (``LiftingScheme.flat()`` of the same wavelet, or empty) lets
the float32 CPU kernels run lifting steps instead of the taps; CUDA runs the taps, being bound by memory.
A 2-D split with ``shift`` transforms ``x - shift``, subtracted as the CPU kernels read each sample (the same
float subtraction, so the same result as a separate pass, without writing and reading that pass's output).
``walloc::wpt2d_pixels`` splits pixels as files hold them (uint8 or float32, any layout) through the pixel pass of
:mod:`walloc.ops.media`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import kernels
from .library import kernel_op


def transpose_taps(meta: list[int], coef: list[float]) -> tuple[list[int], list[float]]:
    """Adjoint taps: (out, src, shift) -> (src, out, -shift)."""
    out = []
    for i in range(0, len(meta), 3):
        out += [meta[i + 1], meta[i], -meta[i + 2]]
    return out, list(coef)


def _output_shape(shape: torch.Size, ndim: int, merge: bool, levels: int) -> list[int]:
    """Shape after a split or merge; ValueError when the input cannot be transformed."""
    name = f"walloc::wpt{ndim}d"
    if len(shape) != ndim + 2:
        raise ValueError(f"{name} expects a {ndim + 2}-D tensor, got shape {tuple(shape)}")
    if levels < 1:
        raise ValueError(f"{name}: levels must be >= 1, got {levels}")
    bands = 2 ** (ndim * levels)
    n, c, *spatial = shape
    if merge:
        if c % bands:
            raise ValueError(f"{name} inverse: {c} channels is not a multiple of {bands} packets")
        return [n, c // bands] + [s << levels for s in spatial]
    for s in spatial:
        if s % (1 << levels):
            raise ValueError(
                f"{name}: size {s} is not divisible by 2**levels = {1 << levels} (pad the input; the transform does not)"
            )
    return [n, c * bands] + [s >> levels for s in spatial]


def _run(x: Tensor, ndim: int, merge: bool, meta: list[int], coef: list[float], lifting: list[float], levels: int,
         shift: float = 0.0) -> Tensor:
    shape = _output_shape(x.shape, ndim, merge, levels)
    if merge and shift:
        raise ValueError(f"walloc::wpt{ndim}d: shift applies to a split, not a merge")
    if x.dtype in kernels.UPCAST_DTYPES:
        return _run(x.float(), ndim, merge, meta, coef, lifting, levels, shift).to(x.dtype)
    kernels.check_dtype(x.dtype, "walloc wavelet packet transform")
    if shift and x.device.type != "cpu":  # the CUDA kernels take no shift: their own pass first
        x, shift = x - shift, 0.0
    x = x.contiguous()
    y = torch.empty(shape, dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y
    # Lifting only in float32: in float64 the taps are what match PyWavelets to 1e-12 (see filter_banks.CDF97).
    steps = lifting if x.dtype == torch.float32 else []
    kernels.wpt(x, y, merge=merge, meta=meta, coef=coef, lifting=steps, levels=levels, shift=shift)
    return y


@kernel_op("wpt1d")
def wpt1d(x: Tensor, merge: bool, meta: list[int], coef: list[float], lifting: list[float], levels: int) -> Tensor:
    """1-D full packet tree: split (N, C, T) -> (N, C * 2**levels, T / 2**levels), or merge back."""
    return _run(x, 1, merge, meta, coef, lifting, levels)


@kernel_op("wpt2d")
def wpt2d(x: Tensor, merge: bool, meta: list[int], coef: list[float], lifting: list[float], levels: int,
          shift: float = 0.0) -> Tensor:
    """2-D full packet tree: split (N, C, H, W) -> (N, C * 4**levels, H / 2**levels, W / 2**levels) of
    ``x - shift``, or merge."""
    return _run(x, 2, merge, meta, coef, lifting, levels, shift)


@kernel_op("wpt2d_pixels")
def wpt2d_pixels(pixels: Tensor, meta: list[int], coef: list[float], lifting: list[float], levels: int,
                 divisor: float, shift: float) -> Tensor:
    """2-D full packet tree split of ``pixels / divisor - shift``: uint8 or float32 (N, C, H, W) pixels in any
    layout (a decoded file's HWC array seen as CHW) -> float32 (N, C * 4**levels, H / 2**levels, W / 2**levels),
    the same values as ``wpt2d(planes_from_pixels(pixels, divisor, shift), False, ...)``. On the CPU the planes
    go to a scratch reused from call to call, not to a fresh tensor (csrc/wavelets/wpt_pixels.h says why)."""
    shape = _output_shape(pixels.shape, 2, False, levels)
    if pixels.device.type != "cpu":  # CUDA's caching allocator reuses the planes' memory anyway
        planes = torch.empty(pixels.shape, dtype=torch.float32, device=pixels.device)
        kernels.planes_from_pixels(pixels, planes, divisor, shift)
        return _run(planes, 2, False, meta, coef, lifting, levels)
    y = torch.empty(shape, dtype=torch.float32)
    if y.numel():
        kernels.wpt_from_pixels(pixels, y, meta=meta, coef=coef, lifting=lifting, levels=levels, divisor=divisor,
                                shift=shift)
    return y


def _register(op, ndim: int) -> None:
    @torch.library.register_fake(op)
    def _(x, merge, meta, coef, lifting, levels, *shift):
        return x.new_empty(_output_shape(x.shape, ndim, merge, levels))

    def setup_context(ctx, inputs, output):
        _, merge, meta, coef, _, levels, *_ = inputs
        ctx.args = (merge, meta, coef, levels)

    def backward(ctx, grad):
        # The adjoint runs the transposed taps; a lifting scheme's transpose is not registered, so none here.
        # A shift is a constant: the gradient is the same.
        merge, meta, coef, levels = ctx.args
        t_meta, t_coef = transpose_taps(meta, coef)
        return (op(grad, not merge, t_meta, t_coef, [], levels),) + (None,) * (len(ctx.needs_input_grad) - 1)

    torch.library.register_autograd(op, backward, setup_context=setup_context)


_register(wpt1d, 1)
_register(wpt2d, 2)


def _register_pixels() -> None:
    @torch.library.register_fake(wpt2d_pixels)
    def _(pixels, meta, coef, lifting, levels, divisor, shift):
        return pixels.new_empty(_output_shape(pixels.shape, 2, False, levels), dtype=torch.float32)

    def setup_context(ctx, inputs, output):
        _, meta, coef, _, levels, divisor, _ = inputs
        ctx.args = (meta, coef, levels, divisor)

    def backward(ctx, grad):
        meta, coef, levels, divisor = ctx.args
        t_meta, t_coef = transpose_taps(meta, coef)
        return (wpt2d(grad, True, t_meta, t_coef, [], levels) / divisor,) + (None,) * 6

    torch.library.register_autograd(wpt2d_pixels, backward, setup_context=setup_context)


_register_pixels()
