"""Coverage-guided fuzzing of every decoder of untrusted bytes: the container, the rANS decoder, the
adaptive-histogram decoder (container + tables + rANS + reconstruction), the predictive latent decoder
(container + side information + the sequential C++ decoder), the headers and latents of the WaLLoC,
Music2Latent and Music2Latent2 codecs' streams, and the NeRV video decoder (container + network
description + weights).

Every input must either decode or raise walloc.BitstreamError / ValueError; anything else (another
exception, a crash, a hang, memory past the limit) is a bug and stops the run with the input saved.

    pip install atheris
    python bench/fuzz_decoders.py -runs=1000000 -rss_limit_mb=2048 -max_len=4096 -timeout=10

Seeds are valid streams made at start-up; libFuzzer's mutations (bit flips, erasures, insertions, splices
between inputs, interesting integers for length fields) explore from them. tests/test_fuzz.py runs a short
hypothesis pass of the same target on every CI run.
"""

from __future__ import annotations

import functools
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import torch

import walloc
from walloc import bitstream, video
from walloc.codec.wavelet import MAX_QUALITY
from walloc.entropy import compress_symbols, decompress_symbols, quantize_pmf, rans_decode, rans_encode
from walloc.entropy.predictive import compress_planes, decompress_planes
from walloc.entropy.rans import stream_symbol_count

TABLES = (
    quantize_pmf(torch.tensor([[8.0, 4, 2, 1, 1, 0.01], [1, 1, 1, 1, 1, 0.01]])),
    torch.tensor([7, 7], dtype=torch.int32),
    torch.tensor([-2, 0], dtype=torch.int32),
)
MAX_SYMBOLS = 1 << 20  # the harness's own cap on what it asks the decoders to produce


def seeds() -> list[bytes]:
    gen = torch.Generator().manual_seed(0)
    out = []
    for n in (0, 1, 40, 300):
        idx = torch.randint(0, 2, (n,), generator=gen, dtype=torch.int32)
        sym = torch.randint(-4, 9, (n,), generator=gen, dtype=torch.int32)
        out.append(rans_encode(sym, idx, *TABLES))
    latents = torch.randint(0, 256, (1, 3, 8, 8), generator=gen, dtype=torch.int32)
    out.append(compress_symbols(latents))
    smooth = (torch.cumsum(torch.randn(2, 3, 6, 10, generator=gen), -1) * 4 + 128).round().clamp(0, 255).int()
    out.append(compress_planes(smooth, 8, plane_dims=2))
    out.append(compress_planes(smooth.flatten(2), 8, plane_dims=1))
    out.append(bitstream.pack("fuzz", {"shape": [1, 2]}, [b"ab", b"cde"]))
    out.append(nerv_seed())
    out.append(music2latent_codec().compress(torch.randn(1, 2, 6000, generator=gen).clamp(-1, 1) * 0.3, bits=6))
    out += [music2latent2_codec().compress(torch.randn(1, c, 9000, generator=gen).clamp(-1, 1) * 0.3, bits=b)
            for c, b in ((2, 6), (3, 8))]
    image = torch.rand(1, 3, 24, 40, generator=gen)
    out += [wavelet_image_codec().compress(image, quality=q) for q in (8, 3.5, 9.5)]  # 9.5: 9-bit levels
    return out


@functools.lru_cache(maxsize=1)
def wavelet_image_codec():
    """A tiny random WaLLoC image codec: its streams' headers (quantizer step included) and latents are checked
    before any network runs."""
    from walloc.codec.image import ImageCodec
    from walloc.models import WallocImageModel

    torch.manual_seed(0)
    codec = ImageCodec("fuzz-walloc", WallocImageModel(J=2, Nd=32, latent_dim=4, attention=False))
    codec.max_quality = MAX_QUALITY  # its scale's whole range, finer steps than the integers included
    return codec


@functools.lru_cache(maxsize=1)
def music2latent_codec():
    """A tiny random Music2Latent codec: its streams' headers and latents are checked before any network runs."""
    from walloc.codec.music2latent import Music2LatentCodec
    from walloc.models.music2latent import Music2LatentConfig, Music2LatentModel

    torch.manual_seed(0)
    config = Music2LatentConfig(base_channels=4, multipliers=(1, 1, 1, 1, 1), unet_blocks=(1,) * 5,
                                bottleneck_channels=16, bottleneck_blocks=1, heads=1, cond_channels=8)
    return Music2LatentCodec("fuzz-m2l", Music2LatentModel(config))


@functools.lru_cache(maxsize=1)
def music2latent2_codec():
    """A tiny random Music2Latent2 codec: its streams' headers and latents are checked before any network runs."""
    from walloc.codec.music2latent2 import Music2Latent2Codec
    from walloc.models.music2latent2 import Music2Latent2Config, Music2Latent2Model

    torch.manual_seed(0)
    config = Music2Latent2Config(chunk_frames=8, summary_tokens=2, summary_channels=4, patch_channels=(4, 4, 4),
                                 width=16, heads=1, encoder_depth=1, decoder_depth=1, consistency_depth=1,
                                 cond_channels=8)
    return Music2Latent2Codec("fuzz-m2l2", Music2Latent2Model(config))


def nerv_seed() -> bytes:
    """A small random NeRV stream (2 frames of 32x32)."""
    from walloc.models.nerv import build_nerv, nerv_arguments

    torch.manual_seed(0)
    codec = video.NervCodec("nerv", "XS")
    codec.arguments = nerv_arguments("nerv", "XS", 32, 32)
    codec.model, codec.num_frames = build_nerv("nerv", codec.arguments), 2
    return codec.compress(bits=4, prune=0.0)


def with_valid_checksums(data: bytes) -> bytes:
    """The input with its container checksums recomputed where its header allows, so mutations get past the
    CRCs and reach the metadata, table and rANS decoders behind them."""
    fixed = bitstream._FIXED
    if len(data) < fixed.size or not data.startswith(bitstream.MAGIC):
        return data
    _, _, _, meta_len, n_streams, _ = fixed.unpack_from(data)
    header_end = fixed.size + meta_len + 8 * n_streams
    if header_end + 8 > len(data):
        return data
    out = bytearray(data)
    struct.pack_into("<I", out, header_end, zlib.crc32(out[:header_end]))
    struct.pack_into("<I", out, len(out) - 4, zlib.crc32(out[header_end + 4 : len(out) - 4]))
    return bytes(out)


def decode_everything(data: bytes) -> None:
    """Runs each decoder on data; returns normally or raises ValueError (BitstreamError is one)."""
    try:
        bitstream.unpack(data)
    except ValueError:
        pass
    for candidate in (data, with_valid_checksums(data)):
        for decoder in (decompress_symbols, decompress_planes, video.decompress,
                        music2latent_codec().quantized_latents, music2latent2_codec().quantized_latents,
                        wavelet_image_codec().quantized_latents):
            try:
                decoder(candidate)
            except ValueError:
                pass
    try:
        n = stream_symbol_count(data)
    except ValueError:
        return
    if n <= MAX_SYMBOLS:
        indexes = (torch.arange(n) % 2).to(torch.int32)
        try:
            rans_decode(data, indexes, *TABLES)
        except ValueError:
            pass


def main() -> None:
    import atheris

    assert issubclass(walloc.BitstreamError, ValueError)
    # The seeds go into a fresh corpus folder that libFuzzer starts from (and grows).
    corpus = Path(tempfile.mkdtemp(prefix="walloc-fuzz-"))
    for i, seed in enumerate(seeds()):
        decode_everything(seed)
        (corpus / f"seed-{i}").write_bytes(seed)
    atheris.instrument_all()  # coverage of walloc's Python layers; the C++ decoders are exercised through them
    atheris.Setup(sys.argv + [str(corpus)], decode_everything)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
