"""One test for every codec: each installed codec (``walloc.available_codecs()``) and a tiny NeRV fit answer the
same calls of the :class:`walloc.Codec` interface, in Python and through the CLI."""

import inspect
import json
import math

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

import walloc
from walloc.cli import main

pytest.importorskip("pytorch_msssim", reason="fitting NeRV uses SSIM from pytorch-msssim (the test extra has it)")

NERV = "nervpp-XS (fitted here)"
SAMPLE_RATE = 44100


def _image() -> torch.Tensor:
    """A 45x70 uint8 gradient with noise: sizes that are not multiples of the codecs' blocks."""
    y, x = torch.meshgrid(torch.arange(45), torch.arange(70), indexing="ij")
    noise = torch.randint(0, 20, (3, 45, 70), generator=torch.Generator().manual_seed(0))
    return (torch.stack([x * 3, y * 5, (x + y) * 2]) + noise).clamp(0, 255).to(torch.uint8)


def _audio() -> torch.Tensor:
    """0.7 s of stereo tones in [-1, 1]."""
    t = torch.arange(int(0.7 * SAMPLE_RATE)) / SAMPLE_RATE
    return torch.stack([torch.sin(2 * math.pi * 220 * t), torch.sin(2 * math.pi * 331 * t)]) * 0.3


def _clip() -> torch.Tensor:
    """Six 48x64 frames of a moving gradient, uint8."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    return (torch.stack([torch.stack([(x + t / 6) % 1, y, (x + y) / 2]) for t in range(6)]) * 255).round().to(
        torch.uint8)


@pytest.fixture(scope="module")
def nerv():
    torch.manual_seed(0)
    return walloc.NervCodec("nervpp", "XS").fit(_clip(), epochs=2, fps=6)


@pytest.fixture(params=[*walloc.available_codecs(), NERV])
def case(request, nerv):
    """(codec, media, options for decompress): decoders that draw noise get a fixed generator."""
    if request.param == NERV:
        return nerv, _clip(), {}
    codec = walloc.load(request.param)
    media = _image() if codec.kind == "image" else _audio()
    seeded = "generator" in inspect.signature(codec.decompress).parameters
    return codec, media, ({"generator": torch.Generator().manual_seed(3)} if seeded else {})


def _compress(codec, media) -> bytes:
    # a fitted video codec compresses its network; the others compress the media
    return codec.compress(bits=8, prune=0.0) if codec.kind == "video" else codec.compress(media)


def _reseed(options: dict) -> dict:
    return {k: torch.Generator().manual_seed(3) if k == "generator" else v for k, v in options.items()}


def test_every_codec_answers_the_interface(case):
    codec, media, options = case
    assert isinstance(codec, walloc.Codec)
    assert codec.kind in ("image", "audio", "video") and codec.name and codec.device == torch.device("cpu")
    assert codec.to("cpu") is codec and codec.name in repr(codec) and "cpu" in repr(codec)

    data = _compress(codec, media)
    assert isinstance(data, bytes)
    decoded = codec.decompress(data, **options)
    assert isinstance(decoded, torch.Tensor) and decoded.is_floating_point()
    expected = tuple(media.shape) if codec.kind == "video" else (1, *media.shape)  # a batch of one
    assert tuple(decoded.shape) == expected
    assert torch.equal(walloc.decompress(data, **_reseed(options)), decoded)  # dispatched by the stream alone

    quantized = codec.quantized_latents(data)
    assert not quantized.is_floating_point()
    assert torch.equal(quantized, codec.quantized_latents(data))

    rate = type(codec).rate(data)  # from the header alone: a class method
    assert rate == codec.rate(data) and rate["bytes"] == len(data)
    if codec.kind == "audio":
        assert rate["kbps"] == pytest.approx(8 * len(data) / (media.shape[-1] / SAMPLE_RATE) / 1000)
    else:
        pixels = media.shape[-1] * media.shape[-2] * (media.shape[0] if codec.kind == "video" else 1)
        assert rate["bpp"] == pytest.approx(8 * len(data) / pixels)


def test_every_codec_encodes_and_decodes_latents(case):
    codec, media, options = case
    if codec.kind == "video":  # encode fits the network; its latents are the weights
        latents = codec.encode(media, epochs=1, fps=6)
        assert latents.dim() == 1 and latents.is_floating_point()
        assert torch.equal(codec.decode(latents), codec.decode())
        assert not torch.equal(codec.decode(latents * 0.5), codec.decode())
        assert codec.quantized_latents(_compress(codec, media)).numel() == latents.numel()
        return
    latents = codec.encode(media)
    assert latents.is_floating_point() and latents.shape[0] == 1
    decoded = codec.decode(latents, **options)
    assert decoded.shape[0] == 1 and decoded.shape[-1] >= media.shape[-1]  # the padded size of raw latents
    assert codec.quantized_latents(_compress(codec, media)).shape == latents.shape


def _write(kind: str, media: torch.Tensor, folder):
    if kind == "image":
        path = folder / "in.png"
        Image.fromarray(media.permute(1, 2, 0).numpy()).save(path)
    elif kind == "audio":
        path = folder / "in.flac"
        soundfile.write(path, media.T.numpy().astype(np.float32), SAMPLE_RATE)
    else:
        from walloc.media import write_video

        path = folder / "in.mp4"
        write_video(media.float() / 255, 6, path)
    return path


def test_every_codec_through_the_cli(case, tmp_path, capsys):
    codec, media, _ = case
    source = _write(codec.kind, media, tmp_path)
    stream, out = tmp_path / "x.wlc", tmp_path / f"out{source.suffix}"
    codec_args = ["--size", "XS", "--epochs", "1"] if codec.kind == "video" else ["--codec", codec.name]
    assert main(["compress", str(source), str(stream), *codec_args]) == 0
    assert main(["decompress", str(stream), str(out)]) == 0
    assert out.stat().st_size > 0
    capsys.readouterr()
    assert main(["info", str(stream)]) == 0
    info = json.loads(capsys.readouterr().out)
    data = stream.read_bytes()
    assert info["bytes"] == len(data) and info["codec"] == type(codec).container_id
    rate = type(codec).rate(data)
    for key in ("bpp", "kbps"):
        if key in rate:
            assert info[key] == pytest.approx(rate[key], abs=0.01)
