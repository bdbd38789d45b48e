"""EntropyBottleneck against CompressAI's own numbers (a committed fixture) and through real streams."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import walloc
from walloc.entropy import EntropyBottleneck

FIXTURE = torch.load(Path(__file__).parent / "data" / "compressai_entropy_bottleneck.pt", weights_only=True)


def test_state_dict_names_and_shapes_match_compressai() -> None:
    ours = EntropyBottleneck(8).state_dict()
    theirs = FIXTURE["state_dict"]
    assert set(ours) == set(theirs)
    assert all(ours[k].shape == theirs[k].shape and ours[k].dtype == theirs[k].dtype for k in ours)


def test_likelihoods_equal_compressai() -> None:
    model = EntropyBottleneck(8).eval()
    model.load_state_dict(FIXTURE["state_dict"])
    y_hat, likelihoods = model(FIXTURE["y"])
    torch.testing.assert_close(y_hat, FIXTURE["y_hat"], rtol=0, atol=1e-6)
    torch.testing.assert_close(likelihoods, FIXTURE["likelihoods"], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(model.loss(), FIXTURE["aux_loss"], rtol=1e-6, atol=1e-5)


def test_compressai_tables_load_and_code() -> None:
    model = EntropyBottleneck(8).eval()
    model.load_state_dict(FIXTURE["state_dict_updated"])
    assert model.update() is False  # the loaded tables are kept
    y = FIXTURE["y"]
    strings = model.compress(y)
    assert len(strings) == y.shape[0] and all(isinstance(s, bytes) for s in strings)
    torch.testing.assert_close(model.decompress(strings, y.shape[2:]), FIXTURE["y_hat"], rtol=0, atol=1e-6)


def test_own_tables_code_near_the_likelihood_bound() -> None:
    torch.manual_seed(0)
    model = EntropyBottleneck(4).eval()
    with torch.no_grad():
        model.quantiles.copy_(torch.tensor([-12.0, 0.0, 12.0]).repeat(4, 1, 1))
    model.update()
    y = 4 * torch.randn(3, 4, 64, 64)
    y_hat, likelihoods = model(y)
    strings = model.compress(y)
    torch.testing.assert_close(model.decompress(strings, (64, 64)), y_hat)
    bits = 8 * sum(len(s) for s in strings)
    bound = -torch.log2(likelihoods).sum().item()
    assert bits <= bound * 1.02 + 8 * 400 * len(strings)


def test_state_dict_roundtrip_after_update() -> None:
    a = EntropyBottleneck(3)
    a.update()
    b = EntropyBottleneck(3)
    b.load_state_dict(a.state_dict())
    y = torch.randn(1, 3, 9, 9)
    assert a.compress(y) == b.compress(y)


def test_errors() -> None:
    model = EntropyBottleneck(2)
    with pytest.raises(RuntimeError, match="update"):
        model.compress(torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="latents"):
        model(torch.zeros(1, 3, 4, 4))
    model.update()
    strings = model.compress(torch.zeros(1, 2, 4, 4))
    with pytest.raises(walloc.BitstreamError):
        model.decompress([strings[0][:-3]], (4, 4))


def test_loads_into_compressai(reference_compressai) -> None:
    theirs = reference_compressai.entropy_models.EntropyBottleneck(8)
    theirs.load_state_dict(EntropyBottleneck(8).state_dict())
    assert math.isfinite(float(theirs.loss().detach()))
