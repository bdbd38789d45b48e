"""Entropy coding: rANS streams (CPU), quantized-CDF tables."""

from .rans import rans_decode, rans_encode
from .tables import ideal_bits, quantize_pmf

__all__ = ["ideal_bits", "quantize_pmf", "rans_decode", "rans_encode"]
