"""The one table of codec kinds: each registers, once, its codec class, the ``kind`` its codec folders name in
``config.json``, its model builder and (through the class) its container id. Loading a folder, decoding a
stream of any codec, ``walloc info`` and ``walloc codecs`` all look codecs up here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from torch import nn

from ..errors import BitstreamError

if TYPE_CHECKING:
    from .base import Codec


@dataclass(frozen=True)
class CodecKind:
    """A registered kind: ``folder_kind`` is the ``"kind"`` of its codec folders' ``config.json`` (None for codecs
    that have no folders, such as the video codecs, which fit a network to each video)."""

    codec_class: type[Codec]
    folder_kind: Optional[str]
    build_model: Optional[Callable[[dict], nn.Module]]

    @property
    def container_id(self) -> str:
        return self.codec_class.container_id


_KINDS: list[CodecKind] = []


def register(folder_kind: Optional[str] = None, build_model: Optional[Callable[[dict], nn.Module]] = None):
    """Class decorator: registers a codec class (its ``container_id`` must be new)."""
    def add(codec_class: type[Codec]) -> type[Codec]:
        if any(k.container_id == codec_class.container_id for k in _KINDS):
            raise ValueError(f"container id {codec_class.container_id!r} is registered twice")
        _KINDS.append(CodecKind(codec_class, folder_kind, build_model))
        return codec_class
    return add


def kinds() -> list[CodecKind]:
    return list(_KINDS)


def by_folder_kind(folder_kind: str) -> CodecKind:
    """The kind of a codec folder's ``config.json``; ValueError for an unknown one."""
    for kind in _KINDS:
        if kind.folder_kind == folder_kind:
            return kind
    known = ", ".join(k.folder_kind for k in _KINDS if k.folder_kind)
    raise ValueError(f"unknown codec kind {folder_kind!r} (this walloc knows {known})")


def by_container_id(container_id: str) -> CodecKind:
    """The kind that writes streams of ``container_id``; BitstreamError when no codec writes them."""
    for kind in _KINDS:
        if kind.container_id == container_id:
            return kind
    raise BitstreamError(f"this walloc stream holds {container_id!r}, which is not a codec stream (codec streams: "
                         f"{', '.join(k.container_id for k in _KINDS)})")
