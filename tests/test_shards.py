"""Latents as WebDataset shards: written by one process or two gloo ranks under torchrun, read back by
webdataset and by LatentDataset.from_shards to exactly the latents LatentDataset caches."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import walloc
from walloc.learning import LatentDataset, write_shards

webdataset = pytest.importorskip("webdataset", reason="reading shards with webdataset needs webdataset")


@pytest.fixture(scope="module")
def labelled_images(tmp_path_factory):
    """Seven images of unequal sizes in two class folders (an odd count, so two ranks get unequal shares)."""
    root = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(3)
    for label, count in (("cats", 4), ("dogs", 3)):
        (root / label).mkdir()
        for i in range(count):
            size = (24 + 8 * i, 16 + 4 * i)
            Image.fromarray(rng.integers(0, 255, (*size, 3)).astype(np.uint8)).save(root / label / f"{i}.png")
    return root


def _webdataset_items(folder) -> list[tuple[str, torch.Tensor, int, dict]]:
    """Every sample of every shard, as a webdataset user reads them (default decoders), sorted by key."""
    urls = sorted(str(p) for p in folder.glob("latents-*.tar"))
    samples = webdataset.WebDataset(urls, shardshuffle=False, empty_check=False).decode()
    return sorted((s["__key__"], torch.from_numpy(s["latents.npy"]), s["cls"], s["json"]) for s in samples)


def _assert_same_as_cache(folder, labelled_images, codec, cache) -> None:
    cached = LatentDataset(labelled_images, codec, cache_dir=cache, progress=False)
    items = _webdataset_items(folder)
    assert [key for key, *_ in items] == [f"{i:09d}" for i in range(len(cached))]
    for (key, latents, label, meta), (expected, expected_label) in zip(items, cached):
        assert torch.equal(latents, expected) and label == expected_label and meta["shape"] == list(expected.shape)
    reread = LatentDataset.from_shards(folder)
    assert len(reread) == len(cached) and reread.classes == cached.classes == ["cats", "dogs"]
    for (latents, label), (expected, expected_label) in zip(reread, cached):
        assert torch.equal(latents, expected) and label == expected_label


def test_one_process_writes_shards_webdataset_reads(codec_path, labelled_images, tmp_path) -> None:
    codec = walloc.load("tiny-image-0")
    written = write_shards(labelled_images, codec, tmp_path / "shards", items_per_shard=3, progress=False)
    assert [p.name for p in written] == [f"latents-00000-{k:06d}.tar" for k in range(3)]
    _assert_same_as_cache(tmp_path / "shards", labelled_images, codec, tmp_path / "cache")
    # the bytes depend on the latents only: a second run writes the same files
    first = [p.read_bytes() for p in written]
    again = write_shards(labelled_images, codec, tmp_path / "shards", items_per_shard=3, progress=False)
    assert [p.read_bytes() for p in again] == first


def test_two_gloo_ranks_under_torchrun(codec_path, labelled_images, tmp_path) -> None:
    out = tmp_path / "shards"
    # the ranks convolve with as many threads as this process, as float convolutions depend on the thread count
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads()), "WALLOC_CODECS_PATH": str(codec_path)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "walloc", "shards", str(labelled_images), str(out), "--codec", "tiny-image-0",
                           "--items-per-shard", "2"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    names = sorted(p.name for p in out.glob("latents-*.tar"))
    assert names == ["latents-00000-000000.tar", "latents-00000-000001.tar", "latents-00001-000000.tar",
                     "latents-00001-000001.tar"]  # rank 0: items 0 2 4 6, rank 1: items 1 3 5
    _assert_same_as_cache(out, labelled_images, walloc.load("tiny-image-0"), tmp_path / "cache")


def test_bad_shards_are_named(codec_path, tmp_path) -> None:
    with pytest.raises(ValueError, match="not a folder of walloc latent shards"):
        LatentDataset.from_shards(tmp_path)
    (tmp_path / "broken.tar").write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="not a readable tar shard"):
        LatentDataset.from_shards([tmp_path / "broken.tar"])
    with pytest.raises(ValueError, match="items_per_shard"):
        write_shards(tmp_path, walloc.load("tiny-image-0"), tmp_path / "out", items_per_shard=0)
