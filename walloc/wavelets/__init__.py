"""Wavelet packet transforms: PyWavelets filters as polyphase banks and lifting schemes
(:mod:`walloc.wavelets.filter_banks`) and the ``WPT1d``/``WPT2d`` modules over walloc's kernels
(:mod:`walloc.wavelets.packets`); the kernels themselves are the ``walloc::wpt1d``/``wpt2d`` operators of
:mod:`walloc.ops.wavelets` (``csrc/wavelets/``)."""

from .packets import WPT1d, WPT2d

__all__ = ["WPT1d", "WPT2d"]
