"""A short fuzz pass over every decoder of untrusted bytes (the long one: bench/fuzz_decoders.py)."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import walloc

_spec = importlib.util.spec_from_file_location("fuzz_decoders", Path(__file__).parents[1] / "bench" / "fuzz_decoders.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)
SEEDS = fuzz.seeds()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "splice", "insert", "huge"]))
        if kind == "flip" and data:
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "splice":
            other = draw(st.sampled_from(SEEDS))
            cut = draw(st.integers(0, len(data)))
            data = data[:cut] + other[draw(st.integers(0, len(other))):]
        elif kind == "insert":
            pos = draw(st.integers(0, len(data)))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "huge" and len(data) >= 8:
            pos = draw(st.integers(0, len(data) - 4))
            data[pos : pos + 4] = struct.pack("<I", draw(st.sampled_from([0xFFFFFFFF, 0x7FFFFFFF, 0x10000, 1 << 28])))
    return bytes(data)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_decoders_only_raise_value_errors(data: bytes) -> None:
    fuzz.decode_everything(data)


def test_empty_and_garbage() -> None:
    for data in (b"", b"\x00", b"\x8aWRS", b"\x89WLC" + b"\xff" * 100, bytes(range(256)) * 4):
        fuzz.decode_everything(data)
    assert issubclass(walloc.BitstreamError, ValueError)
