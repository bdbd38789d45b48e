"""Network architectures of walloc's learned codecs."""

from .music2latent import Music2LatentConfig, Music2LatentModel
from .music2latent2 import Music2Latent2Config, Music2Latent2Model
from .wavelet_codec import WallocAudioModel, WallocImageModel

__all__ = ["Music2Latent2Config", "Music2Latent2Model", "Music2LatentConfig", "Music2LatentModel",
           "WallocAudioModel", "WallocImageModel"]
