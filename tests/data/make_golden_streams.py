"""Writes the cross-machine fixtures of tests/test_shipped_codecs.py: a 96x128 crop of samples/chelsea.png
compressed with a shipped codec, and its decoded image. Run from the repository root with the codec to write
after retraining it (``python tests/data/make_golden_streams.py rgb-16x``):

- rgb-16x at the default quality: ``rgb16x-crop.wlc``, ``rgb16x-crop-decoded.png``;
- rgb-4x at quality 10 (a step of half a latent unit, 9-bit symbols): ``rgb4x-crop-quality10.wlc``,
  ``rgb4x-crop-quality10-decoded.png``.

Kept as they are, since old streams must keep decoding: rgb16x-crop-histogram-coder.wlc (the rgb-16x crop from
before the predictive latent coder) and rgb16x-vr-first-weights-quality1.wlc with its decoded PNG (the crop at
quality 1 from rgb-16x-vr's first weights, now in codecs/rgb-16x-vr/earlier/).
"""

import sys
from pathlib import Path

import walloc
from walloc.media import read_image, write_image

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
FIXTURES = {"rgb-16x": ("rgb16x-crop", {}), "rgb-4x": ("rgb4x-crop-quality10", {"quality": 10})}

name = sys.argv[1] if len(sys.argv) == 2 else sys.exit(f"usage: make_golden_streams.py {{{','.join(FIXTURES)}}}")
stem, options = FIXTURES[name]
codec = walloc.load(name)
crop = read_image(ROOT / "samples" / "chelsea.png")[:, 100:196, 150:278]
data = codec.compress(crop, **options)
(OUT / f"{stem}.wlc").write_bytes(data)
write_image(codec.decompress(data)[0], OUT / f"{stem}-decoded.png")
print(f"{stem}.wlc: {len(data)} bytes")
