"""The rate-distortion evaluation helpers: real byte counts, alignment of delayed codec output, curves."""

import numpy as np
import pytest
import torch

import walloc
from walloc import evaluation


def test_image_rows_count_real_bytes(codec_path):
    g = torch.Generator().manual_seed(0)
    image = (torch.nn.functional.interpolate(torch.rand(1, 3, 12, 16, generator=g), size=(96, 128), mode="bilinear")[0]
             * 255).to(torch.uint8)
    codec = walloc.load("tiny-image-0")
    rows = evaluation.image_rate_distortion([("x", image)], [codec], {"JPEG": [30, 90]}, progress=False)
    jpeg = [r for r in rows if r["codec"] == "JPEG"]
    assert jpeg[0]["bpp"] == pytest.approx(8 * len(evaluation.pillow_encode(image, "JPEG", 30)) / (96 * 128))
    assert jpeg[0]["bpp"] < jpeg[1]["bpp"] and jpeg[0]["psnr_db"] < jpeg[1]["psnr_db"]
    ours = [r for r in rows if r["codec"] == "tiny-image-0"]
    assert [r["setting"] for r in ours] == [8, 7, 6, 5, 4, 3, 2, 1]  # a curve over its quality scale (top 8)
    for row in ours:
        assert row["bpp"] == pytest.approx(8 * len(codec.compress(image, quality=row["setting"])) / (96 * 128))
    curve = evaluation.curves(rows, "bpp")
    assert [p["setting"] for p in curve["JPEG"]] == [30, 90]
    deltas = evaluation.deltas_against(curve, "JPEG", "bpp")
    assert deltas["tiny-image-0"]["kind"] == "curve"
    text, summary = evaluation.image_report(rows)
    assert set(summary["vs_jpeg"]) == {"psnr_db", "ms_ssim"} and "Against JPEG" in text


def test_align_recovers_a_codec_delay():
    g = np.random.default_rng(0)
    signal = g.standard_normal((2, 20000)).astype(np.float32)
    delayed = np.concatenate([np.zeros((2, 1105), np.float32), signal], axis=1)
    assert np.array_equal(evaluation.align(signal, delayed), signal)


def test_opus_round_trip_is_aligned_and_close():
    pytest.importorskip("av")
    t = np.arange(44100) / 44100
    audio = 0.3 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]).astype(np.float32)
    nbytes, decoded = evaluation.av_round_trip(audio, 44100, "Opus", 96)
    row = evaluation.audio_quality(audio, evaluation.align(audio, decoded), nbytes, 44100)
    assert 60 < row["kbps"] < 200 and row["si_sdr_db"] > 15  # 1 s: the Ogg headers weigh on the rate


def test_a_family_curve_keeps_the_points_no_member_beats():
    curve = {"low": [{"bpp": 0.1, "psnr_db": 25.0}, {"bpp": 0.3, "psnr_db": 27.0}, {"bpp": 0.6, "psnr_db": 27.5}],
             "high": [{"bpp": 0.5, "psnr_db": 29.0}, {"bpp": 1.0, "psnr_db": 32.0}, {"bpp": 0.4, "psnr_db": 26.0}]}
    front = evaluation.family_curve(curve, ["low", "high"], "bpp")
    assert [(p["codec"], p["bpp"]) for p in front] == [("low", 0.1), ("low", 0.3), ("high", 0.5), ("high", 1.0)]


def test_a_familys_ms_ssim_deltas_use_its_front_by_ms_ssim():
    """A member better in PSNR but worse in MS-SSIM at a rate joins the PSNR front only."""
    def rows(codec, points):
        return [{"item": "x", "codec": codec, "setting": i, "bpp": b, "psnr_db": p, "ms_ssim": m}
                for i, (b, p, m) in enumerate(points)]
    table = (rows("low", [(0.1, 25.0, 0.90), (0.3, 27.0, 0.95)]) + rows("high", [(0.25, 27.5, 0.89), (1.0, 32.0, 0.98)])
             + rows("JPEG", [(0.1, 24.0, 0.85), (0.5, 28.0, 0.93), (1.2, 31.0, 0.97)]))
    _, summary = evaluation.image_report(table, {"family": ["low", "high"]})
    assert [p["bpp"] for p in summary["curves"]["family"]] == [0.1, 0.25, 1.0]
    assert [p["bpp"] for p in summary["ms_ssim_curves"]["family"]] == [0.1, 0.3, 1.0]
    front = summary["ms_ssim_curves"]["family"]
    expected = evaluation.deltas_against({"JPEG": summary["curves"]["JPEG"], "family": front}, "JPEG", "bpp", "ms_ssim")
    assert summary["vs_jpeg"]["ms_ssim"]["family"] == expected["family"]
