"""Entropy coding: rANS streams, quantized-CDF tables, the factorized-prior entropy bottleneck."""

from .adaptive import compress_symbols, decompress_symbols
from .bottleneck import EntropyBottleneck
from .rans import rans_decode, rans_encode, stream_symbol_count
from .tables import ideal_bits, quantize_pmf

__all__ = [
    "EntropyBottleneck",
    "compress_symbols",
    "decompress_symbols",
    "ideal_bits",
    "quantize_pmf",
    "rans_decode",
    "rans_encode",
    "stream_symbol_count",
]
