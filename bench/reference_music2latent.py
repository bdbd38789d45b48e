"""Loads the reference Music2Latent package (music2latent 0.1.8 on PyPI, CC BY-NC 4.0) as
``music2latent_reference``: an oracle for the tests and the baseline of ``bench/music2latent.py``.

Its wheel is downloaded once (or taken from ``MUSIC2LATENT_REFERENCE_WHEEL``) and unpacked into a cache folder,
never installed and never copied into walloc. Only its modules are imported: its ``EncoderDecoder`` downloads
weights from a hub at construction, so the helpers here build its ``UNet`` directly and call its inference
functions with a stand-in for the object that holds the network.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

WHEEL = "music2latent-0.1.8-py3-none-any.whl"
PACKAGE = "music2latent_reference"
CACHE = Path(os.environ.get("WALLOC_REFERENCE_CACHE", Path(tempfile.gettempdir()) / "walloc-reference-cache"))


class ReferenceUnavailable(RuntimeError):
    """The reference package cannot be loaded here (the message says why)."""


def _wheel() -> Path:
    """Downloaded as the reference WaLLoC's wheel is (``reference_walloc.download_wheel``)."""
    spec = importlib.util.spec_from_file_location("bench_reference_walloc", Path(__file__).with_name(
        "reference_walloc.py"))
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers.download_wheel("music2latent==0.1.8", WHEEL, "MUSIC2LATENT_REFERENCE_WHEEL")


def _stub_hub() -> None:
    """Its utils import ``hf_hub_download`` at module level; it is only called by ``EncoderDecoder``."""
    if importlib.util.find_spec("huggingface_hub") is None:
        hub = types.ModuleType("huggingface_hub")
        hub.hf_hub_download = None
        sys.modules["huggingface_hub"] = hub


def load_reference() -> types.ModuleType:
    """The reference package's ``inference`` module (which re-exports its models, audio and utils)."""
    if f"{PACKAGE}.inference" in sys.modules:
        return sys.modules[f"{PACKAGE}.inference"]
    try:
        wheel = _wheel()
    except (OSError, subprocess.SubprocessError) as error:
        raise ReferenceUnavailable(f"could not download the reference wheel music2latent==0.1.8 ({error})") from None
    root = CACHE / "music2latent-0.1.8"
    folder = root / PACKAGE
    if not (folder / "inference.py").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith("music2latent/") and name.endswith(".py"):
                    (folder / Path(name).name).write_bytes(archive.read(name))
    _stub_hub()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"{PACKAGE}.inference")


class Holder:
    """What the reference's inference functions expect: an object with the network as ``gen``."""

    def __init__(self, unet) -> None:
        self.gen = unet


def encode(reference: types.ModuleType, unet, audio):
    """The reference's ``EncoderDecoder.encode`` on (channels, samples) audio: latents (channels, 64, L)."""
    return reference.encode_audio_inference(audio, Holder(unet), 44100 * 60, 1, device="cpu")


def decode(reference: types.ModuleType, unet, latents, steps: int = 1):
    """The reference's ``EncoderDecoder.decode``: audio (channels, samples); its noise comes from the global
    generator (seed it first)."""
    return reference.decode_latent_inference(latents, Holder(unet), 44100 * 60, 1, diffusion_steps=steps,
                                             device="cpu")
