"""The pointwise linear map (the encoders' projection) against a plain-PyTorch sum in the same order: bit for bit,
on every instruction set, thread count, batch and device."""

from __future__ import annotations

import pytest
import torch

import walloc
from walloc import ops

requires_cuda = pytest.mark.skipif(not walloc.cuda_available(), reason="no CUDA device visible to walloc here")


def reference(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """bias + the channels' products added in channel order, each torch operation rounded on its own."""
    ones = [1] * (x.dim() - 2)
    y = bias.view(1, -1, *ones).expand(x.shape[0], -1, *x.shape[2:]).clone()
    for c in range(x.shape[1]):
        y = y + weight[:, c].view(1, -1, *ones) * x[:, c:c + 1]
    return y


# (batch, in_channels, out_channels, sample shape): the image codecs' projection, outputs not a multiple of the
# six a block keeps, samples ending in partial vectors and tiles, no input channels, empty batches and outputs,
# the audio codecs' projection (1024 channels: tiles of one block).
SHAPES = [(1, 192, 12, (64, 96)), (2, 48, 13, (7, 9)), (3, 5, 7, (300,)), (2, 1, 1, (1,)), (1, 0, 3, (5,)),
          (0, 3, 2, (4,)), (2, 3, 0, (4,)), (1, 16, 64, (40, 3)), (1, 1024, 60, (861,))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("threads", [1, 2])
def test_matches_the_ordered_sum_bit_for_bit(dtype, shape, threads) -> None:
    batch, in_channels, out_channels, size = shape
    g = torch.Generator().manual_seed(len(size) + in_channels)
    x = torch.randn(batch, in_channels, *size, generator=g, dtype=dtype)
    weight = torch.randn(out_channels, in_channels, generator=g, dtype=dtype)
    bias = torch.randn(out_channels, generator=g, dtype=dtype)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        y = ops.pointwise_linear(x, weight, bias)
    finally:
        torch.set_num_threads(before)
    assert y.shape == (batch, out_channels, *size) and y.dtype == dtype
    assert torch.equal(y, reference(x, weight, bias))
    if y.numel() and in_channels:  # and the convolution it stands for, to the rounding of a sum of in_channels products
        conv = torch.nn.functional.conv1d(x.flatten(2), weight.unsqueeze(2), bias).view_as(y)
        bound = torch.finfo(dtype).eps * (in_channels + 1) * (bias.abs().view(1, -1, *[1] * len(size))
                                                              + (weight.abs() @ x.abs().flatten(2)).view_as(y))
        assert ((y - conv).abs() <= bound).all()


def test_an_item_does_not_depend_on_its_batch() -> None:
    g = torch.Generator().manual_seed(1)
    x, weight, bias = torch.randn(5, 24, 10, 30, generator=g), torch.randn(12, 24, generator=g), torch.randn(12)
    batch = ops.pointwise_linear(x, weight, bias)
    for i in range(len(x)):
        assert torch.equal(ops.pointwise_linear(x[i:i + 1], weight, bias), batch[i:i + 1])


def test_strided_and_half_inputs() -> None:
    g = torch.Generator().manual_seed(2)
    x, weight, bias = torch.randn(2, 10, 6, 8, generator=g), torch.randn(4, 10, generator=g), torch.randn(4)
    channels_last = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(ops.pointwise_linear(channels_last, weight, bias), reference(x, weight, bias))
    half = ops.pointwise_linear(x.bfloat16(), weight, bias)
    assert half.dtype == torch.bfloat16
    assert torch.equal(half, reference(x.bfloat16().float(), weight, bias).bfloat16())


def test_bad_arguments_are_value_errors() -> None:
    x = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="do not match"):
        ops.pointwise_linear(x, torch.randn(5, 4), torch.randn(5))
    with pytest.raises(ValueError, match="do not match"):
        ops.pointwise_linear(x, torch.randn(5, 3), torch.randn(4))
    with pytest.raises(ValueError, match="floating"):
        ops.pointwise_linear(x.int(), torch.randn(5, 3).int(), torch.randn(5).int())


def test_gradients_and_opcheck() -> None:
    g = torch.Generator().manual_seed(3)
    args = (torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(3, 5, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(ops.pointwise_linear, args)
    torch.library.opcheck(ops.pointwise_linear, args)


_ISA_SCRIPT = """
import hashlib, torch, walloc
from walloc import ops
g = torch.Generator().manual_seed(0)
h = hashlib.sha256()
for shape in ((1, 192, 12, 64, 96), (3, 48, 13, 7, 9), (2, 5, 7, 301, 1), (1, 1024, 20, 861, 1)):
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(shape[0], shape[1], *shape[3:], generator=g).to(dtype)
        weight = torch.randn(shape[2], shape[1], generator=g).to(dtype)
        bias = torch.randn(shape[2], generator=g).to(dtype)
        h.update(ops.pointwise_linear(x, weight, bias).numpy().tobytes())
print(walloc.build_info()["cpu_isa"], h.hexdigest())
"""


def test_every_cpu_instruction_set_gives_identical_bits(on_every_isa) -> None:
    outputs = on_every_isa(_ISA_SCRIPT)
    assert len(set(outputs.values())) == 1, outputs


def test_the_cache_size_changes_no_bits(tmp_path) -> None:
    """WALLOC_L2_BYTES sets the tiles (down to one block of samples, up to the most a tile takes); the sums
    stay the same."""
    import os
    import subprocess
    import sys

    outputs = {}
    for l2 in ("16K", "512K", "64M"):
        env = {**os.environ, "WALLOC_L2_BYTES": l2}
        script = _ISA_SCRIPT.replace('walloc.build_info()["cpu_isa"]', 'walloc.build_info()["l2_bytes"]')
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                             cwd=tmp_path).stdout.split()
        outputs[l2] = out[1]
        assert int(out[0]) == int(l2[:-1]) << (10 if l2.endswith("K") else 20)
    assert len(set(outputs.values())) == 1, outputs


@requires_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_gives_the_cpu_bits(dtype) -> None:
    for batch, in_channels, out_channels, size in SHAPES:
        g = torch.Generator().manual_seed(in_channels)
        x = torch.randn(batch, in_channels, *size, generator=g, dtype=dtype)
        weight = torch.randn(out_channels, in_channels, generator=g, dtype=dtype)
        bias = torch.randn(out_channels, generator=g, dtype=dtype)
        expected = ops.pointwise_linear(x, weight, bias)
        assert torch.equal(ops.pointwise_linear(x.cuda(), weight.cuda(), bias.cuda()).cpu(), expected)
