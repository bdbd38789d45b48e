"""rANS coding: exact round trips, escapes, sizes against the ideal code length, corrupt streams."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import walloc
from walloc.entropy import ideal_bits, quantize_pmf, rans_decode, rans_encode

HEADER_BYTES = 24
CHUNK_SYMBOLS = 1 << 16
CHUNK_OVERHEAD = 4 + 8 + 4 * 16  # size entry, counts, 16 lane states


def laplace_tables(scales, half_width: int = 40) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Discretised Laplace tables (plus an escape symbol) centred at 0, as padded (rows, stride) tensors."""
    k = torch.arange(-half_width, half_width + 1, dtype=torch.float64)
    pmfs = [torch.cat([torch.exp(-k.abs() / s), torch.tensor([1e-6])]) for s in scales]
    cdfs = quantize_pmf(torch.stack(pmfs))
    lengths = torch.full((len(scales),), cdfs.shape[1], dtype=torch.int32)
    offsets = torch.full((len(scales),), -half_width, dtype=torch.int32)
    return cdfs, lengths, offsets


def roundtrip(symbols, indexes, cdfs, lengths, offsets) -> bytes:
    data = rans_encode(symbols, indexes, cdfs, lengths, offsets)
    decoded = rans_decode(data, indexes, cdfs, lengths, offsets)
    assert decoded.dtype == torch.int32 and decoded.shape == torch.as_tensor(indexes).shape
    assert torch.equal(decoded, torch.as_tensor(symbols, dtype=torch.int32))
    return data


@st.composite
def coding_problems(draw):
    rows = draw(st.integers(1, 4))
    pmfs, offsets = [], []
    for _ in range(rows):
        n = draw(st.integers(1, 300))
        weights = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
        pmfs.append(torch.tensor(weights + [draw(st.floats(0, 0.1))], dtype=torch.float64))
        offsets.append(draw(st.integers(-200, 200)))
    stride = max(len(p) for p in pmfs) + 1
    cdfs = torch.full((rows, stride), 1 << 16, dtype=torch.int32)
    for j, p in enumerate(pmfs):
        cdfs[j, : len(p) + 1] = quantize_pmf(p)
    lengths = torch.tensor([len(p) + 1 for p in pmfs], dtype=torch.int32)
    n = draw(st.integers(0, 3000))
    indexes = torch.tensor(draw(st.lists(st.integers(0, rows - 1), min_size=n, max_size=n)), dtype=torch.int32)
    spread = draw(st.sampled_from([0, 10, 400, 2**31 - 1]))
    values = draw(st.lists(st.integers(-spread, spread), min_size=n, max_size=n))
    symbols = (torch.tensor(values, dtype=torch.int64) + torch.tensor(offsets)[indexes.long()]).clamp(-2**31, 2**31 - 1)
    return symbols.to(torch.int32), indexes, cdfs, lengths, torch.tensor(offsets, dtype=torch.int32)


def roundtrips_on_1_2_3_threads(symbols, indexes, cdfs, lengths, offsets) -> list[bytes]:
    """The streams :func:`roundtrip` writes with torch at 1, 2 and 3 threads (its thread count restored)."""
    threads = torch.get_num_threads()
    try:
        streams = []
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            streams.append(roundtrip(symbols, indexes, cdfs, lengths, offsets))
    finally:
        torch.set_num_threads(threads)
    return streams


@settings(max_examples=150, deadline=None)
@given(coding_problems())
def test_random_roundtrips(problem) -> None:
    roundtrip(*problem)


def test_empty_single_and_constant() -> None:
    cdfs, lengths, offsets = laplace_tables([2.0])
    empty = torch.zeros(0, dtype=torch.int32)
    assert rans_decode(rans_encode(empty, empty, cdfs, lengths, offsets), empty, cdfs, lengths, offsets).numel() == 0
    one = torch.tensor([[7]], dtype=torch.int32)
    roundtrip(one, torch.zeros_like(one), cdfs, lengths, offsets)
    # One symbol with almost all the mass: the stream is nearly empty.
    pmf = torch.tensor([[1.0, 1e-9, 1e-9]], dtype=torch.float64)
    sharp = quantize_pmf(pmf)
    constant = torch.zeros(100_000, dtype=torch.int32)
    data = roundtrip(constant, constant, sharp, torch.tensor([4]), torch.tensor([0]))
    assert len(data) < 2000


def test_extreme_escapes() -> None:
    cdfs, lengths, offsets = laplace_tables([1.0, 5.0])
    symbols = torch.tensor([2**31 - 1, -(2**31), 41, -41, 40, -40, 0, 123456], dtype=torch.int32)
    indexes = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1], dtype=torch.int32)
    roundtrip(symbols, indexes, cdfs, lengths, offsets)


def test_lists_like_compressai() -> None:
    cdfs, lengths, offsets = laplace_tables([1.0, 3.0])
    ragged = [cdfs[0].tolist(), cdfs[1].tolist()[:50] + [65536]]
    lengths = [len(ragged[0]), len(ragged[1])]
    symbols, indexes = [0, 3, -5, 9, 100], [0, 1, 1, 0, 1]
    data = rans_encode(symbols, indexes, ragged, lengths, offsets.tolist())
    assert rans_decode(data, indexes, ragged, lengths, offsets.tolist()).tolist() == symbols


def test_many_chunks_thread_invariant_and_near_ideal() -> None:
    gen = torch.Generator().manual_seed(0)
    scales = [0.7, 2.0, 6.0]
    cdfs, lengths, offsets = laplace_tables(scales)
    n = 3 * CHUNK_SYMBOLS + 1234
    indexes = torch.randint(0, 3, (n,), generator=gen, dtype=torch.int32)
    scale = torch.tensor(scales)[indexes.long()]
    u = torch.rand(n, generator=gen) - 0.5
    symbols = (-scale * u.sign() * torch.log1p(-2 * u.abs())).round().to(torch.int32)
    streams = roundtrips_on_1_2_3_threads(symbols, indexes, cdfs, lengths, offsets)
    assert streams[0] == streams[1] == streams[2]
    ideal = ideal_bits(symbols, indexes, cdfs, lengths, offsets) / 8
    chunks = -(-n // CHUNK_SYMBOLS)
    assert len(streams[0]) <= ideal * 1.005 + HEADER_BYTES + chunks * CHUNK_OVERHEAD
    assert len(streams[0]) >= ideal


@pytest.mark.parametrize("n", [37, 20_001, CHUNK_SYMBOLS + 37])
def test_lanes_coded_in_halves_on_threads_give_the_one_pass_stream(n) -> None:
    """Where whole chunks would load the threads unevenly (one chunk, or a full one and a sliver), each chunk's
    lanes are coded in two halves and merged: the stream, escapes and a partial last group included, must be the
    one a single pass writes (37 symbols: too few to split, one pass on any thread count)."""
    gen = torch.Generator().manual_seed(n)
    cdfs, lengths, offsets = laplace_tables([0.7, 3.0])
    indexes = torch.randint(0, 2, (n,), generator=gen, dtype=torch.int32)
    symbols = torch.randint(-6, 7, (n,), generator=gen, dtype=torch.int32)
    escapes = torch.randint(0, n, (max(1, n // 50),), generator=gen)
    symbols[escapes] = torch.randint(-5000, 5000, (len(escapes),), generator=gen, dtype=torch.int32)
    streams = roundtrips_on_1_2_3_threads(symbols, indexes, cdfs, lengths, offsets)
    assert streams[0] == streams[1] == streams[2]


# Streams of steep tables (frequencies from 1 to nearly 2**16), in-range runs (the AVX-512 encoder's vector
# groups), escapes (groups handed back to the scalar loop) and offsets at and past the vector path's +-2**30 limit,
# at 1 and 2 threads. The digest is of the streams the scalar-only encoder before the vector one wrote.
_ISA_SCRIPT = """
import hashlib, torch, walloc
from walloc.entropy import quantize_pmf, rans_encode
g = torch.Generator().manual_seed(5)
h = hashlib.sha256()
for rows, n, spread, offset in ((1, 70_000, 3, 0), (7, 2 * 65_536 + 17, 60, -9), (3, 999, 400, 2**30),
                                (2, 5_000, 40, 2**30 + 1)):
    # Steep random pmfs: frequencies from 1 (the quantiser's floor) to nearly 2**16, where the quotient is largest.
    pmf = torch.rand(rows, 120, generator=g, dtype=torch.float64) ** 12
    cdfs = quantize_pmf(pmf)
    lengths = torch.full((rows,), cdfs.shape[1], dtype=torch.int32)
    offsets = torch.full((rows,), offset, dtype=torch.int32)
    indexes = torch.randint(0, rows, (n,), generator=g, dtype=torch.int32)
    low = 0 if spread < 119 else -spread  # wide spreads escape
    values = torch.randint(low, spread, (n,), generator=g)
    symbols = (values + offset).clamp(-2**31, 2**31 - 1).to(torch.int32)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        h.update(rans_encode(symbols, indexes, cdfs, lengths, offsets))
print(walloc.build_info()["cpu_isa"], h.hexdigest())
"""
_ISA_DIGEST = "3332f24044c107c680d9d2d0c5d4ebaa7eee982285f6dcbbe1f0a9cd78231780"


def test_every_cpu_instruction_set_writes_the_same_bytes(on_every_isa) -> None:
    outputs = on_every_isa(_ISA_SCRIPT)
    assert set(outputs.values()) == {_ISA_DIGEST}, outputs


# Runs of one row (groups of 16 symbols that share a table take the encoder's one-row path, unless one escapes),
# rows at and past the one-row path's offset limit (+-2**30) and a row with a zero frequency, escapes up to the
# int32 extremes. The digest is of the streams the encoder wrote before it had a one-row path.
_ONE_ROW_SCRIPT = """
import hashlib, torch, walloc
from walloc.entropy import quantize_pmf, rans_decode, rans_encode
g = torch.Generator().manual_seed(7)
cdfs = quantize_pmf(torch.rand(4, 120, generator=g, dtype=torch.float64) ** 12)
cdfs[3, 6] = cdfs[3, 5]  # row 3: value 5 has zero frequency (never coded)
lengths = torch.full((4,), cdfs.shape[1], dtype=torch.int32)
offsets = torch.tensor([-2**30, 2**30, 2**30 + 1, -7], dtype=torch.int32)
runs = torch.randint(1, 65, (4000,), generator=g)
indexes = torch.randint(0, 4, (4000,), generator=g, dtype=torch.int32).repeat_interleave(runs)
n = indexes.numel()
values = torch.randint(0, 119, (n,), generator=g)
values[(indexes == 3) & (values == 5)] = 6
escapes = torch.randperm(n, generator=g)[: n // 40]  # distinct: a repeated index would take either value
values[escapes] = torch.tensor([-2**32, -5000, -1, 119, 120, 5000, 2**32])[torch.randint(0, 7, (n // 40,), generator=g)]
symbols = (values + offsets[indexes.long()]).clamp(-2**31, 2**31 - 1).to(torch.int32)
h = hashlib.sha256()
for threads in (1, 2):
    torch.set_num_threads(threads)
    data = rans_encode(symbols, indexes, cdfs, lengths, offsets)
    assert torch.equal(rans_decode(data, indexes, cdfs, lengths, offsets), symbols)
    h.update(data)
print(walloc.build_info()["cpu_isa"], h.hexdigest())
"""
_ONE_ROW_DIGEST = "61e9f8641d177f1b25d08f7da251df961a043869a5e0dcfe90aca0d833c7b649"


def test_groups_of_one_row_write_the_same_bytes_on_every_isa(on_every_isa) -> None:
    outputs = on_every_isa(_ONE_ROW_SCRIPT)
    assert set(outputs.values()) == {_ONE_ROW_DIGEST}, outputs


def test_bad_tables_and_arguments_raise_value_error() -> None:
    cdfs, lengths, offsets = laplace_tables([1.0])
    sym = torch.zeros(4, dtype=torch.int32)
    with pytest.raises(ValueError, match="not a valid cdf row"):
        rans_encode(sym, sym + 1, cdfs, lengths, offsets)
    bad = cdfs.clone()
    bad[0, -1] = 60000
    with pytest.raises(ValueError, match="65536"):
        rans_encode(sym, sym, bad, lengths, offsets)
    with pytest.raises(ValueError, match="same size"):
        rans_encode(sym, sym[:3], cdfs, lengths, offsets)
    with pytest.raises(ValueError, match="integers"):
        rans_encode(sym.float(), sym, cdfs, lengths, offsets)
    with pytest.raises(TypeError):
        rans_decode("text", sym, cdfs, lengths, offsets)


def test_corrupt_streams_raise_bitstream_error() -> None:
    cdfs, lengths, offsets = laplace_tables([1.0, 4.0])
    gen = torch.Generator().manual_seed(1)
    indexes = torch.randint(0, 2, (20_000,), generator=gen, dtype=torch.int32)
    symbols = (torch.randn(20_000, generator=gen) * 3).round().to(torch.int32)
    data = rans_encode(symbols, indexes, cdfs, lengths, offsets)
    cases = {
        "empty": b"",
        "4 bytes": data[:4],
        "last word dropped": data[:-2],
        "cut in half": data[: len(data) // 2],
        "trailing byte": data + b"\0",
        "wrong count": rans_encode(symbols[:-1], indexes[:-1], cdfs, lengths, offsets),
    }
    rng = np.random.default_rng(0)
    for k in range(200):
        flipped = bytearray(data)
        pos = int(rng.integers(0, len(data)))
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        cases[f"bit flip {k} at {pos}"] = bytes(flipped)
    silent = []
    for name, bad in cases.items():
        try:
            out = rans_decode(bad, indexes, cdfs, lengths, offsets)
        except walloc.BitstreamError:
            continue
        if not torch.equal(out, symbols):
            silent.append(name)
    # A flipped bit may land where it changes nothing decodable (never observed); a wrong answer must not pass.
    assert not silent, f"corruptions decoded to wrong symbols without an error: {silent}"
    assert issubclass(walloc.BitstreamError, ValueError)


requires_cuda = pytest.mark.skipif(not walloc.cuda_available(), reason="no CUDA device visible to walloc here")


@requires_cuda
def test_cuda_bytes_identical_to_cpu_both_ways() -> None:
    gen = torch.Generator().manual_seed(5)
    cdfs, lengths, offsets = laplace_tables([0.5, 2.0, 9.0])
    for n in (0, 1, 17, 2 * CHUNK_SYMBOLS + 999):
        indexes = torch.randint(0, 3, (n,), generator=gen, dtype=torch.int32)
        symbols = (torch.randn(n, generator=gen) * 6).round().to(torch.int32)
        symbols[: min(n, 3)] = torch.tensor([100, -100, 2**31 - 1], dtype=torch.int32)[: min(n, 3)]
        cpu = rans_encode(symbols, indexes, cdfs, lengths, offsets)
        gpu = rans_encode(symbols.cuda(), indexes.cuda(), cdfs, lengths, offsets)
        assert cpu == gpu
        decoded = rans_decode(cpu, indexes.cuda(), cdfs, lengths, offsets)
        assert decoded.is_cuda and torch.equal(decoded.cpu(), symbols)
        assert torch.equal(rans_decode(gpu, indexes, cdfs, lengths, offsets), symbols)


@requires_cuda
def test_cuda_corrupt_streams_raise() -> None:
    cdfs, lengths, offsets = laplace_tables([1.0])
    indexes = torch.zeros(50_000, dtype=torch.int32)
    symbols = (torch.randn(50_000) * 2).round().to(torch.int32)
    data = rans_encode(symbols, indexes, cdfs, lengths, offsets)
    for k in range(50):
        bad = bytearray(data)
        bad[40 + 97 * k] ^= 1 << (k % 8)
        try:
            out = rans_decode(bytes(bad), indexes.cuda(), cdfs, lengths, offsets)
        except walloc.BitstreamError:
            continue
        assert torch.equal(out.cpu(), symbols)


@requires_cuda
def test_cuda_and_cpu_reject_corrupt_streams_in_the_same_words() -> None:
    # The status messages are defined once (csrc/entropy/rans.h) and both decoders report the failure that comes
    # first in symbol order, so a damaged stream reads the same on either device.
    cdfs, lengths, offsets = laplace_tables([1.0, 4.0], half_width=8)
    gen = torch.Generator().manual_seed(2)
    indexes = torch.randint(0, 2, (CHUNK_SYMBOLS + 5000,), generator=gen, dtype=torch.int32)
    symbols = (torch.randn(indexes.numel(), generator=gen) * 6).round().to(torch.int32)  # some escapes
    data = rans_encode(symbols, indexes, cdfs, lengths, offsets)
    rng = np.random.default_rng(3)
    for _ in range(100):
        bad = bytearray(data)
        bad[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
        messages = []
        for device_indexes in (indexes, indexes.cuda()):
            try:
                rans_decode(bytes(bad), device_indexes, cdfs, lengths, offsets)
                messages.append(None)
            except walloc.BitstreamError as err:
                messages.append(str(err))
        assert messages[0] == messages[1]
