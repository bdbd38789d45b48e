"""The codec API: encode/decode, compress/decompress, inputs of every accepted kind, and bad streams."""

import numpy as np
import pytest
import torch

import walloc
from walloc import BitstreamError, bitstream


def _image(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, h // 4 + 2, w // 4 + 2, generator=g), size=(h, w),
                                             mode="bilinear", align_corners=False)
    return (0.8 * smooth + 0.2 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def test_codecs_are_found_by_name_and_folder(codec_path):
    assert {"tiny-image-0", "tiny-image-1", "tiny-audio-0"} <= set(walloc.available_codecs())
    by_name = walloc.load("tiny-image-0")
    by_folder = walloc.load(codec_path / "tiny-image-0")
    assert isinstance(by_name, walloc.ImageCodec) and by_name.fingerprint == by_folder.fingerprint
    assert isinstance(walloc.load("tiny-audio-0"), walloc.AudioCodec)
    with pytest.raises(ValueError, match="no codec named"):
        walloc.load("no-such-codec")


@pytest.mark.parametrize("size", [(64, 96), (37, 53), (5, 3), (1, 1)])
def test_image_round_trip_is_exactly_decode_of_rounded_latents(codec_path, size):
    codec = walloc.load("tiny-image-0")
    x = _image(max(size[0], 4), max(size[1], 4))[..., : size[0], : size[1]]
    data = codec.compress(x)
    out = codec.decompress(data)
    assert out.shape == x.shape
    expected = codec.decode(torch.round(codec.encode(x)))[..., : size[0], : size[1]]
    assert torch.equal(out, expected)
    assert torch.equal(codec.decode(codec.quantized_latents(data).float(), size=size), out)
    assert 0 <= out.min() and out.max() <= 1


def test_image_inputs_uint8_pil_and_float_agree(codec_path):
    from PIL import Image

    codec = walloc.load("tiny-image-0")
    u8 = (_image(40, 56) * 255).round().to(torch.uint8)
    pil = Image.fromarray(u8[0].permute(1, 2, 0).numpy())
    assert codec.compress(u8) == codec.compress(u8[0]) == codec.compress(pil) == codec.compress(u8.float() / 255)
    # contiguous float images skip the pixel pass (the transform centres them as it reads them), others take it
    x = u8.float() / 255
    assert codec.compress(x) == codec.compress(x.contiguous(memory_format=torch.channels_last))
    with torch.no_grad():
        for pixels in (x, x.contiguous(memory_format=torch.channels_last), u8):
            assert torch.equal(codec.model.encode_pixels(pixels),
                               codec.model.encode(codec.model.pixels_to_signal(pixels)))
    with pytest.raises(ValueError, match="expected images"):
        codec.compress(torch.rand(1, 5, 16, 16))  # 1 to 4 channels: grey, grey + alpha, RGB, RGBA
    with pytest.raises(ValueError, match="uint8 or float"):
        codec.compress(torch.zeros(1, 3, 8, 8, dtype=torch.int64))


def test_latents_have_the_documented_shape(codec_path):
    codec = walloc.load("tiny-image-0")
    latents = codec.encode(_image(33, 70))
    assert latents.shape == (1, 6, 5, 9)
    assert latents.abs().max() < 2 ** (codec.latent_bits - 1)
    assert codec.decode(latents).shape == (1, 3, 40, 72)


def test_a_cpu_batch_is_encoded_in_groups_of_images_with_the_same_latents(codec_path, monkeypatch):
    """The CPU encoder runs a batch in groups of about CPU_ENCODE_PIXELS pixels; the latents are the whole
    batch's to float32 rounding (the convolution may block one image and several differently)."""
    import walloc.codec.image as image_codec

    codec = walloc.load("tiny-image-0")
    images = torch.cat([_image(40, 56, seed) for seed in range(3)])
    whole = codec.encode(images)
    sizes, encode = [], codec.model.encode_pixels
    monkeypatch.setattr(codec.model, "encode_pixels", lambda x: sizes.append(len(x)) or encode(x))
    monkeypatch.setattr(image_codec, "CPU_ENCODE_PIXELS", 2 * 40 * 56)
    grouped = codec.encode(images)
    assert sizes == [2, 1]
    assert (grouped - whole).abs().max() <= 1e-5 * whole.abs().max()
    monkeypatch.setattr(image_codec, "CPU_ENCODE_PIXELS", 1)  # an image larger than a group is a group
    sizes.clear()
    assert codec.encode(images).shape == whole.shape and sizes == [1, 1, 1]
    assert codec.encode(images[:0]).shape == (0, *whole.shape[1:])  # an empty batch: no latents


def test_corrupt_and_foreign_streams_raise_bitstream_error(codec_path):
    codec, other = walloc.load("tiny-image-0"), walloc.load("tiny-image-1")
    data = codec.compress(_image(32, 32))
    for bad in (data[:-1], data[:20], data[:40] + bytes([data[40] ^ 1]) + data[41:], b"", b"RIFF" * 10):
        with pytest.raises(BitstreamError):
            codec.decompress(bad)
    with pytest.raises(BitstreamError, match="tiny-image-0"):
        other.decompress(data)
    with pytest.raises(BitstreamError):
        walloc.load("tiny-audio-0").decompress(data)


def test_top_level_decompress_loads_the_named_codec(codec_path):
    codec = walloc.load("tiny-image-1")
    data = codec.compress(_image(24, 24))
    assert torch.equal(walloc.decompress(data), codec.decompress(data))


def _audio(channels, length, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length) / 44100
    tones = sum(torch.sin(2 * np.pi * f * t + float(torch.rand((), generator=g)) * 6) for f in (110, 440, 1250))
    return (0.2 * tones + 0.05 * torch.randn(channels, length, generator=g)).unsqueeze(0).clamp(-1, 1)


@pytest.mark.parametrize("channels,length", [(2, 4096), (2, 1000), (1, 777), (4, 2048), (2, 1)])
def test_audio_round_trip_any_length_and_channels(codec_path, channels, length):
    codec = walloc.load("tiny-audio-0")
    x = _audio(channels, length)
    data = codec.compress(x, sample_rate=44100)
    out = codec.decompress(data)
    assert out.shape == x.shape
    expected = codec.decode(torch.round(codec.encode(x)), channels)[..., :length]
    assert torch.equal(out, expected)
    assert torch.equal(codec.decode(codec.quantized_latents(data).float(), channels, length), out)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int16])
def test_audio_signal_is_the_scaled_samples_taken_as_periodic(codec_path, dtype):
    # the encoder's input, written in one pass, against the same samples padded, tiled and scaled by torch
    codec = walloc.load("tiny-audio-0")
    x = _audio(2, 1000)
    if dtype == torch.int16:
        x = (x * 32767).round().to(torch.int16)
    samples = x.float() / 32768 if dtype == torch.int16 else x
    period = 1024
    padded = torch.nn.functional.pad(samples, (0, period - 1000)) * 0.5
    tiled = torch.cat([padded] * 3, -1)
    for start, end in ((0, period), (-300, 700), (200, 1900), (-100, 2000)):
        expected = tiled[..., period + start:period + end]
        assert torch.equal(codec._signal(x, start, end, period), expected), (start, end)


def test_audio_at_other_rates_comes_back_at_its_rate(codec_path):
    """48 kHz and 22.05 kHz audio is resampled to the codec's 44.1 kHz and back: same length, same rate, and the
    same as resampling the codec-rate round trip of the resampled input."""
    from walloc.codec.audio import resample

    codec = walloc.load("tiny-audio-0")
    for rate, length in ((48000, 4801), (22050, 2000)):
        x = _audio(2, length)
        data = codec.compress(x, sample_rate=rate)
        out = codec.decompress(data)
        assert out.shape == x.shape and codec.decoded_sample_rate(data) == rate
        at_codec_rate = resample(x, rate, 44100)
        expected = resample(codec.decompress(codec.compress(at_codec_rate)), 44100, rate)
        expected = torch.nn.functional.pad(expected, (0, max(0, length - expected.shape[-1])))[..., :length]
        assert torch.equal(out, expected)
        # 16-bit samples (what files decode to) resample as their float values do
        pcm = (x * 32767).round().to(torch.int16)
        assert torch.equal(resample(pcm, rate, 44100), resample(pcm.float() / 32768, rate, 44100))
        assert codec.compress(pcm, sample_rate=rate) == codec.compress(pcm.float() / 32768, sample_rate=rate)
    assert codec.decoded_sample_rate(codec.compress(_audio(2, 512))) == 44100


def test_resampling_keeps_a_tone():
    """A 1 kHz tone resampled 48 kHz -> 44.1 kHz is the same tone sampled at 44.1 kHz (away from the ends)."""
    from walloc.codec.audio import resample

    tone = torch.sin(2 * torch.pi * 1000 * torch.arange(48000) / 48000)[None]
    out = resample(tone, 48000, 44100)
    assert out.shape == (1, 44100)
    expected = torch.sin(2 * torch.pi * 1000 * torch.arange(44100) / 44100)[None]
    assert (out - expected)[..., 1000:-1000].abs().max() < 1e-3


def test_audio_refuses_bad_sample_rates_and_shapes(codec_path):
    codec = walloc.load("tiny-audio-0")
    for rate in (0, -8000, 44100.5):
        with pytest.raises(ValueError, match="sample rate"):
            codec.compress(_audio(2, 512), sample_rate=rate)
    with pytest.raises(ValueError, match="multiple"):
        codec.compress(_audio(3, 512))
    with pytest.raises(ValueError, match="expected audio"):
        codec.compress(torch.zeros(5))


def test_reference_checkpoint_loads_into_walloc(tmp_path, reference_walloc):
    """load_reference reads a reference-format checkpoint + JSON config and decodes like the reference."""
    import json

    ref = reference_walloc.Codec2D(3, 3, None, 64, 12, 8, True).eval()
    torch.save({"model_state_dict": ref.state_dict()}, tmp_path / "RGB_16x.pth")
    config = {"channels": 3, "J": 3, "Ne": None, "Nd": 64, "latent_dim": 12, "latent_bits": 8,
              "lightweight_encode": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    codec = walloc.load_reference(tmp_path / "RGB_16x.pth", tmp_path / "config.json")
    x = _image(32, 48)
    with torch.no_grad():
        expected = ref(x - 0.5)[0] + 0.5
    torch.testing.assert_close(codec.decompress(codec.compress(x)), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("edit", ["size", "huge-size", "no-stream", "garbage-stream", "channels", "length"])
def test_well_formed_containers_with_lying_metadata_raise(codec_path, edit):
    """The container's checksums pass, but what it says does not fit: still a BitstreamError, never a crash."""
    from walloc import bitstream
    from walloc.entropy.adaptive import compress_symbols

    image_codec, audio_codec = walloc.load("tiny-image-0"), walloc.load("tiny-audio-0")
    codec = audio_codec if edit in ("length",) else image_codec
    data = codec.compress(_audio(2, 2048) if codec is audio_codec else _image(32, 40))
    box = bitstream.unpack(data)
    meta, streams = dict(box.meta), list(box.streams)
    if edit == "size":
        meta["size"] = [64, 40]
    elif edit == "huge-size":
        meta["size"] = [10**12, 10**12]
    elif edit == "no-stream":
        streams = []
    elif edit == "garbage-stream":
        streams = [b"\x89WLC" + bytes(60)]
    elif edit == "channels":
        streams = [compress_symbols(torch.zeros(1, 5, 4, 5, dtype=torch.int32))]
    else:
        meta["length"] = 10**9
    with pytest.raises(BitstreamError):
        codec.decompress(bitstream.pack(box.codec, meta, streams))


def test_large_images_window_the_attention_and_say_so_in_the_stream(codec_path):
    """Over 128 latents a side the decoder's attention is windowed; the window travels in the header, and
    decompress is decode of the stream's latents with it, bit for bit."""
    from walloc.codec.image import ATTENTION_WINDOW

    codec = walloc.load("tiny-image-0")
    x = _image(24, 1100)  # 138 latents wide
    data = codec.compress(x)
    meta = bitstream.unpack(data).meta
    assert meta["attention_window"] == list(ATTENTION_WINDOW)
    out = codec.decompress(data)
    latents = codec.quantized_latents(data).float()
    assert torch.equal(out, codec.decode(latents, size=(24, 1100)))
    assert not torch.equal(out, codec.decode(latents, size=(24, 1100), attention_window=None))
    assert "attention_window" not in bitstream.unpack(codec.compress(x[..., :1024])).meta  # 128 latents: global
    streams = bitstream.unpack(data)
    for bad in ([0, 16], [128], "wide", [128, -1]):
        lying = bitstream.pack(streams.codec, {**streams.meta, "attention_window": bad}, streams.streams)
        with pytest.raises(BitstreamError, match="attention window"):
            codec.decompress(lying)


def test_long_audio_runs_in_chunks_that_join_to_the_whole(codec_path, monkeypatch):
    """Chunked encoding gives the whole signal's latents, chunked decoding the whole signal's audio except the
    first and last few frames (where the whole-signal synthesis wraps around), both to float32 rounding: the
    convolutions may block a chunk and the whole signal differently (bit for bit with AVX-512 kernels, not with
    AVX2 ones)."""
    import walloc.codec.audio as audio_codec

    codec = walloc.load("tiny-audio-0")
    x = _audio(2, 32 * 700 + 5)  # 700 frames of 2**5 samples
    monkeypatch.setattr(audio_codec, "CHUNK", 10**9)
    whole_latents = codec.encode(x)
    whole = codec.decode(torch.round(whole_latents))
    monkeypatch.setattr(audio_codec, "CHUNK", 128)
    assert (codec.encode(x) - whole_latents).abs().max() <= 1e-5 * whole_latents.abs().max()
    chunked = codec.decode(torch.round(whole_latents))
    assert chunked.shape == whole.shape
    edge = 8 * 32
    # float32 rounding only (convolutions block long and short inputs differently); too little context: 1e-2
    assert (chunked - whole)[..., edge:-edge].abs().max() <= 1e-4 * whole.abs().max()


def test_int16_audio_codes_as_its_float_samples(codec_path, tmp_path):
    """int16 samples (what read_audio(int16=True) gives for 16-bit files: half the memory) code exactly as the
    float samples libsndfile would give, k / 32768."""
    import soundfile

    from walloc.media import read_audio

    codec = walloc.load("tiny-audio-0")
    samples = torch.randint(-32768, 32768, (2, 5000), generator=torch.Generator().manual_seed(0)).to(torch.int16)
    assert codec.compress(samples) == codec.compress(samples.float() / 32768)
    path = tmp_path / "pcm16.wav"
    soundfile.write(path, samples.T.numpy(), 44100, subtype="PCM_16")
    as_int, _ = read_audio(path, int16=True)
    as_float, _ = read_audio(path)
    assert as_int.dtype == torch.int16 and torch.equal(as_int, samples) and torch.equal(as_float, samples / 32768)


def test_streams_of_earlier_weights_keep_decoding_after_an_update(codec_path, tmp_path, monkeypatch):
    """A codec folder whose weights are updated keeps the old ones as earlier/<fingerprint>.safetensors: streams
    written before decode with them, exactly as before; new streams with the new weights."""
    import shutil

    from safetensors.torch import save_file

    folder = tmp_path / "codecs" / "tiny-image-0"
    shutil.copytree(codec_path / "tiny-image-0", folder)
    monkeypatch.setenv("WALLOC_CODECS_PATH", str(tmp_path / "codecs"))
    old = walloc.load("tiny-image-0")
    x = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(3))
    old_stream = old.compress(x)
    old_out = old.decompress(old_stream)
    (folder / "earlier").mkdir()
    shutil.copy(folder / "weights.safetensors", folder / "earlier" / f"{old.fingerprint}.safetensors")
    updated = {k: v + 0.01 if k.startswith("decoder") else v for k, v in old.model.state_dict().items()}
    save_file({k: v.contiguous() for k, v in updated.items()}, str(folder / "weights.safetensors"))
    new = walloc.load("tiny-image-0")
    assert new.fingerprint != old.fingerprint
    assert torch.equal(walloc.decompress(old_stream), old_out)
    new_stream = new.compress(x)
    assert torch.equal(walloc.decompress(new_stream), new.decompress(new_stream))
    assert not torch.equal(walloc.decompress(new_stream), old_out)
    with pytest.raises(BitstreamError, match="load that codec"):  # the updated codec itself has other weights
        new.decompress(old_stream)
    shutil.copy(folder / "weights.safetensors", folder / "earlier" / f"{old.fingerprint}.safetensors")
    with pytest.raises(ValueError, match="not their name"):
        walloc.decompress(old_stream)
