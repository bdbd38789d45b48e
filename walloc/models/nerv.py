"""Implicit neural video representations: a network maps a frame index to the frame.

- :class:`NeRV` (Chen et al., NeurIPS 2021): positional encoding of t in (0, 1] -> MLP stem -> a small map ->
  NeRV blocks (3x3 conv, PixelShuffle, GELU) -> (tanh + 1) / 2.
- :class:`NeRVPlusPlus` (Ghorbel et al., ICIP 2024): a gated-MLP stem, and blocks that keep a 1x1 projection of
  their input as a residual, refine it with a gated depthwise-5x5 block, upsample it with the NeRV block, refine
  again with a depthwise-3x3 residual block and add the bilinearly upsampled projection.

Both work at any frame size whose sides share a factor of at least 8 made of 2, 3 and 5 (:func:`upsampling_plan`:
720p gives the papers' 9x16 map and strides 5, 2, 2, 2, 2; 1080p 5, 3, 2, 2, 2; 320x180 5, 2, 2).
:func:`nerv_arguments` sizes both architectures to the same parameter count (``SIZES``, scaled with the frame
area so a size keeps its bits per pixel).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SIZES = {"XS": 1.9e6, "S": 3.3e6, "M": 6.35e6, "L": 12.5e6}  # target parameter counts (the papers' sizes)
ARCHITECTURES = ("nerv", "nervpp")


def upsampling_plan(height: int, width: int, max_blocks: int = 5,
                    min_map: int = 4) -> tuple[tuple[int, int], list[int]]:
    """((map height, map width), strides): the largest total upsampling made of 2s, 3s and 5s that divides both
    sides, in at most ``max_blocks`` blocks, leaving a map of at least ``min_map`` pixels a side."""
    g = math.gcd(height, width)
    best: tuple[int, list[int]] = (1, [])
    for a in range(max_blocks + 1):          # 5**a * 3**b * 2**c, fewest blocks first for a given total
        for b in range(max_blocks + 1 - a):
            for c in range(max_blocks + 1 - a - b):
                total = 5**a * 3**b * 2**c
                if g % total == 0 and min(height, width) // total >= min_map and total > best[0]:
                    best = (total, [5] * a + [3] * b + [2] * c)
    total, strides = best
    if total < 8:
        raise ValueError(f"frames of {width}x{height} cannot be upsampled to from a map: their sides need a common "
                         f"factor of at least 8 made of 2, 3 and 5 (crop or resize, e.g. to 320x180 or 1280x720)")
    return (height // total, width // total), strides


def positional_encoding(t: Tensor, base: float = 1.25, levels: int = 80) -> Tensor:
    """(N,) frame positions in (0, 1] -> (N, 2 * levels): sin and cos of base**i * pi * t (NeRV's encoding), in
    t's float dtype. The angles reach 1e8 rad, so they are formed and reduced modulo 2 pi in float64: in float32
    their rounding alone is several radians, and the features would depend on the sine implementation."""
    frequencies = math.pi * base ** torch.arange(levels, device=t.device, dtype=torch.float64)
    angles = torch.remainder(t[:, None].double() * frequencies, 2 * math.pi)
    features = torch.cat([torch.sin(angles), torch.cos(angles)], 1)
    return features.to(t.dtype if t.is_floating_point() else torch.float32)


class NervUpsample(nn.Module):
    """3x3 conv to ``out * stride**2`` channels, PixelShuffle, GELU: NeRV's block."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels * stride**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(stride)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.shuffle(self.conv(x)))


class GatedConvBlock(nn.Module):
    """x + W_out(dw5x5(W_value x) * GELU(W_gate x)): NeRV++'s gated CNN block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.value_gate = nn.Conv2d(channels, 2 * channels, 1)
        self.depthwise = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.value_gate(x).chunk(2, 1)
        return x + self.out(self.depthwise(value) * F.gelu(gate))


class DepthwiseResidualBlock(nn.Module):
    """x + W2(GELU(W1(dw3x3 x))) with a 2x wider middle: NeRV++'s refinement after upsampling."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.expand = nn.Conv2d(channels, 2 * channels, 1)
        self.project = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.project(F.gelu(self.expand(self.depthwise(x))))


class NervPlusPlusBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.project = nn.Conv2d(in_channels, out_channels, 1)
        self.gated = GatedConvBlock(out_channels)
        self.upsample = NervUpsample(out_channels, out_channels, stride)
        self.refine = DepthwiseResidualBlock(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.project(x)
        y = self.refine(self.upsample(self.gated(skip)))
        return y + F.interpolate(skip, scale_factor=self.stride, mode="bilinear", align_corners=False)


class _ImplicitVideo(nn.Module):
    """Shared by both architectures: positional encoding, stem to a map, blocks, RGB head."""

    def __init__(self, height: int, width: int, stem_channels: int, min_width: int = 32, hidden: int = 512,
                 pe_base: float = 1.25, pe_levels: int = 80) -> None:
        super().__init__()
        self.height, self.width = height, width
        self.pe_base, self.pe_levels = pe_base, pe_levels
        (self.map_h, self.map_w), self.strides = upsampling_plan(height, width)
        self.stem_channels = stem_channels
        self.widths = [stem_channels] + [max(stem_channels >> (i + 1), min_width) for i in range(len(self.strides))]
        self.stem = self._stem(2 * pe_levels, hidden, stem_channels * self.map_h * self.map_w)
        self.blocks = nn.ModuleList(self._block(self.widths[i], self.widths[i + 1], s)
                                    for i, s in enumerate(self.strides))
        self.head = nn.Conv2d(self.widths[-1], 3, 1)

    def forward(self, t: Tensor) -> Tensor:
        """(N,) positions in (0, 1] -> (N, 3, height, width) frames in [0, 1]. Give positions in float64: the
        encoding's top frequencies make a float32 rounding of t a different input."""
        x = self.stem(positional_encoding(t, self.pe_base, self.pe_levels).to(self.head.weight.dtype))
        x = x.view(-1, self.stem_channels, self.map_h, self.map_w)
        for block in self.blocks:
            x = block(x)
        return (torch.tanh(self.head(x)) + 1) / 2


class NeRV(_ImplicitVideo):
    """NeRV: ``forward(t)`` maps positions (N,) in (0, 1] to frames (N, 3, height, width)."""

    @staticmethod
    def _stem(inputs: int, hidden: int, outputs: int) -> nn.Module:
        return nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(), nn.Linear(hidden, outputs), nn.GELU())

    @staticmethod
    def _block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return NervUpsample(in_channels, out_channels, stride)


class GatedStem(nn.Module):
    """Linear to value and gate, value * GELU(gate), Linear to the map: NeRV++'s gated MLP."""

    def __init__(self, inputs: int, hidden: int, outputs: int) -> None:
        super().__init__()
        self.value_gate = nn.Linear(inputs, 2 * hidden)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.value_gate(x).chunk(2, 1)
        return F.gelu(self.out(value * F.gelu(gate)))


class NeRVPlusPlus(_ImplicitVideo):
    """NeRV++: the same interface as :class:`NeRV`, with the gated stem and the residual NeRV++ blocks."""

    @staticmethod
    def _stem(inputs: int, hidden: int, outputs: int) -> nn.Module:
        return GatedStem(inputs, hidden, outputs)

    @staticmethod
    def _block(in_channels: int, out_channels: int, stride: int) -> nn.Module:
        return NervPlusPlusBlock(in_channels, out_channels, stride)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


REFERENCE_AREA = 1280 * 720  # where SIZES are defined (the papers' Bunny)


def nerv_arguments(arch: str, size: str, height: int, width: int) -> dict:
    """Constructor arguments of ``arch`` for ``height`` x ``width`` frames with a parameter count closest to
    ``SIZES[size]`` scaled by the frame area relative to 720p, so a size keeps its bits per pixel at any
    resolution (the papers' models at 720p; 1/16 of the parameters at 320x180). Below 720p the MLP's hidden
    width shrinks with the square root of the area and the minimum block width with its fourth root; the stem
    width is then searched (for NeRV++, to match NeRV's count)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {tuple(SIZES)}, got {size!r}")
    upsampling_plan(height, width)  # refuses unsupported sizes before the search
    fraction = min(1.0, height * width / REFERENCE_AREA)
    hidden = max(32, 16 * round(32 * math.sqrt(fraction)))
    min_width = max(8, round(32 * fraction**0.25))
    nerv = _closest_stem(NeRV, height, width, min_width, hidden, SIZES[size] * fraction)
    if arch == "nervpp":  # matched to NeRV's actual count, not the target: equal parameters for comparisons
        with torch.device("meta"):
            reference = parameter_count(NeRV(height, width, nerv, min_width, hidden))
        channels = _closest_stem(NeRVPlusPlus, height, width, min_width, hidden, reference)
    else:
        channels = nerv
    return {"height": height, "width": width, "stem_channels": channels, "min_width": min_width, "hidden": hidden}


def _closest_stem(cls: type, height: int, width: int, min_width: int, hidden: int, target: float) -> int:
    """The stem width whose model's parameter count is closest to ``target`` (the count grows with it)."""
    with torch.device("meta"):  # counting parameters allocates nothing
        def count(c: int) -> int:
            return parameter_count(cls(height, width, c, min_width, hidden))

        low, high = 1, 4096
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if count(middle) < target else (low, middle)
        return min((low, high), key=lambda c: abs(count(c) - target))


def build_nerv(arch: str, arguments: dict) -> NeRV | NeRVPlusPlus:
    return (NeRV if arch == "nerv" else NeRVPlusPlus)(**arguments)
