"""How walloc defines its operators: :func:`kernel_op`, ``torch.library.custom_op`` without the first-call cost.

``custom_op`` wraps each implementation in ``torch._disable_dynamo``, which imports ``torch._dynamo`` on the
first call: 1.4 s, the whole difference between the first compress in a fresh process and the next. The
wrapper keeps dynamo from tracing into a Python kernel; walloc's kernels only call compiled code, and compiled
graphs call operators through the dispatcher, so it guards nothing here. Operators are defined with
``torch.library.define`` and registered for CPU and CUDA directly; fake kernels and autograd are added with
``torch.library.register_fake`` / ``register_autograd`` as for any operator.

:func:`eager` gives walloc's own hot paths (the codecs' encoders and decoders) a way around the dispatcher when
nothing it offers can be needed.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

NAMESPACE = "walloc"
_LIBRARY = torch.library.Library(NAMESPACE, "DEF")
_IMPLEMENTATIONS: dict[torch._ops.OpOverload, Callable] = {}
_PLAIN_TYPES = (Tensor, nn.Parameter)
_KERNEL_DEVICES = ("cpu", "cuda")


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
        _IMPLEMENTATIONS[op] = fn
        return op
    return define


def eager(op: torch._ops.OpOverload) -> Callable:
    """``op`` as walloc's codecs call it: in plain eager inference its implementation runs directly, skipping
    the dispatcher's autograd and argument-boxing layers (30-60 us a call, 4-9% of a one-image compress);
    otherwise the operator itself, so autograd, fake tensors, torch.compile, torch.export, tracing and dispatch
    modes see it as ever. Both run the same implementation on the same arguments: the same results."""
    fn = _IMPLEMENTATIONS[op]

    def call(*args, **kwargs):
        return fn(*args, **kwargs) if _plain_eager(args, kwargs) else op(*args, **kwargs)

    call.__doc__ = op.__doc__
    return call


def _plain_eager(args: tuple, kwargs: dict) -> bool:
    """Whether an operator call needs nothing of the dispatcher: nothing compiling, tracing or intercepting
    operators (function or dispatch modes, such as ``with torch.device(...)`` or FlopCounterMode), and every
    tensor an ordinary CPU or CUDA tensor (not fake, functional or another subclass) that needs no gradient."""
    if (torch.compiler.is_compiling() or torch.jit.is_tracing() or torch._C._is_torch_function_mode_enabled()
            or torch._C._len_torch_dispatch_stack()):
        return False
    grad = torch.is_grad_enabled()
    for value in (*args, *kwargs.values()):
        if isinstance(value, Tensor) and (type(value) not in _PLAIN_TYPES or value.device.type not in
                                          _KERNEL_DEVICES or (grad and value.requires_grad)):
            return False
    return True
