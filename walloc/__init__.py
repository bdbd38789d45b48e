"""walloc: compressed-domain codecs for PyTorch."""

from . import entropy
from ._extension import build_info, cuda_available
from .entropy import EntropyBottleneck
from .errors import BitstreamError
from .wpt import WPT1d, WPT2d

__version__ = build_info()["version"]

__all__ = ["BitstreamError", "EntropyBottleneck", "WPT1d", "WPT2d", "build_info", "cuda_available", "entropy", "__version__"]
