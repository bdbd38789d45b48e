"""Images as people have them, through the CLI: grey stays grey, alpha is kept exactly, 16-bit samples keep 16
bits, EXIF orientation is applied, the ICC profile comes back, and a format that cannot hold alpha refuses."""

import numpy as np
import pytest
import torch
from PIL import Image

from walloc.cli import main
from walloc.media import Picture, read_picture, write_picture


def _gradient(h=40, w=56, levels=255, channels=3):
    y, x = np.mgrid[0:h, 0:w]
    planes = [x / w, y / h, (x + y) / (w + h)][:channels]
    return np.round(np.stack(planes, -1) * levels)


def _round_trip(codec_path, source, tmp_path, suffix=".png", codec="tiny-image-0"):
    stream, out = tmp_path / "x.wlc", tmp_path / f"out{suffix}"
    assert main(["compress", str(source), str(stream), "--codec", codec]) == 0
    assert main(["decompress", str(stream), str(out)]) == 0
    return out


def _psnr(a, b, peak):
    return 10 * np.log10(peak**2 / np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def test_grey_stays_grey(codec_path, tmp_path):
    source = tmp_path / "grey.png"
    Image.fromarray(_gradient(channels=1)[..., 0].astype(np.uint8)).save(source)
    out = Image.open(_round_trip(codec_path, source, tmp_path))
    assert out.mode == "L" and out.size == (56, 40)


def test_alpha_is_kept_exactly(codec_path, tmp_path):
    rgba = np.concatenate([_gradient(), _gradient(channels=1)[..., :1][:, ::-1]], -1).astype(np.uint8)
    rgba[10:20, 10:30, 3] = 0
    source = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(source)
    out = Image.open(_round_trip(codec_path, source, tmp_path))
    assert out.mode == "RGBA"
    assert np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    assert main(["decompress", str(tmp_path / "x.wlc"), str(tmp_path / "out.jpg")]) == 1  # JPEG has no alpha


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "CMYK"])
def test_eight_bit_pictures_are_their_samples_over_255(mode):
    """Every 8-bit mode is read as its samples (in the mode Pillow converts it to) / 255 in float32, exactly as
    ``uint8_tensor.float() / 255``, with the colour and alpha planes apart."""
    from walloc.media import picture_from_pil

    rgba = np.concatenate([_gradient(37, 61), _gradient(37, 61, channels=1)[:, ::-1]], -1).astype(np.uint8)
    image = Image.fromarray(rgba, "RGBA").convert(mode)
    target = {"RGBA": "RGBA", "L": "L", "LA": "LA", "1": "L"}.get(mode, "RGB")
    samples = torch.from_numpy(np.array(image.convert(target))).reshape(37, 61, -1).permute(2, 0, 1).float() / 255
    picture = picture_from_pil(image)
    colour = 3 if target.startswith("RGB") else 1
    assert picture.bit_depth == 8 and picture.pixels.is_contiguous()
    assert torch.equal(picture.pixels, samples[:colour])
    assert (picture.alpha is None) == (not target.endswith("A"))
    if picture.alpha is not None:
        assert torch.equal(picture.alpha, samples[-1])


def test_sixteen_bit_grey_keeps_sixteen_bits(codec_path, tmp_path):
    """Pillow's convert("RGB") clips 16-bit grey to white; read at full precision it codes like any image (the
    shipped codec, so that the quality means something)."""
    source = tmp_path / "grey16.png"
    grey = _gradient(levels=65535, channels=1)[..., 0].astype(np.uint16)
    Image.fromarray(grey).save(source)
    picture = read_picture(source)
    assert picture.bit_depth == 16 and picture.pixels.shape == (1, 40, 56)
    assert torch.equal(picture.pixels[0], torch.from_numpy(grey.astype(np.float32) / 65535))
    out = Image.open(_round_trip(codec_path, source, tmp_path, codec="rgb-16x"))
    assert out.mode.startswith("I;16") and _psnr(out, grey, 65535) > 30


def test_sixteen_bit_colour_is_read_and_written_at_sixteen_bits(codec_path, tmp_path):
    pytest.importorskip("av", reason="16-bit colour PNG goes through PyAV (the test extra installs it)")
    rgb = _gradient(levels=65535)
    source = tmp_path / "rgb16.png"
    write_picture(Picture(torch.from_numpy(rgb.transpose(2, 0, 1) / 65535).float(), bit_depth=16), source)
    picture = read_picture(source)
    assert picture.bit_depth == 16
    assert torch.allclose(picture.pixels, torch.from_numpy(rgb.transpose(2, 0, 1) / 65535).float(), atol=1e-7)
    back = read_picture(_round_trip(codec_path, source, tmp_path))
    assert back.bit_depth == 16 and back.pixels.shape == (3, 40, 56)
    levels = (back.pixels * 65535).round()
    assert (levels % 257 != 0).any()  # more than 8-bit levels (k * 257) survive the round trip


def test_exif_orientation_is_applied(codec_path, tmp_path):
    source = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    Image.fromarray(_gradient().astype(np.uint8)).save(source, exif=exif)
    assert read_picture(source).pixels.shape == (3, 56, 40)
    assert Image.open(_round_trip(codec_path, source, tmp_path)).size == (40, 56)


def test_the_icc_profile_comes_back_unless_it_is_srgb(codec_path, tmp_path):
    from PIL import ImageCms

    for space, carried in (("LAB", True), ("sRGB", False)):
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile(space)).tobytes()
        source = tmp_path / f"profiled-{space}.png"
        Image.fromarray(_gradient().astype(np.uint8)).save(source, icc_profile=icc)
        out = _round_trip(codec_path, source, tmp_path / space)
        assert Image.open(out).info.get("icc_profile") == (icc if carried else None)
