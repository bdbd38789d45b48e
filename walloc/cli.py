"""The ``walloc`` command: compress, decompress, info, codecs, bench, train (images, audio and video).

Errors in the user's input (missing files, corrupt streams, unknown codecs, wrong sample rates) end the program
with a one-line message on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .batch import DEFAULT_CODECS

EXIT_ERROR = 1
# how `walloc info` rounds the rates of Codec.rate
RATE_DIGITS = {"bpp": 4, "kbps": 2, "seconds": 3, "bits_per_frame": 1}


def _frame_size(text: str | None) -> tuple[int, int] | None:
    """(height, width) from the CLI's WIDTHxHEIGHT."""
    if not text:
        return None
    try:
        width, height = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--frame-size must be WIDTHxHEIGHT, like 320x180; got {text!r}") from None
    return height, width


def _compress(args: argparse.Namespace) -> int:
    from . import batch

    options = {"quality": args.quality, "bpp": args.bpp, "kbps": args.kbps, "bits": args.bits, "prune": args.prune,
               "epochs": args.epochs, "time_budget": args.time_budget}
    failures = batch.compress_files(args.inputs, args.output, codec=args.codec, force=args.force,
                                    workers=args.workers, device=args.device, video_size=args.size,
                                    frame_size=_frame_size(args.frame_size), **options)
    return _report(args, failures)


def _decompress(args: argparse.Namespace) -> int:
    from . import batch

    failures = batch.decompress_files(args.inputs, args.output, force=args.force, workers=args.workers,
                                      device=args.device, steps=args.steps)
    return _report(args, failures)


def _report(args: argparse.Namespace, failures: list[str]) -> int:
    """Prints one line per failed file; the exit status."""
    for line in failures:
        print(f"walloc {args.command}: error: {line}", file=sys.stderr)
    return EXIT_ERROR if failures else 0


def _info(args: argparse.Namespace) -> None:
    from . import bitstream
    from .codec import registry
    from .errors import BitstreamError

    data = Path(args.input).read_bytes()
    container = bitstream.unpack(data)
    info = {"codec": container.container_id, "bytes": len(data), "streams": [len(s) for s in container.streams],
            **container.meta}
    try:  # the coder of a codec's first stream, where that is a walloc container (latents or weights)
        info["latent_coder"] = bitstream.unpack(container.streams[0]).container_id
    except (BitstreamError, IndexError):
        pass
    try:
        rates = registry.by_container_id(container.container_id).codec_class.rate(data)
    except BitstreamError:  # a walloc container that is not a codec stream (an entropy coder's own)
        rates = {}
    info.update({k: round(v, RATE_DIGITS[k]) if k in RATE_DIGITS else v for k, v in rates.items()})
    print(json.dumps(info, indent=2))


def _codecs(args: argparse.Namespace) -> None:
    from .codec.package import codec_folders

    folders = codec_folders()
    if not folders:
        print("no codecs installed")
    for name, folder in folders.items():
        config = json.loads((folder / "config.json").read_text())
        shape = " ".join(f"{k}={v}" for k, v in config["model"].items() if isinstance(v, (int, float)))
        top = f" max_quality={config['max_quality']:g}" if "max_quality" in config else ""
        print(f"{name:14s} {config['kind']:12s} {shape}{top}  ({folder})")


def _train(args: argparse.Namespace) -> None:
    from .training import TrainConfig, train

    config = TrainConfig.load(args.config)
    if args.out:
        config.out = args.out
    folder = train(config, resume=not args.restart)
    print(f"exported to {folder}")


def _shards(args: argparse.Namespace) -> None:
    from . import load
    from .devices import as_device, init_distributed
    from .learning import write_shards

    device = as_device(args.device)
    rank, world = init_distributed(device)
    codec = load(args.codec, device)
    written = write_shards(args.source, codec, args.out, items_per_shard=args.items_per_shard)
    print(f"rank {rank} of {world}: wrote {len(written)} shards to {args.out}")


def _export(args: argparse.Namespace) -> None:
    import torch

    from . import export, load

    codec = load(args.codec)
    output = Path(args.output)
    if output.suffix == ".onnx":
        export.onnx(codec, args.part, output, opset=args.opset or export.OPSET)
    elif output.suffix == ".pt2":
        torch.export.save(export.program(codec, args.part), output)
    else:
        raise ValueError(f"{output}: the output is an .onnx file or a torch.export .pt2 file")
    print(f"{codec.name} {args.part} -> {output}")


def _bench(args: argparse.Namespace) -> None:
    import importlib.util

    import torch

    from . import available_codecs, evaluation, load
    from .media import find_media, read_audio, read_image

    missing = [m for m in ("pytorch_msssim", "av") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"walloc bench needs {', '.join(missing)}: pip install 'walloc[bench]'")
    torch.set_grad_enabled(False)
    samples = Path(args.data) if args.data else Path(__file__).resolve().parent / "_samples"
    codecs = [load(n, device=args.device) for n in available_codecs()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = [(f.name, read_image(f)) for f in find_media([samples], "image")]
    rows = evaluation.image_rate_distortion(images, [c for c in codecs if c.kind == "image"],
                                            evaluation.QUICK_IMAGE_QUALITIES)
    text, image_summary = evaluation.image_report(rows)
    print(f"\nImages ({len(images)} from {samples}):\n\n{text}")
    evaluation.plot_curves(image_summary["curves"], out / "rd-images.png", "bpp",
                           [("psnr_db", "PSNR (dB, RGB)"), ("ms_ssim", "MS-SSIM")], "bits per pixel", max_rate=2.0)
    clips = []
    for f in find_media([samples], "audio"):
        audio, rate = read_audio(f)
        clips.append((f.name, audio.expand(2, -1) if audio.shape[0] == 1 else audio, rate))
    rows = evaluation.audio_rate_distortion(clips, [c for c in codecs if c.kind == "audio"],
                                            {"Opus": [24, 64], "MP3": [64, 128], "AAC": [64, 128]})
    text, audio_summary = evaluation.audio_report(rows)
    print(f"\nAudio ({len(clips)} clips from {samples}; PSNR over the range of [-1, 1]):\n\n{text}")
    evaluation.plot_curves(audio_summary["curves"], out / "rd-audio.png", "kbps",
                           [("psnr_db", "PSNR (dB, range 2)"), ("si_sdr_db", "SI-SDR (dB)")], "kbps")
    (out / "bench.json").write_text(json.dumps({"images": image_summary, "audio": audio_summary}, indent=2))
    print(f"\nwrote {out / 'bench.json'}, rd-images.png, rd-audio.png")


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--workers", type=int, help="files processed at once (default: one per core)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="walloc", description="WaLLoC learned compression for images and audio")
    parser.add_argument("--device", default=None, help="torch device for the codec (default: cpu)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("compress", help="compress images (PNG/JPEG/WebP...), audio (WAV/FLAC/OGG) or video "
                                             "(MP4/MKV...: fits a NeRV++ network): one file to OUTPUT, or files and "
                                             "folders (recursively) into the folder OUTPUT")
    p.add_argument("inputs", nargs="+", metavar="input")
    p.add_argument("output")
    _batch_arguments(p)
    p.add_argument("--codec", help=f"codec name or folder (default: {DEFAULT_CODECS['image']} for images, "
                                   f"{DEFAULT_CODECS['audio']} for audio); video: {DEFAULT_CODECS['video']} "
                                   f"(default) or nerv")
    rate = p.add_argument_group("rate (WaLLoC codecs)")
    rate.add_argument("--quality", type=float, help="latent quantizer quality: 1 (smallest) to the codec's max_quality "
                      "(8, or what `walloc codecs` lists); default 8")
    rate.add_argument("--bpp", type=float, help="images: the highest quality within this many bits per pixel")
    rate.add_argument("--kbps", type=float, help="audio: the highest quality within this many kilobits a second")
    video = p.add_argument_group("video (NeRV / NeRV++)")
    video.add_argument("--size", default="S", choices=["XS", "S", "M", "L"], help="parameter budget (default S)")
    video.add_argument("--epochs", type=int, help="fitting epochs (default 300)")
    video.add_argument("--time-budget", type=float, help="stop fitting after this many seconds")
    video.add_argument("--bits", type=int, help="weight bits (default 8); with a Music2Latent(2) codec: latent "
                                                "bits (default 8)")
    video.add_argument("--prune", type=float, help="fraction of weights pruned (default 0.4)")
    video.add_argument("--frame-size", help="WIDTHxHEIGHT to resize frames to (e.g. 320x180)")
    p.set_defaults(run=_compress)

    p = commands.add_parser("decompress", help="decode a walloc file (the format comes from OUTPUT's extension), or "
                                               "files and folders of .wlc streams into the folder OUTPUT")
    p.add_argument("inputs", nargs="+", metavar="input")
    p.add_argument("output")
    _batch_arguments(p)
    p.add_argument("--steps", type=int, help="consistency steps of a Music2Latent decode (default 1), or of a "
                                             "Music2Latent2 decode (1 or 2; both one evaluation per chunk)")
    p.set_defaults(run=_decompress)

    p = commands.add_parser("info", help="print a walloc file's header")
    p.add_argument("input")
    p.set_defaults(run=_info)

    p = commands.add_parser("codecs", help="list the installed codecs")
    p.set_defaults(run=_codecs)

    p = commands.add_parser("bench", help="quick rate-distortion comparison with JPEG/WebP/AVIF and Opus/MP3/AAC "
                                          "on the shipped samples (full runs: bench/ in the repository)")
    p.add_argument("--data", help="a folder of images and audio files (default: the shipped samples)")
    p.add_argument("--out", default="walloc-bench", help="folder for the JSON and plots (default: walloc-bench)")
    p.set_defaults(run=_bench)

    p = commands.add_parser("shards", help="encode a folder of images or audio (sub-folders are classes) into "
                                           "WebDataset shards of latents and labels (torchrun: every rank writes "
                                           "its share)")
    p.add_argument("source", help="folder of images or audio")
    p.add_argument("out", help="folder for the .tar shards and index.json")
    p.add_argument("--codec", default=DEFAULT_CODECS["image"],
                   help=f"codec name, folder or hf:// address (default: {DEFAULT_CODECS['image']}; audio: "
                        f"{DEFAULT_CODECS['audio']})")
    p.add_argument("--items-per-shard", type=int, default=1000, help="items per tar file (default 1000)")
    p.set_defaults(run=_shards)

    p = commands.add_parser("export", help="write a WaLLoC codec's encoder or decoder as an ONNX file (.onnx) or a "
                                           "torch.export program (.pt2), in standard operations")
    p.add_argument("codec", help="codec name, folder or hf:// address")
    p.add_argument("part", choices=["encoder", "decoder"])
    p.add_argument("output", help="OUTPUT.onnx or OUTPUT.pt2")
    p.add_argument("--opset", type=int, help="ONNX opset (at least 17; default: walloc.export.OPSET)")
    p.set_defaults(run=_export)

    p = commands.add_parser("train", help="train a codec, the CompressAI baseline or a task head from a JSON "
                            "config (torchrun for several processes)")
    p.add_argument("config")
    p.add_argument("--out", help="run folder (overrides the config's 'out')")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint instead of resuming")
    p.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .batch import FILE_ERRORS, one_line

    try:
        return args.run(args) or 0
    except FILE_ERRORS as error:
        print(f"walloc {args.command}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
