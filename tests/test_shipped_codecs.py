"""The codecs installed with walloc: present, loadable, and as good as their cards say on the shipped samples,
and a stream written on the machine that trained them decodes here."""

from pathlib import Path


import walloc
from walloc import metrics
from walloc.media import read_audio, read_image

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def test_shipped_codecs_are_installed():
    assert {"rgb-16x", "stereo-17x"} <= set(walloc.available_codecs())


def test_rgb_16x_on_the_sample_photo():
    codec = walloc.load("rgb-16x")
    image = read_image(ROOT / "samples" / "chelsea.png")
    data = codec.compress(image)
    decoded = (codec.decompress(data)[0] * 255).round()
    bpp = 8 * len(data) / (image.shape[1] * image.shape[2])
    assert metrics.psnr(decoded, image.float(), 255) > 32.0 and bpp < 0.7  # card: 32.77 dB at 0.626 bpp


def test_stereo_17x_on_the_sample_loop():
    codec = walloc.load("stereo-17x")
    audio, rate = read_audio(ROOT / "samples" / "amen.flac")
    data = codec.compress(audio, sample_rate=rate)
    decoded = codec.decompress(data)[0]
    assert decoded.shape == audio.shape
    # A drum break is the hard case for a 17x projection (card: 22.8 dB here, 39 dB on held-out music).
    assert metrics.psnr(decoded, audio, data_range=2.0) > 22.0 and metrics.si_sdr(audio, decoded) > 4.0


def test_a_stream_from_another_machine_decodes_to_the_same_image():
    """``rgb16x-crop.wlc`` and ``rgb16x-crop-decoded.png`` were written on the machine that trained rgb-16x
    (tests/data/make_golden_streams.py); floating-point convolutions may differ in the last bits between
    machines, so pixels may differ by one level, never more."""
    decoded = walloc.decompress((DATA / "rgb16x-crop.wlc").read_bytes())
    expected = read_image(DATA / "rgb16x-crop-decoded.png").float()
    difference = ((decoded[0] * 255).round() - expected).abs()
    assert difference.max() <= 1 and (difference > 0).float().mean() < 0.01
