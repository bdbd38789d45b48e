"""The WaLLoC codecs' quality scale and target rates: streams at any quality decode to exactly the decoder's
output on their quantized latents, the step travels in the stream, and a target rate is met with real bytes."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import walloc
from walloc import BitstreamError, bitstream
from walloc.codec.wavelet import DEFAULT_QUALITY, MAX_QUALITY, MIN_QUALITY, STEP_UNIT, quality_step, step_quality
from walloc.media import read_audio

SAMPLES = Path(__file__).parents[1] / "samples"


def _image(h=48, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, h // 4 + 2, w // 4 + 2, generator=g), size=(h, w),
                                             mode="bilinear", align_corners=False)
    return (0.8 * smooth + 0.2 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def _with_meta(data: bytes, **changes) -> bytes:
    container = bitstream.unpack(data)
    return bitstream.pack(container.container_id, {**container.meta, **changes}, container.streams)


def test_the_scale_is_the_documented_steps():
    assert quality_step(DEFAULT_QUALITY) == STEP_UNIT  # the default rounds to integers
    assert [quality_step(q) for q in (10, 8, 6, 4, 2)] == [32, 64, 128, 256, 512]  # two levels: twice the step
    assert quality_step(MIN_QUALITY) == round(64 * 2**3.5) and quality_step(MAX_QUALITY) == 32
    for q in (1, 2.5, 7.25, 8, 9.5):
        assert abs(step_quality(quality_step(q)) - q) < 0.02
    for bad in (0.5, 10.5, float("nan"), "8"):
        with pytest.raises(ValueError, match="quality"):
            quality_step(bad)
    with pytest.raises(ValueError, match=r"quality must be a number in \[1, 8\]"):
        quality_step(9, top=8)


def _crop():
    return torch.from_numpy(np.array(Image.open(SAMPLES / "chelsea.png").convert("RGB"))[100:196, 150:278]).permute(
        2, 0, 1)


@pytest.mark.parametrize("quality", [10, 9.5, 9])
def test_qualities_above_the_default_quantize_finer_than_integers(quality):
    """rgb-4x's scale goes to 10: half-unit steps, whose levels take 9-bit symbols; the stream is still the
    decoder's output on exactly those latents."""
    codec = walloc.load("rgb-4x")
    assert codec.max_quality == MAX_QUALITY
    crop = _crop()
    data = codec.compress(crop, quality=quality)
    step = quality_step(quality) / STEP_UNIT
    latents = codec.encode(crop)
    expected = torch.round(latents * STEP_UNIT / quality_step(quality)) * step
    assert torch.equal(codec.quantized_latents(data), expected)
    assert bitstream.unpack(bitstream.unpack(data).streams[0]).meta["bits"] == 9
    assert torch.equal(codec.decompress(data), codec.decode(expected, size=crop.shape[-2:]))
    default = codec.compress(crop)
    assert len(data) > len(default)
    errors = [(codec.decompress(d)[0] - crop / 255).square().mean() for d in (data, default)]
    assert errors[0] < errors[1]


def test_a_codec_tops_its_scale_at_its_max_quality(codec_path, tmp_path):
    codec = walloc.load("rgb-16x")
    assert codec.max_quality == DEFAULT_QUALITY  # its decoder gains ~0.1 dB past the integers: not offered
    with pytest.raises(ValueError, match=r"quality must be a number in \[1, 8\], got 9"):
        codec.compress(_crop(), quality=9)
    with pytest.raises(ValueError, match=r"in \[1, 8\]"):
        codec.quantize(codec.encode(_crop()), 9)
    folder = tmp_path / "bad"
    shutil.copytree(codec_path / "tiny-image-0", folder)
    for bad in (7, 10.5, "10", True):
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "max_quality": bad}))
        with pytest.raises(ValueError, match="max_quality must be a number in"):
            walloc.load(folder)


@pytest.mark.parametrize("quality", [8, 6.5, 3, 1])
def test_image_stream_is_decode_of_its_quantized_latents(codec_path, quality):
    codec = walloc.load("tiny-image-0")
    x = _image(37, 53)
    data = codec.compress(x, quality=quality)
    step = quality_step(quality) / STEP_UNIT
    expected_latents = torch.round(codec.encode(x) / step) * step
    latents = codec.quantized_latents(data)
    assert torch.equal(latents.float(), expected_latents)
    assert latents.dtype == (torch.int32 if quality == 8 else torch.float32)
    out = codec.decompress(data)
    assert torch.equal(out, codec.decode(expected_latents, size=(37, 53)))
    assert torch.equal(codec.quantize(codec.encode(x), quality), expected_latents)


def test_default_quality_writes_the_streams_written_before(codec_path):
    codec = walloc.load("tiny-image-0")
    x = _image()
    data = codec.compress(x)
    assert data == codec.compress(x, quality=8)
    assert "latent_step" not in bitstream.unpack(data).meta
    assert codec.rate(data)["quality"] == 8


def test_audio_stream_is_decode_of_its_quantized_latents(codec_path):
    codec = walloc.load("tiny-audio-0")
    g = torch.Generator().manual_seed(1)
    x = (0.3 * torch.randn(1, 2, 3000, generator=g)).clamp(-1, 1)
    data = codec.compress(x, sample_rate=44100, quality=2)
    step = quality_step(2) / STEP_UNIT
    latents = torch.round(codec.encode(x) / step) * step
    assert torch.equal(codec.quantized_latents(data), latents)
    assert torch.equal(codec.decompress(data), codec.decode(latents, 2, 3000))


def test_lower_quality_makes_smaller_streams_of_a_real_photo():
    codec = walloc.load("rgb-16x")
    photo = torch.from_numpy(np.array(Image.open(SAMPLES / "chelsea.png").convert("RGB"))).permute(2, 0, 1)
    sizes = [len(codec.compress(photo, quality=q)) for q in (8, 7, 6, 5, 4, 3, 2, 1)]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < 0.45 * sizes[0]


def test_target_bpp_is_met_with_real_bytes_and_close():
    codec = walloc.load("rgb-16x")
    photo = torch.from_numpy(np.array(Image.open(SAMPLES / "chelsea.png").convert("RGB"))).permute(2, 0, 1)
    low, high = (codec.rate(codec.compress(photo, quality=q))["bpp"] for q in (MIN_QUALITY, codec.max_quality))
    for target in np.linspace(low * 1.05, high * 0.95, 4):
        data = codec.compress(photo, bpp=float(target))
        bpp = codec.rate(data)["bpp"]
        assert bpp <= target and bpp > 0.9 * target
        assert torch.equal(codec.decompress(data), codec.decode(codec.quantized_latents(data), size=photo.shape[-2:]))
    assert codec.compress(photo, bpp=high * 2) == codec.compress(photo)  # within reach at its highest quality
    with pytest.raises(ValueError, match="below this codec's range"):
        codec.compress(photo, bpp=low / 2)
    with pytest.raises(ValueError, match="not both"):
        codec.compress(photo, quality=4, bpp=0.3)


def test_a_target_past_the_default_rate_takes_a_finer_step():
    codec = walloc.load("rgb-4x")
    crop = _crop()
    rates = [codec.rate(codec.compress(crop, quality=q))["bpp"] for q in (DEFAULT_QUALITY, MAX_QUALITY)]
    target = (rates[0] + rates[1]) / 2
    data = codec.compress(crop, bpp=target)
    assert 8 < codec.rate(data)["quality"] < 10 and 0.9 * target < codec.rate(data)["bpp"] <= target
    assert codec.compress(crop, bpp=2 * rates[1]) == codec.compress(crop, quality=MAX_QUALITY)


def test_target_kbps_is_met():
    codec = walloc.load("stereo-17x")
    audio, rate = read_audio(SAMPLES / "amen.flac")
    top = codec.rate(codec.compress(audio, rate))["kbps"]
    data = codec.compress(audio, rate, kbps=0.7 * top)
    assert 0.9 * 0.7 * top < codec.rate(data)["kbps"] <= 0.7 * top
    with pytest.raises(ValueError, match="below this codec's range"):
        codec.compress(audio, rate, kbps=0.01)


@pytest.mark.parametrize("step", [0, 31, -64, 1 << 20, 96.0, "96", True, None])
def test_corrupt_quantizer_steps_raise(codec_path, step):
    codec = walloc.load("tiny-image-0")
    data = _with_meta(codec.compress(_image(), quality=3), latent_step=step)
    with pytest.raises(BitstreamError, match="quantizer step"):
        codec.decompress(data)
    with pytest.raises(BitstreamError, match="quantizer step"):
        codec.quantized_latents(data)
    assert "quality" not in codec.rate(data)


def test_cli_quality_and_target_rates(codec_path, tmp_path, capsys):
    from walloc.cli import main

    photo, stream = SAMPLES / "chelsea.png", tmp_path / "photo.wlc"
    assert main(["compress", str(photo), str(stream), "--bpp", "0.3"]) == 0
    rate = walloc.ImageCodec.rate(stream.read_bytes())
    assert rate["bpp"] <= 0.3 and rate["quality"] < 8
    assert main(["compress", str(photo), str(stream), "--quality", "2", "--force"]) == 0
    assert walloc.ImageCodec.rate(stream.read_bytes())["quality"] == 2
    assert main(["decompress", str(stream), str(tmp_path / "out.png")]) == 0
    capsys.readouterr()
    assert main(["compress", str(SAMPLES / "amen.flac"), str(tmp_path / "a.wlc"), "--bpp", "0.3"]) == 1
    assert "--bpp sets the rate of image files" in capsys.readouterr().err
    assert main(["compress", str(photo), str(tmp_path / "b.wlc"), "--bpp", "0.001"]) == 1
    assert "below this codec's range" in capsys.readouterr().err


@pytest.mark.parametrize("quality, step", [(3, 63), (9, 96)])
def test_a_step_whose_levels_need_other_symbol_widths_raises(codec_path, quality, step):
    """Steps below the latents' unit need 9-bit symbols, the others 8: a header whose step disagrees with its
    latent stream's width is corrupt (it would shift every latent)."""
    codec = walloc.load("rgb-4x" if quality > 8 else "tiny-image-0")
    data = _with_meta(codec.compress(_crop() if quality > 8 else _image(), quality=quality), latent_step=step)
    with pytest.raises(BitstreamError, match="bit latent symbols for a quantizer step"):
        codec.decompress(data)
