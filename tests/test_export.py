"""walloc.export: standard-op packet transforms and compander against walloc's kernels, torch.export programs and
ONNX files (in onnxruntime) against the codecs' own encode and decode."""

from __future__ import annotations

import importlib.util

import pytest
import torch

import walloc
import walloc.export
from walloc.wavelets import WPT1d, WPT2d
from walloc.wavelets.standard_ops import StandardPacketTransform

# float32 arithmetic in another order: a few ulps of values of order one per level
TRANSFORM_ATOL = 1e-5


@pytest.mark.parametrize("wavelet", ["bior4.4", "db2", "haar"])
@pytest.mark.parametrize("shape,levels", [((2, 3, 32, 48), 3), ((1, 1, 8, 8), 3), ((2, 2, 1024), 8),
                                          ((1, 2, 12), 2)])
def test_standard_packet_transform_is_the_kernels(wavelet: str, shape, levels: int) -> None:
    transform = (WPT2d if len(shape) == 4 else WPT1d)(wavelet, levels)
    standard = StandardPacketTransform(transform)
    x = torch.randn(shape)
    y = transform(x)
    torch.testing.assert_close(standard(x), y, atol=TRANSFORM_ATOL, rtol=0)
    torch.testing.assert_close(standard.inverse(y), transform.inverse(y), atol=TRANSFORM_ATOL, rtol=0)


def test_standard_compander_is_the_kernels() -> None:
    p = torch.linspace(1e-4, 1 - 1e-4, 100001, dtype=torch.float64)
    exact = torch.special.ndtri(p)
    assert ((walloc.export.normal_icdf(p) - exact).abs() <= 2e-9 * exact.abs().clamp_min(1)).all()
    x = torch.linspace(-127.49, 127.49, 20001)
    to_uniform, to_normal = walloc.ToUniform(8), walloc.ToNormal(8)
    # float32 results of magnitude up to ~128 (uniform) and ~255 (normal): 2 ulps
    torch.testing.assert_close(walloc.export.StandardToNormal(to_normal)(x), to_normal(x), atol=3e-5, rtol=0)
    torch.testing.assert_close(walloc.export.StandardToUniform(to_uniform)(x / 20), to_uniform(x / 20),
                               atol=2e-5, rtol=0)


def _media(codec, size: int, items: int = 2) -> torch.Tensor:
    torch.manual_seed(size)
    channels = codec.model.channels
    if codec.kind == "image":
        return torch.rand(items, channels, size, size + codec.block)
    return torch.rand(items, channels, size) * 1.6 - 0.8


@pytest.fixture(scope="module")
def exported(tiny_codecs):
    """{codec name: (codec, {part: program})}, exported once for the tests below (each export takes seconds)."""
    codecs = {name: walloc.load(tiny_codecs / name) for name in ("tiny-image-0", "tiny-audio-0")}
    return {name: (codec, {part: walloc.export.program(codec, part) for part in walloc.export.PARTS})
            for name, codec in codecs.items()}


@pytest.mark.parametrize("name", ["tiny-image-0", "tiny-audio-0"])
def test_programs_match_encode_and_decode_at_any_size(exported, name: str) -> None:
    codec, programs = exported[name]
    encoder, decoder = (programs[part].module() for part in walloc.export.PARTS)
    for blocks in (2, 5):
        media = _media(codec, blocks * codec.block, items=blocks - 1)
        latents = codec.encode(media)
        exported = encoder(media)
        assert exported.shape == latents.shape
        # continuous latents of magnitude up to ~128: float32 rounding in another order
        torch.testing.assert_close(exported, latents, atol=1e-3, rtol=0)
        rounded = torch.round(latents)
        torch.testing.assert_close(decoder(rounded), codec.decode(rounded), atol=1e-5, rtol=0)


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript", "onnxruntime")),
                    reason="ONNX export and its check need onnx, onnxscript and onnxruntime")
@pytest.mark.parametrize("name", ["tiny-image-0", "tiny-audio-0"])
def test_onnx_files_run_in_onnxruntime(exported, tmp_path, name: str) -> None:
    import onnx
    import onnxruntime

    codec, programs = exported[name]
    sessions = {}
    for part in walloc.export.PARTS:
        path = walloc.export.onnx(codec, part, tmp_path / f"{part}.onnx", exported=programs[part])
        model = onnx.load(str(path))
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
        sessions[part] = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    media = _media(codec, 3 * codec.block)
    latents = codec.encode(media)
    exported = torch.from_numpy(sessions["encoder"].run(None, {"media": media.numpy()})[0])
    torch.testing.assert_close(exported, latents, atol=1e-3, rtol=0)
    rounded = torch.round(latents)
    decoded = torch.from_numpy(sessions["decoder"].run(None, {"latents": rounded.numpy()})[0])
    torch.testing.assert_close(decoded, codec.decode(rounded), atol=1e-4, rtol=0)


def test_bad_requests(codec_path, tmp_path) -> None:
    codec = walloc.load("tiny-image-0")
    with pytest.raises(ValueError, match="part must be"):
        walloc.export.program(codec, "both")
    with pytest.raises(ValueError, match="opset"):
        walloc.export.onnx(codec, "encoder", tmp_path / "x.onnx", opset=13)
    with pytest.raises(ValueError, match="multiple"):
        walloc.export.example_input(codec, "encoder", size=codec.block + 1)
    with pytest.raises(ValueError, match="WaLLoC"):
        walloc.export.program(walloc.NervCodec(), "encoder")


def test_cli_writes_a_program_file(codec_path, tmp_path) -> None:
    from walloc.cli import main

    assert main(["export", "tiny-audio-0", "decoder", str(tmp_path / "decoder.pt2")]) == 0
    codec = walloc.load("tiny-audio-0")
    latents = torch.round(codec.encode(_media(codec, 3 * codec.block)))
    decoded = torch.export.load(tmp_path / "decoder.pt2").module()(latents)
    torch.testing.assert_close(decoded, codec.decode(latents), atol=1e-5, rtol=0)
    assert main(["export", "tiny-audio-0", "decoder", str(tmp_path / "decoder.bin")]) != 0
