"""PyTorch custom operators over walloc's compiled kernels (autograd, fake tensors, torch.compile)."""

from .library import eager
from .linear import pointwise_linear
from .media import planes_from_pixels
from .quant import round_offset, to_normal, to_uniform, uniform_noise
from .wavelets import wpt1d, wpt2d, wpt2d_pixels

__all__ = ["eager", "planes_from_pixels", "pointwise_linear", "round_offset", "to_normal", "to_uniform",
           "uniform_noise", "wpt1d", "wpt2d", "wpt2d_pixels"]
