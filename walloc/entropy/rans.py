"""rANS coding of integer symbols under 16-bit quantized CDFs, with CompressAI's argument conventions.

``symbols[i]`` is coded with table ``cdfs[indexes[i]]`` after subtracting ``offsets[indexes[i]]``; values
outside ``[0, cdf_lengths[j] - 2)`` are escape-coded (CompressAI's bypass mode), so any int32 symbol
round-trips. Streams are chunked and lane-interleaved (format in ``csrc/entropy/rans.h``); their bytes depend
only on the data, never on the thread count or device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..ops import kernels


def _int32(x, name: str, device: torch.device | str = "cpu") -> Tensor:
    t = torch.as_tensor(x)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers, got {t.dtype}")
    return t.detach().to(device=device, dtype=torch.int32).contiguous()


def _device_tables(tables: tuple[Tensor, Tensor, Tensor], indexes: Tensor, device: torch.device) -> tuple:
    """Tables checked on the host, then moved next to the indexes, whose range is checked there."""
    kernels.rans_validate_tables(tables)
    rows = tables[0].shape[0]
    if indexes.numel() and (int(indexes.min()) < 0 or int(indexes.max()) >= rows):
        raise ValueError(f"rANS: indexes must be valid cdf rows in [0, {rows})")
    return tuple(t.to(device) for t in tables)


def _tables(cdfs, cdf_lengths, offsets) -> tuple[Tensor, Tensor, Tensor]:
    """CDFs as a (rows, stride) int32 tensor; ragged Python lists (CompressAI's form) are padded."""
    if isinstance(cdfs, Tensor):
        table = _int32(cdfs, "cdfs")
    else:
        rows = [list(map(int, row)) for row in cdfs]
        if not rows:
            raise ValueError("cdfs is empty")
        stride = max(len(row) for row in rows)
        table = torch.tensor([row + [row[-1] if row else 0] * (stride - len(row)) for row in rows], dtype=torch.int32)
    if table.dim() != 2:
        raise ValueError(f"cdfs must be 2-D (rows, entries), got shape {tuple(table.shape)}")
    lengths = _int32(cdf_lengths, "cdf_lengths").flatten()
    offs = _int32(offsets, "offsets").flatten()
    if lengths.numel() != table.shape[0] or offs.numel() != table.shape[0]:
        raise ValueError(
            f"cdf_lengths ({lengths.numel()}) and offsets ({offs.numel()}) need one entry per cdf ({table.shape[0]})"
        )
    return table, lengths, offs


def rans_encode(symbols, indexes, cdfs, cdf_lengths, offsets) -> bytes:
    """Encodes ``symbols`` (int tensor or list) with per-symbol tables chosen by ``indexes`` (same size).

    Runs on the GPU when ``symbols`` or ``indexes`` is a CUDA tensor; the bytes are the same either way."""
    device = kernels.coding_device(symbols, indexes)
    sym = _int32(symbols, "symbols", device).flatten()
    idx = _int32(indexes, "indexes", device).flatten()
    if sym.numel() != idx.numel():
        raise ValueError(f"symbols ({sym.numel()}) and indexes ({idx.numel()}) must have the same size")
    tables = _tables(cdfs, cdf_lengths, offsets)
    if device.type == "cuda":
        tables = _device_tables(tables, idx, device)
    return kernels.rans_encode(sym, idx, tables)


def rans_decode(data: bytes, indexes, cdfs, cdf_lengths, offsets) -> Tensor:
    """Decodes a :func:`rans_encode` stream: int32 symbols shaped like ``indexes``, on its device.

    Raises :class:`walloc.BitstreamError` for any stream that is not exactly what the encoder produced for these
    indexes and tables (wrong length, truncation, corruption, trailing bytes).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    index_tensor = torch.as_tensor(indexes)
    device = kernels.coding_device(index_tensor)
    idx = _int32(index_tensor, "indexes", device).flatten()
    tables = _tables(cdfs, cdf_lengths, offsets)
    data = bytes(data) if isinstance(data, memoryview) else data
    out = torch.empty(idx.numel(), dtype=torch.int32, device=device)
    if device.type == "cuda":
        tables = _device_tables(tables, idx, device)
    kernels.rans_decode(data, idx, tables, out)
    return out.view(index_tensor.shape)


def stream_symbol_count(data: bytes) -> int:
    """The symbol count a rANS stream declares, after checking its header and chunk directory against its
    length (so the count is bounded by the bytes present). Raises :class:`walloc.BitstreamError`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return kernels.rans_stream_symbols(bytes(data) if isinstance(data, memoryview) else data)
