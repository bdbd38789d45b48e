"""Entropy coding: rANS streams, quantized-CDF tables, the factorized-prior entropy bottleneck."""

from .bottleneck import EntropyBottleneck
from .rans import rans_decode, rans_encode
from .tables import ideal_bits, quantize_pmf

__all__ = ["EntropyBottleneck", "ideal_bits", "quantize_pmf", "rans_decode", "rans_encode"]
