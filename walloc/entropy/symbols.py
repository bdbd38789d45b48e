"""Signed integer values and the unsigned symbols the entropy coders code: ``b``-bit values in
[-2**(b-1), 2**(b-1)) travel as symbols in [0, 2**b), shifted by the one offset 2**(b-1)."""

from __future__ import annotations

import torch
from torch import Tensor


def symbol_offset(bits: int) -> int:
    """What is added to a signed ``bits``-bit value to make its symbol."""
    return 1 << (bits - 1)


def to_symbols(values: Tensor, bits: int) -> Tensor:
    """int32 symbols on the CPU of integer-valued ``values`` (any dtype)."""
    symbols = values.to(torch.int32, copy=True)  # exact: the values are integers
    symbols += symbol_offset(bits)
    return symbols.cpu()


def from_symbols(symbols: Tensor, bits: int) -> Tensor:
    """The signed int32 values of ``symbols``."""
    return symbols.to(torch.int32) - symbol_offset(bits)
