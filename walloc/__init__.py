"""walloc: compressed-domain codecs for PyTorch."""

from . import entropy
from ._extension import build_info, cuda_available
from .codec import (
    AudioCodec,
    Codec,
    ImageCodec,
    Music2Latent2Codec,
    Music2LatentCodec,
    NervCodec,
    available_codecs,
    decompress,
    load,
    load_music2latent,
    load_reference,
    open_stream,
)
from .entropy import EntropyBottleneck
from .errors import BitstreamError
from .quant import ToNormal, ToUniform
from .wavelets import WPT1d, WPT2d

__version__ = build_info()["version"]

__all__ = [
    "AudioCodec",
    "Codec",
    "ImageCodec",
    "Music2Latent2Codec",
    "Music2LatentCodec",
    "NervCodec",
    "available_codecs",
    "decompress",
    "load",
    "open_stream",
    "load_music2latent",
    "load_reference",
    "BitstreamError",
    "EntropyBottleneck",
    "ToNormal",
    "ToUniform",
    "WPT1d",
    "WPT2d",
    "__version__",
    "build_info",
    "cuda_available",
    "entropy",
]
