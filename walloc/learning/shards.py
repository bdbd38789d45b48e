"""Latents as WebDataset shards: plain tar files that ``webdataset`` (or any tar reader) streams, written by every
torchrun rank in parallel, read back in place by :meth:`LatentDataset.from_shards`.

Layout of ``OUT/``:

- ``latents-<rank:05d>-<shard:06d>.tar``: the items of that rank's share, in order; item ``i`` of the source has
  the key ``<i:09d>`` and three members: ``.latents.npy`` (float32, the continuous latents as
  :class:`LatentDataset` gives them), ``.cls`` (the label, decimal; -1 unlabelled) and ``.json`` (``{"name": the
  source file relative to the folder, or the item number, "shape": [...]}``).
- ``index.json`` (written last, by rank 0): ``{"format": 1, "codec", "fingerprint", "classes", "items",
  "shards": [{"path", "items"}]}``.

The tar members carry no time stamps or owners, so the bytes depend only on the latents.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from ..codec import AudioCodec, ImageCodec
from .latents import MediaItems, encoded_items, world_rank

FORMAT = 1
INDEX = "index.json"
LATENTS, LABEL, META = "latents.npy", "cls", "json"


def _shard_name(rank: int, shard: int) -> str:
    return f"latents-{rank:05d}-{shard:06d}.tar"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def write_shards(source: str | Path | Sequence[Any], codec: ImageCodec | AudioCodec, out: str | Path, *,
                 name: str | None = None, items_per_shard: int = 1000, progress: bool = True) -> list[Path]:
    """Encodes ``source`` (a folder of images or audio, sub-folders as classes, or a sequence of media or
    ``(media, label)``; see :class:`LatentDataset`) with ``codec`` into WebDataset shards in ``out``; under
    ``torch.distributed`` each rank encodes every world-th item and writes shards of its own. Replaces earlier
    shards in ``out``. Returns the shards this rank wrote."""
    if items_per_shard < 1:
        raise ValueError(f"items_per_shard must be positive, got {items_per_shard}")
    items = MediaItems(source, codec.kind, name)
    out = Path(out)
    rank, world = world_rank()
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        for old in [*out.glob("latents-*.tar"), *out.glob("rank-*.json"), out / INDEX]:
            old.unlink(missing_ok=True)
    if world > 1:
        dist.barrier()
    written: list[dict] = []
    tar = None
    try:
        for i, latents, label in encoded_items(items, codec, rank, world, progress):
            if tar is None or written[-1]["items"] == items_per_shard:
                if tar is not None:
                    tar.close()
                written.append({"path": _shard_name(rank, len(written)), "items": 0})
                tar = tarfile.open(out / written[-1]["path"], "w", format=tarfile.USTAR_FORMAT)
            key = f"{i:09d}"
            buffer = io.BytesIO()
            np.save(buffer, latents.numpy(), allow_pickle=False)
            _add(tar, f"{key}.{LATENTS}", buffer.getvalue())
            _add(tar, f"{key}.{LABEL}", str(label).encode())
            _add(tar, f"{key}.{META}", json.dumps({"name": items.names[i], "shape": list(latents.shape)}).encode())
            written[-1]["items"] += 1
    finally:
        if tar is not None:
            tar.close()
    (out / f"rank-{rank:05d}.json").write_text(json.dumps(written))
    if world > 1:
        dist.barrier()
    if rank == 0:
        shards = []
        for r in range(world):
            shards += json.loads((out / f"rank-{r:05d}.json").read_text())
            (out / f"rank-{r:05d}.json").unlink()
        index = {"format": FORMAT, "codec": codec.name, "fingerprint": codec.fingerprint, "classes": items.classes,
                 "items": items.count, "shards": shards}
        (out / INDEX).write_text(json.dumps(index, indent=1))
    if world > 1:
        dist.barrier()
    return [out / s["path"] for s in written]


class ShardReader:
    """Random access to the items of shards written by :func:`write_shards`: ``shapes``, ``labels``,
    ``classes``, ``names`` and ``read(i)`` (the latents of item ``i``, items in source order)."""

    def __init__(self, shards: str | Path | Sequence[str | Path]) -> None:
        if isinstance(shards, (str, Path)) and Path(shards).is_dir():
            folder = Path(shards)
            try:
                index = json.loads((folder / INDEX).read_text())
                paths = [folder / s["path"] for s in index["shards"]]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{folder}: not a folder of walloc latent shards ({error})") from None
            self.classes = list(index.get("classes", []))
        else:
            paths = [Path(shards)] if isinstance(shards, (str, Path)) else [Path(p) for p in shards]
            self.classes = []
        members: dict[str, dict[str, tuple[Path, int, int]]] = {}
        for path in paths:
            try:
                with tarfile.open(path) as tar:
                    for member in tar.getmembers():
                        key, _, extension = member.name.partition(".")
                        members.setdefault(key, {})[extension] = (path, member.offset_data, member.size)
            except (OSError, tarfile.TarError) as error:
                raise ValueError(f"{path}: not a readable tar shard ({error})") from None
        self._entries = []
        self.shapes, self.labels, self.names = [], [], []
        for key in sorted(members):
            entry = members[key]
            if LATENTS not in entry or META not in entry:
                raise ValueError(f"{entry[next(iter(entry))][0]}: item {key} lacks its .{LATENTS} or .{META}")
            meta = json.loads(self._bytes(entry[META]))
            self._entries.append(entry[LATENTS])
            self.shapes.append(meta["shape"])
            self.names.append(meta.get("name", key))
            self.labels.append(int(self._bytes(entry[LABEL])) if LABEL in entry else -1)

    @staticmethod
    def _bytes(location: tuple[Path, int, int]) -> bytes:
        path, offset, size = location
        with open(path, "rb") as file:
            file.seek(offset)
            return file.read(size)

    def __len__(self) -> int:
        return len(self._entries)

    def read(self, i: int) -> Tensor:
        return torch.from_numpy(np.load(io.BytesIO(self._bytes(self._entries[i])), allow_pickle=False))
