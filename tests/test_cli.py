"""The ``walloc`` command line: files in, files out, one-line errors and non-zero exits on bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from PIL import Image

from walloc.cli import main


@pytest.fixture
def png(tmp_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:45, 0:70]
    image = np.stack([x * 3, y * 5, (x + y) * 2], -1) + rng.integers(0, 20, (45, 70, 3))
    path = tmp_path / "in.png"
    Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def flac(tmp_path):
    t = np.arange(9000) / 44100
    audio = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], -1) * 0.3
    path = tmp_path / "in.flac"
    soundfile.write(path, audio, 44100)
    return path


def test_image_compress_decompress_info(codec_path, png, tmp_path, capsys):
    stream, out = tmp_path / "x.wlc", tmp_path / "out.png"
    assert main(["compress", str(png), str(stream), "--codec", "tiny-image-0"]) == 0
    assert main(["decompress", str(stream), str(out)]) == 0
    assert Image.open(out).size == Image.open(png).size
    capsys.readouterr()
    assert main(["info", str(stream)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["codec"] == "walloc-image" and info["name"] == "tiny-image-0" and info["size"] == [45, 70]
    assert info["latent_coder"] == "walloc-predictive"
    assert info["bpp"] == pytest.approx(8 * stream.stat().st_size / (45 * 70), abs=1e-3)


def test_audio_compress_decompress(codec_path, flac, tmp_path):
    stream, out = tmp_path / "x.wlc", tmp_path / "out.wav"
    assert main(["compress", str(flac), str(stream), "--codec", "tiny-audio-0"]) == 0
    assert main(["decompress", str(stream), str(out)]) == 0
    decoded, rate = soundfile.read(out)
    assert rate == 44100 and decoded.shape == (9000, 2)


def test_audio_at_another_rate_comes_back_at_that_rate(codec_path, tmp_path):
    wav, stream, out = tmp_path / "48k.wav", tmp_path / "x.wlc", tmp_path / "out.wav"
    t = np.arange(4801) / 48000
    soundfile.write(wav, 0.3 * np.sin(2 * np.pi * 440 * t), 48000)  # mono, 48 kHz
    assert main(["compress", str(wav), str(stream), "--codec", "tiny-audio-0"]) == 0
    assert main(["decompress", str(stream), str(out)]) == 0
    decoded, rate = soundfile.read(out)
    assert rate == 48000 and decoded.shape == (4801,)


PROBLEMS = ["corrupt", "missing", "wrong-output", "unknown-codec", "empty-audio", "unknown-device", "no-cuda"]


@pytest.mark.parametrize("problem", PROBLEMS)
def test_errors_are_one_line_and_exit_non_zero(codec_path, png, tmp_path, capsys, problem):
    import torch

    if problem == "no-cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here, so asking for it is no error")
    stream = tmp_path / "x.wlc"
    main(["compress", str(png), str(stream), "--codec", "tiny-image-0"])
    capsys.readouterr()
    if problem == "corrupt":
        data = bytearray(stream.read_bytes())
        data[len(data) // 2] ^= 0xFF
        stream.write_bytes(bytes(data))
        argv = ["decompress", str(stream), str(tmp_path / "o.png")]
    elif problem == "missing":
        argv = ["decompress", str(tmp_path / "nothing.wlc"), str(tmp_path / "o.png")]
    elif problem == "wrong-output":
        argv = ["decompress", str(stream), str(tmp_path / "o.flac")]
    elif problem == "unknown-codec":
        argv = ["compress", str(png), str(stream), "--codec", "no-such-codec"]
    elif problem == "empty-audio":
        wav = tmp_path / "empty.wav"
        soundfile.write(wav, np.zeros((0, 2)), 44100)
        argv = ["compress", str(wav), str(stream), "--codec", "tiny-audio-0"]
    else:
        device = "cuda" if problem == "no-cuda" else "tpu9"
        argv = ["--device", device, "compress", str(png), str(stream), "--codec", "tiny-image-0"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("walloc ") and err.count("\n") == 1


def test_console_entry_point_runs(codec_path, png, tmp_path):
    """``python -m walloc`` as a user runs it (from a folder that is not the source tree)."""
    stream = tmp_path / "x.wlc"
    done = subprocess.run([sys.executable, "-m", "walloc", "compress", str(png), str(stream), "--codec",
                           "tiny-image-0"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([sys.executable, "-m", "walloc", "decompress", str(png), str(tmp_path / "o.png")],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1 and "not a walloc stream" in bad.stderr and "Traceback" not in bad.stderr


def test_folders_compress_in_one_call_past_bad_files(codec_path, png, tmp_path, capsys):
    """A folder (recursive) into an output folder: relative paths kept, a corrupt file reported in one line and
    skipped (exit 1 at the end), existing outputs refused without --force, and back again."""
    photos = tmp_path / "photos"
    for relative in ("a.png", "b.png", "sub/c.png"):
        (photos / relative).parent.mkdir(parents=True, exist_ok=True)
        (photos / relative).write_bytes(png.read_bytes())
    (photos / "broken.png").write_bytes(b"not a png")
    streams, back = tmp_path / "streams", tmp_path / "back"
    capsys.readouterr()
    assert main(["compress", str(photos), str(streams), "--codec", "tiny-image-0", "--workers", "2"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]  # besides the progress bar
    assert len(err) == 1 and "broken.png" in err[0] and err[0].startswith("walloc compress: error:")
    assert sorted(p.relative_to(streams).as_posix() for p in streams.rglob("*.wlc")) == [
        "a.png.wlc", "b.png.wlc", "sub/c.png.wlc"]
    assert main(["compress", str(photos / "a.png"), str(photos / "b.png"), str(streams),
                 "--codec", "tiny-image-0"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["compress", str(photos / "a.png"), str(photos / "b.png"), str(streams),
                 "--codec", "tiny-image-0", "--force"]) == 0
    assert main(["decompress", str(streams), str(back)]) == 0
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*.png")) == ["a.png", "b.png", "sub/c.png"]
    single = walloc_decompress_one(streams / "a.png.wlc", tmp_path / "one.png")
    assert np.array_equal(np.asarray(Image.open(back / "a.png")), np.asarray(Image.open(single)))
    capsys.readouterr()
    assert main(["compress", str(photos / "a.png"), str(photos / "b.png"), str(png)]) == 1  # a file as the folder
    assert capsys.readouterr().err.count("\n") == 1


def walloc_decompress_one(stream, out):
    assert main(["decompress", str(stream), str(out)]) == 0
    return out


@pytest.mark.parametrize("suffix, subtype", [(".wav", "PCM_24"), (".wav", "FLOAT"), (".wav", "PCM_U8"),
                                             (".mp3", None), (".ogg", None)])
def test_audio_files_of_every_common_kind(codec_path, tmp_path, suffix, subtype):
    """8/16/24-bit and float WAV, MP3 and Ogg in, the same kind out, at the input's length."""
    source, stream, out = tmp_path / f"in{suffix}", tmp_path / "x.wlc", tmp_path / f"out{suffix}"
    t = np.arange(22050) / 44100
    soundfile.write(source, np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], -1) * 0.3,
                    44100, subtype=subtype)
    assert main(["compress", str(source), str(stream), "--codec", "tiny-audio-0"]) == 0
    assert main(["decompress", str(stream), str(out)]) == 0
    decoded, rate = soundfile.read(out)
    frames = soundfile.info(source).frames
    assert rate == 44100 and decoded.shape[1] == 2 and abs(decoded.shape[0] - frames) <= 2048  # codec priming
