"""WaLLoC encoders and decoders as standalone graphs: ``torch.export`` programs and ONNX files.

``part="encoder"`` maps what :meth:`ImageCodec.encode` / :meth:`AudioCodec.encode` take, at a size that is a
multiple of the codec's block (images (N, C, H, W) in [0, 1]; audio (N, channels, T) in [-1, 1] at the codec's
rate), to the continuous latents they return. ``part="decoder"`` maps latents (rounded or not) to what
``decode`` returns at the padded size (the image decoder with global attention, as ``decode`` uses up to
``GLOBAL_ATTENTION`` latents a side; audio in one piece, as ``decode`` runs up to ``CHUNK`` frames). Batch and
spatial sizes are dynamic. walloc's kernels are replaced by standard operations (the packet transforms by
:mod:`walloc.wavelets.standard_ops`, the compander by erf and a rational inverse), so the graphs run anywhere
ONNX does; entropy coding stays outside them.

    walloc.export.onnx(walloc.load("rgb-16x"), "encoder", "rgb16x-encoder.onnx")
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .codec.wavelet import WallocCodec
from .quant import NORMAL_CLIP
from .wavelets.standard_ops import StandardPacketTransform

PARTS = ("encoder", "decoder")
OPSET = 18

# Acklam's rational approximation of the inverse normal CDF (relative error 1.2e-9, far below float32's).
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
      -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
      -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
      4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
_TAIL = 0.02425


def _polynomial(coefficients: tuple[float, ...], x: Tensor) -> Tensor:
    result = torch.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        result = result * x + c
    return result


def normal_icdf(p: Tensor) -> Tensor:
    """Phi^-1(p) for p in (0, 1), in standard operations."""
    q = p - 0.5
    r = q * q
    central = _polynomial(_A, r) * q / (_polynomial(_B, r) * r + 1)
    t = torch.sqrt(-2 * torch.log(torch.minimum(p, 1 - p)))
    tail = _polynomial(_C, t) / (_polynomial(_D, t) * t + 1)
    return torch.where(p < _TAIL, tail, torch.where(p > 1 - _TAIL, -tail, central))


class _Compander(nn.Module):
    def __init__(self, compander: nn.Module) -> None:
        super().__init__()
        self.scale, self.latent_max = compander.scale, compander.latent_max


class StandardToUniform(_Compander):
    """:class:`walloc.ToUniform` in standard operations: 2 m (Phi(x / s) - 1/2) = m erf(x / (s sqrt 2))."""

    def forward(self, x: Tensor) -> Tensor:
        return self.latent_max * torch.erf(x * (1 / (self.scale * math.sqrt(2))))


class StandardToNormal(_Compander):
    """:class:`walloc.ToNormal` in standard operations (evaluated in float64, as the kernel does)."""

    def forward(self, x: Tensor) -> Tensor:
        p = (x.double() / (2 * self.latent_max) + 0.5).clamp(*NORMAL_CLIP)
        return (self.scale * normal_icdf(p)).to(x.dtype)


class Encoder(nn.Module):
    """Media -> continuous latents of a WaLLoC model, in standard operations."""

    def __init__(self, codec: WallocCodec) -> None:
        super().__init__()
        model = codec.model
        self.media_to_signal = model.to_signal
        self.transform = StandardPacketTransform(model.transform)
        self.projection, self.compander = model.encoder[0], StandardToUniform(model.encoder[1])

    def forward(self, media: Tensor) -> Tensor:
        return self.compander(self.projection(self.transform(self.media_to_signal(media))))


class Decoder(nn.Module):
    """Latents -> media of a WaLLoC model, in standard operations."""

    def __init__(self, codec: WallocCodec) -> None:
        super().__init__()
        model = codec.model
        self.signal_to_media = model.to_media
        self.compander, self.network = StandardToNormal(model.decoder[0]), model.decoder[1]
        self.skip, self.post = model.skip, getattr(model, "post", None)
        self.transform = StandardPacketTransform(model.transform)

    def forward(self, latents: Tensor) -> Tensor:
        normal = self.compander(latents)
        packets = self.network(normal)
        if self.skip is not None:
            packets = packets + self.skip(normal)
        signal = self.transform.inverse(packets)
        if self.post is not None:  # the plain convolution, which runtimes implement well
            signal = F.conv1d(signal, self.post.weight, self.post.bias, padding=self.post.padding)
        return self.signal_to_media(signal.clamp(-0.5, 0.5))


def module(codec: WallocCodec, part: str) -> nn.Module:
    """The :class:`Encoder` or :class:`Decoder` of ``codec`` (eval mode, on its device, sharing its weights)."""
    if not isinstance(codec, WallocCodec):
        raise ValueError(f"export covers the WaLLoC image and audio codecs, not {type(codec).__name__}")
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    return (Encoder if part == "encoder" else Decoder)(codec).eval()


def example_input(codec: WallocCodec, part: str, size: int | None = None) -> Tensor:
    """An input of ``part`` for tracing: 2 items, ``size`` pixels a side or samples (by default 4 blocks)."""
    model, block = codec.model, codec.block
    size = size or 4 * block
    if size % block:
        raise ValueError(f"size must be a multiple of the codec's block ({block}); got {size}")
    shape = (2, model.channels, size, size) if codec.kind == "image" else (2, model.channels, size)
    media = torch.rand(shape, device=codec.device)
    media = media if codec.kind == "image" else 2 * media - 1
    if part == "encoder":
        return media
    with torch.no_grad():
        return torch.round(module(codec, "encoder")(media))


def _dynamic_shapes(codec: WallocCodec, part: str) -> dict:
    batch = torch.export.Dim("batch", min=1, max=4096)
    if codec.kind == "image":
        h, w = torch.export.Dim("h", min=2, max=4096), torch.export.Dim("w", min=2, max=4096)
        axes = {2: h * codec.block, 3: w * codec.block} if part == "encoder" else {2: h, 3: w}
    else:
        t = torch.export.Dim("t", min=2, max=2**20)
        axes = {2: t * codec.block} if part == "encoder" else {2: t + 2}
    name = "media" if part == "encoder" else "latents"
    return {name: {0: batch, **axes}}


def program(codec: WallocCodec, part: str) -> torch.export.ExportedProgram:
    """``part`` of ``codec`` as a ``torch.export`` program, with dynamic batch and size."""
    with torch.no_grad():
        return torch.export.export(module(codec, part), (example_input(codec, part),),
                                   dynamic_shapes=_dynamic_shapes(codec, part))


def onnx(codec: WallocCodec, part: str, path: str | Path, opset: int = OPSET,
         exported: torch.export.ExportedProgram | None = None) -> Path:
    """Writes ``part`` of ``codec`` as an ONNX file (opset ``opset`` >= 17; input ``media`` or ``latents``,
    output ``latents`` or ``media``, dynamic batch and size) and returns its path; ``exported``: that part's
    :func:`program`, if you have it already. Needs ``onnx`` and ``onnxscript`` (``pip install onnx
    onnxscript``)."""
    if opset < 17:
        raise ValueError(f"opset must be at least 17; got {opset}")
    path = Path(path)
    inputs, outputs = (["media"], ["latents"]) if part == "encoder" else (["latents"], ["media"])
    exported = program(codec, part) if exported is None else exported
    onnx_program = torch.onnx.export(exported, (), dynamo=True, opset_version=opset, input_names=inputs,
                                     output_names=outputs, external_data=False, verbose=False)
    onnx_program.save(str(path))
    return path


__all__ = ["OPSET", "PARTS", "Decoder", "Encoder", "example_input", "module", "normal_icdf", "onnx", "program"]
