"""Training-free histogram coding of fixed-quantizer latents."""

from __future__ import annotations

import pytest
import torch

import walloc
from walloc.entropy import compress_symbols, decompress_symbols
from walloc.entropy.adaptive import PREDICTORS


def smooth_latents(shape, bits: int = 8, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(*shape, generator=gen).cumsum(-1) / 4
    if len(shape) == 4:
        z = z.cumsum(-2) / 4
    u = torch.sigmoid(z)
    return (u * ((1 << bits) - 1)).round().to(torch.int32)


CASES = [(shape, p) for shape in [(2, 3, 16, 24), (1, 12, 64, 96), (2, 4, 500), (1, 1, 1, 1)]
         for p in ("auto",) + PREDICTORS if len(shape) == 4 or p not in ("up", "plane")]  # 2-D predictors: 2-D only


@pytest.mark.parametrize("shape,predictor", CASES)
def test_roundtrip(shape, predictor) -> None:
    s = smooth_latents(shape)
    assert torch.equal(decompress_symbols(compress_symbols(s, 8, predictor)), s)


def test_other_bit_depths_and_empty() -> None:
    s = smooth_latents((1, 2, 32, 32), bits=4)
    assert torch.equal(decompress_symbols(compress_symbols(s, 4)), s)
    empty = torch.zeros(0, 3, 8, 8, dtype=torch.int32)
    assert decompress_symbols(compress_symbols(empty)).shape == (0, 3, 8, 8)


def test_prediction_pays_on_smooth_latents() -> None:
    s = smooth_latents((1, 8, 64, 64))
    assert len(compress_symbols(s, 8, "auto")) < 0.8 * len(compress_symbols(s, 8, "none"))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[0, 256\)"):
        compress_symbols(torch.full((1, 1, 4, 4), 256))
    with pytest.raises(ValueError, match="integer latents"):
        compress_symbols(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="predictor"):
        compress_symbols(torch.zeros(1, 1, 4, 4, dtype=torch.int32), predictor="median")
    data = compress_symbols(smooth_latents((1, 2, 8, 8)))
    for bad in (data[:-1], data + b"x", b"", data[:40]):
        with pytest.raises(walloc.BitstreamError):
            decompress_symbols(bad)


def test_auto_chooses_a_predictor_per_channel() -> None:
    """A smooth ramp wants a spatial predictor, i.i.d. noise wants none; per-channel choice beats any single one."""
    from walloc import bitstream

    g = torch.Generator().manual_seed(3)
    rows, cols = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    ramp = (rows * 3 + cols * 2) % 256
    noise = torch.clamp(torch.randn(64, 64, generator=g) * 6 + 128, 0, 255).long()
    s = torch.stack([ramp, noise]).unsqueeze(0).int()
    data = compress_symbols(s, 8)
    inner = bitstream.unpack(data).meta["predictor"]
    assert inner[0] in ("left", "up", "plane") and inner[1] == "none"
    assert len(data) < min(len(compress_symbols(s, 8, p)) for p in PREDICTORS)
    assert torch.equal(decompress_symbols(data), s)
