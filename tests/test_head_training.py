"""``walloc train`` for compressed-learning heads (classify, colourise, separate) and the CompressAI baseline:
real steps on small data, the exported head reloads, and the input views are checked against the codec."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

import walloc
from walloc import metrics
from walloc.heads import latents_from_unit, load_head, same_size_scale, unit_latents
from walloc.training import TrainConfig, train
from walloc.training.head_tasks import (
    ClassifyTask,
    ColouriseTask,
    SeparateTask,
    View,
    grey,
)


def _rows(out):
    with open(out / "log.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    """Two classes that differ in brightness, so a few steps already separate them."""
    root = tmp_path_factory.mktemp("digits")
    rng = np.random.default_rng(0)
    for label, level in (("dark", 40), ("light", 200)):
        (root / label).mkdir()
        for i in range(8):
            image = np.clip(level + rng.normal(0, 20, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(image).save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def audio_folders(tmp_path_factory):
    """Sources (tones) and interference (noise) at 44.1 kHz, three files each."""
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    t = np.arange(8192) / 44100
    for i in range(3):
        (root / "tones").mkdir(exist_ok=True)
        (root / "noise").mkdir(exist_ok=True)
        tone = 0.5 * np.sin(2 * np.pi * (220 + 110 * i) * t)
        soundfile.write(root / "tones" / f"{i}.wav", np.stack([tone, tone], 1), 44100)
        soundfile.write(root / "noise" / f"{i}.wav", 0.3 * rng.standard_normal((8192, 2)), 44100)
    return root


def _head_config(kind, data, out, model, **extra):
    return {"name": f"{kind}-test", "kind": kind, "data": [str(d) for d in data], "out": str(out), "model": model,
            "holdout": 4, "batch_size": 4, "steps": 6, "lr": 2e-3, "warmup_steps": 1, "log_every": 1,
            "validate_every": 3, "checkpoint_every": 3, "threads": 1, **extra}


def test_same_size_scale_matches_the_tensor_sizes(codec_path):
    image = walloc.load("tiny-image-0")
    x = torch.rand(1, 3, 64, 64)
    s = same_size_scale(image)
    assert image.encode(x).numel() == pytest.approx(3 * (64 * s) ** 2)
    audio = walloc.load("tiny-audio-0")
    s = same_size_scale(audio)
    assert audio.encode(torch.zeros(1, 2, 4096)).shape[1] * 4096 / 2**audio.model.J == pytest.approx(2 * 4096 * s)


def test_latent_view_round_trips_through_the_codec(codec_path):
    codec = walloc.load("tiny-image-0")
    view = View(codec, "latent")
    x = torch.rand(2, 3, 40, 48)
    latents = codec.encode(x)
    assert torch.allclose(latents_from_unit(codec, unit_latents(codec, latents)), latents, atol=1e-5)
    assert torch.allclose(view.media(view.target(x), x), codec.decode(latents)[..., :40, :48], atol=1e-5)
    pixels = View(codec, "pixels-same-size")
    assert pixels.input(x).shape[-2:] == (round(40 * pixels.scale), round(48 * pixels.scale))


def test_classify_trains_validates_and_exports(codec_path, digit_folder, tmp_path):
    for view in ("latent", "pixels-same-size"):
        out = tmp_path / view
        config = TrainConfig(**_head_config("classify", [digit_folder], out,
                                            {"codec": "tiny-image-0", "input": view, "width": 16, "depth": 2}))
        folder = train(config)
        rows = _rows(out)
        assert [int(r["step"]) for r in rows] == list(range(1, 7)) and rows[2]["val_accuracy"]
        assert (out / "loss.png").stat().st_size > 0
        exported = json.loads((folder / "config.json").read_text())
        assert exported["classes"] == ["dark", "light"] and exported["num_classes"] == 2
        head = load_head(folder)
        task = ClassifyTask(config)
        task.head.load_state_dict(head.state_dict())
        # The held-out accuracy logged at the last step is what the exported head scores.
        assert float(rows[-1]["val_accuracy"]) == pytest.approx(task.accuracy(*task.val))


def test_load_head_refuses_other_codec_weights(codec_path, digit_folder, tmp_path):
    config = TrainConfig(**_head_config("classify", [digit_folder], tmp_path,
                                        {"codec": "tiny-image-0", "input": "latent", "width": 16, "depth": 2},
                                        steps=1))
    folder = train(config)
    with pytest.raises(ValueError, match="other weights"):
        load_head(folder, walloc.load("tiny-image-1"))


def test_colourise_starts_from_the_codec_round_trip_of_the_grey_image(codec_path, digit_folder, tmp_path):
    config = TrainConfig(**_head_config("colourise", [digit_folder], tmp_path,
                                        {"codec": "tiny-image-0", "input": "latent", "width": 16, "depth": 2},
                                        crop=16))
    task = ColouriseTask(config)
    codec = walloc.load("tiny-image-0")
    x = task.val[:2]
    expected = codec.decode(codec.encode(grey(x)))[..., :16, :16]
    assert torch.allclose(task.predict(x), expected, atol=1e-5)  # an untrained residual head is the identity
    train(config)
    psnrs = [float(r["val_psnr_db"]) for r in _rows(tmp_path) if r["val_psnr_db"]]
    assert len(psnrs) == 2 and all(np.isfinite(psnrs))


def test_untrained_separation_head_passes_the_mixture_through(codec_path, audio_folders, tmp_path):
    config = TrainConfig(**_head_config("separate", [audio_folders / "tones"], tmp_path,
                                        {"codec": "tiny-audio-0", "input": "waveform", "width": 16, "depth": 2},
                                        interference=[str(audio_folders / "noise")], holdout=1, segment=2048))
    task = SeparateTask(config)
    mixture, source = task.val
    assert torch.equal(task.predict(mixture), mixture)
    assert task.validate()["val_si_sdr_db"] == pytest.approx(metrics.si_sdr(source, mixture))
    config.model["input"] = "latent"
    train(config)
    rows = _rows(tmp_path)
    assert rows[-1]["val_si_sdr_db"] and np.isfinite(float(rows[-1]["val_si_sdr_db"]))


def test_head_configs_are_checked(codec_path, digit_folder, tmp_path):
    with pytest.raises(ValueError, match="interference"):
        TrainConfig(**_head_config("separate", [digit_folder], tmp_path, {"codec": "tiny-audio-0", "input": "latent"}))
    with pytest.raises(ValueError, match="model.input"):
        train(TrainConfig(**_head_config("classify", [digit_folder], tmp_path,
                                         {"codec": "tiny-image-0", "input": "waveform"})))
    with pytest.raises(ValueError, match="image codec"):
        train(TrainConfig(**_head_config("classify", [digit_folder], tmp_path,
                                         {"codec": "tiny-audio-0", "input": "latent"})))


def test_factorized_prior_baseline_trains_and_codes(reference_compressai, digit_folder, tmp_path):
    from walloc.training.baseline import FactorizedPriorCodec, load_factorized_prior

    config = {"name": "fp-test", "kind": "factorized-prior", "data": [str(digit_folder)], "out": str(tmp_path),
              "model": {"N": 16, "M": 24}, "holdout": 4, "crop": 16, "batch_size": 2, "steps": 4,
              "warmup_steps": 1, "log_every": 1, "validate_every": 2, "checkpoint_every": 2, "threads": 1}
    folder = train(TrainConfig(**config))
    assert _rows(tmp_path)[1]["val_psnr_db"]
    model = load_factorized_prior(folder)
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        coded = model.compress(x)
        decoded = model.decompress(coded["strings"], coded["shape"])["x_hat"]
        # The range-coded stream decodes to exactly what the model reconstructs from its rounded latents.
        assert torch.equal(decoded, model(x)["x_hat"].clamp(0, 1))
    codec = FactorizedPriorCodec(folder)
    image = (torch.rand(3, 20, 30) * 255).to(torch.uint8)
    data = codec.compress(image)
    assert codec.decompress(data).shape == (1, 3, 20, 30) and codec.name == "fp-test"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch here")
def test_heads_train_on_cuda(codec_path, digit_folder, audio_folders, tmp_path):
    configs = [_head_config("colourise", [digit_folder], tmp_path / "colour",
                            {"codec": "tiny-image-0", "input": "latent", "width": 16, "depth": 2}, crop=16),
               _head_config("classify", [digit_folder], tmp_path / "classify",
                            {"codec": "tiny-image-0", "input": "latent", "width": 16, "depth": 2}),
               _head_config("separate", [audio_folders / "tones"], tmp_path / "separate",
                            {"codec": "tiny-audio-0", "input": "latent", "width": 16, "depth": 2},
                            interference=[str(audio_folders / "noise")], holdout=1, segment=2048)]
    for config in configs:
        out = Path(config["out"])
        train(TrainConfig(**config, device="cuda"))
        rows = _rows(out)
        metric = {"colourise": "val_psnr_db", "classify": "val_accuracy", "separate": "val_si_sdr_db"}[config["kind"]]
        assert len(rows) == 6 and np.isfinite(float(rows[-1][metric]))
