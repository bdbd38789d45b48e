"""Video codecs that fit a network to the video: NeRV and NeRV++ (``walloc.models.nerv``).

``NervCodec(arch, size).fit(frames)`` trains the network (walloc's training loop: progress bar, log, resume
from ``out``, torchrun); ``compress(bits, prune)`` prunes the smallest weights globally and fine-tunes with the
mask fixed, quantizes every tensor per output channel to ``bits`` and codes the integers with walloc's entropy
coder (measured histogram + rANS) in a walloc container; ``NervCodec.from_stream(data)`` rebuilds the codec from
those bytes and ``decode(indices)`` renders frames. The latents of such a codec are the network's weights:
``encode(frames)`` fits and returns them as one vector, ``decode(latents)`` renders frames from such a vector.

Decoding runs the network in float64 and rounds the frames to 8-bit levels: the float error of any thread count
or CPU (around 1e-13) is far below half a level, so the same bytes give the same frames everywhere (a float32
decode differs between thread counts).
"""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .. import bitstream
from ..entropy.adaptive import compress_symbols, decompress_symbols
from ..entropy.symbols import from_symbols, symbol_offset, to_symbols
from ..errors import BitstreamError
from ..metrics import bits_per_pixel, kbps
from ..models.nerv import ARCHITECTURES, SIZES, build_nerv, parameter_count
from . import registry
from .base import Codec

_MAX_PIXELS = 4096 * 2304
_MAX_PARAMETERS = 1 << 26


@registry.register()
class NervCodec(Codec):
    """A video as a NeRV (``arch="nerv"``) or NeRV++ (``"nervpp"``) network of about ``SIZES[size]``
    parameters, fitted with :meth:`fit` (or :meth:`encode`, :meth:`compress` given frames) or rebuilt from a
    stream by :meth:`from_stream`. Frames: (T, 3, H, W), uint8 or float in [0, 1]."""

    kind = "video"
    container_id = "walloc-nerv"

    def __init__(self, arch: str = "nervpp", size: str = "S", device=None) -> None:
        if arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
        if size not in SIZES:
            raise ValueError(f"size must be one of {tuple(SIZES)}, got {size!r}")
        super().__init__(f"{arch}-{size}", device)
        self.arch, self.size = arch, size
        self.model: nn.Module | None = None
        self.arguments: dict = {}
        self.num_frames, self.fps = 0, 25.0
        self.pruned = 0.0
        self._fit = None  # the training task, kept for fine-tuning after pruning

    def _describe(self) -> dict:
        fitted = {"frames": self.num_frames, "parameters": parameter_count(self.model)} if self.model else {}
        return {"arch": self.arch, "size": self.size, **fitted}

    def to(self, device) -> "NervCodec":
        super().to(device)
        if self.model is not None:
            self.model.to(self.device)
        return self

    def fit(self, frames: Tensor, epochs: int = 300, time_budget: float | None = None, batch_size: int = 1,
            lr: float = 5e-4, fps: float = 25.0, out: str | Path | None = None, seed: int = 0,
            device: str | None = None) -> NervCodec:
        """Fits the network to ``frames`` (T, 3, H, W), uint8 or float in [0, 1], for ``epochs`` passes (or until
        ``time_budget`` seconds): Adam (0.5, 0.999), cosine schedule with 20% warm-up (NeRV's), on ``device``
        (default: CUDA when present). With ``out``, the run's log, plot and checkpoint go there and an
        interrupted fit resumes. The fitted network then moves to the codec's device."""
        from ..training import TrainConfig
        from ..training.loop import run
        from ..training.video_task import VideoFitTask

        steps = epochs * math.ceil(len(frames) / batch_size)
        scratch = None if out is not None else tempfile.TemporaryDirectory()
        config = TrainConfig(name=f"{self.arch}-{self.size}", kind="video", data=[],
                             out=str(out if out is not None else scratch.name),
                             model={"arch": self.arch, "size": self.size},
                             batch_size=batch_size, steps=steps, time_budget_s=time_budget, lr=lr,
                             warmup_steps=max(1, steps // 5), seed=seed, log_every=max(1, len(frames) // batch_size),
                             validate_every=max(1, steps // 10), checkpoint_every=max(1, steps // 10),
                             device=device)
        torch.manual_seed(seed)
        task = VideoFitTask(config, frames, fps)
        try:
            run(task, config)
        finally:
            task.to_device(torch.device("cpu"))
            if scratch is not None:
                scratch.cleanup()
        self.model, self.arguments = task.model.eval().to(self.device), task.arguments
        self.num_frames, self.fps, self.pruned, self._fit = len(frames), float(fps), 0.0, task
        return self

    def encode(self, frames: Tensor, **fit_options) -> Tensor:
        """Fits the network to ``frames`` (options of :meth:`fit`) and returns its weights, the latents of an
        implicit codec: one float32 vector, the state dict's tensors in name order."""
        self.fit(frames, **fit_options)
        return torch.cat([v.detach().float().cpu().flatten() for _, v in sorted(self.model.state_dict().items())])

    def _require_model(self) -> nn.Module:
        if self.model is None:
            raise RuntimeError("fit() the codec or load one with walloc.video.decompress() first")
        return self.model

    @torch.no_grad()
    def decode(self, latents: Tensor | list[int] | None = None, indices: Tensor | list[int] | None = None,
               batch_size: int = 8) -> Tensor:
        """Frames (N, 3, H, W) at frame ``indices`` (default: all): float32 in [0, 1] on 8-bit levels (k / 255),
        computed in float64 so they are identical on every machine. ``latents``, a weight vector from
        :meth:`encode`, replaces the network's weights for this call; integer ``latents`` are taken as
        ``indices`` (``decode([0, 5])``)."""
        if latents is not None and not (isinstance(latents, Tensor) and latents.is_floating_point()):
            latents, indices = None, latents
        model = self._require_model().eval()
        indices = torch.arange(self.num_frames) if indices is None else torch.as_tensor(indices).long()
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.num_frames):
            raise ValueError(f"frame indices must lie in [0, {self.num_frames})")
        if not indices.numel():
            return torch.zeros(0, 3, self.arguments["height"], self.arguments["width"])
        decoder = copy.deepcopy(model).double()
        if latents is not None:
            decoder.load_state_dict(_unflatten(latents, decoder))
        device = next(decoder.parameters()).device
        positions = (indices.double() + 1) / self.num_frames
        frames = torch.cat([decoder(p.to(device)).cpu() for p in positions.split(batch_size)])
        return (torch.round(frames * 255) / 255).float()

    def prune(self, fraction: float, finetune_epochs: int | None = None) -> None:
        """Zeroes the ``fraction`` of smallest-magnitude weights (all conv and linear weights together) and
        fine-tunes the rest with the zeros kept (default: a tenth of the fit's epochs, at least one)."""
        import torch.nn.utils.prune as prune

        model = self._require_model()
        if not 0 <= fraction < 1:
            raise ValueError(f"prune must be in [0, 1), got {fraction}")
        if fraction <= self.pruned:
            return
        if self._fit is None:
            raise RuntimeError("pruning fine-tunes on the fitted frames: prune a codec right after fit()")
        targets = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=fraction)
        task, config = self._fit, self._fit.config
        epochs = finetune_epochs if finetune_epochs is not None else max(1, config.steps * config.batch_size //
                                                                          (10 * self.num_frames))
        from ..training.loop import run

        with tempfile.TemporaryDirectory() as scratch:
            steps = epochs * math.ceil(self.num_frames / config.batch_size)
            tune = type(config)(**{**config.to_dict(), "name": f"{config.name}-pruned", "out": scratch,
                                   "steps": steps, "time_budget_s": None, "lr": config.lr * 0.1,
                                   "warmup_steps": 1, "validate_every": steps, "checkpoint_every": steps})
            try:
                run(task, tune, resume=False)
            finally:
                task.to_device(torch.device("cpu"))
        for module, name in targets:
            prune.remove(module, name)
        model.eval()
        self.pruned = fraction

    def compress(self, frames: Tensor | None = None, bits: int = 8, prune: float = 0.4,
                 finetune_epochs: int | None = None, **fit_options) -> bytes:
        """The video as bytes: the network (fitted to ``frames`` first when they are given, with the options of
        :meth:`fit`) pruned (``prune`` > 0, once), quantized per output channel to ``bits`` and entropy-coded.
        Decoding the bytes gives exactly the frames of ``NervCodec.from_stream(data).decode()``."""
        if not 2 <= bits <= 8:
            raise ValueError(f"bits must be in [2, 8], got {bits}")
        if frames is not None:
            self.fit(frames, **fit_options)
        if prune > self.pruned:
            self.prune(prune, finetune_epochs)
        symbols, scales = quantize_weights(self._require_model(), bits)
        meta = {"arch": self.arch, "size": self.size, "arguments": self.arguments, "frames": self.num_frames,
                "fps": self.fps, "bits": bits, "prune": self.pruned}
        coded = compress_symbols(symbols.view(1, 1, -1), bits, predictor="none")
        return bitstream.pack(self.container_id, meta, [coded, scales.numpy().tobytes()])

    def decompress(self, data: bytes) -> Tensor:
        """All frames of a stream written by :meth:`compress` (any NeRV stream: the network is in it)."""
        return self.from_stream(data, self.device).decode()

    def quantized_latents(self, data: bytes) -> Tensor:
        """The integer weights of a stream (int32, in [-2**(bits-1), 2**(bits-1))), in the order of
        :func:`quantize_weights`."""
        stream = _read_stream(data)
        return from_symbols(stream.symbols, stream.bits)

    @classmethod
    def from_stream(cls, data: bytes, device=None) -> "NervCodec":
        """The codec rebuilt from :meth:`compress` bytes; :class:`walloc.BitstreamError` on bad input."""
        stream = _read_stream(data)
        meta = stream.meta
        codec = cls(stream.arch, meta.get("size") if meta.get("size") in SIZES else "S", device)
        model = build_nerv(stream.arch, stream.arguments).eval()
        model.load_state_dict(dequantize_weights(stream.symbols, stream.scales, stream.layout, stream.bits))
        codec.model = model.to(codec.device)
        codec.arguments, codec.num_frames = stream.arguments, stream.frames
        codec.fps = float(meta.get("fps", 25.0)) if isinstance(meta.get("fps"), (int, float)) else 25.0
        codec.pruned = float(meta.get("prune", 0.0)) if isinstance(meta.get("prune"), (int, float)) else 0.0
        return codec

    @classmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        arguments, frames, fps = (container.meta.get(k) for k in ("arguments", "frames", "fps"))
        if not isinstance(arguments, dict) or not isinstance(frames, int) or frames < 1:
            return {}
        height, width = arguments.get("height"), arguments.get("width")
        if not isinstance(height, int) or not isinstance(width, int):
            return {}
        rates = {"frames": frames, "bpp": bits_per_pixel(nbytes, frames * height * width),
                 "bits_per_frame": 8 * nbytes / frames}
        if isinstance(fps, (int, float)) and fps > 0:
            rates["kbps"] = kbps(nbytes, frames / fps)
        return rates


def quantize_weights(model: nn.Module, bits: int) -> tuple[Tensor, Tensor]:
    """(int32 symbols in [1, 2**bits), float32 scales): every tensor of the state dict in name order,
    symmetric per output channel (per tensor for 1-D ones), scale = max |w| / (2**(bits-1) - 1)."""
    top = symbol_offset(bits) - 1
    symbols, scales = [], []
    for _, value in sorted(model.state_dict().items()):  # by name: pruning re-registers weights out of order
        w = value.detach().float().cpu()
        rows = w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)
        scale = rows.abs().amax(1) / top
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = torch.round(rows / scale[:, None]).clamp(-top, top)
        symbols.append(to_symbols(q, bits).flatten())
        scales.append(scale)
    return torch.cat(symbols), torch.cat(scales).float()


def dequantize_weights(symbols: Tensor, scales: Tensor, tensors: list, bits: int) -> dict[str, Tensor]:
    """The state dict of ``tensors`` ([name, shape] in name order) from :func:`quantize_weights` output."""
    state, at, scale_at = {}, 0, 0
    for name, shape in tensors:
        count = math.prod(shape)
        rows = shape[0] if len(shape) > 1 else 1
        q = from_symbols(symbols[at:at + count], bits).float().view(rows, -1)
        state[name] = (q * scales[scale_at:scale_at + rows, None]).view(shape)
        at, scale_at = at + count, scale_at + rows
    return state


def _corrupt(why: str) -> BitstreamError:
    return BitstreamError(f"corrupt {NervCodec.container_id} stream: {why}")


def _check_meta(meta: dict) -> tuple[str, dict, int, int]:
    """(arch, arguments, frames, bits) from a stream's metadata, or BitstreamError."""
    arch, arguments, frames, bits = meta.get("arch"), meta.get("arguments"), meta.get("frames"), meta.get("bits")
    if arch not in ARCHITECTURES or not isinstance(arguments, dict):
        raise _corrupt("unknown architecture")
    keys = {"height", "width", "stem_channels", "min_width", "hidden"}
    if set(arguments) != keys or not all(isinstance(arguments[k], int) and arguments[k] > 0 for k in keys):
        raise _corrupt("bad network arguments")
    if arguments["height"] * arguments["width"] > _MAX_PIXELS or max(arguments["stem_channels"],
                                                                    arguments["min_width"], arguments["hidden"]) > 4096:
        raise _corrupt("network arguments out of range")
    if not isinstance(frames, int) or not 0 < frames <= 1 << 20 or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise _corrupt("bad frame count or bit depth")
    return arch, arguments, frames, bits


class _Stream(NamedTuple):
    """A checked NeRV stream: its header, network layout ([name, shape] in name order) and quantized weights."""

    meta: dict
    arch: str
    arguments: dict
    frames: int
    bits: int
    layout: list
    symbols: Tensor
    scales: Tensor


def _read_stream(data: bytes) -> _Stream:
    container = NervCodec.unpack(data)
    meta = container.meta
    arch, arguments, frames, bits = _check_meta(meta)
    if len(container.streams) != 2:
        raise _corrupt("expected two streams")
    try:
        with torch.device("meta"):  # the layout first: nothing is allocated for a lying header
            layout = build_nerv(arch, arguments)
    except ValueError as why:
        raise _corrupt(str(why)) from None
    expected = [[k, list(v.shape)] for k, v in sorted(layout.state_dict().items())]
    if parameter_count(layout) > _MAX_PARAMETERS:
        raise _corrupt("the network is too large")
    rows = sum(shape[0] if len(shape) > 1 else 1 for _, shape in expected)
    if len(container.streams[1]) != 4 * rows:
        raise _corrupt("wrong number of scales")
    symbols = decompress_symbols(container.streams[0]).flatten()
    if symbols.numel() != sum(math.prod(shape) for _, shape in expected):
        raise _corrupt("wrong number of weights")
    scales = torch.frombuffer(bytearray(container.streams[1]), dtype=torch.float32)
    if not torch.isfinite(scales).all():
        raise _corrupt("non-finite scales")
    return _Stream(meta, arch, arguments, frames, bits, expected, symbols, scales)


def _unflatten(vector: Tensor, model: nn.Module) -> dict[str, Tensor]:
    """``model``'s state dict with its values taken from ``vector`` (the layout of :meth:`NervCodec.encode`)."""
    state = sorted(model.state_dict().items())
    if vector.dim() != 1 or vector.numel() != sum(v.numel() for _, v in state):
        raise ValueError(f"expected a weight vector of {sum(v.numel() for _, v in state)} values for this network, "
                         f"got shape {tuple(vector.shape)}")
    return {k: chunk.view_as(v) for (k, v), chunk in zip(state, vector.split([v.numel() for _, v in state]))}
