"""PyTorch custom operators over walloc's compiled kernels (autograd, fake tensors, torch.compile)."""

from .wavelets import wpt1d, wpt2d

__all__ = ["wpt1d", "wpt2d"]
