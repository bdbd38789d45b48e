"""Image codecs: images of any size (grey, colour, with alpha) to WaLLoC latents and walloc bitstreams."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import bitstream
from ..entropy import predictive
from ..entropy.side_info import deflate, inflate
from ..errors import BitstreamError
from ..media import Picture, picture_from_pil
from ..metrics import bits_per_pixel
from ..models import WallocImageModel
from . import registry
from .base import exact_float32, latent_stream_shape
from .wavelet import WallocCodec, stream_quality

# The decoder's attention on large images. Up to GLOBAL_ATTENTION latents a side (1024 pixels at J = 3) it is
# global, as in the reference. Beyond, it runs in windows of at most 64 x 64 latents attending to 16 latents
# around them, so decoding time grows linearly with the image (global attention over the 375k latents of a
# 24 MP photo would take hours). Convolutions and normalisation still see the whole image: cutting the decoder
# itself into tiles changes each tile's normalisation statistics and cost 7.7 dB on a 2 MP photo, while the
# attention windows moved PSNR by less than 0.05 dB (bench/README.md, large images).
GLOBAL_ATTENTION = 128
ATTENTION_WINDOW = (64, 16)  # (size, margin) in latents

# On the CPU a batch is encoded in groups of images of about this many pixels (one image at least): the groups'
# buffers are reused memory that stays in the last-level cache from the packet transform to the compander,
# where a whole batch's full-size buffers are fresh pages each time (a batch of 16 Kodak images on a 2-core
# EPYC 7001: 13.4 -> 9.5 ms an image).
CPU_ENCODE_PIXELS = 1 << 20


@registry.register("image", lambda arguments: WallocImageModel(**arguments))
class ImageCodec(WallocCodec):
    """Images: float (N, C, H, W) or (C, H, W) in [0, 1], uint8 tensors, PIL images or Pictures, of any size;
    C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).

    Sizes are padded (by reflection) to a multiple of 2**J on the bottom and right; ``decode`` of raw latents
    returns that padded size (it does not know the input's), ``decompress`` crops back (the size travels in the
    stream). On latents larger than ``GLOBAL_ATTENTION`` a side the decoder's attention is windowed
    (``ATTENTION_WINDOW``); the window travels in the stream too.
    """

    kind = "image"
    container_id = "walloc-image"
    plane_dims = 2
    extra_streams = frozenset({"alpha", "icc"})

    def as_batch(self, images) -> Tensor:
        """float (N, 3, H, W) in [0, 1] on the codec's device from any accepted image input: the colour the
        latents code (grey as three equal channels; alpha, which travels beside the latents, left out)."""
        return _as_float(self._media(images).rgb())

    def _media(self, images) -> _Media:
        """The parts of any accepted image input: Pictures, PIL images, or tensors (N, C, H, W) / (C, H, W) with
        C = 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA), uint8 or float in [0, 1]."""
        if isinstance(images, Picture):
            planes = images.pixels if images.alpha is None else torch.cat([images.pixels, images.alpha[None]])
            return self._media(planes)._replace(bit_depth=images.bit_depth, icc=images.icc)
        if not isinstance(images, Tensor):  # PIL images
            pictures = [picture_from_pil(im) for im in (images if isinstance(images, (list, tuple)) else [images])]
            planes = [p.pixels if p.alpha is None else torch.cat([p.pixels, p.alpha[None]]) for p in pictures]
            if len({p.shape for p in planes}) != 1:
                raise ValueError("PIL images in one batch must share a size and mode; compress them one by one")
            images = torch.stack(planes)
        if images.dim() == 3:
            images = images.unsqueeze(0)
        if images.dim() != 4 or not 1 <= images.shape[1] <= 4:
            raise ValueError(f"expected images (N, C, H, W) with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or "
                             f"4 (RGBA), got shape {tuple(images.shape)}")
        # Images keep their type (uint8 or float32) and layout (a decoded file is usually an HWC array seen as CHW):
        # encode() makes the model's signal from them in one pass.
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise ValueError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
        if images.shape[-1] == 0 or images.shape[-2] == 0:
            raise ValueError(f"empty image of shape {tuple(images.shape)}")
        images = images.to(self.device, torch.uint8 if images.dtype == torch.uint8 else torch.float32)
        alpha = _as_float(images[:, -1:]) if images.shape[1] in (2, 4) else None
        return _Media(images[:, :3] if images.shape[1] >= 3 else images[:, :1], alpha, 8, None)

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
        return self._encode_rgb(self._media(images).rgb())

    def _encode_rgb(self, images: Tensor) -> Tensor:
        """:meth:`encode` of images already through :meth:`_media` (RGB, on the codec's device)."""
        images = self._pad(images)
        pixels = images.shape[-2] * images.shape[-1]
        group = len(images) if self.device.type != "cpu" else CPU_ENCODE_PIXELS // pixels
        with exact_float32(self.device):
            latents = [self.model.encode_pixels(part) for part in images.split(max(1, group))]
        return latents[0] if len(latents) == 1 else torch.cat(latents)

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
        with exact_float32(self.device):
            images = self.model.to_media(self.model.decode(latents, window=attention_window))
        return images if size is None else images[..., : size[0], : size[1]]

    @staticmethod
    def attention_window(grid: tuple[int, int]) -> tuple[int, int] | None:
        """The attention window for a latent grid: None (global) up to ``GLOBAL_ATTENTION`` a side."""
        return ATTENTION_WINDOW if max(grid) > GLOBAL_ATTENTION else None

    def compress(self, images, quality: float | None = None, bpp: float | None = None) -> bytes:
        """A walloc bitstream of the images: quantized latents of the colour (coded by the predictive latent
        coder); grey images are coded as colour and returned grey; an alpha channel travels beside the latents,
        losslessly at the input's bit depth (8, or 16 for 16-bit Pictures); so does a Picture's ICC profile.

        ``quality`` in [1, ``max_quality``] (default 8) sets the latent quantizer (:mod:`walloc.codec.wavelet`);
        ``bpp`` instead asks for the highest quality whose stream (all of its bytes) takes at most that many bits
        per pixel, and raises ValueError when even quality 1 takes more."""
        media = self._media(images)
        with torch.no_grad():
            latents = self._encode_rgb(media.rgb())
        meta = {"size": list(media.colour.shape[-2:])}
        window = self.attention_window(tuple(latents.shape[-2:]))
        if window is not None:
            meta["attention_window"] = list(window)
        if media.colour.shape[1] == 1:
            meta["grey"] = True
        if media.bit_depth != 8:
            meta["bit_depth"] = media.bit_depth
        extras = {}
        if media.alpha is not None:
            extras["alpha"] = _compress_alpha(media.alpha, media.bit_depth)
        if media.icc:
            extras["icc"] = deflate(bytes(media.icc))  # profiles are mostly tables: about half the bytes
            meta["icc_bytes"] = len(media.icc)
        return self._pack_latents(latents, meta, extras, quality, None if bpp is None else ("bpp", bpp))

    def decompress(self, data: bytes) -> Tensor:
        """Images (N, C, H, W) in [0, 1], at the size they were compressed at, with their channels: grey (C = 1)
        or colour (3), then alpha when they had it."""
        return self._decompress(data)[0]

    def decompress_picture(self, data: bytes) -> Picture:
        """The one image of a stream as a :class:`walloc.media.Picture` (pixels, alpha, bit depth, ICC profile),
        ready for :func:`walloc.media.write_picture`."""
        images, meta, extras = self._decompress(data)
        if images.shape[0] != 1:
            raise ValueError(f"this stream holds {images.shape[0]} images; decompress() returns them all")
        alpha = images[0, -1].cpu() if "alpha" in extras else None
        colour = images[0, :-1] if alpha is not None else images[0]
        icc = None
        if "icc" in extras:
            size = meta.get("icc_bytes")
            if not isinstance(size, int) or not 0 < size <= _MAX_ICC_BYTES:
                raise BitstreamError("corrupt walloc-image stream: bad colour profile size")
            icc = inflate(extras["icc"], size, "corrupt walloc-image stream: colour profile")
        return Picture(colour.cpu(), alpha, meta.get("bit_depth", 8), icc)

    def _decompress(self, data: bytes) -> tuple[Tensor, dict, dict[str, bytes]]:
        meta, latents, extras = self._unpack_latents(data)
        size = meta.get("size")
        if (not _is_size(size) or latents.dim() != 4
                or [-(-s // self.block) for s in size] != list(latents.shape[-2:])):
            raise BitstreamError("corrupt walloc-image stream: the image size does not match the latents")
        window = meta.get("attention_window")  # absent: global (small images, streams written before windows)
        if window is not None and not (isinstance(window, list) and len(window) == 2
                                       and all(isinstance(v, int) for v in window)
                                       and 1 <= window[0] <= 1 << 16 and 0 <= window[1] <= 1 << 16):
            raise BitstreamError("corrupt walloc-image stream: bad attention window")
        images = self.decode(latents, size, None if window is None else tuple(window))
        if meta.get("grey", False) is True:
            images = images.mean(1, keepdim=True)
        if "alpha" in extras:
            bit_depth = meta.get("bit_depth", 8)
            if bit_depth not in (8, 16):
                raise BitstreamError("corrupt walloc-image stream: bad bit depth")
            alpha = _decompress_alpha(extras["alpha"], bit_depth, (images.shape[0], *size))
            images = torch.cat([images, alpha.to(images.device)], 1)
        return images, meta, extras

    @classmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        size, shape = container.meta.get("size"), latent_stream_shape(container)
        if not _is_size(size):
            return {}
        images = shape[0] if shape else 1
        return {"images": images, "bpp": bits_per_pixel(nbytes, images * size[0] * size[1]),
                **stream_quality(container.meta)}


_MAX_ICC_BYTES = 1 << 24


class _Media(NamedTuple):
    colour: Tensor  # uint8 or float (N, 1 or 3, H, W), in the layout it came in
    alpha: Tensor | None  # float (N, 1, H, W)
    bit_depth: int
    icc: bytes | None

    def rgb(self) -> Tensor:
        """The colour the latents code: grey as three equal channels."""
        return self.colour.expand(-1, 3, -1, -1) if self.colour.shape[1] == 1 else self.colour


def _as_float(images: Tensor) -> Tensor:
    """uint8 images (0..255) as float in [0, 1]; float ones as they are."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images


def _compress_alpha(alpha: Tensor, bit_depth: int) -> bytes:
    """Alpha (N, 1, H, W) in [0, 1] at ``bit_depth`` levels, losslessly: one 8-bit plane, or for 16 bits the high
    and low bytes as two, coded by the predictive coder."""
    levels = torch.round(alpha.clamp(0, 1) * ((1 << bit_depth) - 1)).to(torch.int32).cpu()
    planes = levels if bit_depth == 8 else torch.cat([levels >> 8, levels & 255], 1)
    return predictive.compress_planes(planes, 8, 2)


def _decompress_alpha(data: bytes, bit_depth: int, shape: tuple[int, int, int]) -> Tensor:
    planes = predictive.decompress_planes(data)
    if list(planes.shape) != [shape[0], 1 if bit_depth == 8 else 2, shape[1], shape[2]]:
        raise BitstreamError("corrupt walloc-image stream: the alpha plane does not fit the image")
    levels = planes[:, :1] if bit_depth == 8 else planes[:, :1] * 256 + planes[:, 1:]
    return levels.float() / ((1 << bit_depth) - 1)


def _is_size(size) -> bool:
    return isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)
