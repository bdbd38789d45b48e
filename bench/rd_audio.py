"""Rate-distortion of audio codecs on the same music: walloc audio codecs against Opus, MP3 (LAME) and AAC
(FFmpeg's encoder) through PyAV, with kbps from real bytes, PSNR, SI-SDR and a log-mel spectral distance.

    python bench/rd_audio.py [--data FILE ...] [--seconds 20]

PSNR is over the full range of [-1, 1] (peak-to-peak 2, the convention of the reference WaLLoC; subtract 6.02 dB
for peak 1). Decoded standard-codec audio is aligned to the input by cross-correlation (encoder delays differ).
Writes bench/results/rd-audio-<device>.{json,csv,png} and prints markdown tables.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import walloc
from walloc import metrics
from walloc.media import read_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, print_table, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MUSIC = ROOT.parent / "shared" / "data" / "audio" / "music-ogg"
HELD_OUT = [MUSIC / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
            MUSIC / "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg"]
# codec: (PyAV encoder, container format, encoder sample rate, bitrates in kbps)
STANDARD = {"Opus": ("libopus", "ogg", 48000, [16, 24, 32, 48, 64, 96]),
            "MP3": ("libmp3lame", "mp3", 44100, [32, 48, 64, 96, 128]),
            "AAC": ("aac", "adts", 44100, [32, 48, 64, 96, 128])}


def av_round_trip(audio: np.ndarray, rate: int, encoder: str, fmt: str, codec_rate: int, kbps: int):
    """(bytes, decoded (C, T) at ``rate``) of stereo float audio through an FFmpeg encoder. PyAV's encoder
    context resamples (libswresample) to the encoder's sample format, rate and frame size."""
    import av

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
    """``decoded`` shifted by the lag that best matches ``reference`` (cross-correlation), cut to its length."""
    n = reference.shape[1]
    a, b = reference.mean(0)[: 4 * search * 8], decoded.mean(0)[: 4 * search * 8 + search]
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)[:search]
    lag = int(np.argmax(corr))
    out = decoded[:, lag:lag + n]
    return np.pad(out, ((0, 0), (0, n - out.shape[1])))


def measure(reference: np.ndarray, decoded: np.ndarray, nbytes: int, rate: int) -> dict:
    x, y = torch.from_numpy(reference), torch.from_numpy(np.ascontiguousarray(decoded))
    seconds = reference.shape[1] / rate
    return {"kbps": 8 * nbytes / seconds / 1000, "psnr_db": metrics.psnr(x, y, data_range=2.0),
            "si_sdr_db": metrics.si_sdr(x, y), "log_mel": metrics.log_mel_distance(x, y, rate)}


def run(files: list[Path], seconds: float) -> list[dict]:
    codecs = [c for c in map(walloc.load, walloc.available_codecs()) if c.kind == "audio"]
    rows = []
    jobs = [(c.name, None) for c in codecs] + [(n, k) for n, spec in STANDARD.items() for k in spec[3]]
    for path in files:
        audio, rate = read_audio(path)
        audio = audio.expand(2, -1) if audio.shape[0] == 1 else audio
        audio = audio[:, : int(seconds * rate)].numpy()
        for name, kbps in tqdm(jobs, desc=path.name[:30], unit="setting"):
            if kbps is None:
                codec = next(c for c in codecs if c.name == name)
                data = codec.compress(torch.from_numpy(audio), sample_rate=rate)
                nbytes, decoded = len(data), codec.decompress(data)[0].numpy()
            else:
                encoder, fmt, codec_rate, _ = STANDARD[name]
                nbytes, decoded = av_round_trip(audio, rate, encoder, fmt, codec_rate, kbps)
                decoded = align(audio, decoded)
            rows.append({"file": path.name, "codec": name, "target_kbps": kbps, **measure(audio, decoded, nbytes, rate)})
    return rows


def curves(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for codec in dict.fromkeys(r["codec"] for r in rows):
        points = []
        for target in dict.fromkeys(r["target_kbps"] for r in rows if r["codec"] == codec):
            sel = [r for r in rows if r["codec"] == codec and r["target_kbps"] == target]
            points.append({"target_kbps": target, **{k: statistics.fmean(r[k] for r in sel)
                                                      for k in ("kbps", "psnr_db", "si_sdr_db", "log_mel")}})
        out[codec] = sorted(points, key=lambda p: p["kbps"])
    return out


def plot(curve: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for name, points in curve.items():
        style = {"marker": "*", "markersize": 14, "linestyle": "none"} if len(points) == 1 else {"marker": "o"}
        for ax, key, label in zip(axes, ("psnr_db", "si_sdr_db", "log_mel"),
                                  ("PSNR (dB, range 2)", "SI-SDR (dB)", "log-mel distance (lower is better)")):
            ax.plot([p["kbps"] for p in points], [p[key] for p in points], label=name, **style)
            ax.set(xlabel="kbps", ylabel=label)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = [p for p in HELD_OUT if p.exists()] or [ROOT / "samples" / "amen.flac"]
    parser.add_argument("--data", type=Path, nargs="+", default=default)
    parser.add_argument("--seconds", type=float, default=20.0, help="the first seconds of each file")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    rows = run(args.data, args.seconds)
    curve = curves(rows)
    name = f"rd-audio-{device_slug('cpu')}"
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / f"{name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(curve, args.out / f"{name}.png")
    write_results(args.out, name, {"data": [str(p) for p in args.data], "seconds": args.seconds, "curves": curve})
    print(f"\n{len(args.data)} files, first {args.seconds:g} s each; means over files:\n")
    print_table(["codec", "target", "kbps", "PSNR (dB)", "SI-SDR (dB)", "log-mel distance"],
                [[n, "-" if p["target_kbps"] is None else f"{p['target_kbps']} kbps", f"{p['kbps']:.1f}",
                  f"{p['psnr_db']:.2f}", f"{p['si_sdr_db']:.2f}", f"{p['log_mel']:.3f}"]
                 for n, pts in curve.items() for p in pts])
    print(f"\nwrote {args.out / name}.json, .csv, .png")


if __name__ == "__main__":
    main()
