"""Overlapping windows and their cross-fade: how a network runs over inputs of any length in pieces.

An axis of ``total`` positions is cut into windows of at most about ``size``: each computes [start, end) and
owns [keep_start, keep_end); neighbours share ``2 * overlap`` positions, over which linear ramps (weights that
sum to one) fade one window's output into the next. Outputs may be ``scale`` times finer than the positions
(samples per latent frame, pixels per latent). The layout depends only on (total, size, overlap), so encoder
and decoder, or two machines, cut the same windows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor


class Window(NamedTuple):
    start: int
    end: int
    keep_start: int
    keep_end: int


def windows(total: int, size: int, overlap: int) -> list[Window]:
    """The windows over [0, total), evenly split (one window when ``total <= size``)."""
    count = math.ceil(total / (size - 2 * overlap)) if total > size else 1
    bounds = [round(i * total / count) for i in range(count + 1)]
    return [Window(max(0, a - overlap), min(total, b + overlap), a, b) for a, b in zip(bounds, bounds[1:])]


def ramp(window: Window, total: int, overlap: int, scale: int, device=None) -> Tensor:
    """The weights of ``window``'s output (length ``(end - start) * scale``): rising over
    [keep_start - overlap, keep_start + overlap) and falling over the same span at its end, where it has
    neighbours; one elsewhere."""
    start, end = window.start, window.end
    weights = torch.ones(end - start, device=device)
    fade = 2 * overlap
    if start > 0:
        weights[:fade] = (torch.arange(fade, device=device) + 0.5) / fade
    if end < total:
        weights[-fade:] = (fade - torch.arange(fade, device=device) - 0.5) / fade
    return weights.repeat_interleave(scale)


def blend(pieces: list[Tensor], cuts: list[Window], scale: int, overlap: int) -> Tensor:
    """Joins the outputs of ``cuts`` (last axis ``scale`` x the positions) into one, cross-faded."""
    total = cuts[-1].end
    out = pieces[0].new_zeros(*pieces[0].shape[:-1], total * scale)
    weight = pieces[0].new_zeros(total * scale)
    for piece, window in zip(pieces, cuts):
        weights = ramp(window, total, overlap, scale, piece.device)
        out[..., window.start * scale:window.end * scale] += piece * weights
        weight[window.start * scale:window.end * scale] += weights
    return out / weight
