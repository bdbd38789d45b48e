"""Video rate-distortion: NeRV and NeRV++ (walloc.video, same parameter count and epochs) against x264, x265
and SVT-AV1 (FFmpeg through PyAV) on the same frames. PSNR and MS-SSIM (pytorch-msssim) against bits per pixel
from real bytes (raw elementary streams for the standard codecs, the walloc container for NeRV), and decode
frames per second. Also the weight coding of the 8-bit NeRV streams: walloc's entropy coder against the raw
8-bit weights and a Huffman code of the same integers (dahuffman), at identical decoded frames.

    python bench/rd_video.py [--data FILE] [--size 320x180] [--epochs 40] [--threads N]

On a CPU it runs at a reduced size (320x180 by default); with a GPU pass --size 1280x720. Fits are resumable:
their checkpoints live in runs/rd-video/. Writes bench/results/rd-video-<device>.{json,csv,png}.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from walloc import evaluation, metrics
from walloc.entropy import compress_symbols
from walloc.media import read_video
from walloc.models.nerv import parameter_count
from walloc.video import NervCodec, decompress, quantize_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_slug, write_csv, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNNY = ROOT.parent / "shared" / "data" / "video" / "bigbuckbunny.mp4"
STANDARD = {  # FFmpeg encoder, raw elementary-stream format, CRF sweep
    "x264": ("libx264", "h264", [18, 24, 30, 36, 42]),
    "x265": ("libx265", "hevc", [20, 26, 32, 38, 44]),
    "SVT-AV1": ("libsvtav1", "ivf", [24, 34, 44, 54, 63]),
}


def quality(frames: torch.Tensor, decoded: torch.Tensor) -> dict:
    """Mean PSNR and MS-SSIM over frames, both uint8 (T, 3, H, W)."""
    x, y = frames.float(), decoded.float()
    psnr = float(np.mean([metrics.psnr(a, b, 255) for a, b in zip(x, y)]))
    if min(x.shape[-2:]) <= 160:  # MS-SSIM's five scales need more
        return {"psnr_db": psnr, "ms_ssim": float("nan")}
    chunks = [(metrics.ms_ssim(a, b, 255), len(a)) for a, b in zip(x.split(16), y.split(16))]
    return {"psnr_db": psnr, "ms_ssim": sum(v * n for v, n in chunks) / len(x)}


def standard_codec(frames: torch.Tensor, fps: float, encoder: str, fmt: str,
                   crf: int) -> tuple[int, torch.Tensor, float]:
    """(bytes, decoded uint8 frames, decode seconds) of one FFmpeg encode (4:2:0, default preset)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames.shape[-2:]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(frame.permute(1, 2, 0).contiguous().numpy(), format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
    data = buffer.getvalue()
    start = time.perf_counter()
    with av.open(io.BytesIO(data), format=fmt) as container:
        decoded = [torch.from_numpy(f.to_ndarray(format="rgb24")).permute(2, 0, 1) for f in container.decode(video=0)]
    return len(data), torch.stack(decoded), time.perf_counter() - start


def huffman_bytes(symbols: torch.Tensor) -> int:
    """A Huffman code of ``symbols`` (dahuffman) plus its table as one code length per byte value."""
    from dahuffman import HuffmanCodec

    values = symbols.tolist()
    return len(HuffmanCodec.from_data(values).encode(values)) + 256


def to_uint8(frames: torch.Tensor) -> torch.Tensor:
    return (frames.clamp(0, 1) * 255).round().to(torch.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=BUNNY)
    parser.add_argument("--size", default="320x180", help="WIDTHxHEIGHT the frames are resized to")
    parser.add_argument("--nerv-size", default="S", help="XS, S, M or L (parameter count, both architectures)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--prune", type=float, default=0.4)
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 6, 5, 4])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "rd-video")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = map(int, args.size.lower().split("x"))
    frames, fps = read_video(args.data, (height, width))
    pixels = frames.shape[0] * height * width
    rows, weights = [], []
    for encoder_name, (encoder, fmt, crfs) in STANDARD.items():
        for crf in crfs:
            nbytes, decoded, seconds = standard_codec(frames, fps, encoder, fmt, crf)
            rows.append({"item": args.data.name, "codec": encoder_name, "setting": crf, "bpp": metrics.bits_per_pixel(nbytes, pixels),
                         "decode_fps": len(frames) / seconds, **quality(frames, decoded)})
            print(f"{encoder_name} crf {crf}: {rows[-1]['bpp']:.4f} bpp, {rows[-1]['psnr_db']:.2f} dB", flush=True)
    for arch, label in (("nerv", "NeRV"), ("nervpp", "NeRV++")):
        codec = NervCodec(arch, args.nerv_size)
        start = time.perf_counter()
        codec.fit(frames, epochs=args.epochs, fps=fps, out=args.runs / f"{arch}-{args.nerv_size}-{width}x{height}")
        fit_s = time.perf_counter() - start
        float_quality = quality(frames, to_uint8(codec.decode()))
        for bits in args.bits:
            data = codec.compress(bits=bits, prune=args.prune)
            start = time.perf_counter()
            decoded = decompress(data).decode()
            seconds = time.perf_counter() - start
            rows.append({"item": args.data.name, "codec": f"{label}-{args.nerv_size}", "setting": bits,
                         "bpp": metrics.bits_per_pixel(len(data), pixels), "decode_fps": len(frames) / seconds,
                         **quality(frames, to_uint8(decoded))})
            print(f"{label} {bits} bits: {rows[-1]['bpp']:.4f} bpp, {rows[-1]['psnr_db']:.2f} dB", flush=True)
            if bits == 8:
                symbols, scales = quantize_weights(codec.model, 8)
                coded = compress_symbols(symbols.view(1, 1, -1), 8, predictor="none")
                weights.append({"codec": label, "parameters": parameter_count(codec.model),
                                "fit_s": fit_s, "float_psnr_db": float_quality["psnr_db"],
                                "pruned_8bit_psnr_db": rows[-1]["psnr_db"], "raw_8bit_bytes": symbols.numel(),
                                "huffman_bytes": huffman_bytes(symbols), "walloc_bytes": len(coded),
                                "scale_bytes": 4 * scales.numel(), "stream_bytes": len(data)})
    name = f"rd-video-{device_slug('cpu')}"
    write_csv(args.out, name, rows)
    curve = evaluation.curves(rows, "bpp")
    text = evaluation.markdown_table(
        ["codec", "setting", "bpp", "PSNR (dB)", "MS-SSIM", "decode (frames/s)"],
        [[n, f"{'bits' if 'NeRV' in n else 'crf'} {p['setting']}", f"{p['bpp']:.4f}", f"{p['psnr_db']:.2f}",
          f"{p['ms_ssim']:.4f}", f"{p['decode_fps']:.0f}"] for n, pts in curve.items() for p in pts])
    title = f"{args.data.name}, {len(frames)} frames at {width}x{height}"
    evaluation.plot_curves(curve, args.out / f"{name}.png", "bpp", [("psnr_db", "PSNR (dB, RGB)"),
                                                                     ("ms_ssim", "MS-SSIM")], "bits per pixel", title)
    write_results(args.out, name, {"data": args.data.name, "frames": len(frames), "size": [height, width],
                                   "epochs": args.epochs, "prune": args.prune, "nerv_size": args.nerv_size,
                                   "vs_x264": evaluation.deltas_against(curve, "x264", "bpp"), "curves": curve,
                                   "weights": weights})
    print(f"\n{title}; NeRV / NeRV++ {args.nerv_size}, {args.epochs} epochs, pruned {args.prune:.0%}\n\n{text}\n")
    print(evaluation.markdown_table(
        ["network", "parameters", "fit (s)", "PSNR float", "PSNR pruned 8-bit", "raw 8-bit", "Huffman", "walloc",
         "whole stream"],
        [[w["codec"], f"{w['parameters']:,}", f"{w['fit_s']:.0f}", f"{w['float_psnr_db']:.2f}",
          f"{w['pruned_8bit_psnr_db']:.2f}", f"{w['raw_8bit_bytes']:,}", f"{w['huffman_bytes']:,}",
          f"{w['walloc_bytes']:,}", f"{w['stream_bytes']:,}"] for w in weights]))
    print("\nWeight bytes of the pruned 8-bit networks, all three coding the same integers (identical frames); "
          "the whole stream adds the per-channel scales and the header.")
    print(f"\nwrote {args.out / name}.json, .csv, .png")


if __name__ == "__main__":
    main()
