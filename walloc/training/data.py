"""Training samples: random crops of images and random segments of audio, held in memory."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..media import find_media, read_audio, read_image
from ..models import WallocAudioModel, WallocImageModel


def split_files(folders: list[str], kind: str, holdout: int,
                validation: list[str] | None = None) -> tuple[list[Path], list[Path]]:
    """(training files, validation files): the ``validation`` files if given, otherwise every k-th file (so
    both span the whole set)."""
    files = find_media(folders, kind)
    if validation is not None:
        held_out = {p.resolve() for p in find_media(validation, kind)}
        return [f for f in files if f.resolve() not in held_out], sorted(held_out)
    if len(files) <= holdout:
        raise ValueError(f"found {len(files)} {kind} files in {folders}: need more than holdout={holdout}")
    stride = len(files) // holdout if holdout else 0
    held = set(range(0, stride * holdout, stride)) if holdout else set()
    return [f for i, f in enumerate(files) if i not in held], [f for i, f in enumerate(files) if i in held]


class ImageCrops:
    """Random ``crop`` x ``crop`` RGB crops (random flips) from images at least that large, in [-0.5, 0.5]."""

    def __init__(self, files: list[Path], crop: int) -> None:
        images = [read_image(f) for f in files]
        self.images = [im for im in images if min(im.shape[-2:]) >= crop]
        if not self.images:
            raise ValueError(f"no image is at least {crop}x{crop}")
        self.crop = crop

    def sample(self, batch: int, generator: torch.Generator) -> Tensor:
        out = []
        for _ in range(batch):
            image = self.images[int(torch.randint(len(self.images), (1,), generator=generator))]
            top = int(torch.randint(image.shape[1] - self.crop + 1, (1,), generator=generator))
            left = int(torch.randint(image.shape[2] - self.crop + 1, (1,), generator=generator))
            patch = image[:, top:top + self.crop, left:left + self.crop]
            if torch.rand((), generator=generator) < 0.5:
                patch = patch.flip(-1)
            out.append(patch)
        return WallocImageModel.to_signal(torch.stack(out).float() / 255)


class AudioSegments:
    """Random ``segment``-sample windows of multi-channel audio, scaled from [-1, 1] to [-0.5, 0.5].

    With ``mix=True`` half the samples are two segments panned apart (random per-channel gains), so a stereo
    codec sees real side (L - R) content even when many clips are near-mono.
    """

    def __init__(self, files: list[Path], segment: int, channels: int, sample_rate: int, mix: bool = True) -> None:
        self.mix = mix
        self.clips = []
        for f in files:
            audio, rate = read_audio(f)
            if rate != sample_rate:
                continue
            if audio.shape[0] == 1:
                audio = audio.expand(channels, -1)
            if audio.shape[0] == channels and audio.shape[1] >= segment:
                self.clips.append(audio)
        if not self.clips:
            raise ValueError(f"no {channels}-channel clip at {sample_rate} Hz is at least {segment} samples long")
        self.segment = segment

    def _segment(self, generator: torch.Generator) -> Tensor:
        lengths = torch.tensor([c.shape[1] for c in self.clips], dtype=torch.float64)
        clip = self.clips[int(torch.multinomial(lengths, 1, generator=generator))]
        start = int(torch.randint(clip.shape[1] - self.segment + 1, (1,), generator=generator))
        return clip[:, start:start + self.segment]

    def sample(self, batch: int, generator: torch.Generator) -> Tensor:
        out = []
        for _ in range(batch):
            x = self._segment(generator) * (0.5 + 0.5 * torch.rand((), generator=generator))
            if self.mix and torch.rand((), generator=generator) < 0.5:
                pan = torch.rand(x.shape[0], 1, generator=generator)
                x = pan * x + (1 - pan) * self._segment(generator)
            out.append(x)
        return WallocAudioModel.to_signal(torch.stack(out))
