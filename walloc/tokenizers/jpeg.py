"""JPEG-byte tokenization (JPEG-LM, Han et al. 2024): images as the bytes of canonical JPEG files.

Canonical JPEG: RGB, shorter side resized to ``size`` (bicubic) and centre-cropped to size x size, Pillow's
baseline encoder at ``quality`` with the given chroma subsampling and a restart marker after every MCU
(``restart_marker_blocks=1``). The quantization (DQT) and Huffman (DHT) tables are the same for every such
file: they are stripped from each stream, kept once in the tokenizer, and re-inserted before decoding, so
``insert_tables(strip_tables(jpeg)) == jpeg`` byte for byte.

Decoding generated ids is robust: with ``strict=False`` any sequence gives an image (the canonical header is
rebuilt around whatever scan data the ids hold, and damaged MCUs stay local thanks to the restart markers; if
nothing decodes, a mid-grey image); with ``strict=True`` anything but a well-formed canonical stream raises
:class:`walloc.BitstreamError`.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageFile

from ..errors import BitstreamError
from .vocabulary import ByteVocabulary

SOI, EOI, SOS, DQT, DHT = 0xD8, 0xD9, 0xDA, 0xDB, 0xC4
RST0 = 0xD0
SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
_MCU_SIZE = {"4:4:4": (8, 8), "4:2:2": (8, 16), "4:2:0": (16, 16)}
_TRUNCATED_LOCK = threading.Lock()  # Pillow's LOAD_TRUNCATED_IMAGES is a global switch


def to_rgb_image(image) -> Image.Image:
    """PIL images, HWC uint8 arrays, CHW tensors (float in [0, 1] or uint8), or paths, as an RGB PIL image."""
    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            return im.convert("RGB")
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if hasattr(image, "detach"):  # a torch tensor, channels first
        t = image.detach().cpu()
        if t.dim() != 3:
            raise ValueError(f"image tensors must be (C, H, W), got shape {tuple(t.shape)}")
        array = t.permute(1, 2, 0).numpy()
        if array.dtype != np.uint8:
            array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
        image = array
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"image arrays must be uint8 (H, W) or (H, W, C), got {array.dtype} {array.shape}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array).convert("RGB")


def _segments(data: bytes, start: int = 2) -> list[tuple[int, int, int]]:
    """(marker, offset, end) of the header segments after SOI, up to and including SOS. Raises BitstreamError."""
    out = []
    i = start
    while True:
        if i + 4 > len(data) or data[i] != 0xFF:
            raise BitstreamError(f"malformed JPEG header at byte {i}")
        marker = data[i + 1]
        if marker in (SOI, EOI) or RST0 <= marker <= RST0 + 7:
            raise BitstreamError(f"unexpected marker FF{marker:02X} in the JPEG header at byte {i}")
        end = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if end > len(data) or end < i + 4:
            raise BitstreamError(f"JPEG segment FF{marker:02X} at byte {i} runs past the end")
        out.append((marker, i, end))
        if marker == SOS:
            return out
        i = end


def _split_restarts(scan: bytes) -> list[bytes]:
    parts, start, i = [], 0, scan.find(b"\xff")
    while i != -1:
        if RST0 <= scan[i + 1] <= RST0 + 7:
            parts.append(scan[start:i])
            start = i + 2
        i = scan.find(b"\xff", i + 2)
    return parts + [scan[start:]]


class _HuffmanChecker:
    """Decodes the Huffman codes of baseline scan data (not the pixels) to prove that each restart interval
    holds exactly its MCUs: valid codes, at most 64 coefficients per block, and only 1-bit padding after."""

    def __init__(self, header: bytes) -> None:
        self.tables: dict[tuple[int, int], dict[tuple[int, int], int]] = {}
        sampling, selectors = {}, []
        for marker, start, end in _segments(header):
            body = header[start + 4 : end]
            if marker == DHT:
                i = 0
                while i < len(body):
                    kind, ident = body[i] >> 4, body[i] & 15
                    counts, symbols, codes, code = body[i + 1 : i + 17], iter(body[i + 17 :]), {}, 0
                    for length, count in enumerate(counts, start=1):
                        for _ in range(count):
                            codes[(length, code)] = next(symbols)
                            code += 1
                        code <<= 1
                    self.tables[(kind, ident)] = codes
                    i += 17 + sum(counts)
            elif marker == 0xC0:  # SOF0: component id -> blocks per MCU
                for c in range(body[5]):
                    ident, factors = body[6 + 3 * c], body[7 + 3 * c]
                    sampling[ident] = (factors >> 4) * (factors & 15)
            elif marker == SOS:
                for c in range(body[0]):
                    ident, tables = body[1 + 2 * c], body[2 + 2 * c]
                    selectors.append((sampling[ident], tables >> 4, tables & 15))
        # One MCU: for each component, its blocks, each with (DC table, AC table).
        self.mcu = [(dc, ac) for blocks, dc, ac in selectors for _ in range(blocks)]

    def check_interval(self, data: bytes, mcus: int, where: int) -> None:
        bits = "".join(f"{b:08b}" for b in data.replace(b"\xff\x00", b"\xff"))
        pos = 0

        def symbol(table) -> int:
            nonlocal pos
            for length in range(1, 17):
                value = table.get((length, int(bits[pos : pos + length] or "0", 2)))
                if value is not None and pos + length <= len(bits):
                    pos += length
                    return value
            raise BitstreamError(f"invalid Huffman code in restart interval {where}")

        for _ in range(mcus):
            for dc, ac in self.mcu:
                size = symbol(self.tables[(0, dc)])  # read before `pos +=`: symbol() moves pos itself
                pos += size
                k = 1
                while k < 64:
                    rs = symbol(self.tables[(1, ac)])
                    run, size = rs >> 4, rs & 15
                    if size == 0 and run != 15:
                        break
                    k += run + 1
                    pos += size
                if k > 64 or pos > len(bits):
                    raise BitstreamError(f"block overruns its data in restart interval {where}")
        rest = bits[pos:]
        if len(rest) >= 8 or rest.count("0"):
            raise BitstreamError(f"restart interval {where} holds more than its MCUs")


class JpegTokenizer:
    """Images <-> token ids through canonical JPEG bytes (bytes-level, or merged with byte-level BPE)."""

    def __init__(self, size: int = 256, quality: int = 25, subsampling: str = "4:2:0", restart: bool = True,
                 vocab=None) -> None:
        if subsampling not in SUBSAMPLING:
            raise ValueError(f"subsampling must be one of {list(SUBSAMPLING)}, got {subsampling!r}")
        mcu_h, mcu_w = _MCU_SIZE[subsampling]
        if size < 16 or size % mcu_h or size % mcu_w:
            raise ValueError(f"size must be a positive multiple of the {mcu_w}x{mcu_h} MCU, got {size}")
        if not 1 <= quality <= 100:
            raise ValueError(f"quality must be in [1, 100], got {quality}")
        self.size, self.quality, self.subsampling, self.restart = size, quality, subsampling, restart
        self.mcus = (size // mcu_h) * (size // mcu_w)
        self.vocab = vocab if isinstance(vocab, ByteVocabulary) else ByteVocabulary.from_json(
            Path(vocab).read_text() if isinstance(vocab, Path) else vocab)
        # The fixed parts of every canonical file, read off one: tables, and the header without them.
        reference = self._save(Image.new("RGB", (size, size), (128, 128, 128)))
        self._tables, self._stripped_header = self._split_header(reference)
        self._huffman = _HuffmanChecker(self._full_header())

    # -- canonical files --------------------------------------------------------------------------------------
    def _save(self, image: Image.Image) -> bytes:
        options = {"quality": self.quality, "subsampling": SUBSAMPLING[self.subsampling], "optimize": False}
        if self.restart:
            options["restart_marker_blocks"] = 1
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", **options)
        return buffer.getvalue()

    def _split_header(self, jpeg: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
        """Tables as (position among the kept segments, segment bytes), and the header without them."""
        tables, kept = [], [jpeg[:2]]
        for marker, start, end in _segments(jpeg):
            if marker in (DQT, DHT):
                tables.append((len(kept), jpeg[start:end]))
            else:
                kept.append(jpeg[start:end])
        return tables, b"".join(kept)

    def prepare(self, image) -> Image.Image:
        """The image the tokenizer encodes: RGB, shorter side resized to size (bicubic), centre-cropped."""
        im = to_rgb_image(image)
        scale = self.size / min(im.size)
        resized = im.resize((max(self.size, round(im.width * scale)), max(self.size, round(im.height * scale))),
                            Image.Resampling.BICUBIC)
        left, top = (resized.width - self.size) // 2, (resized.height - self.size) // 2
        cropped = resized.crop((left, top, left + self.size, top + self.size))
        cropped.info = {}  # no ICC profile, DPI or EXIF of the source may reach the canonical file
        return cropped

    def canonical_jpeg(self, image) -> bytes:
        """The canonical JPEG file of an image (prepared, then encoded)."""
        return self._save(self.prepare(image))

    def strip_tables(self, jpeg: bytes) -> bytes:
        """The canonical file without its DQT and DHT segments (they must be this tokenizer's tables)."""
        tables, header = self._split_header(jpeg)
        if tables != self._tables or header != self._stripped_header:
            raise ValueError("not a canonical JPEG of this tokenizer (different tables or header)")
        return header + jpeg[len(header) + sum(len(t) for _, t in tables):]

    def insert_tables(self, stripped: bytes) -> bytes:
        """Re-inserts the stored tables into a stripped stream's header (the inverse of strip_tables)."""
        header = self._stripped_header
        if not stripped.startswith(header):
            raise BitstreamError("the stream does not start with the canonical stripped header")
        return self._full_header() + stripped[len(header):]

    def _full_header(self) -> bytes:
        parts = [self._stripped_header[:2]]
        segments = [self._stripped_header[s:e] for _, s, e in _segments(self._stripped_header)]
        tables = dict()
        for position, table in self._tables:
            tables.setdefault(position, []).append(table)
        for position, segment in enumerate(segments, start=1):
            parts += tables.get(position, [])
            parts.append(segment)
        return b"".join(parts)

    # -- tokens ---------------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def encode(self, image) -> list[int]:
        """Token ids of an image: BOS, the stripped canonical JPEG, EOS."""
        return self.vocab.encode(self.strip_tables(self.canonical_jpeg(image)))

    def batch_encode(self, images: Iterable) -> list[list[int]]:
        return self.vocab.encode_batch([self.strip_tables(self.canonical_jpeg(im)) for im in images])

    def decode(self, ids: Sequence[int], strict: bool = False) -> Image.Image:
        """An RGB size x size image from token ids (see the module docstring for strict and best effort)."""
        data = self.vocab.decode(ids, strict=strict)
        if strict:
            return self._decode_strict(data)
        try:
            return self._decode_best_effort(data)
        except (OSError, ValueError, SyntaxError, IndexError):
            return Image.new("RGB", (self.size, self.size), (128, 128, 128))

    def _decode_strict(self, data: bytes) -> Image.Image:
        header = self._stripped_header
        if not data.startswith(header) or not data.endswith(bytes([0xFF, EOI])):
            raise BitstreamError("not a canonical stripped JPEG: header or EOI missing")
        self._check_scan(data[len(header) : -2])
        try:
            with Image.open(io.BytesIO(self.insert_tables(data))) as im:
                return im.convert("RGB")
        except (OSError, ValueError, SyntaxError) as err:
            raise BitstreamError(f"JPEG decoding failed: {err}") from None

    def _check_scan(self, scan: bytes) -> None:
        """Entropy-coded data: only stuffed FF00 and, with restarts, RST0-7 in order between every two MCUs."""
        expected, i = 0, scan.find(b"\xff")
        while i != -1:
            if i + 1 >= len(scan):
                raise BitstreamError("scan data ends inside a marker")
            marker = scan[i + 1]
            if marker != 0x00:
                if not self.restart or marker != RST0 + expected % 8:
                    raise BitstreamError(f"unexpected marker FF{marker:02X} in the scan data")
                expected += 1
            i = scan.find(b"\xff", i + 2)
        if self.restart and expected != self.mcus - 1:
            raise BitstreamError(f"scan has {expected} restart markers, a {self.size}x{self.size} image needs "
                                 f"{self.mcus - 1}")
        intervals = [scan] if not self.restart else _split_restarts(scan)
        for n, interval in enumerate(intervals):
            self._huffman.check_interval(interval, 1 if self.restart else self.mcus, n)

    def _decode_best_effort(self, data: bytes) -> Image.Image:
        scan = self._scan_data(data)
        jpeg = self._full_header() + scan + bytes([0xFF, EOI])
        with _TRUNCATED_LOCK:
            previous = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = True
            try:
                with Image.open(io.BytesIO(jpeg)) as im:
                    image = im.convert("RGB")
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = previous
        return image

    def _scan_data(self, data: bytes) -> bytes:
        """Whatever scan data the bytes hold: after the header's SOS segment (or after SOI if the header is
        unreadable), up to EOI. The header itself is never trusted: the canonical one replaces it."""
        soi = data.find(bytes([0xFF, SOI]))
        body = data[soi:] if soi >= 0 else bytes([0xFF, SOI]) + data
        try:
            start = _segments(body)[-1][2]
        except BitstreamError:
            sos = body.find(bytes([0xFF, SOS]))
            start = 2 if sos < 0 else sos + 2 + int.from_bytes(body[sos + 2 : sos + 4].ljust(2, b"\0"), "big")
        eoi = body.find(bytes([0xFF, EOI]), start)
        return body[start : eoi if eoi >= 0 else len(body)]

    # -- BPE and persistence --------------------------------------------------------------------------------
    def train_bpe(self, images: Iterable, vocab_size: int) -> "JpegTokenizer":
        """Trains byte-level BPE on the stripped canonical JPEGs of ``images``; returns self."""
        self.vocab = ByteVocabulary.train((self.strip_tables(self.canonical_jpeg(im)) for im in images), vocab_size)
        return self

    def save(self, path) -> None:
        settings = {"size": self.size, "quality": self.quality, "subsampling": self.subsampling,
                    "restart": self.restart, "vocab": self.vocab.to_json(), "format": "walloc-jpeg-tokenizer-1"}
        Path(path).write_text(json.dumps(settings))

    @classmethod
    def load(cls, path) -> "JpegTokenizer":
        settings = json.loads(Path(path).read_text())
        if settings.pop("format", None) != "walloc-jpeg-tokenizer-1":
            raise ValueError(f"{path} is not a saved walloc JpegTokenizer")
        return cls(**settings)
