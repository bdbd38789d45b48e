"""The one caller of walloc's compiled kernels (``walloc._C``).

Everything between a tensor and a kernel happens here: the torch-dtype -> kernel-dtype map, the checks that a
tensor is on a device the build can run, CUDA device indices and streams, the CPU thread count, and turning
tensors into the data pointers and typed parameter structs (``_C.RansTables``, ``_C.PredictivePlanes``,
``_C.QuantParams``, ``_C.PolyphaseBank``, ``_C.LiftingScheme``) the kernels take by keyword. Callers own the
tensors, which must be contiguous and of the dtype each function names, and keep them alive over the call.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from .. import _C

QuantOp = _C.QuantOp
VERSION: str = _C.__version__
CUDA_COMPILED: bool = bool(_C.cuda_compiled)
OPENMP: bool = bool(_C.openmp)
#: Floating dtypes the kernels lack; the ops compute them in float32.
UPCAST_DTYPES = (torch.float16, torch.bfloat16)
_DTYPES = {torch.float32: _C.DType.Float32, torch.float64: _C.DType.Float64}


#: Values of the switch that caps the CPU kernels' instruction set, ``WALLOC_ISA`` (``WALLOC_CPU_ISA``, its
#: earlier name, takes baseline or avx2); sse2 is the baseline build, x86-64's own instruction set.
ISA_SWITCHES = {"WALLOC_ISA": ("sse2", "avx2", "avx512"), "WALLOC_CPU_ISA": ("baseline", "avx2")}


def _check_isa_switches() -> None:
    for name, allowed in ISA_SWITCHES.items():
        value = os.environ.get(name)
        if value is not None and value not in allowed:
            warnings.warn(f"{name}={value!r} is not one of {', '.join(allowed)}: ignored", stacklevel=2)
    l2 = os.environ.get("WALLOC_L2_BYTES")
    if l2 is not None and not re.fullmatch(r"[1-9][0-9]*[KkMm]?", l2):
        warnings.warn(f"WALLOC_L2_BYTES={l2!r} is not a size such as 524288, 512K or 2M: ignored", stacklevel=2)


_check_isa_switches()


def cpu_isa() -> str:
    """Instruction set of the CPU kernels on this machine: avx512, avx2 or baseline (SSE2 on x86-64); at most
    what ``WALLOC_ISA`` allows."""
    return _C.cpu_isa()


def cuda_device_count() -> int:
    """CUDA devices the compiled kernels can use now (0 in a CPU-only build or without a driver)."""
    return _C.cuda_device_count()


def l2_cache_bytes() -> int:
    """The per-core L2 size the CPU kernels block for: ``WALLOC_L2_BYTES`` (524288, 512K, 2M) if set, else the
    CPU's (Linux's sysfs), else 512 KiB."""
    return _C.l2_cache_bytes()


def threads() -> int:
    """Threads the CPU kernels run on: PyTorch's intra-op setting."""
    return torch.get_num_threads()


def require_cuda() -> None:
    """RuntimeError unless this build has CUDA kernels."""
    if not CUDA_COMPILED:
        raise RuntimeError("this walloc build has no CUDA kernels (nvcc was not found or WALLOC_CUDA=0)")


def check_dtype(dtype: torch.dtype, what: str) -> None:
    """ValueError unless the kernels take ``dtype`` (float32 or float64)."""
    if dtype not in _DTYPES:
        raise ValueError(f"{what} needs a floating tensor, got {dtype}")


def _on_cuda(t: Tensor, what: str) -> bool:
    """Whether ``t`` is a CUDA tensor (and this build can run it); ValueError for other non-CPU devices."""
    if t.device.type == "cuda":
        require_cuda()
        return True
    if t.device.type != "cpu":
        raise ValueError(f"{what} runs on CPU and CUDA tensors, not {t.device.type}")
    return False


def _launch(device: torch.device) -> dict:
    """The CUDA kernels' device index and the current stream on it."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    return {"device": index, "stream": torch.cuda.current_stream(device).cuda_stream}


def _ptr(t: Optional[Tensor]) -> int:
    return 0 if t is None else t.data_ptr()


def quant(op: QuantOp, x: Tensor, g: Optional[Tensor], y: Tensor, *, scale: float = 1.0, latent_max: float = 1.0,
          seed: int = 0, offsets: Optional[Tensor] = None, channels: int = 1, inner: int = 1) -> None:
    """y = op(x[, g]) elementwise (csrc/quant/quant.h); x, g, y alike; float64 ``offsets`` on x's device, one per
    channel, element i's channel being (i // inner) % channels."""
    check_dtype(x.dtype, "walloc quantization")
    params = _C.QuantParams(scale=float(scale), latent_max=float(latent_max), seed=int(seed), offsets=_ptr(offsets),
                            channels=channels, inner=inner)
    args = dict(op=op, dtype=_DTYPES[x.dtype], x=x.data_ptr(), g=_ptr(g), y=y.data_ptr(), n=x.numel(), params=params)
    if _on_cuda(x, "walloc quantization"):
        _C.quant_cuda(**args, **_launch(x.device))
    else:
        _C.quant_cpu(**args, threads=threads())


def pointwise(x: Tensor, weight: Tensor, bias: Tensor, y: Tensor) -> None:
    """y (N, O, S) = bias (O) + weight (O, C) x (N, C, S) per sample, summed in channel order without fused
    multiply-adds (csrc/linear/pointwise.h): the same bits on every CPU and GPU. All contiguous, one float dtype,
    on x's device."""
    check_dtype(x.dtype, "walloc pointwise map")
    (batch, in_channels, size), out_channels = x.shape, weight.shape[0]
    args = dict(dtype=_DTYPES[x.dtype], x=x.data_ptr(), weight=weight.data_ptr(), bias=bias.data_ptr(),
                y=y.data_ptr(), batch=batch, in_channels=in_channels, out_channels=out_channels, size=size)
    if _on_cuda(x, "walloc pointwise map"):
        _C.pointwise_cuda(**args, **_launch(x.device))
    else:
        _C.pointwise_cpu(**args, threads=threads())


_PIXEL_TYPES = {torch.uint8: _C.PixelType.UInt8, torch.float32: _C.PixelType.Float32}


def _pixel_args(pixels: Tensor, divisor: float, shift: float) -> dict:
    if pixels.dtype not in _PIXEL_TYPES:
        raise ValueError(f"pixels must be uint8 or float32, got {pixels.dtype}")
    return dict(type=_PIXEL_TYPES[pixels.dtype], pixels=pixels.data_ptr(), sizes=list(pixels.shape),
                strides=list(pixels.stride()), divisor=float(divisor), shift=float(shift))


def planes_from_pixels(pixels: Tensor, planes: Tensor, divisor: float, shift: float) -> None:
    """Contiguous float32 ``planes`` = pixels / divisor - shift from uint8 or float32 (N, C, H, W) ``pixels`` of
    any strides (csrc/media/pixels.h), on their device."""
    args = dict(_pixel_args(pixels, divisor, shift), planes=planes.data_ptr())
    if _on_cuda(pixels, "walloc pixel planes"):
        _C.planes_from_pixels_cuda(**args, **_launch(pixels.device))
    else:
        _C.planes_from_pixels_cpu(**args, threads=threads())


@functools.lru_cache(maxsize=64)
def _bank(meta: tuple[int, ...], coef: tuple[float, ...]) -> _C.PolyphaseBank:
    return _C.PolyphaseBank(out=list(meta[0::3]), src=list(meta[1::3]), shift=list(meta[2::3]), coef=list(coef))


@functools.lru_cache(maxsize=64)
def _lifting(flat: tuple[float, ...]) -> _C.LiftingScheme:
    """The scheme of ``LiftingScheme.flat()``'s list [scale0, scale1, predict_1, update_1, ...]; empty: none."""
    if not flat:
        return _C.LiftingScheme()
    if len(flat) < 2:
        raise ValueError("lifting scheme: expected [scale0, scale1, predict_1, update_1, ...]")
    return _C.LiftingScheme(scale0=flat[0], scale1=flat[1], predict=list(flat[2::2]), update=list(flat[3::2]))


def wpt(x: Tensor, y: Tensor, *, merge: bool, meta: list[int], coef: list[float], lifting: list[float],
        levels: int, shift: float = 0.0) -> None:
    """One packet tree of ``levels`` levels from x (N, C, *S) into y, a split or a ``merge`` (1-D or 2-D by
    x's rank) with the bank of taps ``meta`` = (out, src, shift) per ``coef``; a non-empty ``lifting``
    (``LiftingScheme.flat()``) replaces the taps on the CPU. x and y of one float dtype. ``shift``: a 2-D split
    on the CPU of x - shift (see :mod:`walloc.ops.wavelets`)."""
    what = "walloc wavelet packet transform"
    check_dtype(x.dtype, what)
    signal = y.shape if merge else x.shape
    args = dict(kind=_C.BankKind.Merge if merge else _C.BankKind.Split, dtype=_DTYPES[x.dtype], x=x.data_ptr(),
                y=y.data_ptr(), planes=signal[0] * signal[1], bank=_bank(tuple(meta), tuple(coef)), levels=levels)
    sizes = dict(zip(("length",) if len(signal) == 3 else ("height", "width"), signal[2:]))
    on_cuda = _on_cuda(x, what)
    if shift and (on_cuda or len(signal) != 4 or merge):
        raise ValueError(f"{what}: only a 2-D split on the CPU takes a shift")
    if on_cuda:
        workspace = torch.empty(((len(signal) - 2) * x.numel(),), dtype=x.dtype, device=x.device)
        kernel = _C.wpt1d_cuda if len(signal) == 3 else _C.wpt2d_cuda
        kernel(**args, **sizes, workspace=workspace.data_ptr(), **_launch(x.device))
    elif len(signal) == 3:
        _C.wpt1d_cpu(**args, **sizes, lifting=_lifting(tuple(lifting)), threads=threads())
    else:
        _C.wpt2d_cpu(**args, **sizes, lifting=_lifting(tuple(lifting)), threads=threads(), shift=shift)


def wpt_from_pixels(pixels: Tensor, y: Tensor, *, meta: list[int], coef: list[float], lifting: list[float],
                    levels: int, divisor: float, shift: float) -> None:
    """The 2-D split of pixels / divisor - shift into float32 y, from uint8 or float32 (N, C, H, W) ``pixels`` of
    any strides on the CPU, through a reused scratch of planes (csrc/wavelets/wpt_pixels.h)."""
    _C.wpt2d_from_pixels_cpu(**_pixel_args(pixels, divisor, shift), y=y.data_ptr(), bank=_bank(tuple(meta), tuple(coef)),
                             lifting=_lifting(tuple(lifting)), levels=levels, threads=threads())


def coding_device(*tensors) -> torch.device:
    """The device the rANS coder runs on for these arguments: CUDA if any is a CUDA tensor, else CPU."""
    for t in tensors:
        if isinstance(t, Tensor) and t.device.type == "cuda":
            require_cuda()
            return t.device
    return torch.device("cpu")


def _tables(tables: tuple[Tensor, Tensor, Tensor]) -> _C.RansTables:
    cdfs, lengths, offsets = tables
    return _C.RansTables(cdfs=cdfs.data_ptr(), count=cdfs.shape[0], stride=cdfs.shape[1], lengths=lengths.data_ptr(),
                         offsets=offsets.data_ptr())


def rans_validate_tables(tables: tuple[Tensor, Tensor, Tensor]) -> None:
    """ValueError unless the host tables (cdfs (rows, stride), lengths, offsets; int32) are valid rANS tables."""
    _C.rans_validate_tables(_tables(tables))


def rans_encode(symbols: Tensor, indexes: Tensor, tables: tuple[Tensor, Tensor, Tensor]) -> bytes:
    """The rANS stream of int32 ``symbols`` under rows ``indexes``, on their device (CUDA: tables validated and
    there too)."""
    args = dict(symbols=symbols.data_ptr(), indexes=indexes.data_ptr(), n=symbols.numel(), tables=_tables(tables))
    if _on_cuda(symbols, "walloc rANS coding"):
        return _C.rans_encode_cuda(**args, **_launch(symbols.device))
    return _C.rans_encode_cpu(**args, threads=threads())


def rans_decode(data: bytes, indexes: Tensor, tables: tuple[Tensor, Tensor, Tensor], out: Tensor) -> None:
    """Decodes ``data`` into int32 ``out`` (one symbol per index), on the indexes' device; BitstreamError."""
    args = dict(indexes=indexes.data_ptr(), n=indexes.numel(), tables=_tables(tables), out=out.data_ptr())
    if _on_cuda(indexes, "walloc rANS coding"):
        _C.rans_decode_cuda(data, **args, **_launch(indexes.device))
    else:
        _C.rans_decode_cpu(data, **args, threads=threads())


def rans_stream_symbols(data: bytes) -> int:
    """The symbol count of a rANS stream whose header and chunk directory check out; BitstreamError."""
    return _C.rans_stream_symbols(data)


class Planes(NamedTuple):
    """Latent planes under the predictive model (csrc/entropy/predictive.h): ``count`` planes of
    (height, width), ``channels`` consecutive ones per item, symbols in [0, 2**bits), activity ``bins`` and
    table ``centres``."""

    count: int
    height: int
    width: int
    channels: int
    bits: int
    bins: int
    centres: int


def _planes(planes: Planes, weights: Optional[Tensor] = None, scales: Optional[Tensor] = None):
    return _C.PredictivePlanes(**planes._asdict(), weights=_ptr(weights), scales=_ptr(scales))


def predictive_fit_weights(symbols: Tensor, planes: Planes, weights: Tensor) -> None:
    """Per plane, the int8 weights (count, 6) in 1/64 that predict each int32 symbol from its neighbours (ridge
    least squares, the same on every machine); ValueError for symbols outside [0, 2**bits)."""
    _C.predictive_fit_weights_cpu(symbols=symbols.data_ptr(), planes=_planes(planes), weights=weights.data_ptr(),
                                  threads=threads())


def predictive_analyse(symbols: Tensor, planes: Planes, weights: Tensor, errors: Tensor, contexts: Tensor) -> None:
    """Each int32 symbol's coded error and context under int8 ``weights`` (count, 6), into int32 tensors."""
    _C.predictive_analyse_cpu(symbols=symbols.data_ptr(), planes=_planes(planes, weights), errors=errors.data_ptr(),
                              contexts=contexts.data_ptr(), threads=threads())


def predictive_choose_scales(errors: Tensor, contexts: Tensor, planes: Planes, cost: Tensor, reach: int,
                             chosen: Tensor, rows: Tensor | None = None) -> None:
    """Per plane and bin, the column of int32 ``cost`` (centres * (2 reach + 3), scales) that codes the errors in
    the fewest bits, into int32 ``chosen`` (count, bins); with int32 ``rows`` (shaped as errors), each error's
    table row (chosen scale * centres + quarter) too."""
    _C.predictive_choose_scales_cpu(errors=errors.data_ptr(), contexts=contexts.data_ptr(), planes=_planes(planes),
                                    cost=cost.data_ptr(), reach=reach, scales=cost.shape[1], chosen=chosen.data_ptr(),
                                    rows=0 if rows is None else rows.data_ptr(), threads=threads())


def predictive_decode(data: bytes, planes: Planes, weights: Tensor, scales: Tensor,
                      tables: tuple[Tensor, Tensor, Tensor], out: Tensor) -> None:
    """Decodes the planes' int32 symbols into ``out`` under int8 ``weights`` and int32 ``scales`` (count, bins);
    BitstreamError."""
    _C.predictive_decode_cpu(data, planes=_planes(planes, weights, scales), tables=_tables(tables),
                             out=out.data_ptr())
