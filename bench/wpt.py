"""Wavelet packet transform throughput: walloc vs PyWavelets, ptwt and pytorch_wavelets (those installed).

Forward + inverse of a full packet tree, float32, side by side in one process (one call of each library per
round; medians over rounds, speed-ups the median of round-by-round ratios):
  (a) one 3x512x768 image and (b) a batch of 16, 2-D, bior4.4, 3 levels;
  (c) 10 s of 44.1 kHz stereo, 1-D, bior4.4, 2 and 8 levels (441088 samples: 10 s rounded up to a multiple
      of 2**8, since periodization packets need it);
  on CUDA also (d) a batch of 64 such images in float32 and bfloat16.
Also the fraction of the memory-bandwidth bound: a fused forward + inverse must read and write the data twice,
4x its bytes, at the rate of a measured tensor copy into an existing tensor. Every library here returns new
tensors, whose first touch the kernel pays for (page faults and zeroing: on the 2-core CPU this costs more
than the copy itself for the batch case), so the table also gives the bound at the rate of ``x.clone()``, a
copy that pays the same. CPU always; CUDA too when walloc's CUDA kernels can run.

    python bench/wpt.py [--repeats 5] [--out bench/results]

Writes bench/results/wpt-<device>.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pywt
import torch

import walloc
from common import device_name, device_slug, interleaved_seconds, median_ratio, median_seconds, write_results

WAVELET = "bior4.4"
WARMUP_S = 1.0  # per timed function, so repeated large allocations run at their steady cost
CASES = [
    ("image 3x512x768, 2-D, 3 levels", (1, 3, 512, 768), 3, torch.float32),
    ("batch 16x3x512x768, 2-D, 3 levels", (16, 3, 512, 768), 3, torch.float32),
    ("stereo 10 s 44.1 kHz, 1-D, 2 levels", (1, 2, 441088), 2, torch.float32),
    ("stereo 10 s 44.1 kHz, 1-D, 8 levels", (1, 2, 441088), 8, torch.float32),
]
CUDA_CASES = [
    ("batch 64x3x512x768, 2-D, 3 levels", (64, 3, 512, 768), 3, torch.float32),
    ("batch 64x3x512x768, 2-D, 3 levels, bf16", (64, 3, 512, 768), 3, torch.bfloat16),
]


def walloc_roundtrip(x: torch.Tensor, levels: int) -> Callable[[], torch.Tensor]:
    wpt = (walloc.WPT2d if x.dim() == 4 else walloc.WPT1d)(WAVELET, levels)
    return lambda: wpt.inverse(wpt(x))


def pywt_roundtrip(x: torch.Tensor, levels: int) -> Callable[[], np.ndarray]:
    """PyWavelets' fastest packet tree: one dwt2/dwt per level over all channels at once (as the reference)."""
    a = x.numpy()
    two_d = a.ndim == 4
    axes = (-2, -1)

    def run():
        y = a
        for _ in range(levels):
            if two_d:
                ca, (ch, cv, cd) = pywt.dwt2(y, WAVELET, "periodization", axes=axes)
                y = np.stack([ca, ch, cv, cd], axis=2).reshape(y.shape[0], -1, *ca.shape[-2:])
            else:
                ca, cd = pywt.dwt(y, WAVELET, "periodization", axis=-1)
                y = np.stack([ca, cd], axis=2).reshape(y.shape[0], -1, ca.shape[-1])
        for _ in range(levels):
            if two_d:
                b = y.reshape(y.shape[0], -1, 4, *y.shape[-2:])
                y = pywt.idwt2((b[:, :, 0], (b[:, :, 1], b[:, :, 2], b[:, :, 3])), WAVELET, "periodization", axes=axes)
            else:
                b = y.reshape(y.shape[0], -1, 2, y.shape[-1])
                y = pywt.idwt(b[:, :, 0], b[:, :, 1], WAVELET, "periodization", axis=-1)
        return y

    return run


def pytorch_wavelets_roundtrip(x: torch.Tensor, levels: int) -> Callable[[], torch.Tensor] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pytorch_wavelets import DWT1DForward, DWT1DInverse, DWTForward, DWTInverse
    except ImportError:
        return None
    two_d = x.dim() == 4
    fwd = (DWTForward if two_d else DWT1DForward)(J=1, mode="periodization", wave=WAVELET).to(x.device)
    inv = (DWTInverse if two_d else DWT1DInverse)(mode="periodization", wave=WAVELET).to(x.device)
    bands = 4 if two_d else 2

    def run():
        y = x
        for _ in range(levels):
            low, high = fwd(y)
            parts = [low.unsqueeze(2), high[0]] if two_d else [low.unsqueeze(2), high[0].unsqueeze(2)]
            y = torch.cat(parts, dim=2).flatten(1, 2)
        for _ in range(levels):
            b = y.unflatten(1, (-1, bands))
            high = [b[:, :, 1:]] if two_d else [b[:, :, 1]]
            y = inv((b[:, :, 0], high))
        return y

    return run


def ptwt_roundtrip(x: torch.Tensor, levels: int) -> Callable[[], torch.Tensor] | None:
    """ptwt has no periodization mode: its (redundant) 'periodic' mode, one level at a time over all channels."""
    try:
        import ptwt
    except ImportError:
        return None
    two_d = x.dim() == 4

    def run():
        y, sizes = x, []
        for _ in range(levels):
            sizes.append(y.shape[-2:] if two_d else y.shape[-1:])
            if two_d:
                low, high = ptwt.wavedec2(y, WAVELET, level=1, mode="periodic")
                y = torch.stack([low, *high], dim=2).flatten(1, 2)
            else:
                low, high = ptwt.wavedec(y, WAVELET, level=1, mode="periodic")
                y = torch.stack([low, high], dim=2).flatten(1, 2)
        for size in reversed(sizes):
            if two_d:
                b = y.unflatten(1, (-1, 4))
                y = ptwt.waverec2((b[:, :, 0], tuple(b[:, :, k] for k in (1, 2, 3))), WAVELET)
                y = y[..., : size[0], : size[1]]
            else:
                b = y.unflatten(1, (-1, 2))
                y = ptwt.waverec([b[:, :, 0], b[:, :, 1]], WAVELET)[..., : size[0]]
        return y

    return run


def runnable(libraries: dict[str, Callable[[], object] | None]) -> dict[str, Callable[[], object]]:
    """The libraries that can run this case (the reason printed for those that cannot)."""
    ready = {}
    for lib, fn in libraries.items():
        if fn is None:
            continue
        try:
            fn()
        except (RuntimeError, TypeError, ValueError) as why:
            print(f"    {lib} skipped: {str(why).splitlines()[0][:120]}", flush=True)
            continue
        ready[lib] = fn
    return ready


def run_device(device: str, repeats: int) -> list[dict]:
    rows = []
    for name, shape, levels, dtype in CASES + (CUDA_CASES if device == "cuda" else []):
        x = torch.randn(*shape, device=device).to(dtype)
        copy_dst = torch.empty_like(x)
        copy_s = median_seconds(lambda: copy_dst.copy_(x), repeats, device, WARMUP_S)
        copy_rate = 2 * x.numel() * x.element_size() / copy_s  # bytes read + written per second
        bound_s = 4 * x.numel() * x.element_size() / copy_rate
        fresh_bound_s = 2 * median_seconds(lambda: x.clone(), repeats, device, WARMUP_S)
        libraries = {"walloc": walloc_roundtrip(x, levels)}
        if device == "cpu":
            libraries["pywt"] = pywt_roundtrip(x.cpu(), levels)
        libraries["ptwt (periodic)"] = ptwt_roundtrip(x, levels)
        libraries["pytorch_wavelets"] = pytorch_wavelets_roundtrip(x, levels)
        rounds = interleaved_seconds(runnable(libraries), repeats, device, WARMUP_S)
        times = {lib: statistics.median(t) for lib, t in rounds.items()}
        ours = times["walloc"]
        row = {
            "case": name,
            "shape": list(shape),
            "levels": levels,
            "wavelet": WAVELET,
            "dtype": str(dtype).removeprefix("torch."),
            "walloc_GBps": 4 * x.numel() * x.element_size() / ours / 1e9,
            "copy_GBps": copy_rate / 1e9,
            "bound_ms": bound_s * 1e3,
            "fraction_of_bound": bound_s / ours,
            "fresh_output_bound_ms": fresh_bound_s * 1e3,
            "fraction_of_fresh_output_bound": fresh_bound_s / ours,
            "ms": {lib: t * 1e3 for lib, t in times.items()},
            "speedup_vs": {lib: median_ratio(t, rounds["walloc"]) for lib, t in rounds.items() if lib != "walloc"},
        }
        rows.append(row)
        print(f"  {device}: {name}: walloc {ours * 1e3:.2f} ms", flush=True)
    return rows


def markdown(device: str, rows: list[dict]) -> str:
    libs = sorted({lib for r in rows for lib in r["ms"]}, key=lambda s: (s != "walloc", s))
    head = (
        "| case | " + " | ".join(f"{lib} ms" for lib in libs)
        + " | walloc speed-up | bound ms | of bound | bound with fresh output ms | of that |"
    )
    lines = [f"### {device}", "", head, "|" + "---|" * (len(libs) + 6)]
    for r in rows:
        cells = [f"{r['ms'][lib]:.2f}" if lib in r["ms"] else "-" for lib in libs]
        speed = ", ".join(f"{v:.1f}x {k}" for k, v in r["speedup_vs"].items())
        lines.append(
            f"| {r['case']} | " + " | ".join(cells) + f" | {speed}"
            f" | {r['bound_ms']:.2f} | {100 * r['fraction_of_bound']:.0f}%"
            f" | {r['fresh_output_bound_ms']:.2f} | {100 * r['fraction_of_fresh_output_bound']:.0f}% |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--devices", nargs="+", choices=["cpu", "cuda"],
                        default=["cpu"] + (["cuda"] if walloc.cuda_available() else []))
    args = parser.parse_args()
    devices = args.devices
    for device in devices:
        print(f"{device}: {device_name(device)}, {torch.get_num_threads()} threads", flush=True)
        rows = run_device(device, args.repeats)
        result = {
            "device": device_name(device),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "walloc": walloc.build_info(),
            "pywt": pywt.__version__,
            "rows": rows,
        }
        path = write_results(args.out, f"wpt-{device_slug(device)}", result)
        print(markdown(f"{device}: {result['device']}", rows))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
