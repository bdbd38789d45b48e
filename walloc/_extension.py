"""Loads the compiled kernels and reports how they were built."""

from __future__ import annotations

import functools

from . import _C


def build_info() -> dict:
    """How the installed extension was built: ``{"version", "cuda", "openmp", "cpu_isa"}``.

    ``cuda`` says whether CUDA kernels were compiled in; :func:`cuda_available` says whether they can run now.
    ``cpu_isa`` is the instruction set the CPU kernels use on this machine.
    """
    return {
        "version": _C.__version__,
        "cuda": bool(_C.cuda_compiled),
        "openmp": bool(_C.openmp),
        "cpu_isa": _C.cpu_isa(),
    }


@functools.lru_cache(maxsize=None)
def cuda_available() -> bool:
    """Whether walloc's CUDA kernels can run here: compiled in, a device visible, and PyTorch built with CUDA."""
    import torch

    return bool(_C.cuda_compiled) and _C.cuda_device_count() > 0 and torch.cuda.is_available()
