"""Metrics against independent references and curves with known Bjontegaard deltas."""

import math

import numpy as np
import pytest
import torch

from walloc import metrics


def test_psnr_matches_the_definition():
    a = torch.zeros(1, 3, 8, 8)
    b = torch.full((1, 3, 8, 8), 0.1)
    assert metrics.psnr(a, b) == pytest.approx(20.0)
    assert metrics.psnr(a * 255, b * 255, data_range=255) == pytest.approx(20.0)
    assert metrics.psnr(a, a) == math.inf


def test_ms_ssim_identity_and_ordering():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 192, 192, generator=g)
    assert metrics.ms_ssim(x, x) == pytest.approx(1.0)
    noisy = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    blurred = torch.nn.functional.avg_pool2d(x, 5, 1, 2, count_include_pad=False)
    value = metrics.ms_ssim(x, noisy)
    assert 0 < value < 1 and metrics.ms_ssim(x, blurred) < 1


def test_si_sdr_is_scale_invariant_and_known():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(2, 1000, generator=g, dtype=torch.float64)
    n = torch.randn(2, 1000, generator=g, dtype=torch.float64)
    n = n - (n * s).sum(-1, keepdim=True) / (s * s).sum(-1, keepdim=True) * s  # orthogonal to s
    n = n / n.norm(dim=-1, keepdim=True) * s.norm(dim=-1, keepdim=True) / 10  # 20 dB below the signal
    assert metrics.si_sdr(s, 3 * (s + n)) == pytest.approx(20.0, abs=0.05)


def test_log_mel_distance_zero_for_identical_and_grows_with_noise():
    t = torch.arange(44100) / 44100
    x = torch.sin(2 * math.pi * 440 * t).unsqueeze(0)
    assert metrics.log_mel_distance(x, x, 44100) == 0
    small = metrics.log_mel_distance(x, x + 0.001 * torch.randn_like(x), 44100)
    large = metrics.log_mel_distance(x, x + 0.1 * torch.randn_like(x), 44100)
    assert 0 < small < large
    bank = metrics.mel_filterbank(44100, 2048, 80)
    assert bank.shape == (80, 1025) and torch.all(bank.max(1).values > 0.5)


def test_bd_rate_and_psnr_of_curves_with_known_answers():
    rate = np.array([0.25, 0.5, 1.0, 2.0])
    quality = 30 + 3 * np.log2(rate)                  # +3 dB per doubling
    assert metrics.bd_rate(rate, quality, 0.8 * rate, quality) == pytest.approx(-20.0, abs=1e-6)
    assert metrics.bd_psnr(rate, quality, rate, quality + 1) == pytest.approx(1.0, abs=1e-9)
    # 1 dB better at equal rate is, at 3 dB per doubling, 2**(-1/3) of the rate at equal quality
    assert metrics.bd_rate(rate, quality, rate, quality + 1) == pytest.approx(100 * (2 ** (-1 / 3) - 1), abs=1e-6)
    assert math.isnan(metrics.bd_rate(rate, quality, rate, quality + 50))


def test_single_point_deltas_against_a_curve():
    rate = np.array([0.25, 0.5, 1.0, 2.0])
    quality = 30 + 3 * np.log2(rate)
    assert metrics.rate_delta_at(rate, quality, 0.5, 33.0) == pytest.approx(-75.0)   # the curve needs 2 bpp for 33 dB
    assert metrics.psnr_delta_at(rate, quality, 0.5, 31.0) == pytest.approx(4.0)    # the curve gives 27 dB at 0.5
    assert math.isnan(metrics.rate_delta_at(rate, quality, 0.5, 40.0))
