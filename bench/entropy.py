"""Entropy coder throughput and size: walloc's rANS vs CompressAI's rANS and constriction (those installed).

Same symbols and the same 16-bit tables for every coder: 12 channels of discretised Laplace latents,
12 x 128 x 192 = 294,912 symbols (the shape of the reference facts), one table per channel. End to end from
tensors to bytes and back; the CPU coders side by side, one call of each per round, medians over rounds, and
walloc's speed-up over constriction as the median of the round-by-round ratios (a shared VM's speed moves
within seconds). CompressAI's coder takes Python lists: it is timed both with the list conversion (as its
EntropyBottleneck pays it) and on ready lists (its C++ loop alone). constriction codes each channel's symbols
with that channel's table (its fast array path).

    python bench/entropy.py [--repeats 7] [--out bench/results]

walloc is also timed on a batch of 64 such latents in one call, on all CPU threads and, with a GPU, with its
CUDA coder (CUDA-event timings, reported per latent). Symbols are 8-bit, so Msym/s / 1000 is GB/s of symbols.

The predictive latent coder (the WaLLoC codecs' entropy stage: model analysis, table choice and rANS, then
its sequential decoder) is timed at one thread on rgb-16x latents of real images: Kodak when ../shared/data
has it (--images DIR), else the shipped sample; medians over images of the per-image medians.

Writes bench/results/entropy-<device>.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import walloc
from common import device_slug, interleaved_seconds, median_ratio, median_seconds, print_table, write_results
from walloc.entropy import ideal_bits, quantize_pmf, rans_decode, rans_encode

CHANNELS, HEIGHT, WIDTH = 12, 128, 192
KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
HALF_WIDTH = 60
ANCHOR = "constriction ANS"


@dataclass
class Coder:
    """One coder on the bench's symbols: its stream size and its encode and decode calls (``latents`` copies of
    the latent per call, run on ``device``)."""

    name: str
    bytes: int
    encode: Callable[[], object]
    decode: Callable[[], object]
    latents: int = 1
    device: str = "cpu"


def make_problem(seed: int = 0):
    """Laplace latents with per-channel scales, their tables, indexes and offsets."""
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(-0.5, 1.2, CHANNELS, dtype=torch.float64)
    k = torch.arange(-HALF_WIDTH, HALF_WIDTH + 1, dtype=torch.float64)
    pmf = torch.exp(-k.abs() / scales[:, None])
    cdfs = quantize_pmf(torch.cat([pmf, torch.full((CHANNELS, 1), 1e-9)], dim=1))
    lengths = torch.full((CHANNELS,), cdfs.shape[1], dtype=torch.int32)
    offsets = torch.full((CHANNELS,), -HALF_WIDTH, dtype=torch.int32)
    u = torch.rand(CHANNELS, HEIGHT * WIDTH, generator=gen, dtype=torch.float64) - 0.5
    latents = -scales[:, None] * u.sign() * torch.log1p(-2 * u.abs())
    symbols = latents.round().clamp(-HALF_WIDTH, HALF_WIDTH).to(torch.int32)  # no escapes: constriction has none
    indexes = torch.arange(CHANNELS, dtype=torch.int32)[:, None].expand_as(symbols).contiguous()
    return symbols, indexes, cdfs, lengths, offsets


def on_threads(fn: Callable[[], object], threads: int) -> Callable[[], object]:
    """fn run with torch (and so walloc's coder) on ``threads`` threads."""
    def run():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return fn()
        finally:
            torch.set_num_threads(previous)
    return run


def walloc_coder(problem, threads: int) -> Coder:
    symbols, indexes, cdfs, lengths, offsets = problem
    data = rans_encode(symbols, indexes, cdfs, lengths, offsets)
    assert torch.equal(rans_decode(data, indexes, cdfs, lengths, offsets), symbols)
    return Coder(f"walloc rANS, {threads} thread" + "s" * (threads > 1), len(data),
                 on_threads(lambda: rans_encode(symbols, indexes, cdfs, lengths, offsets), threads),
                 on_threads(lambda: rans_decode(data, indexes, cdfs, lengths, offsets), threads))


def batch_of_64(problem) -> tuple:
    """64 copies of the latent, as one call: one image's latents are too few chunks to fill a GPU or 16 cores."""
    symbols, indexes, cdfs, lengths, offsets = problem
    return symbols.repeat(64, 1), indexes.repeat(64, 1), cdfs, lengths, offsets


def walloc_batch_coder(problem, device: str) -> Coder:
    """walloc's coder on a batch of 64 latents on ``device`` (CPU: all threads), reported per latent."""
    symbols, indexes, cdfs, lengths, offsets = batch_of_64(problem)
    symbols, indexes = symbols.to(device), indexes.to(device)
    data = rans_encode(symbols, indexes, cdfs, lengths, offsets)
    assert torch.equal(rans_decode(data, indexes, cdfs, lengths, offsets), symbols)
    where = f"CUDA {torch.cuda.get_device_name()}" if device == "cuda" else f"{torch.get_num_threads()} threads"
    return Coder(f"walloc rANS, {where} (batch 64)", len(data),
                 lambda: rans_encode(symbols, indexes, cdfs, lengths, offsets),
                 lambda: rans_decode(data, indexes, cdfs, lengths, offsets), latents=64, device=device)


def compressai_coders(problem) -> list[Coder]:
    try:
        from compressai import ans
    except ImportError:
        return []
    symbols, indexes, cdfs, lengths, offsets = problem
    cdf_list = [row[: int(n)].tolist() for row, n in zip(cdfs, lengths)]
    len_list, off_list = lengths.tolist(), offsets.tolist()
    encoder, decoder = ans.RansEncoder(), ans.RansDecoder()
    sym_list, idx_list = symbols.flatten().tolist(), indexes.flatten().tolist()
    data = encoder.encode_with_indexes(sym_list, idx_list, cdf_list, len_list, off_list)
    assert decoder.decode_with_indexes(data, idx_list, cdf_list, len_list, off_list) == sym_list

    def encode_from_tensors():
        return encoder.encode_with_indexes(symbols.flatten().tolist(), indexes.flatten().tolist(), cdf_list,
                                           len_list, off_list)

    def decode_to_tensor():
        return torch.tensor(decoder.decode_with_indexes(data, indexes.flatten().tolist(), cdf_list, len_list, off_list))

    return [Coder("CompressAI rANS (from tensors)", len(data), encode_from_tensors, decode_to_tensor),
            Coder("CompressAI rANS (C++ loop on lists)", len(data),
                  lambda: encoder.encode_with_indexes(sym_list, idx_list, cdf_list, len_list, off_list),
                  lambda: decoder.decode_with_indexes(data, idx_list, cdf_list, len_list, off_list))]


def constriction_coders(problem) -> list[Coder]:
    try:
        import constriction
    except ImportError:
        return []
    symbols, _, cdfs, lengths, offsets = problem
    freqs = (cdfs[:, 1:] - cdfs[:, :-1]).double()
    models = [constriction.stream.model.Categorical((f / f.sum()).numpy(), perfect=False) for f in freqs]
    values = [(symbols[c] - offsets[c]).numpy().astype(np.int32) for c in range(CHANNELS)]

    def encode():
        coder = constriction.stream.stack.AnsCoder()
        for c in reversed(range(CHANNELS)):
            coder.encode_reverse(values[c], models[c])
        return coder.get_compressed()

    compressed = encode()

    def decode():
        coder = constriction.stream.stack.AnsCoder(compressed)
        return [coder.decode(models[c], values[c].size) for c in range(CHANNELS)]

    assert all(np.array_equal(a, b) for a, b in zip(decode(), values))
    return [Coder(ANCHOR, compressed.nbytes, encode, decode)]


def time_coders(coders: list[Coder], repeats: int) -> dict[str, dict[str, list[float]]]:
    """Per coder, its encode and decode times round by round, per latent; all CPU coders side by side in each
    round (:func:`interleaved_seconds`; the anchor first, next to walloc's rows), the CUDA one, which has no
    anchor to share a round with, on its own."""
    cpu = sorted((c for c in coders if c.device == "cpu"), key=lambda c: c.name != ANCHOR)
    times = interleaved_seconds({(c.name, op): getattr(c, op) for op in ("encode", "decode") for c in cpu},
                                repeats)
    for c in coders:
        if c.device != "cpu":
            for op in ("encode", "decode"):
                times[c.name, op] = [median_seconds(getattr(c, op), repeats, c.device)]
    return {c.name: {op: [t / c.latents for t in times[c.name, op]] for op in ("encode", "decode")}
            for c in coders}


def bench_predictive(images: list[Path], repeats: int) -> dict:
    """Predictive coder encode/decode Msym/s at one thread on rgb-16x latents of ``images``."""
    from walloc.entropy.predictive import compress_planes, decompress_planes
    from walloc.entropy.symbols import to_symbols
    from walloc.media import read_image

    codec = walloc.load("rgb-16x")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    encode, decode, symbols, size = [], [], 0, 0
    try:
        for path in images:
            planes = to_symbols(codec.quantize(codec.encode(read_image(path))), codec.latent_bits).to(torch.int32)
            data = compress_planes(planes)
            assert torch.equal(decompress_planes(data), planes)
            encode.append(planes.numel() / median_seconds(lambda: compress_planes(planes), repeats) / 1e6)
            decode.append(planes.numel() / median_seconds(lambda: decompress_planes(data), repeats) / 1e6)
            symbols, size = symbols + planes.numel(), size + len(data)
    finally:
        torch.set_num_threads(previous)
    return {"images": len(images), "symbols": symbols, "bytes": size,
            "encode_Msym_s": float(np.median(encode)), "decode_Msym_s": float(np.median(decode))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--images", type=Path, default=KODAK, help="images for the predictive coder's latents")
    args = parser.parse_args()
    images = sorted(args.images.glob("*.png")) or [Path(__file__).parents[1] / "samples" / "chelsea.png"]
    problem = make_problem()
    n = problem[0].numel()
    ideal = ideal_bits(*problem) / 8
    threads = torch.get_num_threads()
    coders = [walloc_coder(problem, 1)]
    if threads > 1:
        coders.append(walloc_coder(problem, threads))
    coders.append(walloc_batch_coder(problem, "cpu"))
    if walloc.cuda_available():
        coders.append(walloc_batch_coder(problem, "cuda"))
    coders += compressai_coders(problem) + constriction_coders(problem)
    times = time_coders(coders, args.repeats)
    results = []
    for c in coders:
        size = c.bytes / c.latents
        row = {"coder": c.name,
               "encode_Msym_s": n / statistics.median(times[c.name]["encode"]) / 1e6,
               "decode_Msym_s": n / statistics.median(times[c.name]["decode"]) / 1e6,
               "bytes": size, "bits_per_symbol": 8 * size / n, "over_ideal_percent": 100 * (size / ideal - 1)}
        if ANCHOR in times and c.name.startswith("walloc") and c.device == "cpu":
            row["speedup_vs_constriction"] = {op: median_ratio(times[ANCHOR][op], times[c.name][op])
                                              for op in ("encode", "decode")}
        results.append(row)
    predictive = bench_predictive(images, args.repeats)
    out = {"device": "cuda" if walloc.cuda_available() else "cpu", "threads": threads, "symbols": n,
           "ideal_bytes": ideal, "walloc": walloc.build_info(), "rows": results, "predictive": predictive}
    path = write_results(args.out, f"entropy-{device_slug(out['device'])}", out)
    print(f"{n} symbols, {CHANNELS} tables, ideal {ideal:.0f} bytes ({8 * ideal / n:.3f} bits/symbol)\n")
    print_table(
        ["coder", "encode Msym/s", "decode Msym/s", "vs constriction (encode / decode)", "bytes", "bits/symbol",
         "over ideal"],
        [[r["coder"], f"{r['encode_Msym_s']:.1f}", f"{r['decode_Msym_s']:.1f}", _speedups(r), f"{r['bytes']:.0f}",
          f"{r['bits_per_symbol']:.4f}", f"{r['over_ideal_percent']:+.3f}%"] for r in results],
    )
    print(f"\npredictive latent coder, 1 thread, rgb-16x latents of {predictive['images']} images "
          f"({predictive['symbols'] / predictive['images']:.0f} symbols each, "
          f"{8 * predictive['bytes'] / predictive['symbols']:.3f} bits/symbol): "
          f"encode {predictive['encode_Msym_s']:.1f} Msym/s, decode {predictive['decode_Msym_s']:.1f} Msym/s")
    print(f"\nwrote {path}")


def _speedups(row: dict) -> str:
    if "speedup_vs_constriction" not in row:
        return ""
    return "{encode:.2f}x / {decode:.2f}x".format(**row["speedup_vs_constriction"])


if __name__ == "__main__":
    main()
