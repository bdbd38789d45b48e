"""Wavelet packet transforms as ``nn.Module``s: full packet trees in periodization mode, CPU and CUDA.

Channel order: input channel outermost, then the packet path with the first level outermost, each level in
PyWavelets' natural order (2-D: a, h, v, d; 1-D: a, d). So ``y[:, c * 4**L + k]`` is node ``k`` of
``pywt.WaveletPacket2D(x[c], wavelet, mode, maxlevel=L).get_level(L, "natural")``.
"""

from __future__ import annotations

import pywt
from torch import Tensor, nn

from .. import ops
from .filter_banks import check_mode, wavelet_banks

_TREES = {1: ops.eager(ops.wpt1d), 2: ops.eager(ops.wpt2d)}  # by dimensions
_TREE_OF_PIXELS = ops.eager(ops.wpt2d_pixels)


class _PacketTransform(nn.Module):
    ndim: int

    def __init__(self, wavelet: "str | pywt.Wavelet", levels: int, mode: str) -> None:
        super().__init__()
        check_mode(mode)
        if not isinstance(levels, int) or levels < 1:
            raise ValueError(f"levels must be a positive integer, got {levels!r}")
        self.banks = wavelet_banks(wavelet)
        self.wavelet = self.banks.name
        self.levels = levels
        self.mode = mode
        self._lifting = self.banks.lifting.flat() if self.banks.lifting else []

    @property
    def packets(self) -> int:
        """Packets per input channel: 2**levels (1-D) or 4**levels (2-D)."""
        return 2 ** (self.ndim * self.levels)

    def forward(self, x: Tensor) -> Tensor:
        """Analysis: every input channel becomes ``packets`` channels, each dimension shrinks by 2**levels."""
        return self._tree(x, False)

    def inverse(self, y: Tensor) -> Tensor:
        """Synthesis: the inverse of :meth:`forward` (perfect reconstruction up to the filters' precision)."""
        return self._tree(y, True)

    def _tree(self, x: Tensor, merge: bool, *options: float) -> Tensor:
        """The operator over the whole tree with the analysis (split) or synthesis (``merge``) bank."""
        bank = self.banks.synthesis if merge else self.banks.analysis
        return _TREES[self.ndim](x, merge, list(bank.meta), list(bank.coef), self._lifting, self.levels, *options)

    def extra_repr(self) -> str:
        return f"wavelet={self.wavelet!r}, levels={self.levels}, mode={self.mode!r}"


class WPT1d(_PacketTransform):
    """1-D full wavelet packet tree: (N, C, T) -> (N, C * 2**levels, T / 2**levels)."""

    ndim = 1

    def __init__(self, wavelet: "str | pywt.Wavelet" = "bior4.4", levels: int = 2, mode: str = "periodization"):
        super().__init__(wavelet, levels, mode)


class WPT2d(_PacketTransform):
    """2-D full wavelet packet tree: (N, C, H, W) -> (N, C * 4**levels, H / 2**levels, W / 2**levels)."""

    ndim = 2

    def __init__(self, wavelet: "str | pywt.Wavelet" = "bior4.4", levels: int = 3, mode: str = "periodization"):
        super().__init__(wavelet, levels, mode)

    def forward(self, x: Tensor, shift: float = 0.0) -> Tensor:
        """Analysis of ``x - shift``: the CPU kernels subtract as they read x (the same values as
        ``forward(x - shift)`` without that pass over x; images in [0, 1] centred on the way in)."""
        return self._tree(x, False, shift)

    def from_pixels(self, pixels: Tensor, divisor: float, shift: float) -> Tensor:
        """Analysis of ``pixels / divisor - shift`` from uint8 or float32 pixels in any layout: the same values
        as ``forward(ops.planes_from_pixels(pixels, divisor, shift))`` without a full-size tensor between the
        two on the CPU (:func:`walloc.ops.wpt2d_pixels`)."""
        bank = self.banks.analysis
        return _TREE_OF_PIXELS(pixels, list(bank.meta), list(bank.coef), self._lifting, self.levels, divisor, shift)
