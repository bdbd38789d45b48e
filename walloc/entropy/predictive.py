"""Predictive entropy coding of integer latent planes (WaLLoC's 8-bit symbols): smaller than lossless WebP.

Each plane (one channel of one item: (H, W) for images, (1, L) for audio) is coded in raster order:

- prediction: t = sum_k w_k v_k in 1/64 from the six causal neighbours v_k = W, N, NW, NE, WW, NN of the
  centred values (zero outside the plane), with integer weights w_k in [-128, 127] fitted per plane by least
  squares and sent; the coded error is e = v - floor(t / 64), and the quarter q of the fraction t mod 64
  picks a table centred at (2q + 1) / 8, so the prediction's fraction is not lost to rounding;
- context: the activity a = 2|r_W| + 2|r_N| + |r_NW| + |r_NE| + |r_WW| + |r_NN| + |r_C| of the neighbours'
  errors against the nearest integer prediction (r = e - [q >= 2]) and the one at the same place in the
  previous channel of the same item (r_C), in half-octave bins;
- coding: one of a fixed family of discretised Laplace tables (scales 0.25 to 108 in quarter octaves, times the
  four centres, built with integer arithmetic only, so identical on every machine), its scale chosen per plane
  and bin by the encoder for the fewest bits and sent; rANS with escapes for errors outside a table.

Side information (weights and scale choices) costs about 30 bytes per plane before deflate. The model runs in
C++ (``csrc/entropy/predictive_cpu.cpp``), the same code for the encoder's analysis and the sequential
decoder, so the two cannot disagree; the weights' normal equations and the table costs are exact integer sums
and the weights' solve a fixed sequence of double operations, so the bytes are the same on every machine and
thread count. Damaged streams fail loudly: decoded values must stay in the symbol range, and the rANS lanes must
end exactly where the encoder started them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from .. import bitstream
from ..errors import BitstreamError
from ..ops import kernels
from .rans import stream_symbol_count
from .side_info import deflate, inflate

CONTAINER_ID = "walloc-predictive"
NEIGHBOURS = 6
WEIGHT_SHIFT = 6
BINS = 24
CENTRES = 4  # table centres (2q + 1) / 8 for the quarter q of the prediction's fraction
# Laplace decay per step of the family's tables, round(2**24 * exp(-1 / s)) for s = 2**((k - 8) / 4),
# k = 0..35: written out so that no machine's exp() takes part in building the tables.
_THETAS = (307285, 580675, 991630, 1555205, 2270549, 3121236, 4078822, 5108034, 6171993, 7236411, 8272320,
           9257354, 10175896, 11018477, 11780768, 12462448, 13066109, 13596300, 14058751, 14459778, 14805841,
           15103247, 15357953, 15575456, 15760736, 15918242, 16051906, 16165172, 16261035, 16342086, 16410554,
           16468351, 16517109, 16558222, 16592872, 16622066)
_ONE = 1 << 24
_MAX_REACH = 1024
_COST_REACH = 256  # errors beyond are costed as escapes of a typical length when choosing tables


def _root(value: int, n: int) -> int:
    """floor(value ** (1 / n)) for integers, exactly."""
    low, high = 0, 1 << (value.bit_length() // n + 1)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if mid**n <= value else (low, mid)
    return low


def _frequencies(weights: list[int], total: int = 1 << 16) -> list[int]:
    """Integer weights -> frequencies summing to ``total``, each at least 1: largest remainders (ties: first)."""
    whole = sum(weights)
    freqs = [max(1, w * total // whole) for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(weights[i] * total % whole), i))
    deficit = total - sum(freqs)
    for i in by_remainder[: max(deficit, 0)]:
        freqs[i] += 1
    while deficit < 0:  # minimum frequencies overdrew: take back from the largest
        i = max(range(len(freqs)), key=freqs.__getitem__)
        freqs[i] -= 1
        deficit += 1
    return freqs


@lru_cache(maxsize=None)
def laplace_tables() -> tuple[Tensor, Tensor, Tensor]:
    """(cdfs (K * CENTRES, stride), lengths, offsets) of the table family, 16-bit, from integers only.

    Row k * CENTRES + q codes errors in [-R_k, R_k + 1] with Laplace masses theta_k ** |e - (2q + 1) / 8|
    (R_k: where the mass falls below 1/4096 of the peak's, at most 1024) and an escape slot holding the
    tails' mass; every symbol gets at least frequency 1."""
    rows = []
    for theta in _THETAS:
        masses = [_ONE]
        while masses[-1] * 4096 >= _ONE and len(masses) <= _MAX_REACH:
            masses.append(masses[-1] * theta >> 24)
        reach = len(masses) - 1
        eighth = _root(theta << (24 * 7), 8)  # theta ** (1/8) in 1/2**24
        for q in range(CENTRES):
            centre = 2 * q + 1  # in eighths
            left = eighth**centre >> (24 * (centre - 1))  # theta ** (centre / 8): the shift of e <= 0
            right = eighth ** (8 - centre) >> (24 * (7 - centre))  # theta ** (1 - centre / 8): e >= 1
            below = [m * left >> 24 for m in masses]  # e = 0, -1, ..., -reach
            above = [m * right >> 24 for m in masses]  # e = 1, 2, ..., reach + 1
            tail = (below[-1] + above[-1]) * theta // (_ONE - theta) + 1
            freqs = _frequencies(below[::-1] + above + [tail])  # errors -reach..reach + 1, then the escape
            cdf = [0]
            for f in freqs:
                cdf.append(cdf[-1] + f)
            rows.append((cdf, -reach))
    stride = max(len(cdf) for cdf, _ in rows)
    cdfs = torch.zeros(len(rows), stride, dtype=torch.int32)
    for k, (cdf, _) in enumerate(rows):
        cdfs[k, : len(cdf)] = torch.tensor(cdf, dtype=torch.int32)
    lengths = torch.tensor([len(cdf) for cdf, _ in rows], dtype=torch.int32)
    offsets = torch.tensor([offset for _, offset in rows], dtype=torch.int32)
    return cdfs, lengths, offsets


def _escape_bits(value: Tensor) -> Tensor:
    """Bits of the LEB128 bytes of an escaped error (about: the exact bypass value depends on the table)."""
    raw = 2 * value.abs().double() + 1
    return 8 * torch.ceil(torch.log2(raw + 1) / 7).clamp_min(1)


@lru_cache(maxsize=None)
def _cost_matrix() -> Tensor:
    """(CENTRES * (2 * _COST_REACH + 3), K) cost in 1/1024 bit (integers: the table choice is exact in any
    summation order) of coding each error in [-reach, reach] (plus one slot for each side beyond) with each
    scale of the family, per table centre."""
    cdfs, lengths, offsets = laplace_tables()
    errors = torch.arange(-_COST_REACH - 1, _COST_REACH + 2)
    costs = torch.empty(CENTRES, len(errors), len(_THETAS), dtype=torch.float64)
    for row in range(len(lengths)):
        k, q = divmod(row, CENTRES)
        reach = -int(offsets[row])
        freqs = (cdfs[row, 1: lengths[row]] - cdfs[row, : lengths[row] - 1]).double()
        inside = (errors >= -reach) & (errors <= reach + 1)
        index = (errors + reach).clamp(0, 2 * reach + 1)
        costs[q, :, k] = torch.where(inside, 16 - torch.log2(freqs[index]),
                                     16 - math.log2(freqs[-1]) + _escape_bits(errors))
    return torch.round(costs.flatten(0, 1) * 1024).int()


def _choose_scales(errors: Tensor, contexts: Tensor, rows: Tensor | None = None) -> Tensor:
    """(P, BINS) scale of the family with the fewest bits for each plane's errors in each activity bin, from
    errors and contexts (bin * CENTRES + quarter) shaped (P, n): per-plane histograms against _cost_matrix(),
    in exact integers (C++). ``rows`` (int32, shaped as errors; may be ``contexts`` itself) receives each
    error's table row, the index it is coded with."""
    count, size = errors.shape
    # The choice sees a plane only as its run of errors: one row, whatever the plane's shape and symbol bits.
    planes = kernels.Planes(count, 1, size, 1, 1, BINS, CENTRES)
    cost = _cost_matrix().contiguous()
    chosen = torch.empty(count, BINS, dtype=torch.int32)
    kernels.predictive_choose_scales(errors, contexts, planes, cost, _COST_REACH, chosen, rows)
    return chosen


def _plane_view(shape: torch.Size | list[int], plane_dims: int, bits: int) -> kernels.Planes:
    """Latents of ``shape`` and ``bits``-bit symbols coded as ``plane_dims``-D planes under this model."""
    height, width = (shape[-2], shape[-1]) if plane_dims == 2 else (1, shape[-1])
    channels = shape[-plane_dims - 1]
    return kernels.Planes(math.prod(shape[:-plane_dims]), height, width, channels, bits, BINS, CENTRES)


def compress_planes(symbols: Tensor, bits: int = 8, plane_dims: int = 2) -> bytes:
    """Codes integer latents (..., C, H, W) (``plane_dims=2``) or (..., C, L) (``plane_dims=1``) with values
    in [0, 2**bits) into a self-describing container; C, the channels, share contexts within an item."""
    symbols = torch.as_tensor(symbols).detach().cpu()
    if not 1 <= bits <= 15:
        raise ValueError(f"bits must be in [1, 15], got {bits}")
    if plane_dims not in (1, 2) or symbols.dim() < plane_dims + 1 or symbols.is_floating_point():
        raise ValueError(f"expected integer latents with at least {plane_dims + 1} dims, got {symbols.dtype} "
                         f"{tuple(symbols.shape)}")
    planes = _plane_view(symbols.shape, plane_dims, bits)
    weights = torch.zeros(planes.count, NEIGHBOURS, dtype=torch.int8)
    scales = torch.zeros(planes.count, BINS, dtype=torch.int32)
    errors = indexes = torch.zeros(0, dtype=torch.int32)
    if symbols.numel():
        if symbols.dtype == torch.int64:  # so that values past int32 cannot wrap into range
            symbols = symbols.clamp(-1, 1 << bits)
        symbols = symbols.to(torch.int32).contiguous()
        kernels.predictive_fit_weights(symbols, planes, weights)  # ValueError for symbols out of range
        errors = torch.empty(planes.count, planes.height * planes.width, dtype=torch.int32)
        contexts = torch.empty_like(errors)  # activity bin * CENTRES + the prediction's quarter
        kernels.predictive_analyse(symbols, planes, weights, errors, contexts)
        # contexts become the table rows in place: on an hour of audio each of these tensors is 74 MB
        scales = _choose_scales(errors, contexts, rows=contexts)
        indexes = contexts
    payload = kernels.rans_encode(errors, indexes, laplace_tables())  # int32 and contiguous already
    side = weights.numpy().tobytes() + scales.to(torch.uint8).numpy().tobytes()
    meta = {"shape": list(symbols.shape), "bits": bits, "plane_dims": plane_dims}
    return bitstream.pack(CONTAINER_ID, meta, [deflate(side), payload])


def decompress_planes(data: bytes) -> Tensor:
    """Inverse of :func:`compress_planes`: int32 latents. Raises :class:`walloc.BitstreamError` on bad input."""
    container = bitstream.unpack(data, CONTAINER_ID)
    meta = container.meta
    try:
        shape = [int(s) for s in meta["shape"]]
        bits, plane_dims = int(meta["bits"]), int(meta["plane_dims"])
    except (KeyError, TypeError, ValueError):
        raise BitstreamError("corrupt predictive stream: bad metadata") from None
    if (len(container.streams) != 2 or plane_dims not in (1, 2) or not plane_dims + 1 <= len(shape) <= 8
            or min(shape) < 0 or not 1 <= bits <= 15):
        raise BitstreamError("corrupt predictive stream: bad metadata")
    side, payload = container.streams
    if stream_symbol_count(payload) != math.prod(shape):
        raise BitstreamError("corrupt predictive stream: symbol count does not match the shape")
    planes = _plane_view(shape, plane_dims, bits)
    if planes.count >= 1 << 31:
        raise BitstreamError("corrupt predictive stream: bad metadata")
    side_size = planes.count * (NEIGHBOURS + BINS)
    side = inflate(side, side_size, "corrupt predictive stream: side information")
    out = torch.empty(shape, dtype=torch.int32)
    if out.numel() == 0:
        return out
    weights = torch.frombuffer(bytearray(side[: planes.count * NEIGHBOURS]), dtype=torch.int8)
    scales = torch.frombuffer(bytearray(side[planes.count * NEIGHBOURS:]), dtype=torch.uint8).to(torch.int32)
    kernels.predictive_decode(payload, planes, weights, scales, laplace_tables(), out)
    return out
