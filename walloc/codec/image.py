"""Image codecs: RGB images of any size to WaLLoC latents and walloc bitstreams."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import BitstreamError
from .base import Codec, exact_float32


class ImageCodec(Codec):
    """Images: float (N, 3, H, W) or (3, H, W) in [0, 1], uint8 tensors, or PIL images, of any size.

    Sizes are padded (by reflection) to a multiple of 2**J on the bottom and right; ``decode`` returns the
    padded size, ``decompress`` crops back (the size travels in the stream).
    """

    kind = "image"
    container_id = "walloc-image"
    plane_dims = 2

    @property
    def block(self) -> int:
        return 2**self.model.J

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
        x = self._pad(self.as_batch(images)) - 0.5
        with exact_float32():
            return self.model.encode(x)

    @torch.no_grad()
    def decode(self, latents: Tensor) -> Tensor:
        """Images (N, 3, h * 2**J, w * 2**J) in [0, 1] from latents (continuous or rounded)."""
        latents = torch.as_tensor(latents, device=self.device, dtype=torch.float32)
        if latents.dim() != 4 or latents.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents (N, {self.latent_dim}, h, w), got shape {tuple(latents.shape)}")
        with exact_float32():
            return self.model.decode(latents) + 0.5

    def compress(self, images) -> bytes:
        """A walloc bitstream of the images (rounded latents, coded by the predictive latent coder)."""
        x = self.as_batch(images)
        return self._pack(self.encode(x), {"size": list(x.shape[-2:])})

    def decompress(self, data: bytes) -> Tensor:
        """Images (N, 3, H, W) in [0, 1], at the size they were compressed at."""
        meta, latents = self._unpack(data)
        size = meta.get("size")
        if (not isinstance(size, list) or len(size) != 2 or not all(isinstance(s, int) for s in size)
                or latents.dim() != 4
                or [-(-s // self.block) for s in size] != list(latents.shape[-2:])):
            raise BitstreamError("corrupt walloc-image stream: the image size does not match the latents")
        return self.decode(latents)[..., : size[0], : size[1]]
