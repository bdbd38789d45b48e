"""Entropy coding: rANS streams (CPU), quantized-CDF tables."""

from .rans import rans_decode, rans_encode

__all__ = ["rans_decode", "rans_encode"]
