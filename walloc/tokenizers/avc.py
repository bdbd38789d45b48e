"""AVC-byte tokenization (as in JPEG-LM's AVC-LM): short clips as the bytes of a canonical H.264 stream.

Canonical stream: frames resized to 256x144, x264 baseline profile, constant QP 37, no B-frames, one
macroblock per slice (so damage stays local), Annex-B byte stream, through PyAV. Token ids as for JPEG:
bytes (plus BOS/EOS), optionally merged with byte-level BPE (1024 ids in the paper).
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Iterable, Sequence

import numpy as np
import torch

from ..errors import BitstreamError
from .jpeg import to_rgb_image
from .vocabulary import ByteVocabulary


class AvcTokenizer:
    """Clips (T, H, W, 3) uint8 <-> token ids through canonical H.264 Annex-B bytes."""

    def __init__(self, width: int = 256, height: int = 144, fps: int = 3, qp: int = 37, vocab=None) -> None:
        if width % 16 or height % 16 or width <= 0 or height <= 0:
            raise ValueError(f"width and height must be positive multiples of 16, got {width}x{height}")
        if not 0 <= qp <= 51:
            raise ValueError(f"qp must be in [0, 51], got {qp}")
        self.width, self.height, self.fps, self.qp = width, height, fps, qp
        self.vocab = vocab if isinstance(vocab, ByteVocabulary) else ByteVocabulary.from_json(vocab)

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def _frames(self, frames) -> list[np.ndarray]:
        if isinstance(frames, torch.Tensor):
            frames = frames.detach().cpu().numpy()
        if isinstance(frames, np.ndarray) and frames.ndim != 4:
            raise ValueError(f"frames must be (T, H, W, 3) uint8, got shape {frames.shape}")
        out = []
        for frame in frames:
            image = to_rgb_image(frame).resize((self.width, self.height))
            out.append(np.asarray(image))
        if not out:
            raise ValueError("no frames to encode")
        return out

    def canonical_stream(self, frames) -> bytes:
        """The canonical Annex-B H.264 bytes of a clip."""
        import av

        buffer = io.BytesIO()
        with av.open(buffer, mode="w", format="h264") as container:
            stream = container.add_stream("libx264", rate=Fraction(self.fps))
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.options = {"profile": "baseline", "qp": str(self.qp), "bframes": "0",
                              "x264-params": "slice-max-mbs=1:threads=1"}
            for array in self._frames(frames):
                for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return buffer.getvalue()

    def encode(self, frames) -> list[int]:
        return self.vocab.encode(self.canonical_stream(frames))

    def batch_encode(self, clips: Iterable) -> list[list[int]]:
        return self.vocab.encode_batch([self.canonical_stream(c) for c in clips])

    def decode(self, ids: Sequence[int], strict: bool = False) -> torch.Tensor:
        """Frames (T, height, width, 3) uint8. strict=False: whatever frames decode (possibly none);
        strict=True: ids outside one BOS ... EOS span, an error FFmpeg reports, a wrong frame size or no frame
        raise BitstreamError. H.264 has no checksums and FFmpeg conceals most damage, so a stream that
        decodes without a report is accepted."""
        import av

        data = self.vocab.decode(ids, strict=strict)
        frames = []
        try:
            with av.open(io.BytesIO(data), format="h264") as container:
                for frame in container.decode(video=0):
                    array = frame.to_ndarray(format="rgb24")
                    if array.shape != (self.height, self.width, 3):
                        if strict:
                            raise BitstreamError(f"frame of {array.shape[1]}x{array.shape[0]}, expected "
                                                 f"{self.width}x{self.height}")
                        continue
                    frames.append(array)
        except (av.error.FFmpegError, ValueError, OSError) as err:
            if strict:
                raise BitstreamError(f"H.264 decoding failed: {err}") from None
        if strict and not frames:
            raise BitstreamError("no frame decoded")
        if not frames:
            return torch.zeros(0, self.height, self.width, 3, dtype=torch.uint8)
        return torch.from_numpy(np.stack(frames))

    def train_bpe(self, clips: Iterable, vocab_size: int) -> "AvcTokenizer":
        self.vocab = ByteVocabulary.train((self.canonical_stream(c) for c in clips), vocab_size)
        return self
