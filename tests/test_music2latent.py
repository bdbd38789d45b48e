"""Music2Latent: the architecture against the reference package (music2latent 0.1.8) on the same random weights,
checkpoint loading, and the codec API (framing, windows, bitstreams, determinism, corrupt input)."""

from __future__ import annotations

import copy
import csv

import numpy as np
import pytest
import torch

import walloc
from walloc.codec.music2latent import LATENT_SCALE, _blend, _windows
from walloc.models.music2latent import (
    Music2LatentConfig,
    Music2LatentModel,
    audio_to_spectrogram,
)
from walloc.training import TrainConfig, train
from walloc.training.consistency_task import ConsistencySchedule, karras_levels

TINY = Music2LatentConfig(base_channels=8, multipliers=(1, 2, 2, 2, 2), unet_blocks=(1, 1, 1, 1, 1),
                          bottleneck_channels=32, bottleneck_blocks=1, heads=2, cond_channels=16)


@pytest.fixture(scope="module")
def oracle(reference_music2latent):
    return reference_music2latent


def _random_state(state: dict, seed: int) -> dict:
    """Every weight random (the released model zero-initialises some layers, which would hide them), norms and
    gains near 1."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        unit = key.endswith("gain.scale") or ("norm" in key and key.endswith("weight"))
        out[key] = torch.randn(value.shape, generator=generator) * 0.05 + (1.0 if unit else 0.0)
    return out


@pytest.fixture(scope="module")
def released_pair(oracle):
    """(reference UNet, walloc model) of the released size with the same random weights."""
    _, reference = oracle
    torch.manual_seed(0)
    theirs = reference.UNet().eval()
    state = _random_state(theirs.state_dict(), 1)
    theirs.load_state_dict(state)
    ours = Music2LatentModel().eval()
    ours.load_state_dict(state, strict=True)
    return theirs, ours, state


def test_released_layout_has_the_reference_keys(released_pair):
    theirs, ours, _ = released_pair
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == expected
    assert len(expected) == 583
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == 58_185_026


def _float64_latents(model: Music2LatentModel, audio: torch.Tensor) -> torch.Tensor:
    """The encoder evaluated in float64: what float32 evaluations approximate, to their rounding."""
    with torch.no_grad():
        return copy.deepcopy(model).double().encode(audio_to_spectrogram(audio.double())) / LATENT_SCALE


def _assert_same_function(ours: torch.Tensor, theirs: torch.Tensor, exact: torch.Tensor) -> None:
    """Both float32 results lie within float32 rounding of the float64 value. The rounding is measured, not
    assumed: it is ours on this CPU (its instruction set and oneDNN's kernels move it between 4e-5 and 1.2e-4
    on latents of magnitude 16), and the reference's must not exceed it by more than 4x (another function
    would be off by orders of magnitude)."""
    rounding = (ours.double() - exact).abs().max().item()
    assert rounding < 1e-3
    assert (theirs.double() - exact).abs().max().item() <= 4 * rounding + 1e-6


def test_encoder_matches_the_reference(oracle, released_pair):
    loader, reference = oracle
    theirs, ours, _ = released_pair
    audio = (torch.rand(2, 2 * 4096 + 1536, generator=torch.Generator().manual_seed(2)) - 0.5)
    with torch.no_grad():
        expected = loader.encode(reference, theirs, audio)
        latents = ours.encode(audio_to_spectrogram(audio)) / LATENT_SCALE
    assert latents.shape == expected.shape == (2, 64, 2)
    _assert_same_function(latents, expected, _float64_latents(ours, audio))


@pytest.mark.parametrize("steps", [1, 2])
def test_decoder_matches_the_reference_from_the_same_noise(oracle, released_pair, steps):
    """The codec's decode draws its noise as the reference does (initial noise, then one draw per step), so
    one seed gives both the same noise; the codec returns the part where four STFT frames overlap."""
    loader, reference = oracle
    theirs, ours, state = released_pair
    latents = torch.randn(1, 64, 2, generator=torch.Generator().manual_seed(3)) * 5
    torch.manual_seed(4)
    expected = loader.decode(reference, theirs, latents, steps)
    codec = walloc.Music2LatentCodec("random", ours)
    decoded = codec.decode(latents[None], steps, torch.Generator().manual_seed(4))
    assert decoded.shape == (1, 1, codec.decoded_length(2))
    torch.testing.assert_close(decoded[0], expected[:, 1536:1536 + decoded.shape[-1]], atol=1e-4, rtol=0)
    ours.load_state_dict(state)  # the codec changed only the memory layout
    assert not ours.training


def test_codec_encode_is_the_reference_on_padded_audio(oracle, released_pair):
    loader, reference = oracle
    theirs, ours, _ = released_pair
    codec = walloc.Music2LatentCodec("random", ours)
    audio = (torch.rand(1, 2, 5000, generator=torch.Generator().manual_seed(5)) - 0.5)
    frames = codec.latent_frames(5000)
    padded = torch.nn.functional.pad(audio[0], (1536, frames * 4096 - 5000))
    with torch.no_grad():
        expected = loader.encode(reference, theirs, padded)
    _assert_same_function(codec.encode(audio)[0], expected, _float64_latents(ours, padded))


def test_load_music2latent_reads_the_released_checkpoint_layout(tmp_path, released_pair):
    _, ours, state = released_pair
    path = tmp_path / "music2latent.pt"
    torch.save({"gen_state_dict": state, "it": 0}, path)
    codec = walloc.load_music2latent(path)
    for key, value in codec.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    torch.save({"gen_state_dict": {**state, "extra.weight": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="unexpected"):
        walloc.load_music2latent(path)
    torch.save({"model_state_dict": {}}, path)
    with pytest.raises(ValueError, match="layout"):
        walloc.load_music2latent(path)


# --- the codec API on a tiny random model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_codec():
    torch.manual_seed(0)
    model = Music2LatentModel(TINY)
    with torch.no_grad():
        for parameter in model.parameters():  # the zero-initialised layers would make decode trivial
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return walloc.Music2LatentCodec("tiny-m2l", model, window=16, overlap=2)


def _audio(channels: int, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 44100
    tone = torch.sin(2 * torch.pi * 440 * t) * 0.3
    return (tone + 0.05 * torch.randn(1, channels, length, generator=generator)).clamp(-1, 1)


@pytest.mark.parametrize("total", [1, 7, 16, 17, 40, 101])
def test_windows_cover_every_frame_once_and_blend_back_exactly(total):
    windows = _windows(total, 16, 2)
    assert windows[0][2] == 0 and windows[-1][3] == total
    assert all(a[3] == b[2] for a, b in zip(windows, windows[1:]))
    assert all(end - start <= 16 and start <= keep_start and keep_end <= end
               for start, end, keep_start, keep_end in windows)
    signal = torch.randn(3, total * 8, dtype=torch.float64)
    pieces = [signal[:, start * 8:end * 8] for start, end, _, _ in windows]
    torch.testing.assert_close(_blend(pieces, windows, 8, 2), signal, rtol=0, atol=1e-12)


@pytest.mark.parametrize("channels, length", [(1, 300), (2, 44100), (3, 9000)])
def test_any_length_and_channel_count(tiny_codec, channels, length):
    audio = _audio(channels, length, 1)
    latents = tiny_codec.encode(audio)
    assert latents.shape == (1, channels, 64, tiny_codec.latent_frames(length))
    data = tiny_codec.compress(audio)
    assert tiny_codec.decompress(data, generator=torch.Generator().manual_seed(0)).shape == audio.shape


def test_decompress_is_decode_of_the_quantized_latents_and_deterministic(tiny_codec):
    audio = _audio(2, 3 * 44100, 2)  # 34 latent frames: three windows of 16
    data = tiny_codec.compress(audio, bits=6)
    meta, latents = tiny_codec.stream_latents(data)
    assert meta["bits"] == 6
    assert (latents * LATENT_SCALE * 31 - (latents * LATENT_SCALE * 31).round()).abs().max() < 1e-4
    first = tiny_codec.decompress(data, steps=2, generator=torch.Generator().manual_seed(7))
    again = tiny_codec.decompress(data, steps=2, generator=torch.Generator().manual_seed(7))
    decoded = tiny_codec.decode(latents, steps=2, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, again) and torch.equal(first, decoded[..., :audio.shape[-1]])
    other = tiny_codec.decompress(data, steps=2, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(first, other)
    quantization_error = (tiny_codec.encode(audio) - latents).abs().max() * LATENT_SCALE
    assert quantization_error <= 0.5 / 31 + 1e-6
    assert tiny_codec.bitrate_kbps(data) == pytest.approx(8 * len(data) / 3 / 1000)


def test_more_bits_cost_more_and_round_closer(tiny_codec):
    audio = _audio(1, 44100, 3)
    latents = tiny_codec.encode(audio)
    sizes, errors = [], []
    for bits in (4, 8, 12):
        data = tiny_codec.compress(audio, bits=bits)
        sizes.append(len(data))
        errors.append((tiny_codec.stream_latents(data)[1] - latents).abs().max().item())
    assert sizes[0] < sizes[1] < sizes[2] and errors[0] > errors[1] > errors[2]


def test_corrupt_or_foreign_streams_raise_bitstream_error(tiny_codec):
    data = tiny_codec.compress(_audio(1, 20000, 4))
    for bad in (data[:-7], data[:20], data[:40] + bytes([data[40] ^ 0xFF]) + data[41:], b"", b"garbage" * 9):
        with pytest.raises(walloc.BitstreamError):
            tiny_codec.decompress(bad)
    other = walloc.Music2LatentCodec("other", Music2LatentModel(TINY))
    with pytest.raises(walloc.BitstreamError, match="written by codec 'tiny-m2l'"):
        other.decompress(data)


def test_bad_arguments_are_refused(tiny_codec):
    with pytest.raises(ValueError, match="sample rate"):
        tiny_codec.encode(torch.zeros(1, 1, 100), sample_rate=0)
    with pytest.raises(ValueError, match="bits"):
        tiny_codec.compress(torch.zeros(1, 1, 100), bits=1)
    with pytest.raises(ValueError, match="float"):
        tiny_codec.encode(torch.zeros(1, 1, 100, dtype=torch.int32))
    with pytest.raises(ValueError, match="latents"):
        tiny_codec.decode(torch.zeros(1, 1, 32, 3))
    with pytest.raises(ValueError, match="steps"):
        tiny_codec.decode(torch.zeros(1, 1, 64, 3), steps=0)
    with pytest.raises(ValueError, match="precision"):
        walloc.Music2LatentCodec("x", Music2LatentModel(TINY), precision="int8")


def test_bfloat16_stays_close_to_float32(tiny_codec):
    audio = _audio(1, 20000, 5)
    fast = walloc.Music2LatentCodec("tiny-m2l", tiny_codec.model, precision="bfloat16", window=16, overlap=2)
    reference, approximate = tiny_codec.encode(audio), fast.encode(audio)
    assert (approximate - reference).abs().max() * LATENT_SCALE < 0.05
    assert approximate.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch here")
def test_cuda_follows_the_cpu_and_half_precisions_run(tiny_codec):
    audio = _audio(2, 30000, 10)
    data = tiny_codec.compress(audio)
    expected = tiny_codec.decompress(data, generator=torch.Generator().manual_seed(0))
    for precision, tolerance in (("float32", 1e-4), ("float16", 0.05), ("bfloat16", 0.1)):
        gpu = walloc.Music2LatentCodec("tiny-m2l", copy.deepcopy(tiny_codec.model), "cuda", precision=precision,
                                       window=16, overlap=2)
        latents = gpu.encode(audio).cpu()
        assert (latents - tiny_codec.encode(audio)).abs().max() * LATENT_SCALE < tolerance
        decoded = gpu.decompress(data, generator=torch.Generator().manual_seed(0)).cpu()
        assert torch.isfinite(decoded).all()
        assert (decoded - expected).norm() <= tolerance * expected.norm() + 1e-6


def test_saved_codec_loads_by_name(tiny_codec, tmp_path, monkeypatch):
    walloc.codec.save_codec(tmp_path / "tiny-m2l", "tiny-m2l", "music2latent", TINY.as_dict(), tiny_codec.model)
    monkeypatch.setenv("WALLOC_CODECS_PATH", str(tmp_path))
    loaded = walloc.load("tiny-m2l", precision="float32", window=16, overlap=2)
    assert isinstance(loaded, walloc.Music2LatentCodec) and loaded.fingerprint == tiny_codec.fingerprint
    data = tiny_codec.compress(_audio(1, 9000, 6))
    assert walloc.decompress(data).shape == (1, 1, 9000)  # loads the codec the stream names


# --- consistency training ------------------------------------------------------------------------------------


def test_the_consistency_schedule():
    schedule = ConsistencySchedule()
    levels = [schedule.levels(step, 700) for step in range(700)]
    assert levels[0] == 10 and levels[-1] == 1280 and levels == sorted(levels)
    assert ConsistencySchedule(levels_start=2, levels_end=64).levels(0, 600) == 2
    sigmas = karras_levels(11)
    assert sigmas[0].item() == pytest.approx(0.002) and sigmas[-1].item() == pytest.approx(80.0)
    probabilities = schedule.pair_probabilities(karras_levels(1280))
    assert probabilities.sum().item() == pytest.approx(1.0) and (probabilities > 0).all()
    below_median = karras_levels(1280)[1:] <= np.exp(-1.1)  # pairs under the log-normal's median hold half
    assert probabilities[below_median].sum().item() == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="levels_start"):
        ConsistencySchedule(levels_start=1)


def test_consistency_training_logs_validates_and_exports(tmp_path, stereo_tones):
    folder = stereo_tones
    out = tmp_path / "run"
    # two latent frames: with one, torch 2.14's oneDNN bfloat16 stride-2 convolution to a width-1 output gives
    # NaN on one thread
    config = TrainConfig(name="tiny-m2l-trained", kind="music2latent", data=[str(folder)], out=str(out),
                         model=TINY.as_dict(), holdout=1, segment=2 * 4096 + 1536, batch_size=2, steps=4,
                         warmup_steps=2, log_every=1, validate_every=2, checkpoint_every=2, threads=1,
                         precision="bfloat16")
    exported = train(config)
    with open(out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(float(r["loss"])) for r in rows) and rows[1]["val_si_sdr"] and rows[3]["val_log_mel"]
    assert (out / "loss.png").stat().st_size > 0
    codec = walloc.load(exported)
    assert isinstance(codec, walloc.Music2LatentCodec) and codec.config == TINY
    audio = _audio(2, 10000, 9)
    assert codec.decompress(codec.compress(audio)).shape == audio.shape


def test_other_sample_rates_are_resampled_and_come_back(tiny_codec):
    audio = _audio(1, 16000, 4)
    data = tiny_codec.compress(audio, sample_rate=16000)
    assert tiny_codec.decoded_sample_rate(data) == 16000
    out = tiny_codec.decompress(data, generator=torch.Generator().manual_seed(0))
    assert out.shape == audio.shape
