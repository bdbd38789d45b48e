"""NeRV / NeRV++ video codecs: architecture plans and sizes, a real (short) fit, exact and deterministic
bitstreams, corrupt input, and the CLI round trip through MP4."""

import subprocess
import sys

import pytest
import torch

import walloc
from walloc import bitstream
from walloc.models.nerv import ARCHITECTURES, build_nerv, nerv_arguments, parameter_count, upsampling_plan
from walloc.video import NervCodec, decompress

pytest.importorskip("pytorch_msssim", reason="fitting uses SSIM from pytorch-msssim (the test extra installs it)")


def test_upsampling_plans_match_the_papers():
    assert upsampling_plan(720, 1280) == ((9, 16), [5, 2, 2, 2, 2])
    assert upsampling_plan(1080, 1920) == ((9, 16), [5, 3, 2, 2, 2])
    assert upsampling_plan(180, 320) == ((9, 16), [5, 2, 2])
    with pytest.raises(ValueError, match="common factor"):
        upsampling_plan(91, 131)


@pytest.mark.parametrize("height,width", [(180, 320), (720, 1280)])
def test_both_architectures_get_equal_parameter_counts(height, width):
    with torch.device("meta"):
        counts = [parameter_count(build_nerv(a, nerv_arguments(a, "S", height, width))) for a in ARCHITECTURES]
    assert abs(counts[0] - counts[1]) / counts[0] < 0.02
    assert counts[0] == pytest.approx(3.3e6 * min(1, height * width / (1280 * 720)), rel=0.1)


def test_frames_have_the_size_and_range_asked_for():
    for arch in ARCHITECTURES:
        model = build_nerv(arch, nerv_arguments(arch, "XS", 48, 64))
        frames = model(torch.tensor([0.25, 1.0]))
        assert frames.shape == (2, 3, 48, 64) and 0 <= frames.min() and frames.max() <= 1


@pytest.fixture(scope="module")
def clip():
    """Eight 48x64 frames of a moving gradient."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    frames = [torch.stack([(x + t / 8) % 1, y, (x + y) / 2]) for t in range(8)]
    return (torch.stack(frames) * 255).round().to(torch.uint8)


@pytest.fixture(scope="module")
def fitted(clip):
    torch.set_num_threads(1)
    return NervCodec("nervpp", "XS").fit(clip, epochs=6, fps=8)


def test_fit_learns_and_streams_are_exact_and_deterministic(fitted, clip):
    target = clip.float() / 255
    mse_start = ((build_nerv("nervpp", fitted.arguments)(torch.arange(1, 9) / 8) - target) ** 2).mean()
    assert ((fitted.decode() - target) ** 2).mean() < mse_start  # fitting reduced the error
    data = fitted.compress(bits=8, prune=0.3, finetune_epochs=1)
    # The coded weights beat 8-bit raw weights (one byte each) by more than 10%.
    assert len(bitstream.unpack(data).streams[0]) < 0.9 * parameter_count(fitted.model)
    first, second = decompress(data), decompress(data)
    frames = first.decode()
    assert frames.shape == (8, 3, 48, 64) and torch.equal(frames, second.decode())
    assert first.compress(bits=8, prune=0.0) == data  # a decoded codec re-encodes to the same bytes
    zeros = sum((p == 0).sum().item() for n, p in first.model.named_parameters() if n.endswith("weight"))
    assert zeros >= 0.3 * sum(p.numel() for n, p in first.model.named_parameters() if n.endswith("weight")) * 0.99
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.equal(decompress(data).decode(), frames)  # the same frames at another thread count
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(first.decode([7, 0]), frames[[7, 0]])
    with pytest.raises(ValueError, match="frame indices"):
        first.decode([8])


def test_decoding_gives_the_network_the_positions_training_gave_it(clip):
    """Training's held-out metric and decode() must see the same network inputs, to the float rounding of t:
    the positional encoding's 1e8-rad frequencies turn any difference in t into other inputs."""
    codec = NervCodec("nerv", "XS").fit(clip[:7], epochs=2, fps=8)  # 7 frames: t = k / 7 is inexact in float
    with torch.no_grad():
        trained = codec._fit.model(codec._fit.positions(torch.arange(7)))
    assert (codec.decode() - trained).abs().max() <= 0.5 / 255 + 1e-4  # 8-bit rounding and float32 only


def test_corrupt_and_lying_streams_raise_bitstream_errors(fitted):
    data = fitted.compress(bits=6, prune=0.0)
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0x40
    with pytest.raises(walloc.BitstreamError):
        decompress(bytes(damaged))
    with pytest.raises(walloc.BitstreamError):
        decompress(data[: len(data) // 3])
    container = bitstream.unpack(data)
    arguments = container.meta["arguments"]
    for change in ({"arch": "resnet"}, {"arguments": {**arguments, "stem_channels": arguments["stem_channels"] + 1}},
                   {"arguments": {**arguments, "height": 10**6}}, {"bits": 12},
                   {"arguments": {**arguments, "hidden": arguments["hidden"] + 16}}, {"frames": 0}):
        lying = bitstream.pack(container.codec, {**container.meta, **change}, container.streams)
        with pytest.raises(walloc.BitstreamError):
            decompress(lying)


def test_cli_round_trip_through_mp4(clip, tmp_path):
    pytest.importorskip("av", reason="reading and writing MP4 needs PyAV (the video extra installs it)")
    from walloc.media import read_video, write_video

    write_video(clip, 8, tmp_path / "in.mp4")
    assert torch.equal(read_video(tmp_path / "in.mp4")[0], clip)  # lossless RGB in and out
    run = [sys.executable, "-m", "walloc"]
    subprocess.run(run + ["compress", str(tmp_path / "in.mp4"), str(tmp_path / "clip.wlv"), "--codec", "nerv",
                          "--size", "XS", "--epochs", "1", "--bits", "6"],
                   check=True, capture_output=True, cwd=tmp_path)
    info = subprocess.run(run + ["info", str(tmp_path / "clip.wlv")], check=True, capture_output=True, text=True,
                          cwd=tmp_path)
    assert '"arch": "nerv"' in info.stdout
    subprocess.run(run + ["decompress", str(tmp_path / "clip.wlv"), str(tmp_path / "out.mp4")], check=True,
                   capture_output=True, cwd=tmp_path)
    frames, fps = read_video(tmp_path / "out.mp4")
    expected = (decompress((tmp_path / "clip.wlv").read_bytes()).decode() * 255).round().to(torch.uint8)
    assert fps == 8 and torch.equal(frames, expected)
    bad = subprocess.run(run + ["decompress", str(tmp_path / "clip.wlv"), str(tmp_path / "out.png")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 1 and "video" in bad.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch here")
def test_fit_on_cuda_leaves_an_exact_cpu_codec(clip):
    codec = NervCodec("nervpp", "XS").fit(clip, epochs=3, fps=8, device="cuda")
    assert next(codec.model.parameters()).device.type == "cpu"
    target = clip.float() / 255
    mse_start = ((build_nerv("nervpp", codec.arguments)(torch.arange(1, 9) / 8) - target) ** 2).mean()
    assert ((codec.decode() - target) ** 2).mean() < mse_start
    data = codec.compress(bits=8, prune=0.3, finetune_epochs=1)  # the fine-tuning runs on CUDA again
    assert next(codec.model.parameters()).device.type == "cpu"
    assert torch.equal(decompress(data).decode(), decompress(data).decode())
