"""Wavelet packet transforms against PyWavelets: exactness, order, reconstruction, gradients, operators."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import torch

import walloc
from walloc import ops

WAVELETS = ["haar", "db2", "db4", "sym8", "coif3", "bior2.2", "bior4.4", "rbio3.5"]
LEVELS = [1, 2, 3, 4]
requires_cuda = pytest.mark.skipif(not walloc.cuda_available(), reason="no CUDA device visible to walloc here")


def pywt_packets(x: np.ndarray, wavelet: str, levels: int) -> np.ndarray:
    """(N, C, *S) -> (N, C * B**L, *S / 2**L) from pywt's packet trees (B = 2 or 4), natural order."""
    n, c = x.shape[:2]
    tree = pywt.WaveletPacket2D if x.ndim == 4 else pywt.WaveletPacket
    out = [
        np.stack([node.data for node in tree(x[i, j], wavelet, "periodization", maxlevel=levels)
                  .get_level(levels, "natural")])
        for i in range(n)
        for j in range(c)
    ]
    return np.stack(out).reshape(n, -1, *out[0].shape[1:])


def reference_codec_order(x: np.ndarray, wavelet: str, levels: int) -> np.ndarray:
    """The reference WaLLoC recurrence: one dwt2 level on every channel, bands stacked as channel * 4 + band."""
    for _ in range(levels):
        ca, (ch, cv, cd) = pywt.dwt2(x, wavelet, "periodization", axes=(-2, -1))
        x = np.stack([ca, ch, cv, cd], axis=2).reshape(x.shape[0], -1, *ca.shape[-2:])
    return x


def _size(levels: int, extra: int) -> int:
    # Deep levels need room for the filters; the transform itself works at any multiple of 2**levels.
    return (2**levels) * extra


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("levels", LEVELS)
@pytest.mark.parametrize("ndim", [1, 2])
def test_matches_pywt_and_reconstructs(wavelet: str, levels: int, ndim: int) -> None:
    rng = np.random.default_rng(10 * ndim + levels)
    spatial = (_size(levels, 5), _size(levels, 3)) if ndim == 2 else (_size(levels, 9),)
    x = rng.standard_normal((2, 3) + spatial)
    wpt = (walloc.WPT2d if ndim == 2 else walloc.WPT1d)(wavelet, levels)
    ref = pywt_packets(x, wavelet, levels)

    y64 = wpt(torch.from_numpy(x))
    assert y64.shape == ref.shape
    assert np.abs(y64.numpy() - ref).max() <= 1e-12
    assert np.abs(wpt.inverse(y64).numpy() - x).max() <= 1e-10

    y32 = wpt(torch.from_numpy(x).float())
    assert y32.dtype == torch.float32
    assert np.abs(y32.numpy() - ref).max() <= 2e-6 * np.abs(ref).max()
    assert np.abs(wpt.inverse(y32).numpy() - x).max() <= 2e-6 * np.abs(x).max()


def test_channel_order_is_the_reference_codecs() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 96))
    y = walloc.WPT2d("bior4.4", 3)(torch.from_numpy(x)).numpy()
    assert np.abs(y - reference_codec_order(x, "bior4.4", 3)).max() <= 1e-12


def test_default_configuration_shapes() -> None:
    assert walloc.WPT2d()(torch.zeros(1, 3, 64, 96)).shape == (1, 192, 8, 12)
    assert walloc.WPT1d()(torch.zeros(1, 2, 64)).shape == (1, 8, 16)


@pytest.mark.parametrize("cls,shape", [(walloc.WPT2d, (2, 3, 32, 48)), (walloc.WPT1d, (2, 3, 64))])
def test_non_contiguous_and_empty_inputs(cls, shape) -> None:
    wpt = cls("db2", 2)
    x = torch.randn(*shape, dtype=torch.float64)
    strided = x.transpose(0, 1).contiguous().transpose(0, 1)
    assert not strided.is_contiguous()
    torch.testing.assert_close(wpt(strided), wpt(x), rtol=0, atol=0)
    empty = wpt(x[:0])
    assert empty.shape[0] == 0 and empty.shape[1] == shape[1] * wpt.packets
    assert wpt.inverse(empty).shape == (0,) + shape[1:]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_in_float32(dtype) -> None:
    wpt = walloc.WPT2d("bior4.4", 2)
    x = torch.rand(1, 3, 32, 32)
    y = wpt(x.to(dtype))
    assert y.dtype == dtype
    torch.testing.assert_close(y.float(), wpt(x.to(dtype).float()).to(dtype).float())


def _lifting_kernel(x: np.ndarray, levels: int, merge: bool) -> np.ndarray:
    # The CPU lifting kernels directly, in float64 (walloc itself runs them in float32 only).
    from walloc.ops import kernels
    from walloc.ops.wavelets import _output_shape

    banks = walloc.WPT2d("bior4.4").banks
    bank = banks.synthesis if merge else banks.analysis
    y = torch.empty(_output_shape(torch.Size(x.shape), x.ndim - 2, merge, levels), dtype=torch.float64)
    kernels.wpt(torch.from_numpy(np.ascontiguousarray(x)), y, merge=merge, meta=list(bank.meta), coef=list(bank.coef),
                lifting=banks.lifting.flat(), levels=levels)
    return y.numpy()


@pytest.mark.parametrize("shape,levels", [((1, 2, 64, 96), 3), ((2, 1, 40, 56), 3), ((1, 1, 2, 6), 1),
                                          ((1, 1, 4, 12), 2), ((1, 1, 12, 16), 1), ((1, 1, 14, 16), 1),
                                          ((1, 2, 200), 3), ((1, 1, 6), 1), ((1, 1, 1024), 8)])
def test_lifting_kernels_match_pywt(shape, levels) -> None:
    # CDF 9/7 lifting (walloc's float32 path for bior4.4) at float64 precision: equal to PyWavelets' taps up to
    # their tabulated precision, at sizes that exercise every boundary and partial-vector case.
    x = np.random.default_rng(len(shape) + levels).standard_normal(shape)
    ref = pywt_packets(x, "bior4.4", levels)
    y = _lifting_kernel(x, levels, merge=False)
    assert np.abs(y - ref).max() <= 1e-10 * np.abs(ref).max()
    assert np.abs(_lifting_kernel(ref, levels, merge=True) - x).max() <= 1e-10 * np.abs(x).max()


@pytest.mark.parametrize("wavelet", ["bior4.4", "db4"])
@pytest.mark.parametrize("planes,many", [(1, 2), (3, 2), (4, 2), (7, 4)])
def test_results_do_not_depend_on_the_thread_count(wavelet: str, planes: int, many: int) -> None:
    # With few planes for the threads (1 or 3 on 2, 7 on 4), subtrees of one plane run on different threads, and
    # a merge takes some planes' roots before other planes' subtrees.
    g = torch.Generator().manual_seed(planes)
    cases = [(walloc.WPT2d(wavelet, 3), torch.randn(1, planes, 64, 48, generator=g)),
             (walloc.WPT1d(wavelet, 4), torch.randn(1, planes, 400, generator=g))]
    threads = torch.get_num_threads()
    try:
        for wpt, x in cases:
            torch.set_num_threads(1)
            y1 = wpt(x)
            x1 = wpt.inverse(y1)
            torch.set_num_threads(many)
            y2 = wpt(x)
            x2 = wpt.inverse(y2)
            assert torch.equal(y1, y2) and torch.equal(x1, x2)
            torch.testing.assert_close(x2, x, atol=1e-5, rtol=0)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("wavelet,dtype", [("bior4.4", torch.float32), ("db2", torch.float32),
                                           ("bior4.4", torch.float64)])
def test_shift_is_the_split_of_x_minus_shift(wavelet: str, dtype) -> None:
    # The lifting kernel subtracts in its first column pass, the tap kernel in a copy of the band: both must
    # give the bits of splitting x - shift, at every level count, on bands with partial vectors, at 1 and 2
    # threads (3 planes on 2 threads share subtrees).
    g = torch.Generator().manual_seed(7)
    threads = torch.get_num_threads()
    try:
        for levels, shape in [(1, (2, 3, 10, 22)), (2, (1, 3, 40, 24)), (3, (2, 1, 64, 96)), (3, (1, 3, 8, 8))]:
            wpt = walloc.WPT2d(wavelet, levels)
            x = torch.rand(*shape, generator=g, dtype=dtype)
            for n in (1, 2):
                torch.set_num_threads(n)
                assert torch.equal(wpt(x, shift=0.5), wpt(x - 0.5))
    finally:
        torch.set_num_threads(threads)
    x = torch.rand(1, 2, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: wpt(v, shift=0.25), (x,))
    with pytest.raises(ValueError, match="not a merge"):
        ops.wpt2d(wpt(x), True, [0, 0, 0], [1.0], [], 3, 0.5)


def test_gradient_is_the_adjoint_not_the_synthesis() -> None:
    # <A x, g> == <x, A^T g>; for bior4.4 A^T differs from A^-1, so using synthesis as the gradient fails.
    wpt = walloc.WPT2d("bior4.4", 2)
    x = torch.randn(1, 2, 32, 32, dtype=torch.float64, requires_grad=True)
    g = torch.randn(1, 32, 8, 8, dtype=torch.float64)
    (grad,) = torch.autograd.grad(wpt(x), x, g)
    torch.testing.assert_close((wpt(x) * g).sum(), (x * grad).sum(), rtol=1e-12, atol=1e-12)
    assert (grad - wpt.inverse(g)).abs().max() > 1e-2


@pytest.mark.parametrize("wavelet", ["bior4.4", "db2", "rbio3.5"])
@pytest.mark.parametrize("levels", [1, 2])
def test_gradcheck(wavelet: str, levels: int) -> None:
    w2, w1 = walloc.WPT2d(wavelet, levels), walloc.WPT1d(wavelet, levels)
    s = 2**levels * 3
    x2 = torch.randn(1, 2, s, 2 * s, dtype=torch.float64, requires_grad=True)
    x1 = torch.randn(2, 2, 2 * s, dtype=torch.float64, requires_grad=True)
    for fn, x in [(w2, x2), (w2.inverse, w2(x2).detach()), (w1, x1), (w1.inverse, w1(x1).detach())]:
        x = x.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("op,shape", [(ops.wpt2d, (2, 3, 16, 24)), (ops.wpt1d, (2, 3, 32))])
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=requires_cuda)])
def test_opcheck(op, shape, device) -> None:
    banks = walloc.WPT2d("bior4.4").banks
    for merge, bank in [(False, banks.analysis), (True, banks.synthesis)]:
        x = torch.randn(*shape, dtype=torch.float64, device=device, requires_grad=True)
        if merge:
            x = torch.randn(shape[0], shape[1] * (4 if op is ops.wpt2d else 2) ** 2, *[s // 4 for s in shape[2:]],
                            dtype=torch.float64, device=device, requires_grad=True)
        torch.library.opcheck(op, (x, merge, list(bank.meta), list(bank.coef), banks.lifting.flat(), 2))
        if op is ops.wpt2d and not merge:
            torch.library.opcheck(op, (x, merge, list(bank.meta), list(bank.coef), banks.lifting.flat(), 2, 0.5))


def test_torch_compile() -> None:
    wpt = walloc.WPT2d("bior4.4", 2)

    def roundtrip(x):
        return wpt.inverse(wpt(x) * 0.5)

    x = torch.randn(2, 3, 32, 32)
    compiled = torch.compile(roundtrip, fullgraph=True)
    torch.testing.assert_close(compiled(x), roundtrip(x))


def test_bad_inputs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="not divisible by 2\\*\\*levels"):
        walloc.WPT2d("haar", 3)(torch.zeros(1, 1, 12, 16))
    with pytest.raises(ValueError, match="not divisible"):
        walloc.WPT1d("haar", 2)(torch.zeros(1, 1, 10))
    with pytest.raises(ValueError, match="4-D"):
        walloc.WPT2d()(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match="packets"):
        walloc.WPT2d("haar", 1).inverse(torch.zeros(1, 6, 4, 4))
    with pytest.raises(ValueError, match="mode"):
        walloc.WPT2d(mode="symmetric")
    with pytest.raises(ValueError, match="unknown discrete wavelet"):
        walloc.WPT2d("morl")
    with pytest.raises(ValueError, match="levels"):
        walloc.WPT1d(levels=0)
    with pytest.raises(ValueError, match="floating"):
        walloc.WPT2d("haar", 1)(torch.zeros(1, 1, 4, 4, dtype=torch.int32))


def test_build_info() -> None:
    info = walloc.build_info()
    assert isinstance(info["version"], str) and info["version"] == walloc.__version__
    assert isinstance(info["cuda"], bool)
    assert isinstance(info["l2_bytes"], int) and info["l2_bytes"] >= 16 << 10
    assert walloc.cuda_available() in (True, False)
    if not info["cuda"]:
        assert walloc.cuda_available() is False


@requires_cuda
@pytest.mark.parametrize("wavelet", ["haar", "bior4.4", "sym8"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(wavelet: str, dtype) -> None:
    # Small shapes take the fused shared-memory kernels; rows of 16384 samples are too long for shared memory
    # and take the general one-pass-per-level kernels.
    cases = [(walloc.WPT2d(wavelet, 3), (3, 3, 64, 96)), (walloc.WPT1d(wavelet, 4), (3, 2, 256)),
             (walloc.WPT2d(wavelet, 2), (1, 1, 8, 16384)), (walloc.WPT1d(wavelet, 3), (1, 2, 16384)),
             (walloc.WPT2d(wavelet, 3), (1, 2, 16, 24))]  # bands shorter than sym8's reach: full modulo
    for wpt, shape in cases:
        x = torch.randn(*shape, dtype=dtype)
        y_cpu, y_gpu = wpt(x), wpt(x.cuda())
        assert (y_gpu.cpu() - y_cpu).abs().max() <= 1e-5 * y_cpu.abs().max()
        if wpt.ndim == 2:
            assert torch.equal(wpt(x.cuda(), shift=0.5), wpt(x.cuda() - 0.5))
        assert (wpt.inverse(y_gpu).cpu() - wpt.inverse(y_cpu)).abs().max() <= 1e-5 * x.abs().max()


@requires_cuda
def test_cuda_gradcheck_and_half() -> None:
    wpt = walloc.WPT2d("bior4.4", 2)
    x = torch.randn(1, 2, 16, 16, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(wpt, (x,))
    xb = torch.rand(2, 3, 64, 64, device="cuda")
    torch.testing.assert_close(wpt(xb.bfloat16()).float(), wpt(xb), atol=0.05, rtol=0.02)


_ISA_SCRIPT = """
import hashlib, torch, walloc
g = torch.Generator().manual_seed(0)
h = hashlib.sha256()
for x in (torch.randn(2, 3, 64, 96, generator=g), torch.randn(1, 2, 40, 56, generator=g)):
    for dtype in (torch.float32, torch.float64):
        for wpt in (walloc.WPT2d("bior4.4", 3), walloc.WPT1d("bior4.4", 3), walloc.WPT1d("sym8", 3)):
            xi = (x if wpt.ndim == 2 else x.flatten(2)).to(dtype)
            y = wpt(xi)
            h.update(y.numpy().tobytes()); h.update(wpt.inverse(y).numpy().tobytes())
            if wpt.ndim == 2:
                h.update(wpt(xi, shift=0.5).numpy().tobytes())
print(walloc.build_info()["cpu_isa"], h.hexdigest())
"""


def test_every_cpu_instruction_set_gives_identical_bits(on_every_isa) -> None:
    # The kernels exist once per instruction set; all must agree bit for bit, so results never depend on the CPU.
    outputs = on_every_isa(_ISA_SCRIPT)
    assert len(set(outputs.values())) == 1, outputs


def test_the_first_call_does_not_import_dynamo(tmp_path):
    """torch._dynamo costs 1.4 s to import; walloc's operators must not pull it in on their first call (as
    torch.library.custom_op's wrapper does), so a fresh process compresses at its steady speed."""
    import subprocess
    import sys

    code = ("import sys, torch, walloc\n"
            "codec = walloc.load('rgb-16x')\n"
            "codec.decompress(codec.compress(torch.rand(1, 3, 16, 16)))\n"
            "print('torch._dynamo' in sys.modules)\n")
    # from another folder: the source tree, which has no _C, would shadow the installed package
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert result.stdout.strip() == "False"
