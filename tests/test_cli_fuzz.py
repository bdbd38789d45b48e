"""Bad input to the CLI, many kinds of it: every case ends with exit status 1 and one line on stderr naming the
problem, never a traceback (an exception escaping main() fails the test)."""

import random
import re

import numpy as np
import pytest
from PIL import Image

from walloc.cli import main


@pytest.fixture
def corpus(codec_path, tmp_path):
    """Bad files, and one good image and stream to misuse."""
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(good)
    stream = tmp_path / "good.wlc"
    assert main(["compress", str(good), str(stream), "--codec", "tiny-image-0"]) == 0
    files = {"good.png": good, "good.wlc": stream}
    rng = random.Random(1)
    for name in ("empty.png", "noise.png", "noise.wav", "noise.flac", "noise.mp4", "noise.wlc", "noise.jpg"):
        size = 0 if name.startswith("empty") else 300
        (tmp_path / name).write_bytes(bytes(rng.randrange(256) for _ in range(size)))
        files[name] = tmp_path / name
    files["image-as.wav"] = tmp_path / "image-as.wav"
    files["image-as.wav"].write_bytes(good.read_bytes())
    files["notes.txt"] = tmp_path / "notes.txt"
    files["notes.txt"].write_text("hello")
    (tmp_path / "empty-folder").mkdir()
    files["empty-folder"] = tmp_path / "empty-folder"
    return files


CASES = [
    ["compress", "{empty.png}", "{out}.wlc"], ["compress", "{noise.png}", "{out}.wlc"],
    ["compress", "{noise.wav}", "{out}.wlc"], ["compress", "{noise.flac}", "{out}.wlc"],
    ["compress", "{noise.jpg}", "{out}.wlc"], ["compress", "{image-as.wav}", "{out}.wlc"],
    ["compress", "{notes.txt}", "{out}.wlc"], ["compress", "{empty-folder}", "{out}"],
    ["compress", "{good.png}", "{good.wlc}"],  # exists, no --force
    ["compress", "{good.png}", "{out}.wlc", "--codec", "no-such-codec"],
    ["compress", "{good.png}", "{out}.wlc", "--codec", "tiny-image-0", "--bits", "4"],
    ["compress", "{good.png}", "{out}.wlc", "--codec", "tiny-audio-0"],
    ["compress", "{good.png}", "{out}.wlc", "--codec", "tiny-image-0", "--prune", "0.5"],
    ["compress", "{noise.mp4}", "{out}.wlc", "--frame-size", "wide"],
    ["compress", "{good.png}", "{good.png}", "{good.png}"],  # several inputs into a file
    ["--device", "quantum", "compress", "{good.png}", "{out}.wlc"],
    ["decompress", "{noise.wlc}", "{out}.png"], ["decompress", "{empty.png}", "{out}.png"],
    ["decompress", "{good.wlc}", "{out}.flac"], ["decompress", "{good.wlc}", "{out}.txt"],
    ["decompress", "{good.wlc}", "{out}.png", "--steps", "3"],
    ["decompress", "{good.wlc}", "{good.png}"],  # exists, no --force
    ["decompress", "{empty-folder}", "{out}"], ["decompress", "{tmp}/missing.wlc", "{out}.png"],
    ["info", "{noise.wlc}"], ["info", "{tmp}/missing.wlc"], ["info", "{empty-folder}"],
    ["train", "{notes.txt}"],
]


def _expand(argv, files, tmp_path):
    names = {**{k: str(v) for k, v in files.items()}, "out": str(tmp_path / "out"), "tmp": str(tmp_path)}
    return [re.sub(r"\{([^}]+)\}", lambda m: names[m.group(1)], a) for a in argv]


@pytest.mark.parametrize("argv", CASES, ids=lambda argv: " ".join(re.sub(r"[{}]", "", a) for a in argv))
def test_bad_input_is_one_line_and_exit_1(corpus, tmp_path, capsys, argv):
    capsys.readouterr()
    assert main(_expand(argv, corpus, tmp_path)) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and err[0].startswith("walloc ")


def test_damaged_streams_always_fail_cleanly(corpus, tmp_path, capsys):
    data = corpus["good.wlc"].read_bytes()
    rng = random.Random(2)
    for trial in range(60):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if trial % 3 == 0:
            damaged = damaged[:rng.randrange(len(damaged))]
        path = tmp_path / f"damaged{trial}.wlc"
        path.write_bytes(bytes(damaged))
        capsys.readouterr()
        status = main(["decompress", str(path), str(tmp_path / f"damaged{trial}.png")])
        err = capsys.readouterr().err.strip().splitlines()
        assert (status, len(err)) == (1, 1) or (status == 0 and bytes(damaged) == data)
