"""Network architectures of walloc's learned codecs."""

from .wavelet_codec import WallocAudioModel, WallocImageModel

__all__ = ["WallocAudioModel", "WallocImageModel"]
