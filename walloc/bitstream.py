"""The walloc container: one versioned, checksummed file format for every codec.

Layout (little-endian)::

    magic        4   89 57 4C 43  ("\\x89WLC": the first byte is not ASCII, so text tools never mistake it)
    version      1   1
    reserved     1   0
    meta_length  4   bytes of the JSON metadata (at most 1 MiB)
    streams      4   number of payload streams (at most 65536)
    total        8   length of the whole container, these 8 bytes and the checksums included
    meta         *   UTF-8 JSON object: "codec" (the container id), shapes, model tables, whatever the writer needs
    directory    8 * streams   length of each stream
    header_crc   4   CRC-32 of everything above
    payload      *   the streams, back to back (entropy-coded chunks carry their own offsets)
    payload_crc  4   CRC-32 of the payload

Anything else raises :class:`walloc.BitstreamError` naming the problem: wrong magic or version, truncation,
trailing bytes, lengths that do not add up, checksum mismatches, metadata that is not a JSON object with a
container id. Every length is checked against the bytes actually present before anything is allocated.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field

from .errors import BitstreamError

MAGIC = b"\x89WLC"
VERSION = 1
MAX_META_BYTES = 1 << 20
MAX_STREAMS = 1 << 16
_FIXED = struct.Struct("<4sBBIIQ")
_CRC = struct.Struct("<I")


@dataclass
class Container:
    """A decoded container: its container id (what wrote it: a codec or an entropy coder), its metadata and its
    payload streams."""

    container_id: str
    meta: dict = field(default_factory=dict)
    streams: list[bytes] = field(default_factory=list)

    @property
    def codec(self) -> str:
        """The container id under the name of its JSON key (``"codec"``), kept for code that reads it so."""
        return self.container_id


def pack(container_id: str, meta: dict | None = None, streams: list[bytes] | None = None) -> bytes:
    """Serialises a container. ``meta`` must be JSON-serialisable; ``container_id`` is stored under
    ``"codec"``."""
    meta = dict(meta or {})
    streams = [bytes(s) for s in (streams or [])]
    if not isinstance(container_id, str) or not container_id:
        raise ValueError("container id must be a non-empty string")
    meta["codec"] = container_id
    meta_bytes = json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()
    if len(meta_bytes) > MAX_META_BYTES:
        raise ValueError(f"container metadata is {len(meta_bytes)} bytes; the limit is {MAX_META_BYTES}")
    if len(streams) > MAX_STREAMS:
        raise ValueError(f"{len(streams)} streams; the limit is {MAX_STREAMS}")
    payload = b"".join(streams)
    total = _FIXED.size + len(meta_bytes) + 8 * len(streams) + _CRC.size + len(payload) + _CRC.size
    header = (
        _FIXED.pack(MAGIC, VERSION, 0, len(meta_bytes), len(streams), total)
        + meta_bytes
        + struct.pack(f"<{len(streams)}Q", *(len(s) for s in streams))
    )
    return b"".join([header, _CRC.pack(zlib.crc32(header)), payload, _CRC.pack(zlib.crc32(payload))])


def unpack(data: bytes, container_id: str | None = None, *, codec: str | None = None) -> Container:
    """Parses and verifies a container; with ``container_id`` given (``codec``, its earlier name), also checks
    that the container has that id."""
    container_id = container_id if container_id is not None else codec
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"a walloc bitstream is bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < _FIXED.size:
        raise BitstreamError(f"truncated walloc stream: {len(data)} bytes is shorter than the {_FIXED.size}-byte header")
    magic, version, reserved, meta_len, n_streams, total = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError("not a walloc stream (bad magic)")
    if version != VERSION or reserved != 0:
        raise BitstreamError(f"unsupported walloc stream version {version} (this walloc reads version {VERSION})")
    if total != len(data):
        kind = "truncated" if total > len(data) else "trailing bytes after the"
        raise BitstreamError(f"{kind} walloc stream: the header declares {total} bytes, {len(data)} are present")
    if meta_len > MAX_META_BYTES or n_streams > MAX_STREAMS:
        raise BitstreamError("corrupt walloc stream: metadata or stream count beyond the format's limits")
    header_end = _FIXED.size + meta_len + 8 * n_streams
    if header_end + 2 * _CRC.size > len(data):
        raise BitstreamError("truncated walloc stream: the header runs past the end")
    (header_crc,) = _CRC.unpack_from(data, header_end)
    if zlib.crc32(data[:header_end]) != header_crc:
        raise BitstreamError("corrupt walloc stream: header checksum mismatch")
    lengths = struct.unpack_from(f"<{n_streams}Q", data, _FIXED.size + meta_len)
    payload_start = header_end + _CRC.size
    payload_end = len(data) - _CRC.size
    if sum(lengths) != payload_end - payload_start:
        raise BitstreamError("corrupt walloc stream: stream lengths do not add up to the payload")
    payload = data[payload_start:payload_end]
    (payload_crc,) = _CRC.unpack_from(data, payload_end)
    if zlib.crc32(payload) != payload_crc:
        raise BitstreamError("corrupt walloc stream: payload checksum mismatch")
    try:
        meta = json.loads(data[_FIXED.size : _FIXED.size + meta_len].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BitstreamError(f"corrupt walloc stream: metadata is not JSON ({err})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("codec"), str):
        raise BitstreamError("corrupt walloc stream: metadata has no codec id")
    if container_id is not None and meta["codec"] != container_id:
        raise BitstreamError(f"this stream holds codec {meta['codec']!r}, not {container_id!r}")
    streams, start = [], 0
    for n in lengths:
        streams.append(payload[start : start + n])
        start += n
    return Container(meta.pop("codec"), meta, streams)
