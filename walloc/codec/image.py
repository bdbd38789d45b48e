"""Image codecs: RGB images of any size to WaLLoC latents and walloc bitstreams."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import bitstream
from ..errors import BitstreamError
from ..metrics import bits_per_pixel
from ..models import WallocImageModel
from . import registry
from .base import exact_float32, latent_stream_shape
from .wavelet import WallocCodec

# The decoder's attention on large images. Up to GLOBAL_ATTENTION latents a side (1024 pixels at J = 3) it is
# global, as in the reference. Beyond, it runs in windows of at most 64 x 64 latents attending to 16 latents
# around them, so decoding time grows linearly with the image (global attention over the 375k latents of a
# 24 MP photo would take hours). Convolutions and normalisation still see the whole image: cutting the decoder
# itself into tiles changes each tile's normalisation statistics and cost 7.7 dB on a 2 MP photo, while the
# attention windows moved PSNR by less than 0.05 dB (bench/README.md, large images).
GLOBAL_ATTENTION = 128
ATTENTION_WINDOW = (64, 16)  # (size, margin) in latents


@registry.register("image", lambda arguments: WallocImageModel(**arguments))
class ImageCodec(WallocCodec):
    """Images: float (N, 3, H, W) or (3, H, W) in [0, 1], uint8 tensors, or PIL images, of any size.

    Sizes are padded (by reflection) to a multiple of 2**J on the bottom and right; ``decode`` of raw latents
    returns that padded size (it does not know the input's), ``decompress`` crops back (the size travels in the
    stream). On latents larger than ``GLOBAL_ATTENTION`` a side the decoder's attention is windowed
    (``ATTENTION_WINDOW``); the window travels in the stream too.
    """

    kind = "image"
    container_id = "walloc-image"
    plane_dims = 2

    def as_batch(self, images) -> Tensor:
        """float (N, C, H, W) in [0, 1] on the codec's device from any accepted image input."""
        if not isinstance(images, Tensor):
            images = images if isinstance(images, (list, tuple)) else [images]
            arrays = [np.asarray(im.convert("RGB")) for im in images]
            if len({a.shape for a in arrays}) != 1:
                raise ValueError("PIL images in one batch must share a size; compress them one by one")
            images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
        if images.dim() == 3:
            images = images.unsqueeze(0)
        if images.dim() != 4 or images.shape[1] != self.model.channels:
            raise ValueError(f"expected images (N, {self.model.channels}, H, W), got shape {tuple(images.shape)}")
        if images.dtype == torch.uint8:
            images = images.float() / 255
        elif not images.is_floating_point():
            raise ValueError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
        if images.shape[-1] == 0 or images.shape[-2] == 0:
            raise ValueError(f"empty image of shape {tuple(images.shape)}")
        return images.to(self.device, torch.float32)

    def _pad(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % self.block, -w % self.block
        if not pad_h and not pad_w:
            return x
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)

    @torch.no_grad()
    def encode(self, images) -> Tensor:
        """Continuous latents (N, latent_dim, ceil(H / 2**J), ceil(W / 2**J)), before rounding."""
        x = self.model.to_signal(self._pad(self.as_batch(images)))
        with exact_float32():
            return self.model.encode(x)

    @torch.no_grad()
    def decode(self, latents: Tensor, size: tuple[int, int] | None = None,
               attention_window: tuple[int, int] | None | str = "auto") -> Tensor:
        """Images in [0, 1] from latents (continuous or rounded), cropped to ``size`` = (H, W) when it is given;
        otherwise (N, 3, h * 2**J, w * 2**J), the padded size, as raw latents do not record the input's
        (``decompress`` knows it from the stream). ``attention_window`` = (size, margin) in latents, None for
        global attention whatever the size, or ``"auto"``: what ``compress`` writes for latents of this size."""
        latents = torch.as_tensor(latents, device=self.device, dtype=torch.float32)
        if latents.dim() != 4 or latents.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents (N, {self.latent_dim}, h, w), got shape {tuple(latents.shape)}")
        if size is not None and [-(-s // self.block) for s in size] != list(latents.shape[-2:]):
            raise ValueError(f"latents of {tuple(latents.shape[-2:])} positions do not code a {tuple(size)} image")
        if attention_window == "auto":
            attention_window = self.attention_window(tuple(latents.shape[-2:]))
        with exact_float32():
            images = self.model.to_media(self.model.decode(latents, window=attention_window))
        return images if size is None else images[..., : size[0], : size[1]]

    @staticmethod
    def attention_window(grid: tuple[int, int]) -> tuple[int, int] | None:
        """The attention window for a latent grid: None (global) up to ``GLOBAL_ATTENTION`` a side."""
        return ATTENTION_WINDOW if max(grid) > GLOBAL_ATTENTION else None

    def compress(self, images) -> bytes:
        """A walloc bitstream of the images (rounded latents, coded by the predictive latent coder)."""
        x = self.as_batch(images)
        latents = self.encode(x)
        meta = {"size": list(x.shape[-2:])}
        window = self.attention_window(tuple(latents.shape[-2:]))
        if window is not None:
            meta["attention_window"] = list(window)
        return self._pack_latents(latents, meta)

    def decompress(self, data: bytes) -> Tensor:
        """Images (N, 3, H, W) in [0, 1], at the size they were compressed at."""
        meta, latents = self._unpack_latents(data)
        size = meta.get("size")
        if (not _is_size(size) or latents.dim() != 4
                or [-(-s // self.block) for s in size] != list(latents.shape[-2:])):
            raise BitstreamError("corrupt walloc-image stream: the image size does not match the latents")
        window = meta.get("attention_window")  # absent: global (small images, streams written before windows)
        if window is not None and not (isinstance(window, list) and len(window) == 2
                                       and all(isinstance(v, int) for v in window)
                                       and 1 <= window[0] <= 1 << 16 and 0 <= window[1] <= 1 << 16):
            raise BitstreamError("corrupt walloc-image stream: bad attention window")
        return self.decode(latents, size, None if window is None else tuple(window))

    @classmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        size, shape = container.meta.get("size"), latent_stream_shape(container)
        if not _is_size(size):
            return {}
        images = shape[0] if shape else 1
        return {"images": images, "bpp": bits_per_pixel(nbytes, images * size[0] * size[1])}


def _is_size(size) -> bool:
    return isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)
