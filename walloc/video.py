"""The NeRV / NeRV++ video codecs under their first import path; they live in :mod:`walloc.codec.video`."""

from __future__ import annotations

from .codec.video import NervCodec, dequantize_weights, quantize_weights

CONTAINER_ID = NervCodec.container_id


def decompress(data: bytes) -> NervCodec:
    """A :class:`NervCodec` rebuilt from :meth:`NervCodec.compress` bytes (``NervCodec.from_stream``)."""
    return NervCodec.from_stream(data)


__all__ = ["CONTAINER_ID", "NervCodec", "decompress", "dequantize_weights", "quantize_weights"]
