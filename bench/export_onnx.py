"""The exported WaLLoC graphs (``walloc.export.onnx``) in onnxruntime against walloc in PyTorch, on the same
inputs, in one run: how many latents the ONNX encoder rounds to the same symbols, how far the ONNX decoder's
output is from PyTorch's on the same rounded latents (the model's decode in one piece, as exported), and the CPU time of each (medians).

    python bench/export_onnx.py [--images KODAK/*.png] [--audio HELD-OUT.ogg ...] [--repeats 3]

Images: the 24 Kodak images by default (encoder on the image, its size a multiple of the block); audio: the held
-out pieces of stereo-17x's card (whole files, the length cut to a multiple of the block). Needs onnx,
onnxscript and onnxruntime.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import walloc
import walloc.export
from walloc.media import read_audio, read_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_name, median_seconds, print_table, write_results  # noqa: E402
from walloc_codecs import HELD_OUT_MUSIC, SHARED  # noqa: E402


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@torch.no_grad()
def _decode_in_one_piece(codec, latents: torch.Tensor) -> np.ndarray:
    """What the exported decoder computes, in PyTorch: ``codec.decode`` for images up to GLOBAL_ATTENTION latents
    a side and audio up to CHUNK frames; longer audio ``decode`` splits into overlapping chunks."""
    window = {"window": None} if codec.kind == "image" else {}
    return codec.model.to_media(codec.model.decode(latents, **window)).numpy()


def _compare(codec, items: list[torch.Tensor], folder: Path, repeats: int) -> dict:
    encoder = _session(walloc.export.onnx(codec, "encoder", folder / f"{codec.name}-encoder.onnx"))
    decoder = _session(walloc.export.onnx(codec, "decoder", folder / f"{codec.name}-decoder.onnx"))
    same = total = off_by_one = 0
    decoder_error = 0.0
    times = {"encode_torch": [], "encode_onnx": [], "decode_torch": [], "decode_onnx": []}
    for x in items:
        x = x[None]
        ours = codec.encode(x)
        theirs = torch.from_numpy(encoder.run(None, {"media": x.numpy()})[0])
        difference = (torch.round(theirs) - torch.round(ours)).abs()
        same += int((difference == 0).sum())
        off_by_one += int((difference == 1).sum())
        total += difference.numel()
        latents = torch.round(ours)
        decoded = decoder.run(None, {"latents": latents.numpy()})[0]
        decoder_error = max(decoder_error, float(np.abs(decoded - _decode_in_one_piece(codec, latents)).max()))
        times["encode_torch"].append(median_seconds(lambda: codec.encode(x), repeats))
        times["encode_onnx"].append(median_seconds(lambda: encoder.run(None, {"media": x.numpy()}), repeats))
        times["decode_torch"].append(median_seconds(lambda: _decode_in_one_piece(codec, latents), repeats))
        times["decode_onnx"].append(median_seconds(lambda: decoder.run(None, {"latents": latents.numpy()}), repeats))
    return {"codec": codec.name, "items": len(items), "latents": total, "same_symbols": same / total,
            "off_by_one": off_by_one, "off_by_more": total - same - off_by_one,
            "decoder_max_abs_error": decoder_error,
            **{f"{k}_ms": 1e3 * float(np.median(v)) for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, nargs="*", default=sorted((SHARED / "kodak").glob("*.png")))
    parser.add_argument("--audio", type=Path, nargs="*", default=HELD_OUT_MUSIC)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    image_codec, audio_codec = walloc.load("rgb-16x"), walloc.load("stereo-17x")
    images = []
    for path in args.images:
        image = read_image(path).float() / 255
        h, w = (s - s % image_codec.block for s in image.shape[-2:])
        images.append(image[:, :h, :w])
    audio = []
    for path in args.audio:
        samples, rate = read_audio(path)
        if rate != audio_codec.sample_rate:
            raise SystemExit(f"{path}: {rate} Hz; the bench takes {audio_codec.sample_rate} Hz files")
        audio.append(samples[:, : samples.shape[-1] - samples.shape[-1] % audio_codec.block])
    with tempfile.TemporaryDirectory() as folder:
        rows = [_compare(image_codec, images, Path(folder), args.repeats),
                _compare(audio_codec, audio, Path(folder), args.repeats)]
    import onnxruntime

    cpu = device_name("cpu")
    print(f"onnxruntime {onnxruntime.__version__} vs PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{cpu}; medians per item")
    print_table(["codec", "items", "same symbols", "off by one", "decoder max |diff|", "encode ms torch / onnx",
                 "decode ms torch / onnx"],
                [[r["codec"], str(r["items"]), f"{100 * r['same_symbols']:.4f}%", str(r["off_by_one"]),
                  f"{r['decoder_max_abs_error']:.2e}", f"{r['encode_torch_ms']:.1f} / {r['encode_onnx_ms']:.1f}",
                  f"{r['decode_torch_ms']:.1f} / {r['decode_onnx_ms']:.1f}"] for r in rows])
    result = {"cpu": cpu, "threads": torch.get_num_threads(), "onnxruntime": onnxruntime.__version__,
              "torch": torch.__version__, "opset": walloc.export.OPSET,
              "images": [str(p.name) for p in args.images], "audio": [str(p.name) for p in args.audio], "rows": rows}
    print(f"wrote {write_results(args.out, 'export-onnx-cpu', result)}")


if __name__ == "__main__":
    main()
