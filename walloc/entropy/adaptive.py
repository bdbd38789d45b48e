"""Training-free entropy coding of fixed-quantizer latents (such as WaLLoC's 8-bit symbols).

Per channel, a spatial predictor turns symbols into residuals modulo 2**bits, the residual histogram is
measured from the tensor itself and sent compactly (log-quantized counts, deflated), and the residuals are
rANS-coded under those tables. Predictors (chosen per channel by the smallest measured entropy, on a quarter of
the tensor when it is large, or fixed for all channels):

- ``"none"``: the symbols themselves;
- ``"left"``: difference with the previous sample along the last axis;
- ``"up"``: difference with the previous row (2-D latents);
- ``"plane"``: left + up - up-left (2-D latents), the planar-gradient predictor.

All are linear in modular arithmetic, so decoding is a cumulative sum: no per-pixel loop.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import bitstream
from ..errors import BitstreamError
from .rans import rans_decode, rans_encode, stream_symbol_count
from .side_info import deflate, inflate
from .tables import quantize_pmf

CONTAINER_ID = "walloc-adaptive-histogram"
PREDICTORS = ("none", "left", "up", "plane")
_LOG_STEPS = 2  # table counts are sent as round(2 * log2(1 + count)): within 19% of the true count
_MAX_DIMS = 8
_SAMPLE_ABOVE = 1 << 16  # symbols; smaller tensors choose their predictor on everything


def _residuals(symbols: Tensor, predictor: str, modulus: int) -> Tensor:
    r = symbols.long()
    if predictor in ("left", "plane"):
        r = torch.diff(r, dim=-1, prepend=torch.zeros_like(r[..., :1]))
    if predictor in ("up", "plane"):
        r = torch.diff(r, dim=-2, prepend=torch.zeros_like(r[..., :1, :]))
    return r % modulus


def _reconstruct(residuals: Tensor, predictor: str, modulus: int) -> Tensor:
    s = residuals.long()
    if predictor in ("up", "plane"):
        s = s.cumsum(-2)
    if predictor in ("left", "plane"):
        s = s.cumsum(-1)
    return s % modulus


def _channel_histograms(residuals: Tensor, modulus: int) -> Tensor:
    """(C, modulus) counts for latents (N, C, ...)."""
    channels = residuals.shape[1]
    offsets = (torch.arange(channels) * modulus).view(1, channels, *([1] * (residuals.dim() - 2)))
    return torch.bincount((residuals + offsets).flatten(), minlength=channels * modulus).view(channels, modulus)


def _selection_sample(symbols: Tensor) -> Tensor:
    """A quarter of a large tensor (bands of 8 rows, or 8 columns along the last axis, every 32), on which
    the predictors are compared: the choice costs a quarter of trying each on everything."""
    axis = -2 if symbols.dim() >= 4 else -1
    length = symbols.shape[axis]
    if symbols.numel() < _SAMPLE_ABOVE or length < 32:
        return symbols
    keep = torch.arange(length) % 32 < 8
    return symbols[..., keep, :] if axis == -2 else symbols[..., keep]


def _channel_entropy_bits(counts: Tensor) -> Tensor:
    """(C,) bits of each channel's symbols under their own histogram."""
    p = counts.double() / counts.sum(-1, keepdim=True).clamp_min(1)
    return -(counts * torch.log2(p.clamp_min(1e-300))).sum(-1)


def _per_channel(symbols: Tensor, predictors: list[str], modulus: int, transform) -> Tensor:
    """Applies ``transform(channels, predictor, modulus)`` to each group of channels sharing a predictor."""
    out = torch.empty(symbols.shape, dtype=torch.long)
    for p in set(predictors):
        index = torch.tensor([c for c, q in enumerate(predictors) if q == p])
        out[:, index] = transform(symbols[:, index], p, modulus)
    return out


def _tables_from_levels(levels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Decoder-side tables from the transmitted log-count levels: (C, modulus) -> cdfs with an escape slot."""
    counts = torch.exp2(levels.double() / _LOG_STEPS) - 1
    escape = torch.full((counts.shape[0], 1), 1e-12, dtype=torch.float64)
    cdfs = quantize_pmf(torch.cat([counts, escape], dim=1))
    lengths = torch.full((counts.shape[0],), cdfs.shape[1], dtype=torch.int32)
    return cdfs, lengths, torch.zeros(counts.shape[0], dtype=torch.int32)


def compress_symbols(symbols: Tensor, bits: int = 8, predictor: str = "auto") -> bytes:
    """Codes integer latents (N, C, ...) with values in [0, 2**bits) into a self-describing container."""
    if not 1 <= bits <= 15:
        raise ValueError(f"bits must be in [1, 15], got {bits}")
    symbols = torch.as_tensor(symbols).detach().cpu()
    if symbols.is_floating_point() or symbols.dim() < 3 or symbols.dim() > _MAX_DIMS:
        raise ValueError(f"expected integer latents (N, C, ...) with 3 to {_MAX_DIMS} dims, got {symbols.dtype} "
                         f"{tuple(symbols.shape)}")
    modulus = 1 << bits
    if symbols.numel() and (symbols.min() < 0 or symbols.max() >= modulus):
        raise ValueError(f"symbols must lie in [0, {modulus})")
    candidates = PREDICTORS if predictor == "auto" else (predictor,)
    if any(p not in PREDICTORS for p in candidates):
        raise ValueError(f"predictor must be 'auto' or one of {PREDICTORS}, got {predictor!r}")
    if symbols.dim() < 4:
        candidates = tuple(p for p in candidates if p not in ("up", "plane")) or ("none",)
    channels = symbols.shape[1]
    if len(candidates) > 1:
        sample = _selection_sample(symbols)
        costs = torch.stack([_channel_entropy_bits(_channel_histograms(_residuals(sample, p, modulus), modulus))
                             for p in candidates])
        chosen = [candidates[int(i)] for i in costs.argmin(0)]
    else:
        chosen = [candidates[0]] * channels
    residuals = _per_channel(symbols, chosen, modulus, _residuals)
    counts = _channel_histograms(residuals, modulus)
    levels = torch.round(_LOG_STEPS * torch.log2(1 + counts.double())).clamp_max(255).to(torch.uint8)
    cdfs, lengths, offsets = _tables_from_levels(levels)
    indexes = torch.arange(channels, dtype=torch.int32).view(1, -1, *([1] * (symbols.dim() - 2))).expand_as(symbols)
    payload = rans_encode(residuals.to(torch.int32), indexes, cdfs, lengths, offsets)
    meta = {"shape": list(symbols.shape), "bits": bits, "predictor": chosen}
    return bitstream.pack(CONTAINER_ID, meta, [deflate(levels.numpy().tobytes()), payload])


def decompress_symbols(data: bytes) -> Tensor:
    """Inverse of :func:`compress_symbols`: int32 latents. Raises :class:`walloc.BitstreamError` on bad input."""
    container = bitstream.unpack(data, CONTAINER_ID)
    meta = container.meta
    try:
        shape = [int(s) for s in meta["shape"]]
        bits = int(meta["bits"])
        predictors = meta["predictor"]
    except (KeyError, TypeError, ValueError):
        raise BitstreamError("corrupt adaptive-histogram stream: bad metadata") from None
    if (len(container.streams) != 2 or not 3 <= len(shape) <= _MAX_DIMS or min(shape) < 0
            or not 1 <= bits <= 15 or not isinstance(predictors, list) or len(predictors) != shape[1]
            or any(p not in PREDICTORS for p in predictors)
            or (len(shape) < 4 and any(p in ("up", "plane") for p in predictors))):
        raise BitstreamError("corrupt adaptive-histogram stream: bad metadata")
    tables, payload = container.streams
    count = math.prod(shape)
    if stream_symbol_count(payload) != count:
        raise BitstreamError("corrupt adaptive-histogram stream: symbol count does not match the shape")
    modulus, channels = 1 << bits, shape[1]
    levels = inflate(tables, channels * modulus, "corrupt adaptive-histogram stream: tables")
    if channels == 0 or count == 0:
        return torch.zeros(shape, dtype=torch.int32)
    cdfs, lengths, offsets = _tables_from_levels(torch.frombuffer(bytearray(levels), dtype=torch.uint8)
                                                 .view(channels, modulus))
    indexes = torch.arange(channels, dtype=torch.int32).view(1, -1, *([1] * (len(shape) - 2))).expand(shape)
    residuals = rans_decode(payload, indexes, cdfs, lengths, offsets)
    if residuals.numel() and (residuals.min() < 0 or residuals.max() >= modulus):
        raise BitstreamError("corrupt adaptive-histogram stream: residual outside the alphabet")
    return _per_channel(residuals, predictors, modulus, _reconstruct).to(torch.int32)
