"""Rate-distortion of audio codecs on the same music: walloc audio codecs against Opus, MP3 (LAME) and AAC
(FFmpeg's encoder) through PyAV; kbps from real bytes, PSNR, SI-SDR and a log-mel spectral distance.

    python bench/rd_audio.py [--data FILE ...] [--seconds 20]

PSNR is over the full range of [-1, 1] (peak-to-peak 2, the convention of the reference WaLLoC; subtract 6.02 dB
for peak 1). Standard-codec output is aligned to the input by cross-correlation (encoders add delays).
Writes bench/results/rd-audio-<device>.{json,csv,png} and prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

import walloc
from walloc import evaluation
from walloc.media import read_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, write_csv, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MUSIC = ROOT.parent / "shared" / "data" / "audio" / "music-ogg"
HELD_OUT = [MUSIC / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
            MUSIC / "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg"]


def load_clips(files: list[Path], seconds: float) -> list[tuple[str, torch.Tensor, int]]:
    clips = []
    for path in files:
        audio, rate = read_audio(path)
        audio = audio.expand(2, -1) if audio.shape[0] == 1 else audio
        clips.append((path.name, audio[:, : int(seconds * rate)].contiguous(), rate))
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = [p for p in HELD_OUT if p.exists()] or [ROOT / "samples" / "amen.flac"]
    parser.add_argument("--data", type=Path, nargs="+", default=default)
    parser.add_argument("--seconds", type=float, default=20.0, help="the first seconds of each file")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    codecs = [c for c in map(walloc.load, walloc.available_codecs()) if c.kind == "audio"]
    rows = evaluation.audio_rate_distortion(load_clips(args.data, args.seconds), codecs)
    label = f"{len(args.data)} files, first {args.seconds:g} s each"
    text, summary = evaluation.audio_report(rows)
    print(f"\n{label}; means over clips:\n\n{text}")
    name = f"rd-audio-{device_slug('cpu')}"
    write_csv(args.out, name, rows)
    evaluation.plot_curves(summary["curves"], args.out / f"{name}.png", "kbps",
                           [("psnr_db", "PSNR (dB, range 2)"), ("si_sdr_db", "SI-SDR (dB)"),
                            ("log_mel", "log-mel distance (lower is better)")], "kbps", label)
    shown = [os.path.relpath(p, ROOT) for p in args.data]  # relative to the repository
    write_results(args.out, name, {"data": shown, "seconds": args.seconds, **summary})
    print(f"\nwrote {args.out / name}.json, .csv, .png")


if __name__ == "__main__":
    main()
