"""Network architectures of walloc's learned codecs."""

from .music2latent import Music2LatentConfig, Music2LatentModel
from .wavelet_codec import WallocAudioModel, WallocImageModel

__all__ = ["Music2LatentConfig", "Music2LatentModel", "WallocAudioModel", "WallocImageModel"]
