"""The audio codecs' post-filter (2 channels, 129 taps, over whole chunks of audio) as walloc computes it, a
block-Toeplitz matrix product (:class:`walloc.models.layers.ToeplitzConv1d`), against torch's direct
``Conv1d`` with oneDNN on and off, side by side in one run (one call of each per round, medians): the layer alone
on signals of several lengths, then stereo-17x decoding minutes of audio with each in place.

    python bench/post_filter.py [--repeats 5] [--minutes 5] [--out bench/results]

Writes bench/results/post-filter-cpu.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

import walloc
from common import interleaved_seconds, median_ratio, print_table, write_results

ROOT = Path(__file__).resolve().parent
# 10 s of 44.1 kHz audio, and the longest signal the decoder filters at once: a chunk of 4096 frames of 512
# samples with 128 frames of context on each side (walloc.codec.audio.CHUNK, DECODE_CONTEXT)
LENGTHS = {"10 s": 441_000, "one decode chunk (50 s)": (4096 + 256) * 512}


class _TorchConv1d(torch.nn.Conv1d):
    """torch's direct Conv1d with the post-filter's weights, oneDNN on or off."""

    def __init__(self, post: torch.nn.Conv1d, onednn: bool) -> None:
        super().__init__(post.in_channels, post.out_channels, post.kernel_size, padding=post.padding)
        self.load_state_dict(post.state_dict())
        self.onednn = onednn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.backends.mkldnn.flags(enabled=self.onednn):
            return super().forward(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=5.0, help="audio decoded by stereo-17x")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    codec = walloc.load("stereo-17x")
    ours = "walloc (Toeplitz product)"
    variants = {ours: codec.model.post, "torch Conv1d, oneDNN": _TorchConv1d(codec.model.post, True),
                "torch Conv1d, no oneDNN": _TorchConv1d(codec.model.post, False)}
    generator = torch.Generator().manual_seed(0)
    rows, table = [], []
    with torch.no_grad():
        for name, length in LENGTHS.items():
            x = torch.randn(1, 2, length, generator=generator) * 0.1
            times = interleaved_seconds({k: (lambda f=f: f(x)) for k, f in variants.items()}, args.repeats)
            reference = torch.nn.functional.conv1d(x.double(), codec.model.post.weight.double(),
                                                   codec.model.post.bias.double(), padding=64)
            error = (codec.model.post(x).double() - reference).abs().max().item()
            rows.append({"what": f"post-filter, {name}", "samples": length, "max_error_vs_float64": error,
                         **{k: statistics.median(v) for k, v in times.items()}})
            table.append([f"post-filter, {name}", *(f"{statistics.median(v) * 1e3:.1f} ms" for v in times.values()),
                          *(f"{median_ratio(times[k], times[ours]):.1f}x" for k in list(times)[1:])])

        audio = torch.randn(1, 2, int(args.minutes * 60 * codec.sample_rate), generator=generator).clamp(-3, 3) * 0.1
        latents = torch.round(codec.encode(audio))

        def decode_with(layer: torch.nn.Module) -> torch.Tensor:
            codec.model.post = layer
            return codec.decode(latents)

        decodes = {name: (lambda layer=layer: decode_with(layer)) for name, layer in variants.items()}
        outputs = {name: decode() for name, decode in decodes.items()}
        times = interleaved_seconds(decodes, max(1, args.repeats // 2))
        codec.model.post = variants[ours]
        difference = max((out - outputs[ours]).abs().max().item() for out in outputs.values())
        rows.append({"what": f"stereo-17x decode, {args.minutes:g} min", "samples": audio.shape[-1],
                     "max_difference_between_variants": difference,
                     **{k: statistics.median(v) for k, v in times.items()}})
        table.append([f"stereo-17x decode, {args.minutes:g} min",
                      *(f"{statistics.median(v):.2f} s" for v in times.values()),
                      *(f"{median_ratio(times[k], times[ours]):.1f}x" for k in list(times)[1:])])

    names = list(variants)
    print_table(["", *names, *(f"{n} / walloc" for n in names[1:])], table)
    print(f"wrote {write_results(args.out, 'post-filter-cpu', {'rows': rows, 'repeats': args.repeats})}")


if __name__ == "__main__":
    main()
