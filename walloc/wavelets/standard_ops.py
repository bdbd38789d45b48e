"""The packet transforms of :mod:`walloc.wavelets.packets` in standard PyTorch operations (a gather for the
periodic extension, a two-channel convolution per level and axis), for graphs that leave walloc's kernels
behind: ``torch.export`` programs and ONNX files. Same banks, same channel order; float32 rounding apart, the
same results as the kernels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .filter_banks import PolyphaseBank
from .packets import _PacketTransform


def bank_convolution(bank: PolyphaseBank) -> tuple[Tensor, int, int]:
    """A polyphase bank as a conv1d: (weight (2, 2, K), left and right periodic padding). The bank's tap
    ``out[o] += coef * src[(o + shift) mod M]`` is weight[out, src, shift + left]."""
    taps = [(bank.meta[3 * i: 3 * i + 3], c) for i, c in enumerate(bank.coef)]
    shifts = [shift for (_, _, shift), _ in taps]
    left, right = -min(0, min(shifts)), max(0, max(shifts))
    weight = torch.zeros(2, 2, left + right + 1, dtype=torch.float64)
    for (out, src, shift), coef in taps:
        weight[out, src, shift + left] += coef
    return weight.float(), left, right


class _Bank(nn.Module):
    """One polyphase bank along the last axis: ``split`` (signal -> low, high halves) or ``merge`` (the two
    halves -> the signal)."""

    def __init__(self, bank: PolyphaseBank) -> None:
        super().__init__()
        weight, self.left, self.right = bank_convolution(bank)
        self.register_buffer("weight", weight, persistent=False)

    def _filter(self, pair: Tensor) -> Tensor:
        """(B, 2, M) -> (B, 2, M), periodic in M."""
        m = pair.shape[-1]
        index = torch.arange(-self.left, m + self.right, device=pair.device)
        # Wrapped one period at a time rather than with a remainder, which ONNX exporters do not take for a
        # symbolic size; each index is at most left (right) periods out, as m >= 1.
        for _ in range(self.left):
            index = torch.where(index < 0, index + m, index)
        for _ in range(self.right):
            index = torch.where(index >= m, index - m, index)
        return torch.nn.functional.conv1d(pair.index_select(-1, index), self.weight)

    def split(self, x: Tensor) -> Tensor:
        """(..., L) -> (..., 2, L / 2): the low and high band of each signal."""
        lead = x.shape[:-1]
        pair = x.reshape(-1, x.shape[-1] // 2, 2).transpose(1, 2)
        return self._filter(pair).reshape(*lead, 2, -1)

    def merge(self, bands: Tensor) -> Tensor:
        """(..., 2, M) -> (..., 2 M): even and odd samples from the two bands, interleaved."""
        lead = bands.shape[:-2]
        samples = self._filter(bands.reshape(-1, 2, bands.shape[-1]))
        return samples.transpose(1, 2).reshape(*lead, -1)


class StandardPacketTransform(nn.Module):
    """A :class:`~walloc.wavelets.WPT1d` / :class:`~walloc.wavelets.WPT2d` in standard operations:
    ``forward`` analysis, ``inverse`` synthesis, the same shapes and channel order."""

    def __init__(self, transform: _PacketTransform) -> None:
        super().__init__()
        self.ndim, self.levels = transform.ndim, transform.levels
        self.analysis = _Bank(transform.banks.analysis)
        self.synthesis = _Bank(transform.banks.synthesis)

    def forward(self, x: Tensor) -> Tensor:
        for _ in range(self.levels):
            x = self._split_level(x)
        return x

    def inverse(self, y: Tensor) -> Tensor:
        for _ in range(self.levels):
            y = self._merge_level(y)
        return y

    def _split_level(self, x: Tensor) -> Tensor:
        n, c = x.shape[:2]
        if self.ndim == 1:
            return self.analysis.split(x).reshape(n, 2 * c, -1)
        bands = self.analysis.split(x)  # along W: (N, C, H, 2, W/2)
        bands = self.analysis.split(bands.transpose(-1, -3))  # along H: (N, C, W/2, 2w, 2h, H/2)
        # PyWavelets' order a, h, v, d: the width band outer, the height band inner.
        return bands.permute(0, 1, 3, 4, 5, 2).reshape(n, 4 * c, x.shape[-2] // 2, x.shape[-1] // 2)

    def _merge_level(self, y: Tensor) -> Tensor:
        n, packets = y.shape[:2]
        if self.ndim == 1:
            return self.synthesis.merge(y.reshape(n, packets // 2, 2, -1))
        h, w = y.shape[-2:]
        bands = y.reshape(n, packets // 4, 2, 2, h, w).permute(0, 1, 5, 2, 3, 4)  # (N, C, W, 2w, 2h, H)
        columns = self.synthesis.merge(bands)  # along H: (N, C, W, 2w, 2H)
        return self.synthesis.merge(columns.transpose(-1, -3))  # along W: (N, C, 2H, 2W)
