"""Side information of the latent coders (predictor weights, table choices, histograms): deflated with zlib at
level 9 and inflated with a bound, so a damaged or hostile stream can neither expand without limit nor decode
to a different size than its metadata implies."""

from __future__ import annotations

import zlib

from ..errors import BitstreamError


def deflate(data: bytes) -> bytes:
    """zlib level 9: the bytes every walloc side-information stream holds."""
    return zlib.compress(data, 9)


def inflate(data: bytes, size: int, what: str) -> bytes:
    """Exactly ``size`` bytes from a :func:`deflate` stream, inflating no more than ``size + 1``.

    Raises :class:`walloc.BitstreamError` (message starting with ``what``) for anything else: data that is not
    deflate, a stream cut short, one with bytes after its end, or one inflating to another size."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, size + 1)
    except zlib.error:
        raise BitstreamError(f"{what}: not a deflate stream") from None
    if len(out) != size or not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise BitstreamError(f"{what}: does not inflate to exactly {size} bytes (wrong size or cut short)")
    return out
