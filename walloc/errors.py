"""walloc's exceptions."""

from . import _C

#: Raised for any malformed, truncated or corrupted bitstream, by the C++ decoders and the Python container
#: alike. A subclass of ValueError.
BitstreamError = _C.BitstreamError
BitstreamError.__module__ = "walloc"

__all__ = ["BitstreamError"]
