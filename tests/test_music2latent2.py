"""Music2Latent2: the mechanisms (chunked causal mask, autoregressive two-step decoding at one evaluation per
chunk, exact lengths, determinism), the codec API (bitstreams, corrupt input, bad arguments) and training."""

from __future__ import annotations

import copy
import csv
import math

import numpy as np
import pytest
import torch

import walloc
from walloc.metrics import log_mel_distance, multi_resolution_stft_distance
from walloc.models.music2latent import (
    SIGMA_MAX,
    audio_to_spectrogram,
    spectrogram_to_audio,
)
from walloc.models.music2latent2 import (
    Music2Latent2Config,
    Music2Latent2Model,
    audio_to_chunks,
    chunked_causal_mask,
    chunks_to_audio,
    karras_sigma,
)
from walloc.training import TrainConfig, ar_consistency_task, train
from walloc.training.ar_consistency_task import ENVELOPE_WEIGHT

TINY = Music2Latent2Config(chunk_frames=8, summary_tokens=4, summary_channels=8, patch_channels=(4, 8, 8),
                           width=32, heads=2, encoder_depth=1, decoder_depth=1, consistency_depth=2,
                           cond_channels=16)


def _randomised(config: Music2Latent2Config, seed: int = 0) -> Music2Latent2Model:
    """A model with every weight perturbed: the zero-initialised layers (residual convs, adaLN gates, the output
    conv) would otherwise hide most of the network."""
    torch.manual_seed(seed)
    model = Music2Latent2Model(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return model


@pytest.fixture(scope="module")
def tiny_codec():
    return walloc.Music2Latent2Codec("tiny-m2l2", _randomised(TINY))


def _audio(channels: int, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 44100
    tone = torch.sin(2 * torch.pi * 440 * t) * 0.3
    return (tone + 0.05 * torch.randn(1, channels, length, generator=generator)).clamp(-1, 1)


# --- the mechanisms ------------------------------------------------------------------------------------------


def test_the_default_size_is_the_papers_compression():
    stereo = Music2Latent2Config()
    assert stereo.chunk_samples == 32768 and stereo.compression_ratio == 128
    assert Music2Latent2Config(channels=1).compression_ratio == 64
    assert stereo.sigma_cond == pytest.approx(0.9654, abs=1e-4)  # karras(t = 0.4), as in CoDiCodec
    assert karras_sigma(0) == pytest.approx(0.002) and karras_sigma(1) == pytest.approx(80.0)
    with pytest.raises(ValueError, match="chunk_frames"):
        Music2Latent2Config(chunk_frames=6)


def test_the_mask_is_block_causal():
    mask = chunked_causal_mask(3)
    expected = torch.tensor([[1, 1, 1, 0, 0, 0]] * 3 + [[1] * 6] * 3, dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_the_current_chunk_never_reaches_the_previous_chunks_output():
    model = _randomised(TINY, 1)
    generator = torch.Generator().manual_seed(0)
    summaries = torch.rand(2, 2, 4, 8, generator=generator) * 2 - 1
    noisy = torch.randn(2, 2, TINY.data_channels, TINY.bins, TINY.chunk_frames, generator=generator)
    sigmas = torch.tensor([[0.97, 80.0], [0.5, 3.0]])
    with torch.no_grad():
        out = model(summaries, noisy, sigmas)
        other_current = noisy.clone()
        other_current[:, 1] = torch.randn(other_current[:, 1].shape, generator=generator)
        other_summaries = summaries.clone()
        other_summaries[:, 1] = -summaries[:, 1]
        other_sigmas = sigmas.clone()
        other_sigmas[:, 1] = 10.0
        changed = model(other_summaries, other_current, other_sigmas)
        other_previous = noisy.clone()
        other_previous[:, 0] += 0.5
        context = model(summaries, other_previous, sigmas)
    assert torch.equal(out[:, 0], changed[:, 0])  # exactly: no path from the current chunk to the previous one
    assert (out[:, 1] - changed[:, 1]).abs().max() > 1e-3
    assert (out[:, 1] - context[:, 1]).abs().max() > 1e-6  # the current chunk does see the previous one


def test_chunks_of_the_spectrogram_invert_to_the_audio():
    audio = _audio(2, 3 * TINY.chunk_samples + 3 * TINY.hop, 3)
    chunks = audio_to_chunks(audio, TINY)
    assert chunks.shape == (1, 3, 4, TINY.bins, TINY.chunk_frames)
    # channel 1's imaginary part is the fourth spectrogram channel of each chunk, frames in order
    whole = audio_to_spectrogram(audio[:, 1], TINY.hop)
    assert torch.equal(chunks[0, 2, 3], whole[0, 1, :, 2 * TINY.chunk_frames:])
    back = chunks_to_audio(chunks)
    torch.testing.assert_close(back[0, 1], spectrogram_to_audio(whole, TINY.hop)[0], rtol=0, atol=1e-6)
    inner = slice(3 * TINY.hop, -3 * TINY.hop)  # where four frames overlap (the Nyquist bin is dropped)
    assert (back[..., inner] - audio[..., inner]).abs().max() < 0.01


def test_two_steps_cost_one_evaluation_per_chunk_like_one_step(tiny_codec):
    latents = tiny_codec.encode(_audio(2, 5 * TINY.chunk_samples, 4))
    chunks = latents.shape[-1]
    calls = []
    handle = tiny_codec.model.consistency.register_forward_hook(lambda *_: calls.append(1))
    try:
        one = tiny_codec.decode(latents, 1, torch.Generator().manual_seed(3))
        one_step_calls = len(calls)
        two = tiny_codec.decode(latents, 2, torch.Generator().manual_seed(3))
    finally:
        handle.remove()
    assert one_step_calls == chunks and len(calls) == 2 * chunks
    # the same evaluations: the last chunk (no successor) is its first estimate in both, the others differ
    last = slice(-(tiny_codec.samples_per_latent - 3 * tiny_codec.hop), None)
    first_chunk = slice(0, tiny_codec.samples_per_latent - 6 * tiny_codec.hop)
    assert torch.equal(one[..., last][..., 4 * tiny_codec.hop:], two[..., last][..., 4 * tiny_codec.hop:])
    assert (one[..., first_chunk] - two[..., first_chunk]).abs().max() > 1e-4


def test_the_refined_chunk_is_the_previous_half_of_the_next_evaluation():
    """Two-step decoding keeps, for chunk p, the previous-chunk output of evaluation p + 1, whose input is chunk
    p's first estimate re-noised to sigma_cond."""
    model = _randomised(TINY, 2)
    summaries = torch.rand(1, 3, 4, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    draws = torch.Generator().manual_seed(5)
    shape = (1, TINY.data_channels, TINY.bins, TINY.chunk_frames)
    noises = [torch.randn(shape, generator=draws) for _ in range(6)]
    with torch.no_grad():
        one = model.generate(summaries, _replay(noises), 1)
        two = model.generate(summaries, _replay(noises), 2)
        sigma = TINY.sigma_cond
        pair = torch.stack([one[:, 0] + sigma * noises[2], SIGMA_MAX * noises[3]], 1)
        maps = model.features(summaries[:, :2].flatten(0, 1))
        refined = model.denoise_pair(pair, torch.tensor([[sigma, SIGMA_MAX]]), maps)[:, 0]
    torch.testing.assert_close(two[:, 0], refined, rtol=1e-5, atol=1e-5)
    assert torch.equal(one[:, 2], two[:, 2])


def _replay(noises):
    """A noise source that returns ``noises`` in order (one fresh pass per call of this function)."""
    stream = iter(noises)
    return lambda shape: next(stream)


@pytest.mark.parametrize("seconds", [1.0, 7.3, 61.0])
def test_any_length_decodes_to_exactly_its_length(tiny_codec, seconds):
    audio = _audio(2, round(seconds * 44100), 5)
    data = tiny_codec.compress(audio, bits=6)
    decoded = tiny_codec.decompress(data, steps=2, generator=torch.Generator().manual_seed(0))
    assert decoded.shape == audio.shape and torch.isfinite(decoded).all()
    assert tiny_codec.quantized_latents(data).shape == (1, 1, 4, 8, tiny_codec.latent_frames(audio.shape[-1]))


@pytest.mark.parametrize("channels", [1, 3])
def test_any_channel_count(tiny_codec, channels):
    audio = _audio(channels, 20000, 6)
    latents = tiny_codec.encode(audio)
    assert latents.shape[:2] == (1, math.ceil(channels / 2))
    assert tiny_codec.decompress(tiny_codec.compress(audio)).shape == audio.shape
    # a lone channel is coded as the pair (c, c): the same latents as the stereo pair of two copies
    pair = audio[:, -1:].expand(-1, 2, -1)
    torch.testing.assert_close(latents[:, -1], tiny_codec.encode(pair)[:, 0], rtol=0, atol=1e-6)


def test_decompress_is_decode_of_the_quantized_latents_and_deterministic(tiny_codec):
    audio = _audio(2, 3 * 44100, 7)
    data = tiny_codec.compress(audio, bits=6)
    meta, latents = tiny_codec.stream_latents(data)
    assert meta["bits"] == 6 and torch.equal(latents * 31, (latents * 31).round())
    first = tiny_codec.decompress(data, steps=2, generator=torch.Generator().manual_seed(7))
    again = tiny_codec.decompress(data, steps=2, generator=torch.Generator().manual_seed(7))
    decoded = tiny_codec.decode(latents, steps=2, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, again) and torch.equal(first, decoded[..., :audio.shape[-1]])
    assert not torch.equal(first, tiny_codec.decompress(data, 2, torch.Generator().manual_seed(8)))
    assert (tiny_codec.encode(audio) - latents).abs().max() <= 0.5 / 31 + 1e-6


def test_decode_is_the_same_at_any_thread_count(tiny_codec):
    data = tiny_codec.compress(_audio(2, 2 * 44100, 8))
    threads = torch.get_num_threads()
    outputs = []
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            outputs.append(tiny_codec.decompress(data, 2, torch.Generator().manual_seed(1)))
    finally:
        torch.set_num_threads(threads)
    for other in outputs[1:]:  # float32 rounding of reductions split differently, never more
        torch.testing.assert_close(other, outputs[0], rtol=0, atol=1e-5)


def test_corrupt_or_foreign_streams_raise_bitstream_error(tiny_codec):
    data = tiny_codec.compress(_audio(2, 20000, 9))
    for bad in (data[:-7], data[:20], data[:40] + bytes([data[40] ^ 0xFF]) + data[41:], b"", b"garbage" * 9):
        with pytest.raises(walloc.BitstreamError):
            tiny_codec.decompress(bad)
    other = walloc.Music2Latent2Codec("other", Music2Latent2Model(TINY))
    with pytest.raises(walloc.BitstreamError, match="written by codec 'tiny-m2l2'"):
        other.decompress(data)
    m2l = walloc.Music2LatentCodec  # a Music2Latent stream is not a Music2Latent2 one
    assert m2l.container_id != tiny_codec.container_id


def test_bad_arguments_are_refused(tiny_codec):
    with pytest.raises(ValueError, match="bits"):
        tiny_codec.compress(torch.zeros(1, 2, 100), bits=13)
    with pytest.raises(ValueError, match="latents"):
        tiny_codec.decode(torch.zeros(1, 1, 4, 7, 3))
    with pytest.raises(ValueError, match="1 or 2 steps"):
        tiny_codec.decode(torch.zeros(1, 1, 4, 8, 3), steps=4)
    with pytest.raises(ValueError, match="precision"):
        walloc.Music2Latent2Codec("x", Music2Latent2Model(TINY), precision="int8")


def test_bfloat16_stays_close_to_float32(tiny_codec):
    audio = _audio(2, 20000, 10)
    fast = walloc.Music2Latent2Codec("tiny-m2l2", tiny_codec.model, precision="bfloat16")
    assert (fast.encode(audio) - tiny_codec.encode(audio)).abs().max() < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch here")
def test_cuda_decodes_what_the_cpu_decodes(tiny_codec):
    data = tiny_codec.compress(_audio(2, 30000, 11))
    expected = tiny_codec.decompress(data, 2, torch.Generator().manual_seed(0))
    gpu = walloc.Music2Latent2Codec("tiny-m2l2", copy.deepcopy(tiny_codec.model), "cuda")
    decoded = gpu.decompress(data, 2, torch.Generator().manual_seed(0)).cpu()
    assert (decoded - expected).norm() <= 1e-4 * expected.norm() + 1e-6


def test_saved_codec_loads_by_name_and_decodes_any_stream(tiny_codec, tmp_path, monkeypatch):
    walloc.codec.save_codec(tmp_path / "tiny-m2l2", "tiny-m2l2", "music2latent2", TINY.as_dict(), tiny_codec.model)
    monkeypatch.setenv("WALLOC_CODECS_PATH", str(tmp_path))
    loaded = walloc.load("tiny-m2l2")
    assert isinstance(loaded, walloc.Music2Latent2Codec) and loaded.fingerprint == tiny_codec.fingerprint
    data = tiny_codec.compress(_audio(1, 9000, 12))
    assert walloc.decompress(data, steps=2).shape == (1, 1, 9000)  # loads the codec the stream names


# --- metrics and training ------------------------------------------------------------------------------------


def test_multi_resolution_stft_distance():
    x = torch.randn(2, 20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert multi_resolution_stft_distance(x, x) == 0.0
    # twice the signal: spectral convergence 1 and a log-magnitude difference of ln 2 at every resolution
    assert multi_resolution_stft_distance(x, 2 * x) == pytest.approx(1 + math.log(2), rel=1e-9)
    assert multi_resolution_stft_distance(x, x + 0.1 * torch.randn_like(x)) < multi_resolution_stft_distance(
        x, x + 0.5 * torch.randn_like(x))


def test_ar_consistency_training_logs_validates_and_exports(tmp_path, stereo_tones):
    folder = stereo_tones
    out = tmp_path / "run"
    config = TrainConfig(name="tiny-m2l2-trained", kind="music2latent2", data=[str(folder)], out=str(out),
                         model=TINY.as_dict(), holdout=1, batch_size=2, steps=4, warmup_steps=2, log_every=1,
                         validate_every=2, checkpoint_every=2, threads=1)
    exported = train(config)
    with open(out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(float(r["loss"])) and np.isfinite(float(r["loss_current"])) for r in rows)
    assert rows[1]["val_log_mel"] and rows[3]["val_log_mel_2_steps"]
    assert (out / "loss.png").stat().st_size > 0
    codec = walloc.load(exported)
    assert isinstance(codec, walloc.Music2Latent2Codec) and codec.config == TINY
    audio = _audio(2, 10000, 13)
    decoded = codec.decompress(codec.compress(audio))
    assert decoded.shape == audio.shape and log_mel_distance(audio, decoded, 44100) > 0


@pytest.mark.parametrize("envelope_weight", [0.0, ENVELOPE_WEIGHT])
def test_the_envelope_term_is_what_reaches_the_encoder_at_initialisation(stereo_tones, monkeypatch,
                                                                         envelope_weight):
    # the consistency network's output convolution starts at zero, so its loss alone gives the encoder no
    # gradient at the first step: without the envelope term nothing pulls the summaries towards the audio
    monkeypatch.setattr(ar_consistency_task, "ENVELOPE_WEIGHT", envelope_weight)
    config = TrainConfig(name="tiny", kind="music2latent2", data=[str(stereo_tones)], out="unused",
                         model=TINY.as_dict(), holdout=1, batch_size=2, steps=4)
    task = ar_consistency_task.ARConsistencyTask(config)
    loss, values = task(task.sample(2, torch.Generator().manual_seed(0)))
    loss.backward()
    assert 0 < values["loss_envelope"] and math.isfinite(values["loss_envelope"])
    encoder_gradient = sum(p.grad.abs().sum().item() for p in task.model.encoder.parameters() if p.grad is not None)
    assert (encoder_gradient > 0) == (envelope_weight > 0)
