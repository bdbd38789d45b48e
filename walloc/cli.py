"""The ``walloc`` command: compress, decompress, info, codecs, bench, train (images, audio and video).

Errors in the user's input (missing files, corrupt streams, unknown codecs, wrong sample rates) end the program
with a one-line message on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_CODECS = {"image": "rgb-16x", "audio": "stereo-17x"}
EXIT_USAGE, EXIT_ERROR = 2, 1


def _compress_video(args: argparse.Namespace) -> None:
    from .media import read_video
    from .video import NervCodec

    size = None
    if args.frame_size:
        width, height = (int(n) for n in args.frame_size.lower().split("x"))
        size = (height, width)
    frames, fps = read_video(args.input, size)
    codec = NervCodec(args.codec or "nervpp", args.size)
    codec.fit(frames, epochs=args.epochs, time_budget=args.time_budget, fps=fps)
    data = codec.compress(bits=8 if args.bits is None else args.bits, prune=args.prune)
    Path(args.output).write_bytes(data)
    bpp = 8 * len(data) / frames[:, 0].numel()
    print(f"{args.input} -> {args.output}: {len(data)} bytes ({bpp:.4f} bpp, {codec!r})")


def _compress(args: argparse.Namespace) -> None:
    from . import Music2LatentCodec, load
    from .media import media_kind, read_audio, read_image

    kind = media_kind(args.input)
    if kind == "video":
        return _compress_video(args)
    codec = load(args.codec or DEFAULT_CODECS[kind], device=args.device)
    if codec.kind != kind:
        raise ValueError(f"codec {codec.name!r} codes {codec.kind}, but {args.input} is {kind}")
    if kind == "image":
        image = read_image(args.input)
        data = codec.compress(image)
        rate = f"{8 * len(data) / (image.shape[1] * image.shape[2]):.3f} bpp"
    else:
        audio, sample_rate = read_audio(args.input)
        options = {} if args.bits is None else {"bits": args.bits}
        if options and not isinstance(codec, Music2LatentCodec):
            raise ValueError("--bits applies to video and to Music2Latent codecs, whose latents it quantizes")
        data = codec.compress(audio, sample_rate=sample_rate, **options)
        rate = f"{8 * len(data) / (audio.shape[1] / sample_rate) / 1000:.1f} kbps"
    Path(args.output).write_bytes(data)
    print(f"{args.input} -> {args.output}: {len(data)} bytes ({rate}, codec {codec.name})")


def _decompress(args: argparse.Namespace) -> None:
    from . import Music2LatentCodec, bitstream, load, video
    from .codec import stream_codec_name
    from .media import media_kind, write_audio, write_image, write_video

    data = Path(args.input).read_bytes()
    out_kind = media_kind(args.output)
    if bitstream.unpack(data).codec == video.CONTAINER_ID:
        if out_kind != "video":
            raise ValueError(f"{args.input} holds video; {args.output} names a {out_kind} format")
        codec = video.decompress(data)
        write_video(codec.decode(), codec.fps, args.output)
        print(f"{args.input} -> {args.output} ({codec!r})")
        return
    _, name = stream_codec_name(data)
    codec = load(name, device=args.device)
    if out_kind != codec.kind:
        raise ValueError(f"{args.input} holds {codec.kind}; {args.output} names a {out_kind} format")
    if args.steps is not None and not isinstance(codec, Music2LatentCodec):
        raise ValueError("--steps applies to Music2Latent streams")
    decoded = codec.decompress(data) if args.steps is None else codec.decompress(data, steps=args.steps)
    if decoded.shape[0] != 1:
        raise ValueError(f"{args.input} holds {decoded.shape[0]} items; write them from Python")
    if codec.kind == "image":
        write_image(decoded[0], args.output)
    else:
        write_audio(decoded[0], codec.sample_rate, args.output)
    print(f"{args.input} -> {args.output} (codec {name})")


def _info(args: argparse.Namespace) -> None:
    from . import bitstream

    data = Path(args.input).read_bytes()
    container = bitstream.unpack(data)
    info = {"codec": container.codec, "bytes": len(data), "streams": [len(s) for s in container.streams],
            **container.meta}
    if container.codec in ("walloc-image", "walloc-audio") and len(container.streams) == 1:
        info["latent_coder"] = bitstream.unpack(container.streams[0]).codec  # predictive or (older) histogram
    size = container.meta.get("size")
    if container.codec == "walloc-image" and isinstance(size, list) and len(size) == 2:
        info["bpp"] = round(8 * len(data) / max(1, size[0] * size[1]), 4)
    if container.codec in ("walloc-audio", "walloc-music2latent") and container.meta.get("length"):
        seconds = container.meta["length"] / container.meta.get("sample_rate", 44100)
        info["kbps"] = round(8 * len(data) / seconds / 1000, 2)
    print(json.dumps(info, indent=2))


def _codecs(args: argparse.Namespace) -> None:
    from .codec.package import codec_folders

    folders = codec_folders()
    if not folders:
        print("no codecs installed")
    for name, folder in folders.items():
        config = json.loads((folder / "config.json").read_text())
        model = config["model"]
        if config["kind"] == "music2latent":
            shape = f"latent_dim={model.get('latent_channels', 64)} base width={model.get('base_channels', 64)}"
        else:
            shape = f"latent_dim={model.get('latent_dim')} J={model.get('J')} decoder width={model.get('Nd')}"
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
                                   f"{DEFAULT_CODECS['audio']} for audio); video: nervpp (default) or nerv")
    video = p.add_argument_group("video (NeRV / NeRV++)")
    video.add_argument("--size", default="S", choices=["XS", "S", "M", "L"], help="parameter budget (default S)")
    video.add_argument("--epochs", type=int, default=300, help="fitting epochs (default 300)")
    video.add_argument("--time-budget", type=float, help="stop fitting after this many seconds")
    video.add_argument("--bits", type=int, help="weight bits (default 8); with a Music2Latent codec: latent bits "
                                                "(default 8)")
    video.add_argument("--prune", type=float, default=0.4, help="fraction of weights pruned (default 0.4)")
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
    except (BitstreamError, ValueError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"walloc {args.command}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
