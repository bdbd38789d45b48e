"""Quality and rate-distortion metrics for comparing codecs: PSNR, MS-SSIM (pytorch-msssim), SI-SDR, log-mel
distance, rates (bits per pixel, kbps) and Bjontegaard deltas (BD-rate, BD-PSNR)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def psnr_from_mse(mse: float, data_range: float = 1.0) -> float:
    """10 log10(data_range**2 / mse): infinite for a perfect match."""
    return math.inf if mse <= 0 else 10 * math.log10(data_range**2 / mse)


def psnr(reference: Tensor, test: Tensor, data_range: float = 1.0) -> float:
    """PSNR (dB) over all elements, peak-to-peak ``data_range``."""
    return psnr_from_mse(torch.mean((reference.double() - test.double()) ** 2).item(), data_range)


def bits_per_pixel(nbytes: int, pixels: int) -> float:
    """Rate of ``nbytes`` over ``pixels`` pixels (all images and frames together)."""
    return 8 * nbytes / max(1, pixels)


def kbps(nbytes: int, seconds: float) -> float:
    """Rate in kilobits per second of ``nbytes`` for ``seconds`` of media (all channels together)."""
    return 8 * nbytes / seconds / 1000


def ms_ssim(reference: Tensor, test: Tensor, data_range: float = 1.0) -> float:
    """Multi-scale SSIM of (N, C, H, W) images (pytorch-msssim; the shorter side must exceed 160 pixels)."""
    from pytorch_msssim import ms_ssim as _ms_ssim

    return float(_ms_ssim(reference.double(), test.double(), data_range=data_range, size_average=True))


def si_sdr(reference: Tensor, estimate: Tensor) -> float:
    """Scale-invariant signal-to-distortion ratio (dB) of (..., T) signals, averaged over the leading dims."""
    reference = reference.double() - reference.double().mean(-1, keepdim=True)
    estimate = estimate.double() - estimate.double().mean(-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference**2).sum(-1, keepdim=True).clamp_min(1e-12)
    target = scale * reference
    noise = estimate - target
    ratio = (target**2).sum(-1) / (noise**2).sum(-1).clamp_min(1e-12)
    return float((10 * torch.log10(ratio.clamp_min(1e-12))).mean())


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters on the HTK mel scale."""
    def to_mel(f):
        return 2595 * np.log10(1 + f / 700)

    edges = 700 * (10 ** (np.linspace(0, to_mel(sample_rate / 2), n_mels + 2) / 2595) - 1)
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    return torch.from_numpy(np.clip(np.minimum(rising, falling), 0, None))


def log_mel_spectrogram(x: Tensor, sample_rate: int, n_fft: int = 2048, hop: int = 512, n_mels: int = 80) -> Tensor:
    """log10 mel power spectrogram (..., T) -> (prod(...), n_mels, frames), frame t centred on sample t * hop."""
    window = torch.hann_window(n_fft, dtype=torch.float64)
    x = x.double().reshape(-1, x.shape[-1])
    spectrum = torch.stft(x, n_fft, hop, window=window, return_complex=True).abs() ** 2
    return torch.log10(mel_filterbank(sample_rate, n_fft, n_mels) @ spectrum + 1e-5)  # floor ~100 dB below full scale


def log_mel_distance(reference: Tensor, test: Tensor, sample_rate: int, n_fft: int = 2048, hop: int = 512,
                     n_mels: int = 80) -> float:
    """Mean absolute difference of log10 mel power spectrograms (a level-independent spectral distance)."""
    return float((log_mel_spectrogram(reference, sample_rate, n_fft, hop, n_mels)
                  - log_mel_spectrogram(test, sample_rate, n_fft, hop, n_mels)).abs().mean())


#: (FFT size, hop, window length) of :func:`multi_resolution_stft_distance`: auraloss's defaults, which
#: follow Parallel WaveGAN (Yamamoto et al. 2020).
STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def multi_resolution_stft_distance(reference: Tensor, test: Tensor,
                                   resolutions: tuple[tuple[int, int, int], ...] = STFT_RESOLUTIONS) -> float:
    """The multi-resolution STFT distance of (..., T) signals: at each resolution, the spectral convergence
    ||S - S'||_F / ||S||_F plus the mean absolute difference of natural-log magnitudes, averaged over the
    resolutions (and the leading dims)."""
    total = 0.0
    for n_fft, hop, length in resolutions:
        window = torch.hann_window(length, dtype=torch.float64)

        def magnitude(x: Tensor) -> Tensor:
            x = x.double().reshape(-1, x.shape[-1])
            return torch.stft(x, n_fft, hop, length, window=window, return_complex=True).abs().clamp_min(1e-7)

        ref, out = magnitude(reference), magnitude(test)
        convergence = torch.linalg.norm((ref - out).flatten(1), dim=1) / torch.linalg.norm(ref.flatten(1), dim=1)
        log_distance = (ref.log() - out.log()).abs().flatten(1).mean(1)
        total += float((convergence + log_distance).mean())
    return total / len(resolutions)


def _overlap_integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    poly = np.polyfit(x, y, min(3, len(x) - 1))
    integral = np.polyint(poly)
    return (np.polyval(integral, hi) - np.polyval(integral, lo)) / (hi - lo)


def bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test) -> float:
    """Bjontegaard delta rate (%): the test codec's average rate change at equal quality (negative = fewer
    bits). Cubic fits of log-rate against PSNR, integrated over the PSNR range both curves cover."""
    pa, pt = np.asarray(psnr_anchor, float), np.asarray(psnr_test, float)
    lo, hi = max(pa.min(), pt.min()), min(pa.max(), pt.max())
    if hi <= lo:
        return math.nan
    delta = (_overlap_integral(pt, np.log(rate_test), lo, hi) - _overlap_integral(pa, np.log(rate_anchor), lo, hi))
    return 100 * (math.exp(delta) - 1)


def bd_psnr(rate_anchor, psnr_anchor, rate_test, psnr_test) -> float:
    """Bjontegaard delta PSNR (dB): the test codec's average quality change at equal rate."""
    ra, rt = np.log(np.asarray(rate_anchor, float)), np.log(np.asarray(rate_test, float))
    lo, hi = max(ra.min(), rt.min()), min(ra.max(), rt.max())
    if hi <= lo:
        return math.nan
    return _overlap_integral(rt, np.asarray(psnr_test, float), lo, hi) - \
        _overlap_integral(ra, np.asarray(psnr_anchor, float), lo, hi)


def rate_delta_at(rate_anchor, psnr_anchor, rate: float, quality: float) -> float:
    """Rate change (%) of one operating point against the anchor's curve at the same PSNR (log-rate
    interpolated linearly in PSNR); nan outside the anchor's range."""
    order = np.argsort(psnr_anchor)
    pa, la = np.asarray(psnr_anchor, float)[order], np.log(np.asarray(rate_anchor, float))[order]
    if not pa[0] <= quality <= pa[-1]:
        return math.nan
    return 100 * (rate / math.exp(np.interp(quality, pa, la)) - 1)


def psnr_delta_at(rate_anchor, psnr_anchor, rate: float, quality: float) -> float:
    """PSNR change (dB) of one operating point against the anchor's curve at the same rate; nan outside it."""
    order = np.argsort(rate_anchor)
    la, pa = np.log(np.asarray(rate_anchor, float))[order], np.asarray(psnr_anchor, float)[order]
    if not la[0] <= math.log(rate) <= la[-1]:
        return math.nan
    return quality - float(np.interp(math.log(rate), la, pa))
