"""Compressed learning: task heads that run on codec latents, with pixel- and sample-domain twins
(:mod:`walloc.learning.heads`), and datasets of latents encoded once and cached (:mod:`walloc.learning.latents`).
Training them: ``walloc train`` (:mod:`walloc.training.head_tasks`)."""

from .heads import (
    LatentAudioHead,
    LatentClassifier,
    LatentDenseHead,
    PixelClassifier,
    PixelDenseHead,
    WaveformAudioHead,
    build_head,
    load_head,
)
from .latents import LatentDataset

__all__ = ["LatentAudioHead", "LatentClassifier", "LatentDataset", "LatentDenseHead", "PixelClassifier",
           "PixelDenseHead", "WaveformAudioHead", "build_head", "load_head"]
