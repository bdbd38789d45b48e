"""hf:// loading against a local Hugging Face cache laid out as huggingface_hub writes it, offline (no network)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

import walloc
from walloc import hub
from walloc.codec.package import build_model

hub_constants = pytest.importorskip("huggingface_hub.constants", reason="hf:// addresses need huggingface_hub")

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cache_repo(cache: Path, repo_id: str, files: dict[str, bytes], ref: str = "main") -> None:
    """A model repository in huggingface_hub's cache layout: refs/<ref> names the commit, snapshots/<commit>/
    holds links to content-addressed blobs."""
    root = cache / f"models--{repo_id.replace('/', '--')}"
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / ref).write_text(COMMIT)
    for name, data in files.items():
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = root / "snapshots" / COMMIT / name
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))


@pytest.fixture
def offline_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache that huggingface_hub uses, with HF_HUB_OFFLINE set (its constants are read at import)."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_parse_addresses() -> None:
    assert hub.parse("hf://danjacobellis/walloc/RGB_16x") == hub.HubPath("danjacobellis/walloc", None, "RGB_16x")
    assert hub.parse("hf://o/r@v1.0/a/b.pt") == hub.HubPath("o/r", "v1.0", "a/b.pt")
    assert str(hub.parse("hf://o/r@v1.0/a/b.pt")) == "hf://o/r@v1.0/a/b.pt"
    assert hub.parse("hf://o/r/") == hub.HubPath("o/r")
    for bad in ("hf://", "hf://owner", "hf://o/r@", "hf://o/r/../x", "hf://o//r", "o/r"):
        with pytest.raises(ValueError, match="Hub address"):
            hub.parse(bad)


def test_reference_checkpoint_from_the_hub(offline_cache) -> None:
    """A fake RGB_16x in the reference's published form (a {"model_state_dict"} pickle and its JSON config of
    Codec2D arguments, side by side at the repository root), with random weights and a small decoder."""
    config = {"channels": 3, "J": 3, "Ne": None, "Nd": 64, "latent_dim": 12, "latent_bits": 8,
              "lightweight_encode": True}
    torch.manual_seed(0)
    model = build_model("image", {k: config[k] for k in ("channels", "J", "Nd", "latent_dim", "latent_bits")})
    path = offline_cache.parent / "RGB_16x.pth"
    torch.save({"model_state_dict": model.state_dict()}, path)
    _cache_repo(offline_cache, "danjacobellis/walloc",
                {"RGB_16x.pth": path.read_bytes(), "RGB_16x.json": json.dumps(config).encode()})
    codec = walloc.load_reference("hf://danjacobellis/walloc/RGB_16x")
    local = walloc.load_reference(path, _write(offline_cache.parent / "config.json", json.dumps(config)))
    assert codec.fingerprint == local.fingerprint and codec.name == "RGB_16x"
    x = torch.rand(1, 3, 32, 40)
    assert codec.compress(x) == local.compress(x)
    assert walloc.load_reference("hf://danjacobellis/walloc/RGB_16x.pth").fingerprint == local.fingerprint


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_codec_folder_from_the_hub_and_save_pretrained(offline_cache, codec_path, tmp_path) -> None:
    codec = walloc.load("tiny-image-0")
    folder = codec.save_pretrained(tmp_path / "export", repo_id="someone/tiny")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "weights.safetensors"]
    assert (folder / "README.md").read_text().startswith("---\nlibrary_name: walloc\n")
    assert 'walloc.load("hf://someone/tiny")' in (folder / "README.md").read_text()
    files = {f"codecs/tiny/{p.name}": p.read_bytes() for p in folder.iterdir()}
    _cache_repo(offline_cache, "someone/tiny", files)
    _cache_repo(offline_cache, "someone/tiny", files, ref="v1")
    for address in ("hf://someone/tiny/codecs/tiny", "hf://someone/tiny@v1/codecs/tiny",
                    f"hf://someone/tiny@{COMMIT}/codecs/tiny"):
        loaded = walloc.load(address)
        assert loaded.fingerprint == codec.fingerprint and type(loaded) is type(codec)
    image = torch.rand(1, 3, 24, 40)
    assert loaded.compress(image) == codec.compress(image)
    assert walloc.decompress(codec.compress(image)).shape == (1, 3, 24, 40)  # its name is installed here
    with pytest.raises(ValueError, match="built in code"):
        type(codec)("adhoc", codec.model).save_pretrained(tmp_path / "no")


def test_offline_and_not_cached_is_one_line(offline_cache) -> None:
    for call in (lambda: walloc.load("hf://nobody/nothing"),
                 lambda: walloc.load_reference("hf://danjacobellis/walloc/RGB_4x"),
                 lambda: walloc.load_music2latent()):
        with pytest.raises(FileNotFoundError) as error:
            call()
        message = str(error.value)
        assert "\n" not in message and "HF_HUB_OFFLINE" in message and "hf://" in message


def test_cli_names_hub_codecs_offline_in_one_line(offline_cache, tmp_path) -> None:
    import subprocess
    import sys

    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (16, 16)).save(image)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(offline_cache)}
    result = subprocess.run([sys.executable, "-m", "walloc", "compress", str(image), str(tmp_path / "x.wlc"),
                             "--codec", "hf://nobody/nothing"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "HF_HUB_OFFLINE" in result.stderr


# The released checkpoints' state-dict layouts (key, shape, dtype, read from the reference walloc 1.2.1 models
# built with the published configurations; tests/data/released-layouts) and those configurations.
RELEASED = {"RGB_16x": ("image", {"channels": 3, "J": 3, "Nd": 768, "latent_dim": 12, "latent_bits": 8}),
            "RGB_4x": ("image", {"channels": 3, "J": 3, "Nd": 768, "latent_dim": 48, "latent_bits": 8}),
            "stereo_5x": ("audio", {"channels": 2, "J": 8, "Nd": 768, "latent_dim": 108, "latent_bits": 8,
                                    "post_filter": True}),
            "stereo_20x": ("audio", {"channels": 2, "J": 8, "Nd": 768, "latent_dim": 27, "latent_bits": 8,
                                     "post_filter": True})}


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_models_have_the_released_layouts(name: str) -> None:
    """What load_reference loads the released files into has exactly their keys, shapes and dtypes (built on
    the meta device: the full-size models would take hundreds of MB)."""
    kind, arguments = RELEASED[name]
    rows = (Path(__file__).parent / "data" / "released-layouts" / f"state_dict_{name}.tsv").read_text().splitlines()
    released = {key: (shape, dtype) for key, shape, dtype in (row.split("\t") for row in rows)}
    with torch.device("meta"):
        model = build_model(kind, arguments)
    assert {k: (str(tuple(v.shape)), str(v.dtype)) for k, v in model.state_dict().items()} == released
