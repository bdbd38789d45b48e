"""Compressed learning: task heads on codec latents against twins on (a) pixels / samples resampled to the
same tensor size and (b) full resolution; one body and width per task, trained by walloc's training loop
(``walloc.training``: the same tasks ``walloc train`` runs from a config).

- classification: MNIST (the shared 10,000-digit split, fixed 8,000 / 2,000), digits padded to 32x32 as RGB,
  on rgb-16x latents;
- colourisation: grey -> colour on 64x64 crops of ../shared/data/train-images (every 10th file held out),
  PSNR and MS-SSIM of the decoded colour image on the whole held-out images;
- source separation: mixtures of a music recording and a loop -> the music, on stereo-17x latents; trained on
  segments of three recordings and seven loops, scored (SI-SDR after decoding) on mixtures of the held-out
  recording (Vibe Ace, also held out from the codec's training) and the held-out drum loop.

    python bench/heads.py [--epochs 10] [--steps 600] [--separation-steps 300]

Writes bench/results/heads-<device>.{json,png} and one CSV per task, and prints markdown tables: quality,
parameters, forward FLOPs, training and inference time, and bytes per item read from disk (the float32 latent
cache, uint8 pixels or 16-bit samples).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import walloc
from walloc import metrics
from walloc.media import find_media, read_image
from walloc.training import TrainConfig
from walloc.training.head_tasks import ClassifyTask, ColouriseTask, SeparateTask, grey
from walloc.training.loop import run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, print_table, write_csv, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
AUDIO = DATA / "audio"
SEPARATION_HELD_OUT = [AUDIO / "music-ogg" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg",
                       AUDIO / "loops-cc0-flac" / "loop_amen_full.flac"]
INPUT_NAMES = {"latent": "latents", "pixels-same-size": "pixels, same tensor size", "pixels": "pixels, full resolution",
               "waveform-same-size": "samples, same tensor size", "waveform": "samples, full resolution"}


def load_mnist(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 digits (10000, 3, 32, 32) (padded, grey as RGB) and int64 labels."""
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    digits = torch.from_numpy(np.pad(images, ((0, 0), (2, 2), (2, 2)))).unsqueeze(1).expand(-1, 3, -1, -1)
    return digits.contiguous(), torch.from_numpy(labels.astype(np.int64))


def flops_per_item(model: torch.nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x[:1])
    return counter.get_total_flops()


def config_for(kind: str, view: str, codec: str, out: Path, **fields) -> TrainConfig:
    return TrainConfig(name=f"{kind}-{view}", kind=kind, data=fields.pop("data", []), out=str(out / f"{kind}-{view}"),
                       model={"codec": codec, "input": view, "width": fields.pop("width")}, log_every=50,
                       validate_every=10**9, checkpoint_every=10**9, seed=0, **fields)


def timed_run(task, config: TrainConfig) -> float:
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    run(task, config, resume=False)
    return time.perf_counter() - start


def classification(codec, args, out: Path) -> list[dict]:
    digits, labels = load_mnist(DATA / "classify" / "mnist")
    order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
    train, test = order[:8000], order[8000:]
    rows = []
    for view, nbytes in (("latent", 12 * 4 * 4 * 4), ("pixels-same-size", 3 * 8 * 8), ("pixels", 3 * 32 * 32)):
        config = config_for("classify", view, codec.name, out, width=args.width, steps=args.epochs * 63,
                            batch_size=128, lr=2e-3, warmup_steps=30)
        start = time.perf_counter()
        task = ClassifyTask(config, digits[train], labels[train], codec, (digits[test], labels[test]))
        prepare_s = time.perf_counter() - start
        seconds = timed_run(task, config)
        task.eval()
        start = time.perf_counter()
        accuracy = task.accuracy(*task.val)
        infer = (time.perf_counter() - start) / len(test)
        rows.append({"task": "MNIST classification", "input": INPUT_NAMES[view], "accuracy_pct": accuracy,
                     "params": sum(p.numel() for p in task.head.parameters()),
                     "flops": flops_per_item(task.head, task.x), "train_s": seconds, "infer_ms": 1e3 * infer,
                     "prepare_s": prepare_s, "bytes_per_item": nbytes})
        print(f"classification, {view}: {accuracy:.2f}%", flush=True)
    return rows


def colourisation(codec, args, out: Path) -> list[dict]:
    files = find_media([DATA / "train-images"], "image")
    held = [str(f) for f in files[::10]]
    tests = [read_image(f).float() / 255 for f in files[::10]]
    tests = [t[:, : t.shape[1] // 8 * 8, : t.shape[2] // 8 * 8].unsqueeze(0) for t in tests]
    rows = []
    for view in ("latent", "pixels-same-size", "pixels"):
        config = config_for("colourise", view, codec.name, out, width=args.width, data=[str(DATA / "train-images")],
                            validation=held, crop=64, batch_size=16, steps=args.steps, lr=1e-3, warmup_steps=30)
        task = ColouriseTask(config, codec)
        probe = task.view.input(grey(tests[0][..., :64, :64]))  # the head's input for one 64x64 crop
        # Disk bytes per crop: the float32 latent cache, or the grey image as uint8 (one channel).
        nbytes = 4 * probe.numel() if view == "latent" else probe[0, 0].numel()
        seconds = timed_run(task, config)
        task.eval()
        with torch.no_grad():
            start = time.perf_counter()
            outputs = [task.predict(t).clamp(0, 1) for t in tests]
            infer = (time.perf_counter() - start) / len(tests)
        rows.append({"task": "colourisation", "input": INPUT_NAMES[view],
                     "psnr_db": float(np.mean([metrics.psnr(o, t) for o, t in zip(outputs, tests)])),
                     "ms_ssim": float(np.mean([metrics.ms_ssim(o, t) for o, t in zip(outputs, tests)])),
                     "params": sum(p.numel() for p in task.head.parameters()),
                     "flops": flops_per_item(task.head, probe), "train_s": seconds, "infer_ms": 1e3 * infer,
                     "bytes_per_crop": nbytes})
        print(f"colourisation, {view}: {rows[-1]['psnr_db']:.2f} dB", flush=True)
    rows.append({"task": "colourisation", "input": "the grey input itself",
                 "psnr_db": float(np.mean([metrics.psnr(grey(t), t) for t in tests])),
                 "ms_ssim": float(np.mean([metrics.ms_ssim(grey(t), t) for t in tests])), "params": 0, "flops": 0,
                 "train_s": 0.0, "infer_ms": 0.0, "bytes_per_crop": 0})
    return rows


def separation(codec, args, out: Path) -> list[dict]:
    rate = codec.sample_rate
    bytes_per_second = {"latent": 4 * codec.latent_dim * rate / 2**codec.model.J,
                        "waveform-same-size": 2 * 2 * rate * codec.latent_dim / (2 * 2**codec.model.J),
                        "waveform": 2 * 2 * rate}
    rows, mixtures = [], None
    for view in ("latent", "waveform-same-size", "waveform"):
        config = config_for("separate", view, codec.name, out, width=args.width,
                            data=[str(AUDIO / "music-ogg")], interference=[str(AUDIO / "loops-cc0-flac")],
                            validation=[str(f) for f in SEPARATION_HELD_OUT], segment=16384, batch_size=8,
                            steps=args.separation_steps, lr=1e-3, warmup_steps=30)
        task = SeparateTask(config, codec)
        if mixtures is None:  # 32 held-out mixtures, the same for every input
            mixtures = task.held_out_mixtures(32)
        seconds = timed_run(task, config)
        task.eval()
        mixture, source = mixtures
        with torch.no_grad():
            start = time.perf_counter()
            estimate = torch.cat([task.predict(m) for m in mixture.split(8)])
            infer = (time.perf_counter() - start) / (mixture.numel() / 2 / rate)
        rows.append({"task": "source separation", "input": INPUT_NAMES[view],
                     "si_sdr_db": metrics.si_sdr(source, estimate),
                     "params": sum(p.numel() for p in task.head.parameters()),
                     "flops_per_s": flops_per_item(task.head, task.view.input(mixture[:1, :, :rate])),
                     "train_s": seconds, "infer_ms_per_s": 1e3 * infer, "bytes_per_s": bytes_per_second[view]})
        print(f"separation, {view}: {rows[-1]['si_sdr_db']:.2f} dB", flush=True)
    mixture, source = mixtures
    with torch.no_grad():
        ceiling = torch.cat([codec.decode(codec.encode(s))[..., : s.shape[-1]] for s in source.split(8)])
    for name, estimate in (("the mixture itself", mixture), (f"the clean source through {codec.name} (ceiling)",
                                                             ceiling)):
        rows.append({"task": "source separation", "input": name, "si_sdr_db": metrics.si_sdr(source, estimate),
                     "params": 0, "flops_per_s": 0, "train_s": 0.0, "infer_ms_per_s": 0.0, "bytes_per_s": 0})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="MNIST epochs (63 steps of 128)")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--steps", type=int, default=600, help="colourisation steps (16 crops of 64x64)")
    parser.add_argument("--separation-steps", type=int, default=300, help="separation steps (8 segments of 0.37 s)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    image_codec, audio_codec = walloc.load("rgb-16x"), walloc.load("stereo-17x")
    with tempfile.TemporaryDirectory() as runs:
        classify = classification(image_codec, args, Path(runs))
        colour = colourisation(image_codec, args, Path(runs))
        separate = separation(audio_codec, args, Path(runs))
    name = f"heads-{device_slug('cpu')}"
    write_csv(args.out, f"{name}-classification", classify)
    write_csv(args.out, f"{name}-colourisation", colour)
    write_csv(args.out, f"{name}-separation", separate)
    write_results(args.out, name, {"epochs": args.epochs, "steps": args.steps,
                                   "separation_steps": args.separation_steps, "width": args.width,
                                   "classification": classify, "colourisation": colour, "separation": separate})
    plot(classify, colour, separate, args.out / f"{name}.png")
    print(f"\nMNIST, 8,000 train / 2,000 test, {args.epochs} epochs, width {args.width}\n")
    print_table(["input", "accuracy", "params", "MFLOPs / item", "train (s)", "inference (ms / item)",
                 "bytes / item on disk"],
                [[r["input"], f"{r['accuracy_pct']:.2f}%", f"{r['params']:,}", f"{r['flops'] / 1e6:.2f}",
                  f"{r['train_s']:.1f}", f"{r['infer_ms']:.3f}", str(r["bytes_per_item"])] for r in classify])
    print(f"\nColourisation, {args.steps} steps of 16 crops of 64x64, whole held-out images; FLOPs per 64x64 crop\n")
    print_table(["input", "PSNR (dB)", "MS-SSIM", "params", "MFLOPs / crop", "train (s)", "inference (ms / image)",
                 "bytes / crop on disk"],
                [[r["input"], f"{r['psnr_db']:.2f}", f"{r['ms_ssim']:.4f}", f"{r['params']:,}",
                  f"{r['flops'] / 1e6:.1f}", f"{r['train_s']:.1f}", f"{r['infer_ms']:.0f}", str(r["bytes_per_crop"])]
                 for r in colour])
    print(f"\nSource separation (music from music + loop), {args.separation_steps} steps of 8 x 0.37 s, 32 held-out "
          "mixtures of 0.37 s (interference at -6 to +6 dB); per second of stereo audio\n")
    print_table(["input", "SI-SDR (dB)", "params", "MFLOPs / s", "train (s)", "inference (ms / s)", "bytes / s"],
                [[r["input"], f"{r['si_sdr_db']:.2f}", f"{r['params']:,}", f"{r['flops_per_s'] / 1e6:.0f}",
                  f"{r['train_s']:.1f}", f"{r['infer_ms_per_s']:.0f}", f"{r['bytes_per_s']:,.0f}"] for r in separate])
    print(f"\nwrote {args.out / name}.json, .png and one CSV per task")


def plot(classification: list[dict], colour: list[dict], separate: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    panels = ((classification, "flops", "accuracy_pct", "test accuracy (%)", "MNIST classification"),
              (colour, "flops", "psnr_db", "PSNR (dB)", "colourisation (decoded)"),
              (separate, "flops_per_s", "si_sdr_db", "SI-SDR (dB)", "source separation (decoded)"))
    for ax, (rows, flops, key, label, title) in zip(axes, panels):
        for r in rows:
            if r[flops]:
                ax.scatter(r[flops] / 1e6, r[key], s=80, label=r["input"])
            else:
                ax.axhline(r[key], color="grey", linestyle="--" if "itself" in r["input"] else ":", label=r["input"])
        ax.set(xscale="log", xlabel="forward MFLOPs per item / per second of audio (log)", ylabel=label, title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
