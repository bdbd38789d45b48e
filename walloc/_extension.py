"""Loads the compiled kernels and reports how they were built."""

from __future__ import annotations

import functools

from . import _C


def build_info() -> dict:
    """How the installed extension was built: ``{"version", "cuda", "openmp"}``.

    ``cuda`` says whether CUDA kernels were compiled in; :func:`cuda_available` says whether they can run now.
    """
    return {"version": _C.__version__, "cuda": bool(_C.cuda_compiled), "openmp": bool(_C.openmp)}


@functools.lru_cache(maxsize=None)
def cuda_available() -> bool:
    """Whether walloc's CUDA kernels can run here: compiled in, a device visible, and PyTorch built with CUDA."""
    import torch

    return bool(_C.cuda_compiled) and _C.cuda_device_count() > 0 and torch.cuda.is_available()
