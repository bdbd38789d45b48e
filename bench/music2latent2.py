"""Music2Latent2 against Music2Latent on the same held-out music, side by side: quality and real bitrates,
chunk boundaries, and speed.

    python bench/music2latent2.py --codec NAME_OR_FOLDER [--baseline m2l-small] [--audio FILE ...] [--bits 4 8]

- Quality: every file is compressed by both codecs at each latent bit depth and decoded with one and two steps
  from a fixed generator; the table gives the compression ratio (audio samples per latent value), kbps of the
  real streams, log-mel distance, multi-resolution STFT distance and SI-SDR (averaged over files).
- Boundaries: the log-mel distance of the frames whose window straddles a chunk boundary (where two chunks'
  STFT frames overlap) against the frames inside chunks, for the autoregressive decode and for each chunk
  decoded alone (from a silent previous chunk, as the first chunk of a stream is); plotted per position in the
  chunk (bench/results/music2latent2-boundaries-<codec name>.png).
- Speed: encode and decode real-time factors (seconds of audio per second of compute) on the first
  ``--speed-seconds`` of the first file, medians of ``--repeats``.

Default audio: the held-out piece none of the shipped codecs (nor bench/configs/music2latent2-small.json)
trained on. Writes bench/results/music2latent2-<codec name>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import walloc
from walloc.media import read_audio
from walloc.metrics import kbps as rate_kbps
from walloc.metrics import (
    log_mel_distance,
    log_mel_spectrogram,
    multi_resolution_stft_distance,
    si_sdr,
)
from walloc.models.music2latent2 import chunks_to_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_line, median_seconds, print_table, write_results

RESULTS = Path(__file__).resolve().parent / "results"
HELD_OUT = Path(__file__).resolve().parents[2] / "shared/data/audio/music-ogg/Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
MEL_HOP, MEL_FFT = 512, 2048


def compression_ratio(codec) -> float:
    """Audio samples per latent value."""
    if isinstance(codec, walloc.Music2Latent2Codec):
        return codec.config.compression_ratio
    return codec.samples_per_latent / codec.latent_dim


def quality(codecs: dict, clips: list, bits: list[int]) -> list[dict]:
    seconds = sum(audio.shape[1] / rate for audio, rate in clips)
    entries = []
    for name, codec in codecs.items():
        for depth in bits:
            streams = [codec.compress(audio[None], sample_rate=rate, bits=depth) for audio, rate in clips]
            for steps in (1, 2):
                decoded = [codec.decompress(s, steps, torch.Generator().manual_seed(0))[0] for s in streams]
                scores = [(log_mel_distance(a, y, r), multi_resolution_stft_distance(a, y), si_sdr(a, y))
                          for (a, r), y in zip(clips, decoded)]
                entries.append({"codec": name, "ratio": compression_ratio(codec), "bits": depth, "steps": steps,
                                "kbps": rate_kbps(sum(len(s) for s in streams), seconds),
                                **{key: sum(s[i] for s in scores) / len(scores)
                                   for i, key in enumerate(("log_mel", "mr_stft", "si_sdr_db"))}})
    return entries


def decode_chunks_alone(codec: walloc.Music2Latent2Codec, latents: torch.Tensor, generator) -> torch.Tensor:
    """Each chunk decoded alone, from a silent previous chunk (no autoregression): (N, channels, samples)."""
    n, groups, k, d, chunks = latents.shape
    summaries = latents.permute(0, 1, 4, 2, 3).reshape(n * groups * chunks, 1, k, d)
    with codec._arithmetic():
        spectrograms = codec.model.generate(summaries, lambda shape: torch.randn(shape, generator=generator), 1)
        audio = chunks_to_audio(spectrograms.reshape(n * groups, chunks, *spectrograms.shape[2:]))
    audio = audio[..., 3 * codec.hop:3 * codec.hop + codec.decoded_length(chunks)]
    return audio.reshape(n, groups * codec.config.channels, -1)


def frame_offsets(codec: walloc.Music2Latent2Codec, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(each log-mel frame's centre offset within its chunk in samples, whether its window straddles a chunk
    boundary). Chunk j's STFT frames overlap chunk j - 1's on input samples [j C - 3 hop, j C)."""
    chunk, shared = codec.samples_per_latent, 3 * codec.hop
    centre = torch.arange(frames) * MEL_HOP
    straddles = torch.zeros(frames, dtype=torch.bool)
    for j in (centre // chunk, centre // chunk + 1):  # the boundaries either side of the centre
        straddles |= (j >= 1) & (centre - MEL_FFT // 2 < j * chunk) & (centre + MEL_FFT // 2 > j * chunk - shared)
    return (centre + shared) % chunk, straddles


def boundaries(codec: walloc.Music2Latent2Codec, clips: list, bits: int) -> dict:
    """Per-frame log-mel distance inside chunks and across boundaries, autoregressive and chunk by chunk."""
    result, curves = {}, {}
    for mode in ("autoregressive, 1 step", "autoregressive, 2 steps", "chunks alone"):
        inside, across, by_offset = [], [], []
        for audio, rate in clips:
            data = codec.compress(audio[None], sample_rate=rate, bits=bits)
            generator = torch.Generator().manual_seed(0)
            if mode == "chunks alone":
                meta, latents = codec.stream_latents(data)
                decoded = codec._to_input_rate(decode_chunks_alone(codec, latents, generator), meta)
                decoded = decoded[0, :audio.shape[0], :audio.shape[1]]
            else:
                decoded = codec.decompress(data, 2 if "2" in mode else 1, generator)[0]
            distance = (log_mel_spectrogram(audio, rate) - log_mel_spectrogram(decoded, rate)).abs().mean((0, 1))
            offsets, straddles = frame_offsets(codec, distance.shape[0])
            keep = slice(4, -4)  # not the stream's own start and end
            distance, offsets, straddles = distance[keep], offsets[keep], straddles[keep]
            inside.append(distance[~straddles])
            across.append(distance[straddles])
            by_offset.append((offsets, distance))
        inside_mean, across_mean = float(torch.cat(inside).mean()), float(torch.cat(across).mean())
        result[mode] = {"inside": inside_mean, "across": across_mean, "ratio": across_mean / inside_mean}
        offsets = torch.cat([o for o, _ in by_offset])
        distances = torch.cat([d for _, d in by_offset])
        curves[mode] = {int(o): float(distances[offsets == o].mean()) for o in offsets.unique()}
    return {"modes": result, "curves": curves}


def plot_boundaries(curves: dict, codec, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for mode, curve in curves.items():
        ax.plot([o / codec.sample_rate * 1000 for o in curve], list(curve.values()), marker="o", label=mode)
    overlap = 3 * codec.hop / codec.sample_rate * 1000
    ax.axvspan(0, overlap, color="grey", alpha=0.2, label="frames shared with the previous chunk")
    ax.set_xlabel("log-mel frame centre, ms into the chunk")
    ax.set_ylabel("log-mel distance")
    ax.set_title(f"{codec.name}: spectral error across the chunk")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def speed(codecs: dict, audio: torch.Tensor, rate: int, repeats: int) -> list[dict]:
    seconds = audio.shape[-1] / rate
    entries = []
    for name, codec in codecs.items():
        data = codec.compress(audio[None], sample_rate=rate)
        encode = median_seconds(lambda c=codec: c.compress(audio[None], rate), repeats)
        entry = {"codec": name, "seconds": seconds, "encode_x_realtime": seconds / encode}
        for steps in (1, 2):
            time = median_seconds(lambda c=codec, d=data, s=steps: c.decompress(d, s, torch.Generator().manual_seed(0)),
                                  repeats)
            entry[f"decode_{steps}_steps_x_realtime"] = seconds / time
        entries.append(entry)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codec", required=True, help="a Music2Latent2 codec: name, folder or hf:// address")
    parser.add_argument("--baseline", default="m2l-small")
    parser.add_argument("--audio", nargs="+", type=Path, default=[HELD_OUT])
    parser.add_argument("--bits", nargs="+", type=int, default=[4, 8])
    parser.add_argument("--speed-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    codecs = {args.baseline: walloc.load(args.baseline), args.codec: walloc.load(args.codec)}
    clips = [read_audio(f) for f in args.audio]
    print(machine_line())
    result = {"files": [f.name for f in args.audio], "quality": quality(codecs, clips, args.bits)}
    print(f"quality on {', '.join(result['files'])} "
          f"({sum(a.shape[1] / r for a, r in clips):.1f} s), decoded from a fixed generator")
    print_table(["codec", "ratio", "latent bits", "kbps", "steps", "log-mel", "MR-STFT", "SI-SDR (dB)"],
                [[e["codec"], f"{e['ratio']:g}x", str(e["bits"]), f"{e['kbps']:.2f}", str(e["steps"]),
                  f"{e['log_mel']:.3f}", f"{e['mr_stft']:.3f}", f"{e['si_sdr_db']:.1f}"] for e in result["quality"]])

    codec = codecs[args.codec]
    if not isinstance(codec, walloc.Music2Latent2Codec):
        parser.error(f"{args.codec} is not a Music2Latent2 codec")
    result["boundaries"] = boundaries(codec, clips, args.bits[0])
    print(f"\nchunk boundaries ({args.codec}, {args.bits[0]} bits): mean log-mel distance per frame")
    print_table(["decode", "inside chunks", "straddling a boundary", "ratio"],
                [[mode, f"{v['inside']:.3f}", f"{v['across']:.3f}", f"{v['ratio']:.3f}"]
                 for mode, v in result["boundaries"]["modes"].items()])
    RESULTS.mkdir(parents=True, exist_ok=True)
    slug = codec.name
    plot = RESULTS / f"music2latent2-boundaries-{slug}.png"
    plot_boundaries(result["boundaries"]["curves"], codec, plot)

    audio, rate = clips[0]
    audio = audio[:, :int(args.speed_seconds * rate)]
    result["speed"] = speed(codecs, audio, rate, args.repeats)
    print(f"\nspeed, {audio.shape[-1] / rate:.1f} s of {audio.shape[0]}-channel audio, {torch.get_num_threads()} "
          f"threads, medians of {args.repeats} (x real time)")
    print_table(["codec", "encode", "decode, 1 step", "decode, 2 steps"],
                [[e["codec"], f"{e['encode_x_realtime']:.1f}", f"{e['decode_1_steps_x_realtime']:.1f}",
                  f"{e['decode_2_steps_x_realtime']:.1f}"] for e in result["speed"]])
    print(f"wrote {write_results(RESULTS, f'music2latent2-{slug}', result)} and {plot}")


if __name__ == "__main__":
    main()
