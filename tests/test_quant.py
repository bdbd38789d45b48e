"""Quantization ops against plain-PyTorch references of the same formulas."""

from __future__ import annotations

import pytest
import torch

import walloc
from walloc import ops, quant

requires_cuda = pytest.mark.skipif(not walloc.cuda_available(), reason="no CUDA device visible to walloc here")
SCALE, LATENT_MAX = quant.compander_constants(8)


def reference_to_uniform(x):
    return 2 * LATENT_MAX * (torch.special.ndtr(x / SCALE) - 0.5)


def reference_to_normal(u):
    return SCALE * torch.special.ndtri((u / (2 * LATENT_MAX) + 0.5).clamp(1e-4, 0.9999))


def test_constants_are_walloc_references() -> None:
    assert SCALE == pytest.approx(127 / 1.85) and LATENT_MAX == pytest.approx(127.499)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-11), (torch.float32, 2e-5)])
def test_compander_matches_reference(dtype, tol) -> None:
    x = torch.linspace(-400, 400, 20001, dtype=dtype)
    torch.testing.assert_close(walloc.ToUniform()(x), reference_to_uniform(x), rtol=tol, atol=tol)
    u = torch.linspace(-130, 130, 20001, dtype=dtype)
    torch.testing.assert_close(walloc.ToNormal()(u), reference_to_normal(u), rtol=tol, atol=tol * 100)
    inside = torch.linspace(-150, 150, 1001, dtype=torch.float64)
    torch.testing.assert_close(walloc.ToNormal()(walloc.ToUniform()(inside)), inside, rtol=1e-10, atol=1e-10)


def test_compander_is_within_two_ulp_of_erf() -> None:
    """ToUniform is m erf(x / (s sqrt 2)); mpmath at 40 digits is the reference, over the polynomial's range
    (|z| <= 1), the library erf's past it, and tiny latents (where 2 m (Phi - 1/2) would cancel)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    g = torch.Generator().manual_seed(3)
    x = torch.cat([torch.randn(1500, generator=g, dtype=torch.float64) * SCALE * 0.3,
                   torch.randn(500, generator=g, dtype=torch.float64) * SCALE * 2,
                   torch.rand(200, generator=g, dtype=torch.float64) * 1e-6, torch.tensor([0.0, SCALE * 2**0.5])])
    y = walloc.ToUniform()(x)
    for xi, yi in zip(x.tolist(), y.tolist()):
        exact = mpmath.mpf(LATENT_MAX) * mpmath.erf(mpmath.mpf(xi) / (mpmath.mpf(SCALE) * mpmath.sqrt(2)))
        assert abs(yi - exact) <= 4.5e-16 * abs(exact), xi


def test_compander_values_do_not_depend_on_their_neighbours() -> None:
    """The CPU kernel vectorises blocks of small latents and goes element by element in a block holding one past
    the polynomial's range: both give each element the same bits."""
    x = torch.randn(5000, generator=torch.Generator().manual_seed(0)) * 30
    alone = walloc.ToUniform()(x)
    beside_a_large_one = walloc.ToUniform()(torch.cat([x[:100], torch.tensor([400.0]), x[100:]]))
    assert torch.equal(torch.cat([beside_a_large_one[:100], beside_a_large_one[101:]]), alone)


_ISA_SCRIPT = """
import hashlib, torch, walloc
g = torch.Generator().manual_seed(2)
h = hashlib.sha256()
for n in (1, 7, 4096, 10001):  # shorter than a vector, a block, a ragged tail with latents past the polynomial
    for dtype in (torch.float32, torch.float64):
        x = (torch.randn(n, generator=g, dtype=torch.float64) * (20 if n < 10001 else 60)).to(dtype)
        h.update(walloc.ToUniform()(x).numpy().tobytes())
print(walloc.build_info()["cpu_isa"], h.hexdigest())
"""


def test_compander_gives_identical_bits_on_every_cpu_instruction_set(on_every_isa) -> None:
    # The forward map exists once per instruction set; latents must round to the same symbols on every CPU.
    outputs = on_every_isa(_ISA_SCRIPT)
    assert len(set(outputs.values())) == 1, outputs


def test_compander_gradients() -> None:
    x = (torch.randn(40, dtype=torch.float64) * 80).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: ops.to_uniform(t, SCALE, LATENT_MAX), (x,))
    u = (torch.rand(40, dtype=torch.float64) * 240 - 120).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: ops.to_normal(t, SCALE, LATENT_MAX), (u,))
    clipped = torch.tensor([127.49, -127.49], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(ops.to_normal(clipped, SCALE, LATENT_MAX).sum(), clipped)
    assert torch.equal(g, torch.zeros(2, dtype=torch.float64))


def test_rounding_is_half_to_even_around_offsets() -> None:
    x = torch.tensor([[0.5, 1.5, 2.5, -0.5, -1.5, 2.4999], [0.7, 1.2, -3.3, 4.5, 5.5, 6.5]]).view(1, 2, 6)
    offsets = torch.tensor([0.0, 0.2])
    expected = torch.round(x - offsets.view(1, 2, 1)) + offsets.view(1, 2, 1)
    torch.testing.assert_close(quant.quantize(x, offsets), expected, rtol=0, atol=0)
    torch.testing.assert_close(quant.quantize(x), torch.round(x), rtol=0, atol=0)


def test_uniform_noise() -> None:
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    gen = torch.Generator().manual_seed(3)
    noisy = quant.add_uniform_noise(x, gen)
    noise = (noisy - x).detach()
    assert noise.min() >= -0.5 and noise.max() < 0.5 and abs(noise.mean()) < 0.05
    assert torch.equal(noisy.detach(), quant.add_uniform_noise(x, torch.Generator().manual_seed(3)).detach())
    (g,) = torch.autograd.grad(noisy.sum(), x)
    assert torch.equal(g, torch.ones_like(g))


def test_opcheck() -> None:
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(ops.to_uniform, (x, SCALE, LATENT_MAX))
    torch.library.opcheck(ops.to_normal, (x * 50, SCALE, LATENT_MAX))
    torch.library.opcheck(ops.uniform_noise, (x, 7))
    torch.library.opcheck(ops.round_offset, (x, torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="one value per channel"):
        quant.quantize(torch.zeros(1, 3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="floating"):
        quant.quantize(torch.zeros(3, dtype=torch.int32))
    with pytest.raises(ValueError, match="bits"):
        walloc.ToUniform(bits=1)


@requires_cuda
def test_cuda_matches_cpu() -> None:
    x = torch.randn(3, 4, 50, dtype=torch.float64) * 60
    for fn in (walloc.ToUniform(), walloc.ToNormal(), quant.quantize, lambda t: ops.uniform_noise(t, 11),
               lambda t: quant.quantize(t, torch.arange(4.0) / 7)):
        torch.testing.assert_close(fn(x.cuda()).cpu(), fn(x), rtol=1e-12, atol=1e-10)
    # Latents in the compander's polynomial range (every latent of the shipped codecs) get the same bits on both.
    small = torch.randn(4, 12, 64, 64) * 20
    assert torch.equal(walloc.ToUniform()(small.cuda()).cpu(), walloc.ToUniform()(small))
