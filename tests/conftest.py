"""Shared fixtures. ``reference_walloc``: the reference WaLLoC package (walloc 1.2.1 on PyPI), an oracle.

It is also called ``walloc``, so it is never installed: its wheel is downloaded once (or taken from
``WALLOC_REFERENCE_WHEEL``) and its one module file imported under another name. It needs diffusers, einops and
pytorch_wavelets; it imports torchvision without declaring it, so a stand-in is provided when torchvision is
absent (the code paths used here do not touch it).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import pytest

WHEEL = "walloc-1.2.1-py3-none-any.whl"
CACHE = Path(os.environ.get("WALLOC_TEST_CACHE", Path(tempfile.gettempdir()) / "walloc-test-cache"))


def _wheel() -> Path:
    given = os.environ.get("WALLOC_REFERENCE_WHEEL")
    if given:
        return Path(given)
    path = CACHE / WHEEL
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(CACHE),
                        "walloc==1.2.1"], check=True, timeout=300, capture_output=True)
    return path


def _stub_torchvision() -> None:
    if importlib.util.find_spec("torchvision") is not None:
        return
    transforms = types.ModuleType("torchvision.transforms")
    transforms.ToPILImage = transforms.PILToTensor = object
    package = types.ModuleType("torchvision")
    package.transforms = transforms
    sys.modules.update({"torchvision": package, "torchvision.transforms": transforms})


def _load_reference():
    """The reference module, or a pytest skip naming what is missing."""
    if "walloc_reference" in sys.modules:
        return sys.modules["walloc_reference"]
    for dependency in ("diffusers", "einops", "pytorch_wavelets"):
        if importlib.util.find_spec(dependency) is None:
            pytest.skip(f"the reference WaLLoC needs {dependency}, which is not installed")
    try:
        wheel = _wheel()
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"could not download the reference wheel walloc==1.2.1 ({error})")
    source = zipfile.ZipFile(wheel).read("walloc/walloc.py")
    module_file = CACHE / "walloc_reference.py"
    CACHE.mkdir(parents=True, exist_ok=True)
    module_file.write_bytes(source)
    _stub_torchvision()
    spec = importlib.util.spec_from_file_location("walloc_reference", module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["walloc_reference"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def reference_walloc():
    """The reference WaLLoC module (``Codec2D``, ``Codec1D``, ...), or a skip naming what is missing."""
    return _load_reference()


def _save_tiny_codec(folder: Path, kind: str, seed: int) -> Path:
    """A small random codec folder (the API does not care whether weights are trained)."""
    import torch

    from walloc.codec.package import build_model, save_codec

    torch.manual_seed(seed)
    if kind == "image":
        arguments = {"channels": 3, "J": 3, "Nd": 64, "latent_dim": 6, "linear_skip": True}
    else:
        arguments = {"channels": 2, "J": 5, "Nd": 32, "latent_dim": 8, "linear_skip": True}
    model = build_model(kind, arguments)
    with torch.no_grad():  # spread the latents over many symbols, as a trained encoder does
        model.encoder[0].weight.mul_(40)
    extra = {"sample_rate": 44100} if kind == "audio" else {}
    return save_codec(folder / f"tiny-{kind}-{seed}", f"tiny-{kind}-{seed}", kind, arguments, model, **extra)


@pytest.fixture(scope="session")
def tiny_codecs(tmp_path_factory) -> Path:
    """A codec search folder with tiny-image-0, tiny-image-1 and tiny-audio-0."""
    root = tmp_path_factory.mktemp("codecs")
    for kind, seed in (("image", 0), ("image", 1), ("audio", 0)):
        _save_tiny_codec(root, kind, seed)
    return root


@pytest.fixture
def codec_path(tiny_codecs, monkeypatch) -> Path:
    monkeypatch.setenv("WALLOC_CODECS_PATH", str(tiny_codecs))
    return tiny_codecs
