"""The ``walloc`` command: compress, decompress, info, codecs, bench, train (images, audio and video).

Errors in the user's input (missing files, corrupt streams, unknown codecs, wrong sample rates) end the program
with a one-line message on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_CODECS = {"image": "rgb-16x", "audio": "stereo-17x", "video": "nervpp"}
EXIT_USAGE, EXIT_ERROR = 2, 1
# how `walloc info` rounds the rates of Codec.rate
RATE_DIGITS = {"bpp": 4, "kbps": 2, "seconds": 3, "bits_per_frame": 1}


def _codec_options(method, given: dict, codec_name: str) -> dict:
    """The options the user gave (not None), refused with a one-line error where ``method`` takes none such."""
    import inspect

    parameters = inspect.signature(method).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    options = {k: v for k, v in given.items() if v is not None}
    for option in options:
        if option not in parameters and not takes_any:
            raise ValueError(f"--{option.replace('_', '-')} does not apply to codec {codec_name!r}")
    return options


def _read_input(path: str, kind: str, args: argparse.Namespace) -> tuple[object, dict]:
    """(media, compress options that come from the file) of an input file of ``kind``."""
    from .media import read_audio, read_picture, read_video

    if kind == "image":
        return read_picture(path), {}  # as the file has it: grey, alpha, 16 bits, ICC profile, upright
    if kind == "audio":
        audio, sample_rate = read_audio(path)
        return audio, {"sample_rate": sample_rate}
    size = None
    if args.frame_size:
        width, height = (int(n) for n in args.frame_size.lower().split("x"))
        size = (height, width)
    frames, fps = read_video(path, size)
    return frames, {"fps": fps}


def _compress(args: argparse.Namespace) -> None:
    from . import NervCodec, load
    from .media import media_kind

    kind = media_kind(args.input)
    name = args.codec or DEFAULT_CODECS[kind]
    # video codecs fit a network to each video, so there is no trained codec to load
    codec = NervCodec(name, args.size, device=args.device) if kind == "video" else load(name, device=args.device)
    if codec.kind != kind:
        raise ValueError(f"codec {codec.name!r} codes {codec.kind}, but {args.input} is {kind}")
    media, from_file = _read_input(args.input, kind, args)
    given = {"bits": args.bits}
    if kind == "video":
        given.update(prune=args.prune, epochs=args.epochs, time_budget=args.time_budget)
    data = codec.compress(media, **from_file, **_codec_options(codec.compress, given, codec.name))
    Path(args.output).write_bytes(data)
    rate = codec.rate(data)
    shown = f"{rate['kbps']:.1f} kbps" if kind == "audio" else f"{rate['bpp']:.4f} bpp"
    print(f"{args.input} -> {args.output}: {len(data)} bytes ({shown}, codec {codec.name})")


def _decompress(args: argparse.Namespace) -> None:
    from . import open_stream
    from .media import media_kind, write_audio, write_picture, write_video

    data = Path(args.input).read_bytes()
    out_kind = media_kind(args.output)
    codec = open_stream(data, device=args.device)
    if out_kind != codec.kind:
        raise ValueError(f"{args.input} holds {codec.kind}; {args.output} names a {out_kind} format")
    options = _codec_options(codec.decompress, {"steps": args.steps}, codec.name)
    if codec.kind == "image":  # with its alpha, bit depth and colour profile
        write_picture(codec.decompress_picture(data), args.output)
    else:
        decoded = codec.decompress(data, **options)
        if codec.kind == "video":
            write_video(decoded, codec.fps, args.output)
        elif decoded.shape[0] != 1:
            raise ValueError(f"{args.input} holds {decoded.shape[0]} items; write them from Python")
        else:
            write_audio(decoded[0], codec.decoded_sample_rate(data), args.output)
    print(f"{args.input} -> {args.output} (codec {codec.name})")


def _info(args: argparse.Namespace) -> None:
    from . import bitstream
    from .codec import registry
    from .errors import BitstreamError

    data = Path(args.input).read_bytes()
    container = bitstream.unpack(data)
    info = {"codec": container.codec, "bytes": len(data), "streams": [len(s) for s in container.streams],
            **container.meta}
    try:  # the coder of a codec's first stream, where that is a walloc container (latents or weights)
        info["latent_coder"] = bitstream.unpack(container.streams[0]).codec
    except (BitstreamError, IndexError):
        pass
    try:
        rates = registry.by_container_id(container.codec).codec_class.rate(data)
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
        print(f"{name:14s} {config['kind']:12s} {shape}  ({folder})")


def _train(args: argparse.Namespace) -> None:
    from .training import TrainConfig, train

    config = TrainConfig.load(args.config)
    if args.out:
        config.out = args.out
    folder = train(config, resume=not args.restart)
    print(f"exported to {folder}")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="walloc", description="WaLLoC learned compression for images and audio")
    parser.add_argument("--device", default=None, help="torch device for the codec (default: cpu)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("compress", help="compress an image (PNG/JPEG/WebP...), audio (WAV/FLAC/OGG) or video "
                                             "(MP4/MKV...: fits a NeRV++ network) file")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--codec", help=f"codec name or folder (default: {DEFAULT_CODECS['image']} for images, "
                                   f"{DEFAULT_CODECS['audio']} for audio); video: {DEFAULT_CODECS['video']} "
                                   f"(default) or nerv")
    video = p.add_argument_group("video (NeRV / NeRV++)")
    video.add_argument("--size", default="S", choices=["XS", "S", "M", "L"], help="parameter budget (default S)")
    video.add_argument("--epochs", type=int, help="fitting epochs (default 300)")
    video.add_argument("--time-budget", type=float, help="stop fitting after this many seconds")
    video.add_argument("--bits", type=int, help="weight bits (default 8); with a Music2Latent codec: latent bits "
                                                "(default 8)")
    video.add_argument("--prune", type=float, help="fraction of weights pruned (default 0.4)")
    video.add_argument("--frame-size", help="WIDTHxHEIGHT to resize frames to (e.g. 320x180)")
    p.set_defaults(run=_compress)

    p = commands.add_parser("decompress", help="decode a walloc file; the format comes from OUTPUT's extension")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--steps", type=int, help="consistency steps of a Music2Latent decode (default 1)")
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

    p = commands.add_parser("train", help="train a codec, the CompressAI baseline or a task head from a JSON "
                            "config (torchrun for several processes)")
    p.add_argument("config")
    p.add_argument("--out", help="run folder (overrides the config's 'out')")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint instead of resuming")
    p.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import BitstreamError

    try:
        args.run(args)
    except (BitstreamError, ValueError, OSError, ImportError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"walloc {args.command}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
