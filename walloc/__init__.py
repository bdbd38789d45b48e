"""walloc: compressed-domain codecs for PyTorch."""

from ._extension import build_info, cuda_available
from .wpt import WPT1d, WPT2d

__version__ = build_info()["version"]

__all__ = ["WPT1d", "WPT2d", "build_info", "cuda_available", "__version__"]
