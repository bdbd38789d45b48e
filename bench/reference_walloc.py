"""Loads the reference WaLLoC package (walloc 1.2.1 on PyPI) as ``walloc_reference``: an oracle for the tests
and the baseline of the benchmarks.

It is also called ``walloc``, so it is never installed: its wheel is downloaded once (or taken from
``WALLOC_REFERENCE_WHEEL``) and its one module file imported under another name. It needs diffusers, einops and
pytorch_wavelets; it imports torchvision without declaring it, so a stand-in is provided when torchvision is
absent (the code paths used here do not touch it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

WHEEL = "walloc-1.2.1-py3-none-any.whl"
CACHE = Path(os.environ.get("WALLOC_REFERENCE_CACHE", Path(tempfile.gettempdir()) / "walloc-reference-cache"))


def download_wheel(requirement: str, wheel: str, environment_variable: str) -> Path:
    """The wheel file of ``requirement`` (``name==version``): the path in ``environment_variable`` if set,
    otherwise downloaded once into the cache with pip (no dependencies, never installed)."""
    given = os.environ.get(environment_variable)
    if given:
        return Path(given)
    path = CACHE / wheel
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(CACHE),
                        requirement], check=True, timeout=300, capture_output=True)
    return path


class _PILToTensor:
    """torchvision's PILToTensor: a PIL image to a uint8 (C, H, W) tensor, values unchanged."""

    def __call__(self, image):
        import numpy as np
        import torch

        array = np.array(image)
        return torch.from_numpy(array if array.ndim == 3 else array[:, :, None]).permute(2, 0, 1).contiguous()


@contextlib.contextmanager
def torchvision_stand_in():
    """While importing a package that imports torchvision only for a few transforms (the reference WaLLoC,
    CompressAI), a stand-in for an absent torchvision; removed afterwards, so libraries that look for
    torchvision later (diffusers) still see that it is absent."""
    if importlib.util.find_spec("torchvision") is not None:
        yield
        return
    transforms = types.ModuleType("torchvision.transforms")
    transforms.PILToTensor = _PILToTensor
    transforms.ToPILImage = object  # unused by the reference's code paths exercised here
    package = types.ModuleType("torchvision")
    package.transforms = transforms
    sys.modules.update({"torchvision": package, "torchvision.transforms": transforms})
    try:
        yield
    finally:
        del sys.modules["torchvision"], sys.modules["torchvision.transforms"]


class ReferenceUnavailable(RuntimeError):
    """The reference package cannot be loaded here (the message says why)."""


def load_reference():
    """The reference module; raises :class:`ReferenceUnavailable` naming what is missing."""
    if "walloc_reference" in sys.modules:
        return sys.modules["walloc_reference"]
    for dependency in ("diffusers", "einops", "pytorch_wavelets"):
        if importlib.util.find_spec(dependency) is None:
            raise ReferenceUnavailable(f"the reference WaLLoC needs {dependency}, which is not installed")
    try:
        wheel = download_wheel("walloc==1.2.1", WHEEL, "WALLOC_REFERENCE_WHEEL")
    except (OSError, subprocess.SubprocessError) as error:
        raise ReferenceUnavailable(f"could not download the reference wheel walloc==1.2.1 ({error})") from None
    source = zipfile.ZipFile(wheel).read("walloc/walloc.py")
    module_file = CACHE / "walloc_reference.py"
    CACHE.mkdir(parents=True, exist_ok=True)
    module_file.write_bytes(source)
    importlib.import_module("diffusers.models.autoencoders")  # before the stand-in, which it would take as real
    spec = importlib.util.spec_from_file_location("walloc_reference", module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["walloc_reference"] = module
    with torchvision_stand_in():
        spec.loader.exec_module(module)
    return module
