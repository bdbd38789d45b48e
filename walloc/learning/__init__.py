"""Compressed learning: task heads that run on codec latents, with pixel- and sample-domain twins
(:mod:`walloc.learning.heads`), datasets of latents encoded once and cached (:mod:`walloc.learning.latents`),
and latents as WebDataset shards (:mod:`walloc.learning.shards`).
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
from .shards import ShardReader, write_shards

__all__ = ["LatentAudioHead", "LatentClassifier", "LatentDataset", "LatentDenseHead", "PixelClassifier",
           "PixelDenseHead", "ShardReader", "WaveformAudioHead", "build_head", "load_head", "write_shards"]
