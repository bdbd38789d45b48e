"""WaLLoC's networks: a wavelet packet transform, a 1x1 linear encoder into a companded 8-bit latent, and a
convolutional decoder back to wavelet packets (Jacobellis & Yadwadkar, DCC 2025).

State-dict keys equal those of the reference ``Codec2D``/``Codec1D`` (walloc 1.2.1), including its wavelet
filter buffers (``wt.*``, ``iwt.*``), so the released checkpoints load unchanged. The transforms themselves
run walloc's packet kernels; the buffers are kept for compatibility and checked to hold bior4.4 filters.
"""

from __future__ import annotations

import pywt
import torch
from torch import Tensor, nn

from .. import ops
from ..quant import ToNormal, ToUniform, add_uniform_noise, quantize
from ..wavelets import WPT1d, WPT2d
from .layers import LatentDecoder2D, OobleckDecoder, ToeplitzConv1d

WAVELET = "bior4.4"
_pointwise_linear, _planes_from_pixels = ops.eager(ops.pointwise_linear), ops.eager(ops.planes_from_pixels)
IMAGE_OFFSET = 0.5  # images in [0, 1] are the models' signals in [-0.5, 0.5] (the reference's convention)


class NoisyRound(nn.Module):
    """Uniform noise while training (the differentiable proxy), rounding to integers in eval mode."""

    def forward(self, x: Tensor) -> Tensor:
        return add_uniform_noise(x) if self.training else quantize(x)


class _FilterBuffers(nn.Module):
    """The reference's persistent filter taps (pytorch_wavelets layout), kept so checkpoints load strictly."""

    def __init__(self, names: dict[str, tuple[list[float], tuple[int, ...]]]) -> None:
        super().__init__()
        for name, (taps, shape) in names.items():
            self.register_buffer(name, torch.tensor(taps, dtype=torch.float32).view(shape))

    def check(self, where: str) -> None:
        """Raises ValueError unless the buffers hold the bior4.4 taps (a checkpoint of another wavelet)."""
        expected = type(self)()
        for name, buffer in self.named_buffers():
            reference = getattr(expected, name)
            if buffer.shape != reference.shape or not torch.allclose(buffer.cpu().float(), reference, atol=1e-6):
                raise ValueError(f"{where}.{name} does not hold {WAVELET} filter taps: walloc's WaLLoC models "
                                 f"use {WAVELET} only")


def _pointwise(conv: nn.Conv1d | nn.Conv2d, x: Tensor) -> Tensor:
    """``conv(x)`` for the encoder's kernel-1 convolution (stride 1, one group) by ``ops.pointwise_linear``,
    whose sums are the same bits on every CPU, thread count, batch and GPU. torch's convolution takes oneDNN or
    its own GEMM depending on the thread count and the batch size, and MKL's matrix product a kernel per CPU,
    and their sums differ in the last bits, so latents near a rounding tie (and so the stream) depended on
    them. Zero padding gives the bias alone, so the padded border is filled with it rather than computed."""
    if len(x) == 0:
        return conv(x)
    out = _pointwise_linear(x, conv.weight.flatten(1), conv.bias)
    if not any(conv.padding):
        return out
    padded = conv.bias.view(1, -1, *[1] * len(conv.padding))
    padded = padded.expand(len(x), -1, *[n + 2 * p for n, p in zip(x.shape[2:], conv.padding)]).clone()
    padded[(..., *[slice(p, p + n) for n, p in zip(x.shape[2:], conv.padding)])] = out
    return padded


def _taps() -> dict[str, list[float]]:
    w = pywt.Wavelet(WAVELET)
    return {"h0": list(w.dec_lo[::-1]), "h1": list(w.dec_hi[::-1]), "g0": list(w.rec_lo), "g1": list(w.rec_hi)}


class _Analysis2dBuffers(_FilterBuffers):
    def __init__(self) -> None:
        t = _taps()
        super().__init__({f"{f}_{axis}": (t[f], (1, 1, -1, 1) if axis == "col" else (1, 1, 1, -1))
                          for f in ("h0", "h1") for axis in ("col", "row")})


class _Synthesis2dBuffers(_FilterBuffers):
    def __init__(self) -> None:
        t = _taps()
        super().__init__({f"{f}_{axis}": (t[f], (1, 1, -1, 1) if axis == "col" else (1, 1, 1, -1))
                          for f in ("g0", "g1") for axis in ("col", "row")})


class _Analysis1dBuffers(_FilterBuffers):
    def __init__(self) -> None:
        t = _taps()
        super().__init__({f: (t[f], (1, 1, -1)) for f in ("h0", "h1")})


class _Synthesis1dBuffers(_FilterBuffers):
    def __init__(self) -> None:
        t = _taps()
        super().__init__({f: (t[f], (1, 1, -1)) for f in ("g0", "g1")})


class _WaveletCodecModel(nn.Module):
    """What the image and audio models share: transform, encode, quantize, decode.

    The models work on signals in [-0.5, 0.5] (the reference's convention); :meth:`to_signal` and
    :meth:`to_media` map the codec's media range ([0, 1] images, [-1, 1] audio) there and back.
    """

    transform: WPT1d | WPT2d
    encoder: nn.Sequential
    decoder: nn.Sequential

    def _init_common(self, latent_bits: int) -> None:
        self.latent_bits = latent_bits
        self.latent_max = ToUniform(latent_bits).latent_max

    def analysis(self, x: Tensor) -> Tensor:
        return self.transform(x)

    def synthesis(self, packets: Tensor) -> Tensor:
        return self.transform.inverse(packets)

    def encode(self, x: Tensor) -> Tensor:
        """Continuous latents in (-latent_max, latent_max), before rounding."""
        return self._project(self.analysis(x))

    def _project(self, packets: Tensor) -> Tensor:
        """The encoder's projection and compander: packets -> continuous latents."""
        return self.encoder[1](_pointwise(self.encoder[0], packets))

    def quantize(self, latents: Tensor) -> Tensor:
        """Rounded latents in eval mode, latents plus uniform noise in training mode."""
        return self.encoder[2](latents)

    def decode_packets(self, latents: Tensor, **decoder_options) -> Tensor:
        normal = self.decoder[0](latents)
        packets = self.decoder[1](normal, **decoder_options)
        return packets if self.skip is None else packets + self.skip(normal)

    def decode(self, latents: Tensor, **decoder_options) -> Tensor:
        """Signals from latents; ``decoder_options`` go to the decoder network (the image decoder's attention
        ``window``, see :class:`walloc.models.layers.SpatialSelfAttention`)."""
        return self.synthesis(self.decode_packets(latents, **decoder_options)).clamp(-0.5, 0.5)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(reconstruction, quantized latents) of x in [-0.5, 0.5]; unclamped while training."""
        latents = self.quantize(self.encode(x))
        x_hat = self.synthesis(self.decode_packets(latents))
        return (x_hat if self.training else x_hat.clamp(-0.5, 0.5)), latents

    def check_filters(self) -> None:
        self.wt.check("wt")
        self.iwt.check("iwt")


def _pixel_divisor(pixels: Tensor) -> float:
    """What pixels are divided by to lie in [0, 1]: 255 for uint8 (8-bit files), 1 for float."""
    return 255.0 if pixels.dtype == torch.uint8 else 1.0


class WallocImageModel(_WaveletCodecModel):
    """Images (N, channels, H, W) in [-0.5, 0.5], H and W multiples of 2**J; latents at H/2**J x W/2**J.

    Arguments are those of the reference ``Codec2D`` (``Nd`` is the decoder width), plus walloc's extensions:
    ``attention=False`` drops the decoder's global attention, and ``linear_skip=True`` adds a 1x1 linear path
    from the latents to the packets beside the decoder (it can start as the inverse of a PCA encoder, which
    makes small decoders train much faster). Released checkpoints use neither.
    """

    def __init__(self, channels: int = 3, J: int = 3, Nd: int = 768, latent_dim: int = 12, latent_bits: int = 8,
                 attention: bool = True, linear_skip: bool = False) -> None:
        super().__init__()
        self._init_common(latent_bits)
        self.channels, self.J, self.Nd, self.latent_dim = channels, J, Nd, latent_dim
        packets = channels * 4**J
        self.transform = WPT2d(WAVELET, J)
        self.wt, self.iwt = _Analysis2dBuffers(), _Synthesis2dBuffers()
        self.encoder = nn.Sequential(nn.Conv2d(packets, latent_dim, 1), ToUniform(latent_bits), NoisyRound())
        self.decoder = nn.Sequential(ToNormal(latent_bits),
                                     LatentDecoder2D(latent_dim, packets, Nd, attention=attention))
        self.skip = nn.Conv2d(latent_dim, packets, 1) if linear_skip else None

    @staticmethod
    def to_signal(images: Tensor) -> Tensor:
        """Images in [0, 1] -> the model's [-0.5, 0.5]."""
        return images - IMAGE_OFFSET

    @staticmethod
    def pixels_to_signal(pixels: Tensor) -> Tensor:
        """:meth:`to_signal` of uint8 images (0..255, as 8-bit files hold them) or float32 ones ([0, 1]), in any
        layout, into a contiguous tensor in one pass; the same values as ``to_signal(pixels.float() / 255)``."""
        return _planes_from_pixels(pixels, _pixel_divisor(pixels), IMAGE_OFFSET)

    def encode_pixels(self, pixels: Tensor) -> Tensor:
        """``encode(pixels_to_signal(pixels))``, bit for bit. Contiguous float32 images are centred as the
        transform reads them: one pass less over the image (each pass streams it through memory, 4.7 MB for a
        Kodak image). Other layouts (an HWC array seen as CHW) and uint8 take the pixel pass, which reorders them,
        into planes the transform reuses from call to call (:meth:`WPT2d.from_pixels`)."""
        if pixels.dtype != torch.float32 or not pixels.is_contiguous():
            return self._project(self.transform.from_pixels(pixels, _pixel_divisor(pixels), IMAGE_OFFSET))
        return self._project(self.transform(pixels, shift=IMAGE_OFFSET))

    @staticmethod
    def to_media(signal: Tensor) -> Tensor:
        """The model's [-0.5, 0.5] -> images in [0, 1]."""
        return signal + IMAGE_OFFSET


class WallocAudioModel(_WaveletCodecModel):
    """Audio (N, channels, T) in [-0.5, 0.5], T a multiple of 2**J; latents of T/2**J + 2 frames.

    Arguments are those of the reference ``Codec1D``; the encoder's padding of one frame on each side (so the
    latent is two frames longer) and the decoder's two one-frame-shortening blocks are the reference's.
    ``linear_skip=True`` adds a linear path (a 3-tap conv, so it drops the two extra frames) beside the decoder.
    """

    def __init__(self, channels: int = 2, J: int = 8, Nd: int = 768, latent_dim: int = 27, latent_bits: int = 8,
                 post_filter: bool = True, linear_skip: bool = False) -> None:
        super().__init__()
        if Nd < latent_dim:
            raise ValueError(f"Nd ({Nd}) must be at least latent_dim ({latent_dim})")
        self._init_common(latent_bits)
        self.channels, self.J, self.Nd, self.latent_dim = channels, J, Nd, latent_dim
        packets = channels * 2**J
        self.transform = WPT1d(WAVELET, J)
        self.wt, self.iwt = _Analysis1dBuffers(), _Synthesis1dBuffers()
        self.encoder = nn.Sequential(nn.Conv1d(packets, latent_dim, 1, padding=1), ToUniform(latent_bits),
                                     NoisyRound())
        self.decoder = nn.Sequential(
            ToNormal(latent_bits),
            OobleckDecoder(latent_dim, latent_dim, packets, [1, 1], [Nd // latent_dim] * 2))
        self.skip = nn.Conv1d(latent_dim, packets, 3) if linear_skip else None
        self.post = ToeplitzConv1d(channels, channels, 129, padding=64) if post_filter else None

    @staticmethod
    def to_signal(audio: Tensor, out: Tensor | None = None) -> Tensor:
        """Audio in [-1, 1] -> the model's [-0.5, 0.5] (written into ``out`` when it is given)."""
        return torch.mul(audio, 0.5, out=out)

    @staticmethod
    def to_media(signal: Tensor) -> Tensor:
        """The model's [-0.5, 0.5] -> audio in [-1, 1]."""
        return signal * 2

    def latent_frames(self, samples: int) -> int:
        """Latent frames for ``samples`` (a multiple of 2**J) input samples."""
        return samples // 2**self.J + 2

    def synthesis(self, packets: Tensor) -> Tensor:
        x = self.transform.inverse(packets)
        return x if self.post is None else self.post(x)
