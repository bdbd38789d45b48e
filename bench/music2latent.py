"""Music2Latent speed: walloc vs the reference package (music2latent 0.1.8) on the same weights, side by side;
and the quality and bitrate of a trained Music2Latent codec on held-out music.

    python bench/music2latent.py [--seconds 5] [--repeats 3] [--device cpu|cuda]
    python bench/music2latent.py --quality m2l-small [--audio FILE ...]

Both run the released 58M-parameter architecture with one set of random weights (the official checkpoint is
non-commercial and not fetched here; speed does not depend on the values). Timed, medians of ``repeats`` after a
warm-up, mono audio of ``seconds`` (both sides get inputs giving the same number of latent frames):

- encode: waveform -> latents (STFT included);
- decode, 1 step: latents -> waveform (the pyramid decoder, one UNet evaluation, inverse STFT);
- decode, 4 steps (the reference recomputes the pyramid decoder every step; walloc once).

walloc runs in float32 (the reference's arithmetic; outputs agree within 1e-4, see tests/test_music2latent.py)
and in bfloat16 (autocast; AMX/AVX-512-BF16 on CPUs, tensor cores on GPUs), whose distance from float32 is
reported. The reference runs as its package does on that device (CPU: float32; CUDA: float16 autocast).
Writes bench/results/music2latent-<device>.json and prints a markdown table.

``--quality NAME``: compresses each held-out file (default: the piece the shipped m2l-small never saw in
training) at several latent bit depths, decodes with 1, 2 and 4 steps (fixed generator) and reports kbps,
SI-SDR and log-mel distance per setting; writes bench/results/music2latent-quality-<NAME>.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import walloc
from walloc.models.music2latent import Music2LatentModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_music2latent as oracle  # noqa: E402
from common import device_name, device_slug, median_seconds, print_table, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
HELD_OUT = Path(__file__).resolve().parents[2] / "shared/data/audio/music-ogg/Kevin_MacLeod_-_Vibe_Ace.hq.ogg"


def snr_db(reference: torch.Tensor, test: torch.Tensor) -> float:
    noise = (reference.double() - test.double()).pow(2).sum()
    return float(10 * torch.log10(reference.double().pow(2).sum() / noise.clamp_min(1e-30)))


def quality(name: str, files: list[Path]) -> None:
    from walloc.media import read_audio
    from walloc.metrics import kbps as rate_kbps, log_mel_distance, si_sdr

    rows, result = [], {"codec": name, "files": [f.name for f in files], "settings": []}
    clips = [read_audio(f) for f in files]
    seconds = sum(audio.shape[1] / rate for audio, rate in clips)
    settings = [("float32", bits, steps) for bits in (4, 6, 8) for steps in (1, 2, 4)] + [("bfloat16", 8, 1)]
    for precision, bits, steps in settings:
        codec = walloc.load(name, precision=precision)
        streams = [codec.compress(audio[None], sample_rate=rate, bits=bits) for audio, rate in clips]
        kbps = rate_kbps(sum(len(s) for s in streams), seconds)
        decoded = [codec.decompress(s, steps, torch.Generator().manual_seed(0))[0] for s in streams]
        scores = [(si_sdr(audio, y), log_mel_distance(audio, y, rate)) for (audio, rate), y in zip(clips, decoded)]
        entry = {"precision": precision, "bits": bits, "steps": steps, "kbps": kbps,
                 "si_sdr_db": sum(s[0] for s in scores) / len(scores),
                 "log_mel": sum(s[1] for s in scores) / len(scores)}
        result["settings"].append(entry)
        rows.append([precision, str(bits), str(steps), f"{kbps:.2f}", f"{entry['si_sdr_db']:.2f}",
                     f"{entry['log_mel']:.3f}"])
    print(f"{name} on {', '.join(result['files'])} ({seconds:.1f} s, stereo)")
    print_table(["precision", "latent bits", "steps", "kbps", "SI-SDR (dB)", "log-mel distance"], rows)
    print(f"wrote {write_results(RESULTS, f'music2latent-quality-{name}', result)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quality", metavar="CODEC", help="measure a trained codec's rate and quality instead")
    parser.add_argument("--audio", nargs="+", type=Path, default=[HELD_OUT])
    args = parser.parse_args()
    if args.quality:
        return quality(args.quality, args.audio)
    device = args.device
    reference = oracle.load_reference()

    torch.manual_seed(0)
    theirs = reference.UNet().eval().to(device)
    state = {k: torch.randn_like(v) * 0.05 + (1.0 if k.endswith("gain.scale") or ("norm" in k and k.endswith("weight"))
                                              else 0.0) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(state)
    model = Music2LatentModel()
    model.load_state_dict(state)
    codecs = {precision: walloc.Music2LatentCodec("bench", model, device, precision=precision)
              for precision in ("float32", "bfloat16")}

    frames = max(1, round(args.seconds * 44100 / 4096))
    audio = torch.rand(1, 1, frames * 4096 + 1536, generator=torch.Generator().manual_seed(1)) - 0.5
    ours_audio = audio[..., :frames * 4096 - 1536]  # the codec pads 1536 samples at each end
    holder = oracle.Holder(theirs)

    def reference_encode():
        return reference.encode_audio_inference(audio[0].to(device), holder, 44100 * 600, 1, device=device)

    def reference_decode(latents, steps):
        return reference.decode_latent_inference(latents, holder, 44100 * 600, 1, diffusion_steps=steps,
                                                 device=device)

    latents = codecs["float32"].encode(ours_audio)
    reference_latents = reference_encode()
    rows = []
    result = {"device": device_name(device), "threads": torch.get_num_threads(), "seconds": frames * 4096 / 44100,
              "latent_frames": frames, "repeats": args.repeats, "cases": {}}
    cases = {
        "encode": (reference_encode, lambda codec: (lambda: codec.encode(ours_audio))),
        "decode, 1 step": (lambda: reference_decode(reference_latents, 1),
                           lambda codec: (lambda: codec.decode(latents, 1, torch.Generator().manual_seed(0)))),
        "decode, 4 steps": (lambda: reference_decode(reference_latents, 4),
                            lambda codec: (lambda: codec.decode(latents, 4, torch.Generator().manual_seed(0)))),
    }
    outputs = {}
    for name, (reference_fn, ours_fn) in cases.items():
        t_ref = median_seconds(reference_fn, args.repeats, device)
        entry = {"reference_s": t_ref}
        for precision, codec in codecs.items():
            run = ours_fn(codec)
            entry[f"walloc_{precision}_s"] = median_seconds(run, args.repeats, device)
            entry[f"speedup_{precision}"] = t_ref / entry[f"walloc_{precision}_s"]
            outputs[name, precision] = run()
        entry["bfloat16_snr_db_vs_float32"] = snr_db(outputs[name, "float32"], outputs[name, "bfloat16"])
        result["cases"][name] = entry
        rows.append([name, f"{t_ref:.2f}", f"{entry['walloc_float32_s']:.2f}", f"{entry['speedup_float32']:.2f}x",
                     f"{entry['walloc_bfloat16_s']:.2f}", f"{entry['speedup_bfloat16']:.2f}x",
                     f"{entry['bfloat16_snr_db_vs_float32']:.1f}"])
    print(f"{result['device']}, {result['threads']} threads, {result['seconds']:.2f} s of mono audio "
          f"({frames} latent frames), medians of {args.repeats}")
    print_table(["case", "reference (s)", "walloc f32 (s)", "speed-up", "walloc bf16 (s)", "speed-up",
                 "bf16 SNR vs f32 (dB)"], rows)
    print(f"wrote {write_results(RESULTS, f'music2latent-{device_slug(device)}', result)}")


if __name__ == "__main__":
    main()
