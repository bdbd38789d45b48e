"""``LatentDataset``: a folder (or any dataset) encoded once by a codec, cached on disk, served memory-mapped.

The cache is a folder ``cache_dir/<key>/`` with ``latents.f32`` (every item's continuous latents, float32, back
to back in source order) and ``index.json`` (shapes, offsets, labels, the codec's name and weight
fingerprint). The key hashes the codec's fingerprint and the source's identity (file names, sizes and
modification times for a folder), so a changed codec or changed files make a new cache. Under
``torch.distributed`` every rank encodes a share of the items and rank 0 assembles the same file one rank
would have written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

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


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


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
        if isinstance(source, (str, Path)):
            folder = Path(source)
            if not folder.is_dir():
                raise FileNotFoundError(f"no such folder: {folder}")
            files, labels, self.classes = _folder_items(folder, codec.kind)
            if not files:
                raise ValueError(f"no {codec.kind} files under {folder}")
            load = read_image if codec.kind == "image" else (lambda p: read_audio(p)[0])
            self._items = lambda i: (load(files[i]), labels[i])
            identity = [str(folder.resolve())] + [f"{f.relative_to(folder)}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                                                 for f in files]
            count = len(files)
        else:
            items = source
            self.classes = []
            self._items = lambda i: items[i] if isinstance(items[i], tuple) else (items[i], -1)
            identity = [name or f"{type(items).__name__}:{len(items)}"]
            count = len(items)
        digest = hashlib.sha256(json.dumps([codec.name, codec.fingerprint, identity]).encode()).hexdigest()[:20]
        root = Path(cache_dir) if cache_dir is not None else Path(os.environ.get("WALLOC_CACHE", "~/.cache/walloc"))
        self.cache = root.expanduser() / f"latents-{codec.name}-{digest}"
        if not (self.cache / INDEX).exists():
            self._encode(count, progress)
        index = json.loads((self.cache / INDEX).read_text())
        self.shapes, self.offsets, self.labels = index["shapes"], index["offsets"], index["labels"]
        total = index["offsets"][-1] + int(np.prod(index["shapes"][-1])) if self.shapes else 0
        self._data = np.memmap(self.cache / LATENTS, dtype=np.float32, mode="r", shape=(total,)) if total else None

    def _encode(self, count: int, progress: bool) -> None:
        from tqdm import tqdm

        rank, world = _world()
        self.cache.mkdir(parents=True, exist_ok=True)
        shard = self.cache / f"shard-{rank}-of-{world}.f32"
        entries = []
        with open(shard, "wb") as out:
            for i in tqdm(range(rank, count, world), desc=f"encoding with {self.codec.name}", unit="item",
                          disable=not progress or rank != 0):
                media, label = self._items(i)
                latents = self.codec.encode(media)[0].float().cpu().contiguous()
                out.write(latents.numpy().tobytes())
                entries.append({"item": i, "shape": list(latents.shape), "label": int(label)})
        (self.cache / f"shard-{rank}-of-{world}.json").write_text(json.dumps(entries))
        if world > 1:
            dist.barrier()
        if rank == 0:
            self._assemble(count, world)
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
        shape, start = self.shapes[i], self.offsets[i]
        flat = self._data[start:start + int(np.prod(shape))]
        return torch.from_numpy(np.array(flat)).view(shape), self.labels[i]
