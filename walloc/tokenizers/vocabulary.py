"""Token ids for byte streams: the 256 byte values plus BOS/EOS, optionally merged by byte-level BPE.

BPE uses Hugging Face ``tokenizers`` (a well-kept implementation) on strings whose characters stand for bytes
one to one (byte b is the character U+0100 + b), with no normaliser and no pre-tokeniser, so merges may span
any bytes and decoding is exact.
"""

from __future__ import annotations

import operator
from typing import Iterable, Sequence

from ..errors import BitstreamError

BYTE_BASE = 0x100
SPECIAL_TOKENS = ("<bos>", "<eos>")


def bytes_to_text(data: bytes) -> str:
    return "".join(chr(BYTE_BASE + b) for b in data)


def text_to_bytes(text: str) -> bytes:
    return bytes(ord(c) - BYTE_BASE for c in text)


class ByteVocabulary:
    """ids <-> bytes. Without BPE: ids 0-255 are bytes, 256 is BOS, 257 is EOS."""

    def __init__(self, bpe=None) -> None:
        self.bpe = bpe  # a tokenizers.Tokenizer, or None for plain bytes
        if bpe is None:
            self.bos, self.eos, self.size = 256, 257, 258
            self._token_bytes = None
        else:
            self.bos = bpe.token_to_id(SPECIAL_TOKENS[0])
            self.eos = bpe.token_to_id(SPECIAL_TOKENS[1])
            self.size = bpe.get_vocab_size()
            if self.bos is None or self.eos is None:
                raise ValueError("the BPE tokenizer lacks the <bos>/<eos> special tokens")
            vocab = bpe.get_vocab()
            self._token_bytes = [b""] * self.size
            for token, i in vocab.items():
                if token not in SPECIAL_TOKENS:
                    if any(not BYTE_BASE <= ord(c) < BYTE_BASE + 256 for c in token):
                        raise ValueError(f"token {token!r} is not made of byte characters")
                    self._token_bytes[i] = text_to_bytes(token)

    @classmethod
    def train(cls, streams: Iterable[bytes], vocab_size: int) -> "ByteVocabulary":
        """Byte-level BPE with ``vocab_size`` ids in all (256 bytes, BOS, EOS and the merges)."""
        from tokenizers import Tokenizer, models, trainers

        if vocab_size < 258:
            raise ValueError(f"vocab_size must be at least 258 (256 bytes + BOS + EOS), got {vocab_size}")
        tokenizer = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=[chr(BYTE_BASE + b) for b in range(256)],
            show_progress=False,
        )
        tokenizer.train_from_iterator((bytes_to_text(s) for s in streams), trainer)
        return cls(tokenizer)

    @classmethod
    def from_json(cls, text: str | None) -> "ByteVocabulary":
        if text is None:
            return cls()
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))

    def to_json(self) -> str | None:
        return None if self.bpe is None else self.bpe.to_str()

    def encode(self, data: bytes) -> list[int]:
        body = list(data) if self.bpe is None else self.bpe.encode(bytes_to_text(data)).ids
        return [self.bos] + body + [self.eos]

    def encode_batch(self, streams: Sequence[bytes]) -> list[list[int]]:
        if self.bpe is None:
            return [self.encode(s) for s in streams]
        encoded = self.bpe.encode_batch([bytes_to_text(s) for s in streams])
        return [[self.bos] + e.ids + [self.eos] for e in encoded]

    def decode(self, ids: Iterable[int], strict: bool = False) -> bytes:
        """Bytes of the ids between BOS and EOS (either may be missing). strict: any id outside the vocabulary,
        or content outside one BOS ... EOS span, raises BitstreamError; otherwise such ids are dropped."""
        ids = list(ids)
        out = bytearray()
        started = ended = False
        for position, i in enumerate(ids):
            if not isinstance(i, int) or isinstance(i, bool):
                try:
                    i = operator.index(i)  # Python, NumPy and 0-d tensor integers; never floats or strings
                except TypeError:
                    if strict:
                        raise BitstreamError(f"token {position} is not an integer id") from None
                    continue
            if i == self.bos:
                if strict and (started or out):
                    raise BitstreamError(f"unexpected BOS at token {position}")
                started = True
                continue
            if i == self.eos:
                ended = True
                if strict and position != len(ids) - 1:
                    raise BitstreamError(f"{len(ids) - 1 - position} tokens after EOS")
                break
            if not 0 <= i < self.size:
                if strict:
                    raise BitstreamError(f"token {position} has id {i}, outside the vocabulary of {self.size}")
                continue
            out += bytes([i]) if self._token_bytes is None else self._token_bytes[i]
        if strict and not (started and ended):
            raise BitstreamError("token sequence is not one BOS ... EOS span")
        return bytes(out)
