"""How the compiled kernels were built, and whether their CUDA half can run here."""

from __future__ import annotations

import functools

from .ops import kernels


def build_info() -> dict:
    """How the installed extension was built: ``{"version", "cuda", "openmp", "cpu_isa", "l2_bytes"}``.

    ``cuda`` says whether CUDA kernels were compiled in; :func:`cuda_available` says whether they can run now.
    ``cpu_isa`` is the instruction set the CPU kernels use on this machine (``WALLOC_ISA`` lowers it),
    ``l2_bytes`` the L2 size they block for (``WALLOC_L2_BYTES`` overrides it).
    """
    return {
        "version": kernels.VERSION,
        "cuda": kernels.CUDA_COMPILED,
        "openmp": kernels.OPENMP,
        "cpu_isa": kernels.cpu_isa(),
        "l2_bytes": kernels.l2_cache_bytes(),
    }


@functools.lru_cache(maxsize=None)
def cuda_available() -> bool:
    """Whether walloc's CUDA kernels can run here: compiled in, a device visible, and PyTorch built with CUDA."""
    import torch

    return kernels.CUDA_COMPILED and kernels.cuda_device_count() > 0 and torch.cuda.is_available()
