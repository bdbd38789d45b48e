"""ops.planes_from_pixels against torch's (x.float() / divisor - shift), bit for bit, over the layouts images
arrive in; ops.wpt2d_pixels (the pass into the packet transform) against the two operators it joins."""

from __future__ import annotations

import pytest
import torch

import walloc
from walloc import ops
from walloc.wavelets import WPT2d

requires_cuda = pytest.mark.skipif(not walloc.cuda_available(), reason="no CUDA device visible to walloc here")


def reference(pixels: torch.Tensor, divisor: float, shift: float) -> torch.Tensor:
    return (pixels.float() / divisor - shift).contiguous()


def layouts(dtype: torch.dtype, channels: int, height: int, width: int, batch: int = 2):
    """The same pixels as planar, interleaved (a decoded file), cropped, strided and broadcast tensors."""
    g = torch.Generator().manual_seed(channels * 1000 + width)
    if dtype == torch.uint8:
        hwc = torch.randint(0, 256, (batch, height, width, channels), generator=g, dtype=torch.uint8)
    else:
        hwc = torch.rand(batch, height, width, channels, generator=g)
    interleaved = hwc.permute(0, 3, 1, 2)
    yield "interleaved", interleaved
    yield "planar", interleaved.contiguous()
    yield "cropped interleaved", interleaved[:, :, 1:, 1:]
    yield "every other column", interleaved[..., ::2]
    yield "one channel broadcast", interleaved[:, :1].expand(-1, channels, -1, -1)


# divisor 1 skips the division (the kernel's other branch), for either pixel type
@pytest.mark.parametrize("dtype,divisor", [(torch.uint8, 255.0), (torch.float32, 1.0), (torch.uint8, 1.0),
                                           (torch.float32, 255.0)])
@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("width", [1, 7, 64])
def test_planes_equal_torch_bit_for_bit(dtype, divisor, channels, width) -> None:
    for name, pixels in layouts(dtype, channels, 5, width):
        out = ops.planes_from_pixels(pixels, divisor, 0.5)
        assert out.is_contiguous() and out.dtype == torch.float32, name
        assert torch.equal(out, reference(pixels, divisor, 0.5)), name


def test_every_uint8_value_and_float_specials() -> None:
    levels = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 256).expand(1, 3, 2, 256)
    assert torch.equal(ops.planes_from_pixels(levels, 255.0, 0.5), reference(levels, 255.0, 0.5))
    specials = torch.tensor([0.0, -0.0, 1.0, 1e-45, 3e38, float("inf"), -float("inf"), float("nan")] * 3)
    pixels = specials.view(1, 8, 3).permute(2, 0, 1).unsqueeze(0)  # (1, 3, 1, 8), interleaved
    torch.testing.assert_close(ops.planes_from_pixels(pixels, 1.0, 0.5), reference(pixels, 1.0, 0.5),
                               rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("divisor", [255.0, 65535.0, 3.0, 0.1, -7.0, 1e-38, 1e-40, float("inf")])
def test_every_uint8_value_divides_as_torch_does(divisor: float) -> None:
    # Interleaved uint8 RGB, the layout whose division the AVX2 copy turns into a multiplication corrected by two
    # FMAs where that gives the division's bits for every value (not for the subnormal and infinite divisors here,
    # which take the division), with widths that end in partial vectors.
    for width in (256, 257, 259):
        levels = (torch.arange(3 * width) % 256).to(torch.uint8).view(1, 1, width, 3).permute(0, 3, 1, 2)
        torch.testing.assert_close(ops.planes_from_pixels(levels, divisor, 0.5), reference(levels, divisor, 0.5),
                                   rtol=0, atol=0, equal_nan=True)


def test_threads_and_batches_do_not_change_the_planes() -> None:
    pixels = torch.randint(0, 256, (3, 37, 29, 3), dtype=torch.uint8).permute(0, 3, 1, 2)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.planes_from_pixels(pixels, 255.0, 0.5)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(ops.planes_from_pixels(pixels, 255.0, 0.5), one)
    assert torch.equal(ops.planes_from_pixels(pixels[1:2], 255.0, 0.5), one[1:2])


def test_opcheck_and_gradient() -> None:
    x = torch.rand(2, 5, 6, 3).permute(0, 3, 1, 2).requires_grad_()
    torch.library.opcheck(ops.planes_from_pixels, (x, 2.0, 0.5))
    (grad,) = torch.autograd.grad(ops.planes_from_pixels(x, 2.0, 0.5).sum(), x)
    assert torch.equal(grad, torch.full_like(x, 0.5))


def test_bad_pixels() -> None:
    with pytest.raises(ValueError, match="uint8 or float32"):
        ops.planes_from_pixels(torch.zeros(1, 3, 2, 2, dtype=torch.int16), 1.0, 0.5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ops.planes_from_pixels(torch.zeros(3, 2, 2), 1.0, 0.5)


def transformable_layouts(dtype: torch.dtype, height: int, width: int):
    """:func:`layouts` of RGB pixels, each cut to its last height x width (the transform needs multiples of 4)."""
    for name, pixels in layouts(dtype, 3, height + 1, 2 * width + 1):
        yield name, pixels[:, :, -height:, -width:]


def split_of_planes(transform: WPT2d, pixels: torch.Tensor, divisor: float) -> torch.Tensor:
    return transform(ops.planes_from_pixels(pixels, divisor, 0.5))


@pytest.mark.parametrize("dtype,divisor", [(torch.uint8, 255.0), (torch.float32, 1.0)])
@pytest.mark.parametrize("wavelet", ["bior4.4", "db2"])  # lifting steps (float32 CDF 9/7) and polyphase taps
def test_transform_of_pixels_equals_transform_of_planes(dtype, divisor, wavelet) -> None:
    transform = WPT2d(wavelet, 2)
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            # sizes up and down: the planes' scratch is reused from call to call and must fit each
            for height, width in ((16, 24), (8, 8), (32, 40)):
                for name, pixels in transformable_layouts(dtype, height, width):
                    out = transform.from_pixels(pixels, divisor, 0.5)
                    assert out.dtype == torch.float32 and out.shape == (2, 3 * 16, height // 4, width // 4), name
                    assert torch.equal(out, split_of_planes(transform, pixels, divisor)), (name, n, height, width)
    finally:
        torch.set_num_threads(threads)


def test_transform_of_pixels_opcheck_and_gradient() -> None:
    transform = WPT2d("bior4.4", 2)
    bank = transform.banks.analysis
    x = torch.rand(2, 8, 12, 3, dtype=torch.float32).permute(0, 3, 1, 2).requires_grad_()
    args = (list(bank.meta), list(bank.coef), transform._lifting, 2, 2.0, 0.5)
    torch.library.opcheck(ops.wpt2d_pixels, (x, *args))
    weights = torch.randn(2, 48, 2, 3)
    (grad,) = torch.autograd.grad((ops.wpt2d_pixels(x, *args) * weights).sum(), x)
    (expected,) = torch.autograd.grad((split_of_planes(transform, x, 2.0) * weights).sum(), x)
    torch.testing.assert_close(grad, expected)
    with pytest.raises(ValueError, match="not divisible by 2\\*\\*levels"):
        transform.from_pixels(torch.zeros(1, 3, 6, 8, dtype=torch.uint8), 255.0, 0.5)


@requires_cuda
def test_cuda_transform_of_pixels_matches_cpu() -> None:
    transform = WPT2d("bior4.4", 2)
    for name, pixels in transformable_layouts(torch.uint8, 16, 24):
        torch.testing.assert_close(transform.from_pixels(pixels.cuda(), 255.0, 0.5).cpu(),
                                   transform.from_pixels(pixels, 255.0, 0.5), rtol=0, atol=1e-6, msg=name)


@requires_cuda
def test_cuda_matches_cpu() -> None:
    for dtype, divisor in ((torch.uint8, 255.0), (torch.float32, 1.0)):
        for name, pixels in layouts(dtype, 3, 9, 31):
            assert torch.equal(ops.planes_from_pixels(pixels.cuda(), divisor, 0.5).cpu(),
                               ops.planes_from_pixels(pixels, divisor, 0.5)), name
