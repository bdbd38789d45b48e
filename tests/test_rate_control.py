"""The WaLLoC codecs' quality scale and target rates: streams at any quality decode to exactly the decoder's
output on their quantized latents, the step travels in the stream, and a target rate is met with real bytes."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import walloc
from walloc import BitstreamError, bitstream
from walloc.codec.wavelet import MAX_QUALITY, MIN_QUALITY, STEP_UNIT, quality_step, step_quality
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
    assert quality_step(MAX_QUALITY) == STEP_UNIT  # the default rounds to integers
    assert [quality_step(q) for q in (8, 6, 4, 2)] == [64, 128, 256, 512]  # two levels: twice the step
    assert quality_step(MIN_QUALITY) == round(64 * 2**3.5)
    for q in (1, 2.5, 7.25, 8):
        assert abs(step_quality(quality_step(q)) - q) < 0.02
    for bad in (0.5, 8.5, float("nan"), "8"):
        with pytest.raises(ValueError, match="quality"):
            quality_step(bad)


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
    low, high = (codec.rate(codec.compress(photo, quality=q))["bpp"] for q in (MIN_QUALITY, MAX_QUALITY))
    for target in np.linspace(low * 1.05, high * 0.95, 4):
        data = codec.compress(photo, bpp=float(target))
        bpp = codec.rate(data)["bpp"]
        assert bpp <= target and bpp > 0.9 * target
        assert torch.equal(codec.decompress(data), codec.decode(codec.quantized_latents(data), size=photo.shape[-2:]))
    assert codec.compress(photo, bpp=high * 2) == codec.compress(photo)  # within reach at the highest quality
    with pytest.raises(ValueError, match="below this codec's range"):
        codec.compress(photo, bpp=low / 2)
    with pytest.raises(ValueError, match="not both"):
        codec.compress(photo, quality=4, bpp=0.3)


def test_target_kbps_is_met():
    codec = walloc.load("stereo-17x")
    audio, rate = read_audio(SAMPLES / "amen.flac")
    top = codec.rate(codec.compress(audio, rate))["kbps"]
    data = codec.compress(audio, rate, kbps=0.7 * top)
    assert 0.9 * 0.7 * top < codec.rate(data)["kbps"] <= 0.7 * top
    with pytest.raises(ValueError, match="below this codec's range"):
        codec.compress(audio, rate, kbps=0.01)


@pytest.mark.parametrize("step", [0, 63, -64, 1 << 20, 96.0, "96", True, None])
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
