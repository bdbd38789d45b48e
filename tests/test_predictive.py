"""The predictive latent coder: exact round trips for every shape, bit depth and escape, tables that are the
Laplace family they claim to be, fewer bytes than the histogram coder on real latents, and loud failures."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import torch

import walloc
from walloc import bitstream
from walloc.entropy import adaptive
from walloc.entropy.predictive import (
    _COST_REACH,
    _THETAS,
    BINS,
    CENTRES,
    CONTAINER_ID,
    NEIGHBOURS,
    _choose_scales,
    _cost_matrix,
    compress_planes,
    decompress_planes,
    laplace_tables,
)
from walloc.entropy.side_info import inflate
from walloc.media import read_image

ROOT = Path(__file__).resolve().parents[1]


def smooth_latents(shape, bits=8, seed=0) -> torch.Tensor:
    """Spatially correlated symbols with a varying local scale, as real latents are."""
    g = torch.Generator().manual_seed(seed)
    field = torch.cumsum(torch.cumsum(torch.randn(shape, generator=g), -1), -2) if len(shape) > 3 else \
        torch.cumsum(torch.randn(shape, generator=g), -1)
    field = field * (1 + 3 * torch.rand(shape[:-1] + (1,), generator=g))
    half = 1 << (bits - 1)
    return (field + half).round().clamp(0, 2 * half - 1).to(torch.int32)


@pytest.mark.parametrize("shape, plane_dims", [((2, 3, 17, 23), 2), ((1, 12, 64, 96), 2), ((2, 5, 300), 1),
                                               ((1, 1, 1, 1), 2), ((3, 2, 1, 5), 2), ((2, 2, 7, 1), 2),
                                               ((0, 3, 4, 4), 2), ((4, 3), 1)])
def test_round_trips_exactly(shape, plane_dims):
    g = torch.Generator().manual_seed(1)
    for symbols in (torch.randint(0, 256, shape, generator=g, dtype=torch.int32), smooth_latents(shape)):
        decoded = decompress_planes(compress_planes(symbols, 8, plane_dims))
        assert decoded.dtype == torch.int32 and torch.equal(decoded, symbols)


@pytest.mark.parametrize("bits", [1, 3, 12, 15])
def test_every_bit_depth_and_escapes(bits):
    symbols = smooth_latents((2, 3, 16, 20), bits, seed=bits)
    symbols[0, 1, 5, 5] = 0  # isolated extremes: errors far outside the tables, coded as escapes
    symbols[1, 2, 9, 3] = (1 << bits) - 1
    assert torch.equal(decompress_planes(compress_planes(symbols, bits)), symbols)


def test_tables_are_the_laplace_family_they_claim():
    cdfs, lengths, offsets = laplace_tables()
    assert cdfs.shape[0] == len(_THETAS) * CENTRES
    for row in (0, 45, 90, 141):
        k, q = divmod(row, CENTRES)
        scale, centre = 2 ** ((k - 8) / 4), (2 * q + 1) / 8
        n = int(lengths[row])
        freqs = (cdfs[row, 1:n] - cdfs[row, : n - 1]).double() / 65536
        errors = torch.arange(int(offsets[row]), int(offsets[row]) + n - 2).double()
        laplace = torch.exp(-(errors - centre).abs() / scale)
        laplace = laplace / laplace.sum() * (1 - freqs[-1])  # the escape slot holds the tails
        assert int(cdfs[row, n - 1]) == 65536 and (freqs > 0).all()
        assert (freqs[:-1] - laplace).abs().max() < 2e-3 + 1e-3 * laplace.max()


def reference_scales(errors: torch.Tensor, contexts: torch.Tensor) -> torch.Tensor:
    """Plain PyTorch: each (plane, bin) histogram of error slots against the cost matrix, then the cheapest."""
    planes = errors.shape[0]
    slots = 2 * _COST_REACH + 3
    index = errors.long().clamp(-_COST_REACH - 1, _COST_REACH + 1) + _COST_REACH + 1
    cell = (torch.arange(planes).view(-1, 1) * BINS * CENTRES + contexts.long()) * slots + index
    hist = torch.bincount(cell.flatten(), minlength=planes * BINS * CENTRES * slots).view(planes * BINS, -1)
    return (hist @ _cost_matrix().long()).argmin(-1).view(planes, BINS).to(torch.int32)


def reference_weights(planes: torch.Tensor, bits: int) -> torch.Tensor:
    """int8 weights in 1/64 of (P, H, W) symbol planes: float64 ridge least squares solved by torch.linalg."""
    v = torch.nn.functional.pad(planes.double() - (1 << (bits - 1)), (2, 1, 2, 0))  # zeros outside the plane
    height, width = planes.shape[-2:]
    at = lambda dy, dx: v[:, 2 + dy: 2 + dy + height, 2 + dx: 2 + dx + width].flatten(1)  # noqa: E731
    neighbours = torch.stack([at(0, -1), at(-1, 0), at(-1, -1), at(-1, 1), at(0, -2), at(-2, 0)], -1)
    gram = neighbours.mT @ neighbours + 1e-3 * height * width * torch.eye(NEIGHBOURS, dtype=torch.float64)
    w = torch.linalg.solve(gram, neighbours.mT @ at(0, 0).unsqueeze(-1)).squeeze(-1)
    return torch.round(w * 64).clamp(-128, 127).to(torch.int8)


@pytest.mark.parametrize("shape, bits", [((2, 12, 32, 48), 8), ((1, 3, 17, 5), 4), ((2, 2, 9, 40), 15),
                                         ((3, 700), 8), ((1, 12, 64, 96), 8)])
def test_weights_in_the_stream_match_a_least_squares_reference(shape, bits):
    symbols = smooth_latents(shape, bits, seed=len(shape) + bits)
    planes = symbols.reshape(-1, shape[-2], shape[-1]) if len(shape) == 4 else symbols.reshape(-1, 1, shape[-1])
    container = bitstream.unpack(compress_planes(symbols, bits, plane_dims=2 if len(shape) == 4 else 1), CONTAINER_ID)
    side = inflate(container.streams[0], planes.shape[0] * (NEIGHBOURS + BINS), "side")
    weights = torch.frombuffer(bytearray(side[: planes.shape[0] * NEIGHBOURS]), dtype=torch.int8)
    assert torch.equal(weights.view(-1, NEIGHBOURS), reference_weights(planes, bits))


def test_scale_choice_matches_its_reference():
    g = torch.Generator().manual_seed(3)
    planes, size = 5, 999
    errors = (torch.randn(planes, size, generator=g) * torch.rand(planes, 1, generator=g) * 40).round().int()
    errors[0, :7] = torch.tensor([300, -300, 257, -258, 256, -257, 10**6], dtype=torch.int32)  # beyond the reach
    contexts = torch.randint(0, BINS * CENTRES, (planes, size), generator=g, dtype=torch.int32)
    assert torch.equal(_choose_scales(errors, contexts), reference_scales(errors, contexts))


def test_bytes_do_not_depend_on_the_thread_count():
    symbols = smooth_latents((2, 12, 32, 48))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = compress_planes(symbols)
        torch.set_num_threads(2)
        assert compress_planes(symbols) == one
    finally:
        torch.set_num_threads(threads)


_ISA_SCRIPT = """
import hashlib, torch, walloc
from walloc.entropy.predictive import compress_planes
g = torch.Generator().manual_seed(1)
h = hashlib.sha256()
for shape, bits, dims in (((2, 12, 32, 48), 8, 2), ((1, 3, 17, 5), 4, 2), ((2, 2, 9, 40), 15, 2), ((3, 2, 700), 8, 1)):
    field = torch.cumsum(torch.cumsum(torch.randn(shape, generator=g) * 3, -1), -2 if dims == 2 else -1)
    h.update(compress_planes((field + (1 << (bits - 1))).round().clamp(0, (1 << bits) - 1).int(), bits, dims))
print(walloc.build_info()["cpu_isa"], h.hexdigest())
"""


def test_every_cpu_instruction_set_writes_the_same_bytes(on_every_isa):
    # The encoder's analysis exists in a baseline and an AVX2 copy; the streams must not depend on which runs.
    outputs = on_every_isa(_ISA_SCRIPT)
    assert len(set(outputs.values())) == 1, outputs


def test_smaller_than_the_histogram_coder_on_real_latents():
    codec = walloc.load("rgb-16x")
    image = read_image(ROOT / "samples" / "chelsea.png")
    symbols = (torch.round(codec.encode(image)) + 128).to(torch.int32)
    predictive, histogram = len(compress_planes(symbols)), len(adaptive.compress_symbols(symbols))
    assert torch.equal(decompress_planes(compress_planes(symbols)), symbols)
    assert predictive < 0.93 * histogram  # about 11% fewer bytes on Kodak (bench/walloc_codecs.py)


def test_corrupt_and_lying_streams_raise():
    symbols = smooth_latents((1, 4, 16, 16))
    data = compress_planes(symbols)
    container = bitstream.unpack(data)
    side, payload = container.streams
    # Inside a container a flipped bit fails the CRC. Behind a forged, valid CRC the decoder's own checks
    # (symbol range, lane states back at their start, every word consumed) catch nearly every flip.
    caught = 0
    flips = range(0, len(payload), max(1, len(payload) // 60))
    for i in flips:
        damaged = bytearray(payload)
        damaged[i] ^= 0x10
        forged = bitstream.pack(container.codec, container.meta, [side, bytes(damaged)])
        try:
            assert decompress_planes(forged).shape == symbols.shape
        except walloc.BitstreamError:
            caught += 1
    assert caught >= 0.9 * len(flips)
    meta = container.meta
    for change in ({"shape": [1, 4, 16, 17]}, {"shape": [1, 4, 256]}, {"bits": 16}, {"bits": 0},
                   {"plane_dims": 3}, {"shape": [2**40, 1, 0, 4]}, {"shape": "x"}):
        with pytest.raises(walloc.BitstreamError):
            decompress_planes(bitstream.pack(container.codec, {**meta, **change}, [side, payload]))
    bad_scales = bytearray(zlib.decompress(side))
    bad_scales[-1] = 200
    for streams in ([side[:-3], payload], [zlib.compress(bytes(bad_scales)), payload], [payload]):
        with pytest.raises(walloc.BitstreamError):
            decompress_planes(bitstream.pack(container.codec, meta, streams))


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="symbols must lie"):
        compress_planes(torch.full((1, 1, 2, 2), 256), 8)
    with pytest.raises(ValueError, match="symbols must lie"):  # int64 that would wrap into range as int32
        compress_planes(torch.full((1, 1, 2, 2), 2**32 + 5), 8)
    with pytest.raises(ValueError, match="bits"):
        compress_planes(torch.zeros(1, 1, 2, 2, dtype=torch.int32), 16)
    with pytest.raises(ValueError, match="integer latents"):
        compress_planes(torch.zeros(1, 1, 2, 2), 8)
