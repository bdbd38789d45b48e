"""ops.eager: walloc's operators called around the dispatcher in plain eager inference, and through it whenever
autograd, fake tensors, compilation or a dispatch mode needs it. Which path ran is read from the profiler, whose
events are the dispatcher's."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode

import walloc
from walloc import ops


def _cases() -> list[tuple[str, torch._ops.OpOverload, tuple]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 16, 8, generator=g)
    banks = walloc.WPT2d("bior4.4", 2).banks
    wpt_args = (x, False, list(banks.analysis.meta), list(banks.analysis.coef), banks.lifting.flat(), 2, 0.5)
    return [
        ("wpt2d", ops.wpt2d, wpt_args),
        ("pointwise_linear", ops.pointwise_linear, (x, torch.randn(5, 3, generator=g), torch.randn(5, generator=g))),
        ("planes_from_pixels", ops.planes_from_pixels, ((x.abs() * 40).to(torch.uint8), 255.0, 0.5)),
        ("to_uniform", ops.to_uniform, (x, 3.0, 7.5)),
        ("round_offset", ops.round_offset, (x * 4, torch.tensor([0.25, 0.0, -0.5]))),
    ]


def _dispatched(fn, *args) -> tuple[torch.Tensor, set[str]]:
    """fn(*args) and the walloc operators the dispatcher saw."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        out = fn(*args)
    return out, {e.name for e in prof.events() if e.name.startswith("walloc::")}


@pytest.mark.parametrize("name,op,args", _cases(), ids=lambda c: c if isinstance(c, str) else "")
def test_plain_inference_skips_the_dispatcher_with_the_same_result(name, op, args) -> None:
    with torch.no_grad():
        direct, seen = _dispatched(ops.eager(op), *args)
        assert not seen
        expected, seen = _dispatched(op, *args)
        assert seen == {f"walloc::{name}"}
    assert torch.equal(direct, expected)
    # Gradients off by default for these inputs: plain tensors need none, so the direct path too.
    assert not _dispatched(ops.eager(op), *args)[1]


def test_a_tensor_needing_a_gradient_goes_through_autograd() -> None:
    name, op, (x, *rest) = _cases()[1]
    x = x.clone().requires_grad_()
    y, seen = _dispatched(ops.eager(op), x, *rest)
    assert seen == {f"walloc::{name}"} and y.grad_fn is not None
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_fake_tensors_and_dispatch_modes_go_through_the_dispatcher() -> None:
    for name, op, args in _cases():
        with FakeTensorMode() as mode:
            fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
            out = ops.eager(op)(*fake)
        assert out.shape == op(*args).shape

    class Log(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names: list[str] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.append(str(func))
            return func(*args, **(kwargs or {}))

    name, op, args = _cases()[0]
    with Log() as log:
        ops.eager(op)(*args)
    assert f"walloc.{name}.default" in log.names


def test_compiled_graphs_hold_the_operator() -> None:
    name, op, args = _cases()[3]
    fn = ops.eager(op)
    compiled = torch.compile(lambda x: fn(x, *args[1:]) * 2, fullgraph=True)
    assert torch.equal(compiled(args[0]), op(*args) * 2)
