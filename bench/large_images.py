"""Large images through rgb-16x: decode time per megapixel and peak memory from 1 to 24 MP (the attention
windowed past 1024 pixels a side), and what the windows cost in quality against global attention where global
attention still runs (2x-upsampled Kodak photos, 1536 x 1024).

    python bench/large_images.py [--kodak FOLDER] [--sizes 1224x816 3000x2000 6000x4000]

Writes bench/results/large-images.json. Each size runs in a process of its own, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import walloc
from common import device_name, write_results

ROOT = Path(__file__).resolve().parent


def _photo(kodak: Path, name: str, size: tuple[int, int]) -> torch.Tensor:
    image = Image.open(kodak / f"{name}.png").convert("RGB").resize(size, Image.LANCZOS)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255


def one_size(kodak: Path, width: int, height: int) -> dict:
    """Compress and decompress one resized photo here; time and peak RSS of this process."""
    torch.set_grad_enabled(False)
    codec = walloc.load("rgb-16x")
    x = _photo(kodak, "kodim05", (width, height))
    codec.decompress(codec.compress(x[..., :64, :64]))  # warm up
    start = time.perf_counter()
    data = codec.compress(x)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    y = codec.decompress(data)
    decode = time.perf_counter() - start
    megapixels = width * height / 1e6
    return {"size": [width, height], "megapixels": megapixels, "encode_s": encode, "decode_s": decode,
            "decode_s_per_mp": decode / megapixels, "bpp": codec.rate(data)["bpp"],
            "psnr_db": 10 * np.log10(1 / torch.mean((y - x) ** 2).item()),
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}


def window_cost(kodak: Path) -> list[dict]:
    """PSNR of windowed against global attention, and the error on window seams relative to the same rows and
    columns of the global decode."""
    from walloc.codec.image import ATTENTION_WINDOW
    from walloc.windows import windows

    torch.set_grad_enabled(False)
    codec = walloc.load("rgb-16x")
    rows = []
    for name in ("kodim01", "kodim05", "kodim23"):
        x = _photo(kodak, name, (1536, 1024))
        latents = torch.round(codec.encode(x))
        decoded = {"windowed": codec.decode(latents, attention_window=ATTENTION_WINDOW),
                   "global": codec.decode(latents, attention_window=None)}
        seams = torch.zeros(x.shape[-2:], dtype=torch.bool)
        size = ATTENTION_WINDOW[0]
        for window in windows(latents.shape[-2], size, 0)[1:]:
            seams[window.start * 8 - 8:window.start * 8 + 8, :] = True
        for window in windows(latents.shape[-1], size, 0)[1:]:
            seams[:, window.start * 8 - 8:window.start * 8 + 8] = True
        row = {"image": name}
        for kind, y in decoded.items():
            error = ((y - x) ** 2).mean(1)[0]
            row[f"{kind}_psnr_db"] = 10 * np.log10(1 / error.mean().item())
            row[f"{kind}_seam_to_rest_mse"] = (error[seams].mean() / error[~seams].mean()).item()
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=ROOT.parent.parent / "shared/data/kodak")
    parser.add_argument("--sizes", nargs="+", default=["1224x816", "3000x2000", "6000x4000"])
    parser.add_argument("--one", help=argparse.SUPPRESS)  # WIDTHxHEIGHT: measure one size in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.kodak, *map(int, args.one.split("x")))))
        return
    sizes = []
    for size in args.sizes:
        done = subprocess.run([sys.executable, __file__, "--kodak", str(args.kodak), "--one", size],
                              capture_output=True, text=True, check=True)
        sizes.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(sizes[-1], flush=True)
    result = {"cpu": device_name("cpu"), "cpu_isa": walloc.build_info()["cpu_isa"], "threads": torch.get_num_threads(),
              "sizes": sizes, "window_cost": window_cost(args.kodak)}
    write_results(ROOT / "results", "large-images", result)
    print(json.dumps(result["window_cost"], indent=2))


if __name__ == "__main__":
    main()
