"""rANS coding of integer symbols under 16-bit quantized CDFs, with CompressAI's argument conventions.

``symbols[i]`` is coded with table ``cdfs[indexes[i]]`` after subtracting ``offsets[indexes[i]]``; values
outside ``[0, cdf_lengths[j] - 2)`` are escape-coded (CompressAI's bypass mode), so any int32 symbol
round-trips. Streams are chunked and lane-interleaved (format in ``csrc/entropy/rans.h``); their bytes depend
only on the data, never on the thread count or device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _C



def _int32_cpu(x, name: str) -> Tensor:
    t = torch.as_tensor(x)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold integers, got {t.dtype}")
    return t.detach().to(device="cpu", dtype=torch.int32).contiguous()


def _tables(cdfs, cdf_lengths, offsets) -> tuple[Tensor, Tensor, Tensor]:
    """CDFs as a (rows, stride) int32 tensor; ragged Python lists (CompressAI's form) are padded."""
    if isinstance(cdfs, Tensor):
        table = _int32_cpu(cdfs, "cdfs")
    else:
        rows = [list(map(int, row)) for row in cdfs]
        if not rows:
            raise ValueError("cdfs is empty")
        stride = max(len(row) for row in rows)
        table = torch.tensor([row + [row[-1] if row else 0] * (stride - len(row)) for row in rows], dtype=torch.int32)
    if table.dim() != 2:
        raise ValueError(f"cdfs must be 2-D (rows, entries), got shape {tuple(table.shape)}")
    lengths = _int32_cpu(cdf_lengths, "cdf_lengths").flatten()
    offs = _int32_cpu(offsets, "offsets").flatten()
    if lengths.numel() != table.shape[0] or offs.numel() != table.shape[0]:
        raise ValueError(
            f"cdf_lengths ({lengths.numel()}) and offsets ({offs.numel()}) need one entry per cdf ({table.shape[0]})"
        )
    return table, lengths, offs


def _table_args(table: Tensor, lengths: Tensor, offs: Tensor) -> tuple:
    return table.data_ptr(), table.shape[0], table.shape[1], lengths.data_ptr(), offs.data_ptr()


def rans_encode(symbols, indexes, cdfs, cdf_lengths, offsets) -> bytes:
    """Encodes ``symbols`` (int tensor or list) with per-symbol tables chosen by ``indexes`` (same size)."""
    sym = _int32_cpu(symbols, "symbols").flatten()
    idx = _int32_cpu(indexes, "indexes").flatten()
    if sym.numel() != idx.numel():
        raise ValueError(f"symbols ({sym.numel()}) and indexes ({idx.numel()}) must have the same size")
    table, lengths, offs = _tables(cdfs, cdf_lengths, offsets)
    return _C.rans_encode_cpu(
        sym.data_ptr(), idx.data_ptr(), sym.numel(), *_table_args(table, lengths, offs), torch.get_num_threads()
    )


def rans_decode(data: bytes, indexes, cdfs, cdf_lengths, offsets) -> Tensor:
    """Decodes a :func:`rans_encode` stream: int32 symbols shaped like ``indexes``, on its device.

    Raises :class:`walloc.BitstreamError` for any stream that is not exactly what the encoder produced for these
    indexes and tables (wrong length, truncation, corruption, trailing bytes).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    index_tensor = torch.as_tensor(indexes)
    idx = _int32_cpu(index_tensor, "indexes").flatten()
    table, lengths, offs = _tables(cdfs, cdf_lengths, offsets)
    out = torch.empty(idx.numel(), dtype=torch.int32)
    _C.rans_decode_cpu(
        bytes(data) if isinstance(data, memoryview) else data,
        idx.data_ptr(),
        idx.numel(),
        *_table_args(table, lengths, offs),
        out.data_ptr(),
        torch.get_num_threads(),
    )
    return out.view(index_tensor.shape).to(index_tensor.device)


def stream_symbol_count(data: bytes) -> int:
    """The symbol count a rANS stream declares, after checking its header and chunk directory against its
    length (so the count is bounded by the bytes present). Raises :class:`walloc.BitstreamError`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return _C.rans_stream_symbols(bytes(data) if isinstance(data, memoryview) else data)
