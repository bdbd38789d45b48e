"""Fuzzes JpegTokenizer.decode (and AvcTokenizer.decode) with mutated and random id sequences.

Every sequence must give an image with strict=False and an image or walloc.BitstreamError with strict=True;
any other exception, a crash or a hang fails the run. Mutations: random ids (in and out of the vocabulary),
truncations, splices of two images' ids, bursts of substituted ids, dropped and repeated spans.

    python bench/fuzz_tokenizers.py --count 100000 [--avc 2000]

Writes bench/results/fuzz-tokenizers-cpu.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import walloc
from walloc.tokenizers import AvcTokenizer, JpegTokenizer


def seed_images(count: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:256, 0:256] / 256
    images = []
    for _ in range(count):
        img = np.stack([0.5 + 0.4 * np.sin(6 * rng.uniform(0.5, 2) * (x + rng.uniform() * y)) for _ in range(3)], -1)
        images.append((np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1) * 255).astype(np.uint8))
    return images


def mutate(rng: np.random.Generator, seeds: list[list[int]], vocab: int) -> list[int]:
    base = list(seeds[rng.integers(len(seeds))])
    kind = rng.integers(6)
    if kind == 0:
        return [int(v) for v in rng.integers(-3, vocab + 3, rng.integers(0, 8000))]
    if kind == 1:
        return base[: rng.integers(0, len(base) + 1)]
    if kind == 2:
        other = seeds[rng.integers(len(seeds))]
        return base[: rng.integers(0, len(base))] + other[rng.integers(0, len(other)) :]
    if kind == 3:
        for pos in rng.integers(0, len(base), rng.integers(1, 50)):
            base[pos] = int(rng.integers(0, vocab))
        return base
    if kind == 4:
        a, b = sorted(rng.integers(0, len(base), 2))
        return base[:a] + base[b:]
    a, b = sorted(rng.integers(0, len(base), 2))
    return base[:b] + base[a:b] + base[b:]


def fuzz(tokenizer, seeds: list[list[int]], count: int, check) -> dict:
    rng = np.random.default_rng(1)
    strict_raised = 0
    slowest = 0.0
    start = time.perf_counter()
    for _ in range(count):
        ids = mutate(rng, seeds, tokenizer.vocab_size)
        t0 = time.perf_counter()
        check(tokenizer.decode(ids))
        try:
            check(tokenizer.decode(ids, strict=True))
        except walloc.BitstreamError:
            strict_raised += 1
        slowest = max(slowest, time.perf_counter() - t0)
    return {"sequences": count, "strict_raised": strict_raised, "crashes": 0,
            "seconds": time.perf_counter() - start, "slowest_sequence_s": slowest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--avc", type=int, default=2_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    images = seed_images()
    jpeg = JpegTokenizer()

    def check_image(image) -> None:
        assert image.size == (jpeg.size, jpeg.size) and image.mode == "RGB"

    results = {"jpeg": fuzz(jpeg, [jpeg.encode(im) for im in images], args.count, check_image)}
    print("jpeg", results["jpeg"], flush=True)
    if args.avc:
        avc = AvcTokenizer()
        clips = [np.stack([np.asarray(im[:144]) for im in images])]

        def check_frames(frames) -> None:
            assert frames.shape[1:] == (avc.height, avc.width, 3)

        results["avc"] = fuzz(avc, [avc.encode(c) for c in clips], args.avc, check_frames)
        print("avc", results["avc"], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fuzz-tokenizers-cpu.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
