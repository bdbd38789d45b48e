"""What image and audio codecs share: the model, its identity, symbol coding and the container."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import Tensor

from .. import bitstream
from ..entropy import adaptive, predictive
from ..errors import BitstreamError
from ..models import WallocAudioModel, WallocImageModel
from .package import weights_fingerprint


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """Full float32 convolutions on CUDA (no TF32), so latents round to the same symbols on GPU and CPU
    except at exact ties, and decoded media agree across devices to float32 rounding."""
    cudnn = torch.backends.cudnn
    with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic,
                     allow_tf32=False):
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous


class Codec:
    """A trained WaLLoC codec. ``encode``/``decode`` map media to continuous latents and back (for compressed
    learning); ``compress``/``decompress`` map media to a walloc bitstream (bytes) and back."""

    kind: str
    container_id: str
    plane_dims: int  # latents are coded as planes of this many trailing dims (2: images, 1: audio)

    def __init__(self, name: str, model: WallocImageModel | WallocAudioModel, device=None) -> None:
        self.name = name
        self.model = model.eval().requires_grad_(False)
        self.fingerprint = weights_fingerprint(self.model)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.model.to(self.device)

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    @property
    def latent_bits(self) -> int:
        return self.model.latent_bits

    def to(self, device) -> "Codec":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, latent_dim={self.latent_dim}, "
                f"latent_bits={self.latent_bits}, device={str(self.device)!r})")

    def quantize(self, latents: Tensor) -> Tensor:
        """Rounded latents, as they travel in a bitstream."""
        return torch.round(latents)

    def _symbols(self, latents: Tensor) -> Tensor:
        return (self.quantize(latents) + 2 ** (self.latent_bits - 1)).to(torch.int32).cpu()

    def _latents(self, symbols: Tensor) -> Tensor:
        return (symbols.to(self.device, torch.float32) - 2 ** (self.latent_bits - 1))

    def _pack(self, latents: Tensor, meta: dict) -> bytes:
        meta = {**meta, "name": self.name, "fingerprint": self.fingerprint}
        latent_stream = predictive.compress_planes(self._symbols(latents), self.latent_bits, self.plane_dims)
        return bitstream.pack(self.container_id, meta, [latent_stream])

    def _unpack(self, data: bytes) -> tuple[dict, Tensor]:
        container = bitstream.unpack(data, codec=self.container_id)
        meta = container.meta
        check_writer(meta, self.name, self.fingerprint)
        if len(container.streams) != 1:
            raise BitstreamError(f"corrupt {self.container_id} stream: expected one latent stream")
        symbols = decompress_latent_stream(container.streams[0])
        if symbols.dim() < 3 or symbols.shape[1] != self.latent_dim:
            raise BitstreamError(f"corrupt {self.container_id} stream: latents of shape {tuple(symbols.shape)} "
                                 f"do not fit this codec's {self.latent_dim} channels")
        return meta, self._latents(symbols)


def check_writer(meta: dict, name: str, fingerprint: str) -> None:
    """Raises BitstreamError unless the stream header ``meta`` names the weights ``fingerprint``."""
    if meta.get("fingerprint") != fingerprint:
        raise BitstreamError(f"this stream was written by codec {meta.get('name')!r} "
                             f"(weights {meta.get('fingerprint')}), not by {name!r} "
                             f"(weights {fingerprint}); load that codec to decode it")


def decompress_latent_stream(data: bytes) -> Tensor:
    """The symbols of a codec stream's latent stream: predictive (written now) or adaptive-histogram (written
    by walloc before the predictive coder; still read)."""
    coder = bitstream.unpack(data).codec
    if coder == adaptive.CODEC_ID:
        return adaptive.decompress_symbols(data)
    return predictive.decompress_planes(data)


def stream_codec_name(data: bytes) -> tuple[str, str]:
    """(container id, codec name) written in a walloc codec stream's header."""
    container = bitstream.unpack(data)
    name = container.meta.get("name")
    if not isinstance(name, str):
        raise BitstreamError(f"this walloc stream ({container.codec}) names no codec")
    return container.codec, name
