"""What the WaLLoC image and audio codecs share: rounded latents coded plane by plane with the predictive
latent coder, and a check that a stream's latents fit the codec."""

from __future__ import annotations

import torch
from torch import Tensor

from ..entropy import predictive
from ..entropy.symbols import from_symbols, to_symbols
from ..errors import BitstreamError
from ..models import WallocAudioModel, WallocImageModel
from .base import TrainedCodec


class WallocCodec(TrainedCodec):
    """A trained WaLLoC codec (:class:`ImageCodec` or :class:`AudioCodec`)."""

    model: WallocImageModel | WallocAudioModel
    plane_dims: int  # latents are coded as planes of this many trailing dims (2: images, 1: audio)

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    @property
    def latent_bits(self) -> int:
        return self.model.latent_bits

    @property
    def block(self) -> int:
        """Sizes are padded to a multiple of this (2**J)."""
        return 2**self.model.J

    @classmethod
    def _from_folder(cls, config: dict, model, device=None, **options) -> "WallocCodec":
        if options:
            raise ValueError(f"codec {config['name']!r} takes no options; got {sorted(options)}")
        return cls(config["name"], model, device=device, **cls._folder_arguments(config))

    @classmethod
    def _folder_arguments(cls, config: dict) -> dict:
        """Constructor arguments that a codec folder's config holds besides the model."""
        return {}

    def _describe(self) -> dict:
        return {"latent_dim": self.latent_dim, "latent_bits": self.latent_bits}

    def quantize(self, latents: Tensor) -> Tensor:
        """Rounded latents, as they travel in a bitstream."""
        return torch.round(latents)

    def _pack_latents(self, latents: Tensor, meta: dict, extras: dict[str, bytes] | None = None) -> bytes:
        symbols = to_symbols(self.quantize(latents), self.latent_bits)
        return self._pack(meta, predictive.compress_planes(symbols, self.latent_bits, self.plane_dims), extras)

    def _unpack_latents(self, data: bytes) -> tuple[dict, Tensor, dict[str, bytes]]:
        """(header, rounded latents as float32 on the codec's device, extra streams) of a stream of this codec."""
        meta, symbols, extras = self._unpack_symbols(data)
        if symbols.dim() < 3 or symbols.shape[1] != self.latent_dim:
            raise BitstreamError(f"corrupt {self.container_id} stream: latents of shape {tuple(symbols.shape)} "
                                 f"do not fit this codec's {self.latent_dim} channels")
        return meta, from_symbols(symbols, self.latent_bits).to(self.device, torch.float32), extras

    def quantized_latents(self, data: bytes) -> Tensor:
        """The rounded latents of a stream (int32, on the CPU): ``decompress(data)`` decodes exactly these."""
        return self._unpack_latents(data)[1].cpu().to(torch.int32)
