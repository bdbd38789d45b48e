"""Shared fixtures: the reference WaLLoC package (an oracle) and small random codecs for API tests."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_BENCH = Path(__file__).resolve().parent.parent / "bench"

# torch.compile tests compile into a cache of their own: a machine's shared inductor cache can hold kernels
# compiled against other builds of walloc's operators.
if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="walloc-tests-inductor-")
    atexit.register(shutil.rmtree, os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)


def pytest_report_header(config) -> list[str]:
    """The CPU and the instruction sets the kernels run: tolerances must hold on every one of them."""
    import torch

    import walloc

    info = walloc.build_info()
    cpu = bench_module("common").device_name("cpu")
    return [f"cpu: {cpu}, {os.cpu_count()} cores; walloc kernels: {info['cpu_isa']}, torch: "
            f"{torch.backends.cpu.get_cpu_capability()}, cuda kernels: {info['cuda']}"]


@pytest.fixture
def on_every_isa(tmp_path):
    """Runs a script, which must print the ISA name first, in a fresh process per instruction-set path: native,
    and each forced by WALLOC_ISA (and WALLOC_CPU_ISA, its earlier name). Returns what each printed after the
    ISA name, by the path asked for; checks that each switch took the path it names."""
    import subprocess
    import sys

    def run(script: str) -> dict[str, str]:
        outputs, taken = {}, {}
        for switch, isa in (("", "native"), ("WALLOC_ISA", "avx512"), ("WALLOC_ISA", "avx2"),
                            ("WALLOC_ISA", "sse2"), ("WALLOC_CPU_ISA", "baseline")):
            env = {k: v for k, v in os.environ.items() if k not in ("WALLOC_ISA", "WALLOC_CPU_ISA")}
            if switch:
                env[switch] = isa
            # Run outside the source tree, whose walloc/ has no compiled _C.
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                 check=True, cwd=tmp_path).stdout.split(maxsplit=1)
            taken[isa], outputs[isa] = out[0], out[1].strip()
        assert taken["sse2"] == taken["baseline"] == "baseline"
        assert taken["avx2"] in ("avx2", "baseline") and taken["avx512"] == taken["native"]
        return outputs

    return run


def bench_module(name: str):
    """A module of bench/ (not a package), loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", _BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference(loader_name: str):
    loader = bench_module(loader_name)
    try:
        return loader, loader.load_reference()
    except loader.ReferenceUnavailable as why:
        pytest.skip(str(why))


@pytest.fixture(scope="session")
def reference_walloc():
    """The reference WaLLoC module (``Codec2D``, ``Codec1D``, ...), or a skip naming what is missing."""
    return _reference("reference_walloc")[1]


@pytest.fixture(scope="session")
def reference_compressai():
    """The CompressAI package (``compressai.zoo``, ``compressai.entropy_models`` imported), or a skip naming
    what is missing."""
    return _reference("reference_compressai")[1]


@pytest.fixture(scope="session")
def reference_music2latent():
    """(loader helpers, the reference Music2Latent package's inference module), or a skip naming what is
    missing."""
    return _reference("reference_music2latent")


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


@pytest.fixture
def stereo_tones(tmp_path) -> Path:
    """A folder of three 2 s stereo FLAC files of two sine tones each (a training set for the audio tasks)."""
    import numpy as np
    import soundfile

    folder = tmp_path / "audio"
    folder.mkdir()
    t = np.arange(2 * 44100) / 44100
    for i in range(3):
        tones = np.stack([np.sin(2 * np.pi * (220 + 110 * i) * t), np.sin(2 * np.pi * (330 + 55 * i) * t)], -1)
        soundfile.write(folder / f"{i}.flac", 0.3 * tones, 44100)
    return folder
