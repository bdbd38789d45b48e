"""``LatentDataset``: a folder (or any dataset) encoded once by a codec, cached on disk, served memory-mapped.

The cache is a folder ``cache_dir/<key>/`` with ``latents.f32`` (every item's continuous latents, float32, back
to back in source order) and ``index.json`` (shapes, offsets, labels, the codec's name and weight
fingerprint). The key hashes the codec's fingerprint and the source's identity (file names, sizes and
modification times for a folder), so a changed codec or changed files make a new cache. Under
``torch.distributed`` every rank encodes a share of the items and rank 0 assembles the same file one rank
would have written. :meth:`LatentDataset.from_shards` reads WebDataset shards instead
(:mod:`walloc.learning.shards`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from ..codec import AudioCodec, ImageCodec
from ..media import find_media, read_audio, read_image

INDEX, LATENTS = "index.json", "latents.f32"


def _folder_items(folder: Path, kind: str) -> tuple[list[Path], list[int], list[str]]:
    """Files of ``kind`` under ``folder``; labels from the first sub-folder (class) names, if any."""
    files = find_media([folder], kind)
    classes = sorted({f.relative_to(folder).parts[0] for f in files if len(f.relative_to(folder).parts) > 1})
    labels = [classes.index(f.relative_to(folder).parts[0]) if len(f.relative_to(folder).parts) > 1 else -1
              for f in files]
    return files, labels, classes


def world_rank() -> tuple[int, int]:
    """(rank, world size) of the initialised ``torch.distributed`` group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class MediaItems:
    """The items of a folder of images or audio (sub-folders are classes) or of a sequence of media or
    ``(media, label)``: ``count``, ``classes``, ``identity`` (what names the source in cache keys; a sequence's
    ``name``), ``names`` (file paths relative to the folder, or item numbers) and ``item(i) -> (media, label)``."""

    def __init__(self, source: str | Path | Sequence[Any], kind: str, name: str | None = None) -> None:
        if isinstance(source, (str, Path)):
            folder = Path(source)
            if not folder.is_dir():
                raise FileNotFoundError(f"no such folder: {folder}")
            files, labels, self.classes = _folder_items(folder, kind)
            if not files:
                raise ValueError(f"no {kind} files under {folder}")
            load = read_image if kind == "image" else (lambda p: read_audio(p)[0])
            self.item = lambda i: (load(files[i]), labels[i])
            self.names = [str(f.relative_to(folder)) for f in files]
            self.identity = [str(folder.resolve())] + [f"{f.relative_to(folder)}:{f.stat().st_size}:"
                                                       f"{f.stat().st_mtime_ns}" for f in files]
        else:
            items = source
            self.classes = []
            self.item = lambda i: items[i] if isinstance(items[i], tuple) else (items[i], -1)
            self.names = [str(i) for i in range(len(items))]
            self.identity = [name or f"{type(items).__name__}:{len(items)}"]
        self.count = len(self.names)


def encoded_items(items: MediaItems, codec: ImageCodec | AudioCodec, rank: int = 0, world: int = 1,
                  progress: bool = True) -> Iterator[tuple[int, Tensor, int]]:
    """(item number, continuous latents as ``codec.encode`` returns them without the batch dimension, label)
    for this rank's share of the items (every ``world``-th from ``rank``), in order."""
    from tqdm import tqdm

    for i in tqdm(range(rank, items.count, world), desc=f"encoding with {codec.name}", unit="item",
                  disable=not progress or rank != 0):
        media, label = items.item(i)
        yield i, codec.encode(media)[0].float().cpu().contiguous(), int(label)


class LatentDataset(torch.utils.data.Dataset):
    """Items ``(latents, label)``: the codec's continuous latents (as ``codec.encode`` returns them, without
    the batch dimension) and an integer label (the class sub-folder's index, the source's label, or -1).

    ``source``: a folder of images or audio (sub-folders are classes), or a sequence whose items are media
    (what ``codec.encode`` accepts, one item) or ``(media, label)``; give a sequence a ``name`` so its cache
    is recognised.
    """

    def __init__(self, source: str | Path | Sequence[Any], codec: ImageCodec | AudioCodec,
                 cache_dir: str | Path | None = None, name: str | None = None, progress: bool = True) -> None:
        self.codec = codec
        items = MediaItems(source, codec.kind, name)
        self.classes = items.classes
        digest = hashlib.sha256(json.dumps([codec.name, codec.fingerprint, items.identity]).encode()).hexdigest()[:20]
        root = Path(cache_dir) if cache_dir is not None else Path(os.environ.get("WALLOC_CACHE", "~/.cache/walloc"))
        self.cache = root.expanduser() / f"latents-{codec.name}-{digest}"
        if not (self.cache / INDEX).exists():
            self._encode(items, progress)
        index = json.loads((self.cache / INDEX).read_text())
        self.shapes, self.offsets, self.labels = index["shapes"], index["offsets"], index["labels"]
        total = index["offsets"][-1] + int(np.prod(index["shapes"][-1])) if self.shapes else 0
        self._data = np.memmap(self.cache / LATENTS, dtype=np.float32, mode="r", shape=(total,)) if total else None
        self._read = self._read_cache

    @classmethod
    def from_shards(cls, shards: str | Path | Sequence[str | Path]) -> LatentDataset:
        """The items of WebDataset shards written by :func:`walloc.learning.write_shards` (a folder holding
        them, or the tar files), read in place."""
        from .shards import ShardReader

        reader = ShardReader(shards)
        dataset = cls.__new__(cls)
        dataset.codec, dataset.cache, dataset.classes = None, None, reader.classes
        dataset.shapes, dataset.labels, dataset._read = reader.shapes, reader.labels, reader.read
        return dataset

    def _encode(self, items: MediaItems, progress: bool) -> None:
        rank, world = world_rank()
        self.cache.mkdir(parents=True, exist_ok=True)
        shard = self.cache / f"shard-{rank}-of-{world}.f32"
        entries = []
        with open(shard, "wb") as out:
            for i, latents, label in encoded_items(items, self.codec, rank, world, progress):
                out.write(latents.numpy().tobytes())
                entries.append({"item": i, "shape": list(latents.shape), "label": label})
        (self.cache / f"shard-{rank}-of-{world}.json").write_text(json.dumps(entries))
        if world > 1:
            dist.barrier()
        if rank == 0:
            self._assemble(items.count, world)
        if world > 1:
            dist.barrier()

    def _assemble(self, count: int, world: int) -> None:
        """Rank 0: every shard's items into one file in source order, the index last (it marks completion)."""
        located = {}
        for r in range(world):
            entries = json.loads((self.cache / f"shard-{r}-of-{world}.json").read_text())
            offset = 0
            for e in entries:
                located[e["item"]] = (r, offset, e)
                offset += int(np.prod(e["shape"]))
        shards = {r: np.fromfile(self.cache / f"shard-{r}-of-{world}.f32", dtype=np.float32) for r in range(world)}
        shapes, offsets, labels, position = [], [], [], 0
        with open(self.cache / LATENTS, "wb") as out:
            for i in range(count):
                r, start, e = located[i]
                size = int(np.prod(e["shape"]))
                out.write(shards[r][start:start + size].tobytes())
                shapes.append(e["shape"])
                offsets.append(position)
                labels.append(e["label"])
                position += size
        for r in range(world):
            (self.cache / f"shard-{r}-of-{world}.f32").unlink()
            (self.cache / f"shard-{r}-of-{world}.json").unlink()
        index = {"codec": self.codec.name, "fingerprint": self.codec.fingerprint, "shapes": shapes,
                 "offsets": offsets, "labels": labels, "classes": self.classes}
        (self.cache / INDEX).write_text(json.dumps(index))

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self._read(i), self.labels[i]

    def _read_cache(self, i: int) -> Tensor:
        shape, start = self.shapes[i], self.offsets[i]
        return torch.from_numpy(np.array(self._data[start:start + int(np.prod(shape))])).view(shape)
