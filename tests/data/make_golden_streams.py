"""Writes the cross-machine fixtures of tests/test_shipped_codecs.py: a 96x128 crop of samples/chelsea.png
compressed with rgb-16x, and its decoded image. Run from the repository root after retraining rgb-16x.
(rgb16x-crop-histogram-coder.wlc, the same crop from before the predictive latent coder, is kept as it is: old
streams must keep decoding.)"""

from pathlib import Path

import walloc
from walloc.media import read_image, write_image

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent

codec = walloc.load("rgb-16x")
crop = read_image(ROOT / "samples" / "chelsea.png")[:, 100:196, 150:278]
data = codec.compress(crop)
(OUT / "rgb16x-crop.wlc").write_bytes(data)
write_image(codec.decompress(data)[0], OUT / "rgb16x-crop-decoded.png")
print(f"{len(data)} bytes")
