"""Compressed learning: cached latent datasets (exact, invalidated by a new codec, the same from two ranks)
and heads on latents with their pixel twins."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import walloc
from walloc.data import LatentDataset
from walloc.heads import (LatentAudioHead, LatentClassifier, LatentDenseHead, PixelClassifier, PixelDenseHead,
                          WaveformAudioHead)


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (root / label).mkdir()
        for i in range(3):
            size = (32 + 8 * i, 40)
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    return root


def test_cached_latents_equal_a_fresh_encode_and_follow_the_codec(codec_path, class_folder, tmp_path):
    codec = walloc.load("tiny-image-0")
    data = LatentDataset(class_folder, codec, cache_dir=tmp_path, progress=False)
    assert len(data) == 6 and data.labels == [0, 0, 0, 1, 1, 1]
    for i, path in enumerate(sorted(class_folder.rglob("*.png"))):
        latents, label = data[i]
        fresh = codec.encode(walloc.media.read_image(path))[0]
        assert latents.numpy().tobytes() == fresh.numpy().tobytes()
    again = LatentDataset(class_folder, codec, cache_dir=tmp_path, progress=False)
    assert again.cache == data.cache
    other = LatentDataset(class_folder, walloc.load("tiny-image-1"), cache_dir=tmp_path, progress=False)
    assert other.cache != data.cache and not torch.equal(other[0][0], data[0][0])


def test_two_gloo_ranks_write_the_same_cache_as_one(codec_path, class_folder, tmp_path):
    script = tmp_path / "encode.py"
    script.write_text(
        "import sys, torch.distributed as dist, walloc\n"
        "from walloc.data import LatentDataset\n"
        "dist.init_process_group('gloo')\n"
        "LatentDataset(sys.argv[1], walloc.load('tiny-image-0'), cache_dir=sys.argv[2], progress=False)\n"
        "dist.destroy_process_group()\n")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(class_folder), str(tmp_path / "two")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    one = LatentDataset(class_folder, walloc.load("tiny-image-0"), cache_dir=tmp_path / "one", progress=False)
    (two,) = (tmp_path / "two").iterdir()
    assert (two / "latents.f32").read_bytes() == (one.cache / "latents.f32").read_bytes()
    assert json.loads((two / "index.json").read_text()) == json.loads((one.cache / "index.json").read_text())
    assert sorted(p.name for p in two.iterdir()) == ["index.json", "latents.f32"]


def test_sequence_sources_with_labels(codec_path, tmp_path):
    codec = walloc.load("tiny-image-0")
    items = [(torch.rand(3, 16, 16), i % 2) for i in range(4)]
    data = LatentDataset(items, codec, cache_dir=tmp_path, name="random-4", progress=False)
    assert [data[i][1] for i in range(4)] == [0, 1, 0, 1] and data[0][0].shape == (6, 2, 2)


def test_heads_and_their_twins(codec_path):
    codec = walloc.load("tiny-image-0")
    images = torch.rand(2, 3, 64, 64)
    latents = codec.encode(images)
    classifier = LatentClassifier(codec, 10, width=16, depth=4)
    twin = PixelClassifier(10, width=16, depth=4, stem_stride=8)
    assert classifier(latents).shape == twin(images).shape == (2, 10)
    assert classifier.body.layers[1:].__repr__() == twin.body.layers[1:].__repr__()  # same body, other stem

    dense = LatentDenseHead(codec, width=16, depth=2)
    out = dense.decode(dense(latents))
    assert out.shape == images.shape and PixelDenseHead(3, 3, width=16, depth=2)(images).shape == images.shape
    loss = (out - images).pow(2).mean()
    loss.backward()
    assert dense.out[-1].weight.grad is not None and codec.model.decoder[1].conv_in.weight.grad is None

    identity = LatentDenseHead(codec, width=16, depth=2, residual=True)
    unit = codec.model.decoder[0](latents) / codec.model.decoder[0].scale
    assert torch.equal(identity(latents), unit)  # an untrained residual head passes its input through

    audio_codec = walloc.load("tiny-audio-0")
    audio = torch.rand(1, 2, 1024) - 0.5
    audio_latents = audio_codec.encode(audio)
    head = LatentAudioHead(audio_codec, width=16, depth=2)
    assert head.decode(head(audio_latents)).shape == (1, 2, 1024)
    assert WaveformAudioHead(2, width=16, depth=2)(audio).shape == audio.shape
