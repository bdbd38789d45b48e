"""The container: round trips and clear errors for every truncation, trailing byte and bit flip."""

from __future__ import annotations

import pytest

import walloc
from walloc import bitstream


def sample() -> bytes:
    return bitstream.pack("rgb-16x", {"shape": [1, 3, 17, 33], "tables": [1, 2, 3]}, [b"abc", b"", b"\x00" * 100])


def test_roundtrip() -> None:
    c = bitstream.unpack(sample(), codec="rgb-16x")
    assert c.codec == "rgb-16x"
    assert c.meta == {"shape": [1, 3, 17, 33], "tables": [1, 2, 3]}
    assert c.streams == [b"abc", b"", b"\x00" * 100]
    assert bitstream.unpack(bitstream.pack("x")).streams == []


def test_every_truncation_and_trailing_bytes() -> None:
    data = sample()
    for n in range(len(data)):
        with pytest.raises(walloc.BitstreamError):
            bitstream.unpack(data[:n])
    with pytest.raises(walloc.BitstreamError, match="trailing"):
        bitstream.unpack(data + b"\0")


def test_every_bit_flip_is_caught() -> None:
    data = sample()
    for pos in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            with pytest.raises(walloc.BitstreamError):
                bitstream.unpack(bytes(bad))


def test_wrong_codec_and_types() -> None:
    with pytest.raises(walloc.BitstreamError, match="holds codec 'rgb-16x'"):
        bitstream.unpack(sample(), codec="stereo")
    with pytest.raises(walloc.BitstreamError, match="bad magic"):
        bitstream.unpack(b"GIF89a" + bytes(40))
    with pytest.raises(TypeError):
        bitstream.unpack("not bytes")
    with pytest.raises(ValueError):
        bitstream.pack("")
