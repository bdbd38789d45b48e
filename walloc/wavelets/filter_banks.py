"""PyWavelets filters turned into the polyphase banks that walloc's kernels run.

A bank is a list of taps ``(out, src, shift, coef)``: output channel ``out`` at position ``o`` gains
``coef * input_src[(o + shift) mod M]`` (see ``csrc/wavelets/polyphase.h``). Analysis is a *split* bank
(one signal's even/odd samples -> low/high bands), synthesis a *merge* bank (bands -> even/odd samples).
The adjoint of a bank is its transpose (``walloc.ops.wavelets.transpose_taps``), which is how gradients are
computed: for biorthogonal wavelets the adjoint of analysis is not synthesis.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import pywt

MODES = ("periodization",)


@dataclass(frozen=True)
class PolyphaseBank:
    """Taps of a two-channel periodic polyphase filter bank, flattened for the kernels."""

    meta: tuple[int, ...]  # (out, src, shift) for each tap
    coef: tuple[float, ...]


@dataclass(frozen=True)
class LiftingScheme:
    """A filter bank factored into lifting steps (Daubechies & Sweldens): the same transform, less arithmetic.

    ``pairs`` of (predict, update) coefficients act on the even (``e``) and odd (``o``) samples, indices
    periodic: a split runs, for each pair in order, ``o[n] += predict * (e[n] + e[n + 1])`` then
    ``e[n] += update * (o[n - 1] + o[n])``, and finally multiplies the bands by ``scales``. A merge undoes it.
    """

    pairs: tuple[tuple[float, float], ...]
    scales: tuple[float, float]

    def flat(self) -> list[float]:
        """``[scale0, scale1, predict_1, update_1, ...]``, the form the kernels take."""
        return [*self.scales, *(c for pair in self.pairs for c in pair)]


# CDF 9/7 (Daubechies & Sweldens 1998, section 7), phased and scaled as PyWavelets' bior4.4 in periodization
# mode: low band centred on the even samples, high band on the odd ones and negated. It matches PyWavelets'
# tabulated taps to 3e-12 (their own rounding), so walloc runs it in float32 only, well inside that tolerance.
_CDF97_K = 1.2301741049140098
CDF97 = LiftingScheme(
    pairs=((-1.5861343420599237, -0.052980118572961414), (0.8829110755309333, 0.44350685204397117)),
    scales=(math.sqrt(2.0) / _CDF97_K, -_CDF97_K / math.sqrt(2.0)),
)


@dataclass(frozen=True)
class WaveletBanks:
    """Analysis (split) and synthesis (merge) banks of one wavelet in periodization mode, and its lifting
    scheme where walloc knows one (``None`` otherwise)."""

    name: str
    analysis: PolyphaseBank
    synthesis: PolyphaseBank
    filter_length: int
    lifting: "LiftingScheme | None" = None


def _analysis_bank(dec_lo, dec_hi) -> PolyphaseBank:
    # PyWavelets periodization: c[o] = sum_j f[j] * x[(2o + F/2 - j) mod N]; x[2q + r] is phase r at q.
    offset = len(dec_lo) // 2
    meta, coef = [], []
    for out, taps in enumerate((dec_lo, dec_hi)):
        for j, c in enumerate(taps):
            if c == 0.0:
                continue
            d = offset - j
            phase = d % 2
            meta += [out, phase, (d - phase) // 2]
            coef.append(float(c))
    return PolyphaseBank(tuple(meta), tuple(coef))


def _synthesis_bank(rec_lo, rec_hi) -> PolyphaseBank:
    # PyWavelets periodization: x[n] = sum over 2o + j = n + F/2 - 1 (mod N) of g[j] * c[o].
    shift = len(rec_lo) // 2 - 1
    meta, coef = [], []
    for phase in (0, 1):
        for band, taps in enumerate((rec_lo, rec_hi)):
            for j, c in enumerate(taps):
                if c == 0.0 or (phase + shift - j) % 2:
                    continue
                meta += [phase, band, (phase + shift - j) // 2]
                coef.append(float(c))
    return PolyphaseBank(tuple(meta), tuple(coef))


def discrete_wavelet(wavelet: "str | pywt.Wavelet") -> pywt.Wavelet:
    """A PyWavelets discrete wavelet from a name or an instance; ValueError for anything else."""
    if isinstance(wavelet, pywt.Wavelet):
        return wavelet
    if not isinstance(wavelet, str) or wavelet not in pywt.wavelist(kind="discrete"):
        raise ValueError(
            f"unknown discrete wavelet {wavelet!r}: use a name from pywt.wavelist(kind='discrete'), e.g. 'bior4.4'"
        )
    return pywt.Wavelet(wavelet)


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not supported: walloc's packet transforms use {MODES}")


def _lifting_for(filters: tuple) -> "LiftingScheme | None":
    # By filters, not name: a custom pywt.Wavelet may reuse a name with other filters.
    bior44 = pywt.Wavelet("bior4.4")
    if filters == (tuple(bior44.dec_lo), tuple(bior44.dec_hi), tuple(bior44.rec_lo), tuple(bior44.rec_hi)):
        return CDF97
    return None


@functools.lru_cache(maxsize=None)
def _banks_for(name: str, dec_lo: tuple, dec_hi: tuple, rec_lo: tuple, rec_hi: tuple) -> WaveletBanks:
    return WaveletBanks(
        name,
        _analysis_bank(dec_lo, dec_hi),
        _synthesis_bank(rec_lo, rec_hi),
        len(dec_lo),
        _lifting_for((dec_lo, dec_hi, rec_lo, rec_hi)),
    )


def wavelet_banks(wavelet: "str | pywt.Wavelet") -> WaveletBanks:
    """Analysis and synthesis banks of a PyWavelets discrete wavelet, with filters from ``pywt.Wavelet``."""
    w = discrete_wavelet(wavelet)
    return _banks_for(w.name, tuple(w.dec_lo), tuple(w.dec_hi), tuple(w.rec_lo), tuple(w.rec_hi))
