"""Quantized probability tables for the rANS coder: 16-bit CDFs with a non-zero frequency for every symbol."""

from __future__ import annotations

import math

import torch
from torch import Tensor

PRECISION = 16


def quantize_pmf(pmf: Tensor, precision: int = PRECISION) -> Tensor:
    """Integer CDFs (..., n + 1) from probabilities (..., n): every symbol gets at least 1 of ``2**precision``.

    Largest-remainder rounding of the probabilities scaled to the counts left after the minimum of 1 each, so
    the result is deterministic and within one count of proportional. Rows need not be normalised.
    """
    pmf = torch.as_tensor(pmf, dtype=torch.float64)
    if pmf.dim() == 0 or pmf.shape[-1] < 1:
        raise ValueError("quantize_pmf needs at least one symbol per row")
    n = pmf.shape[-1]
    total = 1 << precision
    if n > total:
        raise ValueError(f"{n} symbols cannot all get a non-zero frequency out of {total}")
    p = pmf.clamp_min(0)
    mass = p.sum(-1, keepdim=True)
    p = torch.where(mass > 0, p / torch.where(mass > 0, mass, 1.0), torch.full_like(p, 1.0 / n))
    spare = total - n
    scaled = p * spare
    counts = scaled.floor()
    left = (spare - counts.sum(-1)).round().long()
    # Hand the remaining counts to the largest fractional parts (ties: lower symbol first).
    order = torch.argsort(-(scaled - counts), dim=-1, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(-1, order, torch.arange(n).expand_as(order).contiguous())
    counts = counts.long() + 1 + (ranks < left.unsqueeze(-1)).long()
    # Rounding of the normalisation can leave the sum a count or two off: the largest frequency absorbs it.
    fix = total - counts.sum(-1, keepdim=True)
    counts.scatter_add_(-1, counts.argmax(-1, keepdim=True), fix)
    cdf = torch.zeros(*counts.shape[:-1], n + 1, dtype=torch.long)
    cdf[..., 1:] = counts.cumsum(-1)
    return cdf.to(torch.int32)


def ideal_bits(symbols: Tensor, indexes: Tensor, cdfs: Tensor, cdf_lengths: Tensor, offsets: Tensor) -> float:
    """Code length in bits of ``symbols`` under the quantized tables, escapes counted as CompressAI's bypass
    (the escape symbol's cost plus 4 bits per nibble of the value and of its nibble count)."""
    sym = symbols.flatten().long()
    idx = indexes.flatten().long()
    max_value = cdf_lengths.long()[idx] - 2
    value = sym - offsets.long()[idx]
    escape = (value < 0) | (value >= max_value)
    coded = torch.where(escape, max_value, value)
    table = cdfs.long()
    freq = table[idx, coded + 1] - table[idx, coded]
    bits = (PRECISION - torch.log2(freq.double())).sum().item()
    raw = torch.where(value < 0, -2 * value - 1, 2 * (value - max_value))[escape]
    for r in raw.tolist():
        nibbles = 0 if r == 0 else math.ceil((r.bit_length()) / 4)
        bits += 4 * nibbles + 4 * (nibbles // 15 + 1)
    return bits
