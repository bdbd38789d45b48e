"""Byte-stream tokenizers for autoregressive image and video models (JPEG-LM, AVC-LM)."""

from .avc import AvcTokenizer
from .jpeg import JpegTokenizer
from .vocabulary import ByteVocabulary

__all__ = ["AvcTokenizer", "ByteVocabulary", "JpegTokenizer"]
