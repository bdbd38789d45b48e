"""``walloc train``: a few steps of real training, resume, audio, and two gloo processes under torchrun."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

import walloc
from walloc.training import TrainConfig, train


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(6):
        coarse = rng.integers(0, 255, (6, 6, 3)).astype(np.uint8)
        Image.fromarray(coarse).resize((48, 40), Image.BILINEAR).save(folder / f"{i}.png")
    return folder


def _image_config(folder, out, steps=4):
    return {"name": "tiny-trained", "kind": "image", "data": [str(folder)], "out": str(out),
            "model": {"channels": 3, "J": 3, "Nd": 32, "latent_dim": 4, "linear_skip": True},
            "holdout": 1, "crop": 32, "batch_size": 2, "steps": steps, "warmup_steps": 2, "log_every": 1,
            "validate_every": 2, "checkpoint_every": 2, "threads": 1}


def _rows(out):
    with open(out / "log.csv") as f:
        return list(csv.DictReader(f))


def test_train_logs_plots_exports_and_resumes(image_folder, tmp_path):
    out = tmp_path / "run"
    folder = train(TrainConfig(**_image_config(image_folder, out)))
    assert (out / "loss.png").stat().st_size > 0 and (out / "checkpoint.safetensors").exists()
    rows = _rows(out)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(float(r["loss"])) for r in rows) and rows[1]["val_psnr_db"]
    codec = walloc.load(folder)
    image = torch.rand(1, 3, 40, 48)
    assert codec.decompress(codec.compress(image)).shape == image.shape
    first = dict(codec.model.state_dict())

    train(TrainConfig(**_image_config(image_folder, out, steps=6)))
    assert [int(r["step"]) for r in _rows(out)] == [1, 2, 3, 4, 5, 6]
    resumed = walloc.load(folder).model.state_dict()
    assert any(not torch.equal(first[k], resumed[k]) for k in first)


def test_variable_rate_fine_tune_starts_from_a_codec(image_folder, tmp_path):
    """init_codec copies a trained codec's weights (the step-0 model is that codec); qualities makes each item's
    noise as wide as a step of the scale: half at the top of the range, half spread over it."""
    from walloc.training.codec_task import CodecTask

    base = train(TrainConfig(**_image_config(image_folder, tmp_path / "base")))
    config = TrainConfig(**{**_image_config(image_folder, tmp_path / "vr"), "name": "tiny-vr",
                            "init_codec": str(base), "qualities": [2, 6]})
    task = CodecTask(config)
    start = walloc.load(base).model.state_dict()
    assert all(torch.equal(v, start[k]) for k, v in task.model.state_dict().items())
    torch.manual_seed(0)
    steps = task.quantizer_steps(4000)
    assert (steps == 2.0).float().mean().item() == pytest.approx(0.5, abs=0.03)  # quality 6: a step of 2
    assert steps.min() >= 2.0 and steps.max() <= 8.0 and steps.max() > 7.5  # quality 2: a step of 2 ** 3
    codec = walloc.load(train(config))
    image = torch.rand(1, 3, 40, 48)
    assert codec.decompress(codec.compress(image, quality=2)).shape == image.shape
    with pytest.raises(ValueError, match="qualities"):
        TrainConfig(**{**_image_config(image_folder, tmp_path / "bad"), "qualities": [0, 9]})
    with pytest.raises(ValueError, match="another model"):
        CodecTask(TrainConfig(**{**_image_config(image_folder, tmp_path / "bad"), "init_codec": str(base),
                                 "model": {"channels": 3, "J": 3, "Nd": 32, "latent_dim": 6}}))


def test_pca_start_is_the_linear_codec(image_folder):
    """With PCA initialisation the untrained model already reconstructs like a 4-component linear codec."""
    from walloc.codec.package import build_model
    from walloc.training.data import ImageCrops, split_files
    from walloc.training.init import pca_init

    files, _ = split_files([str(image_folder)], "image", 0)
    data = ImageCrops(files, 32)
    model = build_model("image", {"channels": 3, "J": 3, "Nd": 32, "latent_dim": 4, "linear_skip": True})
    x = data.sample(8, torch.Generator().manual_seed(0))
    pca_init(model, x)
    model.eval()
    with torch.no_grad():
        model_mse = torch.mean((model(x)[0] - x) ** 2).item()
        # Independent linear codec: numpy SVD of the packets, keep 4 components, no quantization.
        wpt = walloc.WPT2d("bior4.4", 3)
        packets = wpt(x)
        flat = packets.permute(0, 2, 3, 1).reshape(-1, packets.shape[1]).double().numpy()
        mean = flat.mean(0)
        _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
        projected = (flat - mean) @ vt[:4].T @ vt[:4] + mean
        restored = torch.from_numpy(projected).float().view(packets.shape[0], *packets.shape[2:], -1)
        pca_mse = torch.mean((wpt.inverse(restored.permute(0, 3, 1, 2)) - x) ** 2).item()
    assert 10 * np.log10(pca_mse / model_mse) > -0.3  # rounding the latents costs little


def test_audio_training(tmp_path):
    data = tmp_path / "audio"
    data.mkdir()
    t = np.arange(20000) / 44100
    for i, f in enumerate((110, 220, 330)):
        soundfile.write(data / f"{i}.flac", 0.3 * np.stack([np.sin(2 * np.pi * f * t), np.cos(3 * f * t)], -1), 44100)
    config = TrainConfig(name="tiny-audio", kind="audio", data=[str(data)], out=str(tmp_path / "run"),
                         model={"channels": 2, "J": 5, "Nd": 32, "latent_dim": 8, "linear_skip": True},
                         holdout=1, segment=4096, batch_size=2, steps=3, warmup_steps=1, validate_every=3,
                         threads=1)
    codec = walloc.load(train(config))
    assert isinstance(codec, walloc.AudioCodec) and codec.sample_rate == 44100


def test_torchrun_two_gloo_processes(image_folder, tmp_path):
    config = tmp_path / "config.json"
    out = tmp_path / "ddp"
    config.write_text(json.dumps({**_image_config(image_folder, out, steps=3), "device": "cpu"}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "walloc", "train", str(config)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [int(r["step"]) for r in _rows(out)] == [1, 2, 3]
    assert walloc.load(out / "codec").name == "tiny-trained"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch here")
def test_training_on_cuda_follows_the_cpu_run(image_folder, tmp_path):
    """The same config on CUDA and on the CPU (same batches; only the training noise differs): both log finite
    losses, export a codec, and reach about the same held-out PSNR."""
    val = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        folder = train(TrainConfig(**{**_image_config(image_folder, out), "device": device}))
        rows = _rows(out)
        assert all(np.isfinite(float(r["loss"])) for r in rows)
        val[device] = float(rows[-1]["val_psnr_db"])
        codec = walloc.load(folder, "cuda")
        image = torch.rand(1, 3, 40, 48)
        assert codec.decompress(codec.compress(image)).shape == image.shape
    assert abs(val["cuda"] - val["cpu"]) < 0.5


def test_bad_devices_are_refused_clearly():
    from walloc.training.loop import training_device

    with pytest.raises(ValueError, match="device must be"):
        training_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            training_device("cuda")
