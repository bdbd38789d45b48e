"""Rate-distortion evaluation of codecs on the same media: walloc codecs against standard image codecs
(JPEG, WebP, AVIF through Pillow) and audio codecs (Opus, MP3, AAC through PyAV, an optional dependency).

Rows are plain dicts (one per item and setting); :func:`curves` averages them per setting and
:func:`deltas_against` compares each codec with an anchor by Bjontegaard deltas (or, for a codec with one
operating point, against the anchor's interpolated curve there).
"""

from __future__ import annotations

import inspect
import io
import math
import statistics
from typing import Iterable

import numpy as np
import torch
from torch import Tensor

from . import metrics

PILLOW_OPTIONS = {"JPEG": {"subsampling": "4:2:0"}, "WebP": {"method": 4}, "AVIF": {"speed": 6}}
IMAGE_QUALITIES = {"JPEG": [10, 20, 30, 50, 70, 85, 95], "WebP": [10, 25, 50, 70, 85, 95],
                   "AVIF": [10, 25, 40, 55, 70, 85]}
QUICK_IMAGE_QUALITIES = {"JPEG": [20, 50, 85], "WebP": [25, 70, 95], "AVIF": [25, 55, 85]}
# the whole levels of the walloc codecs' quality scale (walloc.codec.wavelet), each a point of their curves up to
# the codec's own top
WALLOC_QUALITIES = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
# name: (FFmpeg encoder, container, encoder sample rate, bitrates in kbps)
AUDIO_CODECS = {"Opus": ("libopus", "ogg", 48000, [16, 24, 32, 48, 64, 96]),
                "MP3": ("libmp3lame", "mp3", 44100, [32, 48, 64, 96, 128]),
                "AAC": ("aac", "adts", 44100, [32, 48, 64, 96, 128])}


def pillow_encode(image: Tensor, fmt: str, quality: int) -> bytes:
    """uint8 (3, H, W) -> file bytes through Pillow (JPEG 4:2:0, WebP, AVIF)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, fmt.upper(), quality=quality, **PILLOW_OPTIONS[fmt])
    return buffer.getvalue()


def pillow_decode(data: bytes) -> Tensor:
    """File bytes -> uint8 (3, H, W)."""
    from PIL import Image

    return torch.from_numpy(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).copy()).permute(2, 0, 1)


def image_quality(image: Tensor, decoded: Tensor, nbytes: int) -> dict:
    """bpp from real bytes, PSNR (RGB) and MS-SSIM of uint8 (3, H, W) images."""
    x, y = image.float().unsqueeze(0), decoded.float().unsqueeze(0)
    row = {"bpp": metrics.bits_per_pixel(nbytes, image.shape[1] * image.shape[2]), "psnr_db": metrics.psnr(x, y, 255)}
    row["ms_ssim"] = metrics.ms_ssim(x, y, 255) if min(image.shape[1:]) > 160 else float("nan")
    return row


def codec_settings(codec, qualities: list[float]) -> list[float | None]:
    """What a walloc codec is swept over: ``qualities`` up to its ``max_quality`` where its ``compress`` takes a
    quality, else its one operating point (None)."""
    if "quality" not in inspect.signature(codec.compress).parameters:
        return [None]
    return [q for q in qualities if q <= codec.max_quality]


def compress_at(codec, media, quality: float | None, **options) -> bytes:
    """``codec.compress`` at a setting of :func:`codec_settings`."""
    return codec.compress(media, **options) if quality is None else codec.compress(media, quality=quality, **options)


def image_rate_distortion(images: Iterable[tuple[str, Tensor]], codecs: list, qualities: dict[str, list[int]],
                          progress: bool = True, walloc_qualities: list[float] = WALLOC_QUALITIES) -> list[dict]:
    """Rows for every (image, setting): walloc ``codecs`` at ``walloc_qualities`` (or their one operating
    point), Pillow codecs at ``qualities``. ``images``: (name, uint8 (3, H, W))."""
    from tqdm import tqdm

    rows = []
    for name, image in tqdm(list(images), desc="images", unit="image", disable=not progress):
        for codec in codecs:
            for quality in codec_settings(codec, walloc_qualities):
                data = compress_at(codec, image, quality)
                decoded = (codec.decompress(data)[0] * 255).round().to(torch.uint8).cpu()
                rows.append({"item": name, "codec": codec.name, "setting": quality,
                             **image_quality(image, decoded, len(data))})
        for fmt, settings in qualities.items():
            for quality in settings:
                data = pillow_encode(image, fmt, quality)
                rows.append({"item": name, "codec": fmt, "setting": quality,
                             **image_quality(image, pillow_decode(data), len(data))})
    return rows


def av_round_trip(audio: np.ndarray, rate: int, codec: str, kbps: int) -> tuple[int, np.ndarray]:
    """(bytes, decoded (2, T') at ``rate``) of stereo float audio through one of :data:`AUDIO_CODECS`. PyAV's
    encoder context resamples (libswresample) to the encoder's sample format, rate and frame size."""
    import av

    encoder, fmt, codec_rate, _ = AUDIO_CODECS[codec]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(encoder, rate=codec_rate, layout="stereo")
        stream.bit_rate = kbps * 1000
        for start in range(0, audio.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, start:start + 4096], dtype=np.float32),
                                               format="fltp", layout="stereo")
            frame.sample_rate = rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    data = buffer.getvalue()
    decoded = []
    with av.open(io.BytesIO(data)) as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
        for frame in container.decode(audio=0):
            decoded += [f.to_ndarray() for f in resampler.resample(frame)]
        decoded += [f.to_ndarray() for f in resampler.resample(None)]
    return len(data), np.concatenate(decoded, axis=1)


def align(reference: np.ndarray, decoded: np.ndarray, search: int = 8192) -> np.ndarray:
    """``decoded`` advanced by the lag (0 to ``search``) that best matches ``reference``, cut or zero-padded to
    its length: encoders add different delays."""
    n = reference.shape[1]
    a, b = reference.mean(0)[: 32 * search], decoded.mean(0)[: 33 * search]
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    correlation = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)[:search]
    lag = int(np.argmax(correlation))
    out = decoded[:, lag:lag + n]
    return np.pad(out, ((0, 0), (0, n - out.shape[1])))


def audio_quality(reference: np.ndarray, decoded: np.ndarray, nbytes: int, rate: int) -> dict:
    """kbps from real bytes; PSNR over the full range of [-1, 1] (peak-to-peak 2, the reference WaLLoC's
    convention; subtract 6.02 dB for peak 1), SI-SDR, log-mel distance."""
    x, y = torch.from_numpy(np.ascontiguousarray(reference)), torch.from_numpy(np.ascontiguousarray(decoded))
    return {"kbps": metrics.kbps(nbytes, reference.shape[1] / rate), "psnr_db": metrics.psnr(x, y, data_range=2.0),
            "si_sdr_db": metrics.si_sdr(x, y), "log_mel": metrics.log_mel_distance(x, y, rate)}


def audio_rate_distortion(clips: Iterable[tuple[str, Tensor, int]], codecs: list,
                          bitrates: dict[str, list[int]] | None = None, progress: bool = True,
                          walloc_qualities: list[float] = WALLOC_QUALITIES) -> list[dict]:
    """Rows for every (clip, setting): walloc ``codecs`` at ``walloc_qualities`` (or their one operating point)
    and the standard codecs at ``bitrates`` (default: those of :data:`AUDIO_CODECS`; an empty dict skips them).
    ``clips``: (name, (2, T) float, rate)."""
    from tqdm import tqdm

    bitrates = {k: v[3] for k, v in AUDIO_CODECS.items()} if bitrates is None else bitrates
    rows = []
    for name, audio, rate in clips:
        jobs = [(c, q) for c in codecs for q in codec_settings(c, walloc_qualities)]
        jobs += [(k, kbps) for k, rates in bitrates.items() for kbps in rates]
        signal = audio.numpy()
        for codec, setting in tqdm(jobs, desc=name[:30], unit="setting", disable=not progress):
            if isinstance(codec, str):
                nbytes, decoded = av_round_trip(signal, rate, codec, setting)
                decoded, label = align(signal, decoded), codec
            else:
                data = compress_at(codec, audio, setting, sample_rate=rate)
                nbytes, decoded, label = len(data), codec.decompress(data)[0].cpu().numpy(), codec.name
            rows.append({"item": name, "codec": label, "setting": setting,
                         **audio_quality(signal, decoded, nbytes, rate)})
    return rows


def curves(rows: list[dict], rate_key: str) -> dict[str, list[dict]]:
    """Per codec, the mean of every numeric field for each setting, sorted by ``rate_key``."""
    out: dict[str, list[dict]] = {}
    for codec in dict.fromkeys(r["codec"] for r in rows):
        points = []
        for setting in dict.fromkeys(r["setting"] for r in rows if r["codec"] == codec):
            chosen = [r for r in rows if r["codec"] == codec and r["setting"] == setting]
            fields = [k for k, v in chosen[0].items() if isinstance(v, float)]
            points.append({"setting": setting, **{k: statistics.fmean(r[k] for r in chosen) for k in fields}})
        out[codec] = sorted(points, key=lambda p: p[rate_key])
    return out


def deltas_against(curve: dict[str, list[dict]], anchor: str, rate_key: str, quality_key: str = "psnr_db") -> dict:
    """Per codec: Bjontegaard deltas (rate %, quality) against ``anchor``'s curve; a codec with one operating
    point is compared with the anchor's curve interpolated there (``kind`` says which)."""
    base = curve[anchor]
    rate_a, quality_a = [p[rate_key] for p in base], [p[quality_key] for p in base]
    out = {}
    for name, points in curve.items():
        if name == anchor:
            continue
        rate, quality = [p[rate_key] for p in points], [p[quality_key] for p in points]
        if not np.isfinite(quality + quality_a).all():  # a metric undefined here (MS-SSIM of small images)
            out[name] = {"rate_pct": math.nan, "quality_delta": math.nan, "kind": "none"}
        elif len(points) >= 2:
            out[name] = {"rate_pct": metrics.bd_rate(rate_a, quality_a, rate, quality),
                         "quality_delta": metrics.bd_psnr(rate_a, quality_a, rate, quality), "kind": "curve"}
        else:
            out[name] = {"rate_pct": metrics.rate_delta_at(rate_a, quality_a, rate[0], quality[0]),
                         "quality_delta": metrics.psnr_delta_at(rate_a, quality_a, rate[0], quality[0]),
                         "kind": "point"}
    return out


def plot_curves(curve: dict[str, list[dict]], path, rate_key: str, panels: list[tuple[str, str]], rate_label: str,
                title: str = "", max_rate: float | None = None,
                panel_curves: dict[str, dict[str, list[dict]]] | None = None) -> None:
    """One panel per (metric key, label): a line per codec (a star for one-point codecs); ``panel_curves``
    (metric key: {name: points}) replaces some codecs' points in that metric's panel (a family's front by it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (key, _) in zip(axes[0], panels):
        for name, points in {**curve, **(panel_curves or {}).get(key, {})}.items():
            style = {"marker": "*", "markersize": 15, "linestyle": "none"} if len(points) == 1 else {"marker": "o"}
            ax.plot([p[rate_key] for p in points], [p[key] for p in points], label=name, **style)
    for ax, (_, label) in zip(axes[0], panels):
        ax.set(xlabel=rate_label, ylabel=label, title=title)
        if max_rate:
            ax.set_xlim(0, max_rate)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _setting_label(codec: str, setting) -> str:
    if setting is None:
        return "-"
    return f"{setting} kbps" if codec in AUDIO_CODECS else f"q{setting:g}"


def _deltas(curve: dict[str, list[dict]], anchors: list[str], rate_key: str,
            metrics_: list[tuple[str, str, str]],
            metric_curves: dict[str, dict[str, list[dict]]] | None = None) -> tuple[str, dict]:
    """(markdown, {"vs_<anchor>": {metric key: deltas_against(...)}}) against each anchor present, for each
    (metric key, label, unit) of ``metrics_``; ``metric_curves`` (metric key: {name: points}) replaces some
    curves for that metric."""
    text, out = "", {}
    for anchor in (a for a in anchors if a in curve):
        per_metric = {key: deltas_against({**curve, **(metric_curves or {}).get(key, {})}, anchor, rate_key, key)
                      for key, _, _ in metrics_}
        out[f"vs_{anchor.lower()}"] = per_metric
        header = ["codec"]
        for _, label, unit in metrics_:
            header += [f"rate at equal {label}", f"{label} at equal rate" + (f" ({unit})" if unit else "")]
        rows = [[name] + [f for key, _, _ in metrics_ for f in (f"{per_metric[key][name]['rate_pct']:+.1f}%",
                                                                f"{per_metric[key][name]['quality_delta']:+.3g}")]
                + [per_metric[metrics_[0][0]][name]["kind"]] for name in per_metric[metrics_[0][0]]]
        text += (f"\n\nAgainst {anchor}: Bjontegaard deltas over the range both curves cover (a codec with one "
                 f"operating point: against {anchor}'s\ninterpolated curve there). Negative rate = fewer bits; nan = "
                 f"no overlap.\n\n") + markdown_table(header + ["over"], rows)
    return text, out


def family_curve(curve: dict[str, list[dict]], members: list[str], rate_key: str,
                 quality_key: str = "psnr_db") -> list[dict]:
    """The points of a codec family (several codecs, each at its own settings) that no other point of the family
    beats in both rate and ``quality_key``: what a user picking the best member for each rate gets."""
    points = sorted((p | {"codec": name} for name in members for p in curve[name]), key=lambda p: p[rate_key])
    front: list[dict] = []
    for point in points:
        if not front or point[quality_key] > front[-1][quality_key]:
            front.append(point)
    return front


def image_report(rows: list[dict], families: dict[str, list[str]] | None = None) -> tuple[str, dict]:
    """(markdown tables, {"curves", "ms_ssim_curves", "vs_jpeg", "vs_webp", "vs_avif"}) of image rate-distortion
    rows; each "vs_" entry holds deltas in PSNR and in MS-SSIM. ``families`` (name: member codecs) add each
    family's curve (:func:`family_curve`): its front by PSNR in "curves", by MS-SSIM in "ms_ssim_curves"; each
    metric's deltas use that metric's front."""
    curve = curves(rows, "bpp")
    by_ms_ssim = {name: family_curve(curve, members, "bpp", "ms_ssim") for name, members in (families or {}).items()}
    for name, members in (families or {}).items():
        curve[name] = family_curve(curve, members, "bpp")
    text = markdown_table(["codec", "setting", "bpp", "PSNR (dB)", "MS-SSIM"],
                          [[n, _setting_label(n, p["setting"]), f"{p['bpp']:.3f}", f"{p['psnr_db']:.2f}",
                            f"{p['ms_ssim']:.4f}"] for n, pts in curve.items() for p in pts])
    deltas, summary = _deltas(curve, ["JPEG", "WebP", "AVIF"], "bpp",
                              [("psnr_db", "PSNR", "dB"), ("ms_ssim", "MS-SSIM", "")], {"ms_ssim": by_ms_ssim})
    return text + deltas, {"curves": curve, "ms_ssim_curves": by_ms_ssim, **summary}


def audio_report(rows: list[dict]) -> tuple[str, dict]:
    """(markdown tables, {"curves", "vs_opus", "vs_aac"}) of audio rate-distortion rows; each "vs_" entry
    holds deltas in PSNR, SI-SDR and log-mel distance (lower is better: a negative delta there is better)."""
    curve = curves(rows, "kbps")
    text = markdown_table(["codec", "setting", "kbps", "PSNR (dB)", "SI-SDR (dB)", "log-mel distance"],
                          [[n, _setting_label(n, p["setting"]), f"{p['kbps']:.1f}", f"{p['psnr_db']:.2f}",
                            f"{p['si_sdr_db']:.2f}", f"{p['log_mel']:.3f}"] for n, pts in curve.items() for p in pts])
    deltas, summary = _deltas(curve, ["Opus", "AAC"], "kbps",
                              [("psnr_db", "PSNR", "dB"), ("si_sdr_db", "SI-SDR", "dB"), ("log_mel", "log-mel", "")])
    return text + deltas, {"curves": curve, **summary}
