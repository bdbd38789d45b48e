"""How walloc defines its operators: :func:`kernel_op`, ``torch.library.custom_op`` without the first-call cost.

``custom_op`` wraps each implementation in ``torch._disable_dynamo``, which imports ``torch._dynamo`` on the
first call: 1.4 s, the whole difference between the first compress in a fresh process and the next. The
wrapper keeps dynamo from tracing into a Python kernel; walloc's kernels only call compiled code, and compiled
graphs call operators through the dispatcher, so it guards nothing here. Operators are defined with
``torch.library.define`` and registered for CPU and CUDA directly; fake kernels and autograd are added with
``torch.library.register_fake`` / ``register_autograd`` as for any operator.
"""

from __future__ import annotations

from typing import Callable

import torch

NAMESPACE = "walloc"
_LIBRARY = torch.library.Library(NAMESPACE, "DEF")


def _infer_schema(fn: Callable) -> str:
    infer = getattr(torch.library, "infer_schema", None)
    if infer is None:  # torch < 2.5
        from torch._library.infer_schema import infer_schema as infer
    return infer(fn, mutates_args=())


def kernel_op(name: str) -> Callable[[Callable], torch._ops.OpOverload]:
    """Decorator: defines ``walloc::name`` from a function's type hints (it mutates nothing), with the function
    as its CPU and CUDA implementation; returns the operator (``torch.ops.walloc.name.default``)."""
    def define(fn: Callable) -> torch._ops.OpOverload:
        _LIBRARY.define(name + _infer_schema(fn))
        for key in ("CPU", "CUDA"):
            _LIBRARY.impl(name, fn, key)
        op = getattr(getattr(torch.ops, NAMESPACE), name).default
        op.__doc__ = fn.__doc__
        return op
    return define
