"""The codec interface every walloc codec implements (:class:`Codec`), and what codecs with fixed trained
weights share (:class:`TrainedCodec`): the model, its fingerprint, and the container holding their streams."""

from __future__ import annotations

import abc
import contextlib
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor, nn

from .. import bitstream
from ..devices import as_device
from ..entropy import adaptive, predictive
from ..errors import BitstreamError
from .package import weights_fingerprint, write_folder


class Codec(abc.ABC):
    """A walloc codec: ``encode``/``decode`` map media to continuous latents and back (for compressed learning),
    ``compress``/``decompress`` map media to a walloc bitstream (bytes) and back.

    - ``name``: the codec's name (``walloc.load(name)`` for trained codecs); ``kind``: ``"image"``, ``"audio"``
      or ``"video"``; ``container_id``: the id its streams carry in the walloc container; ``device``.
    - ``quantized_latents(data)``: the integer latents a stream holds, as the decoder sees them.
    - ``rate(data)``: the stream's size and rate (``bytes``, plus ``bpp``, ``kbps``, ``bits_per_frame`` as
      they apply); a class method, so it needs no weights.
    """

    kind: str
    container_id: str

    def __init__(self, name: str, device=None) -> None:
        self.name = name
        self.device = as_device(device)

    def to(self, device) -> "Codec":
        """Moves the codec's computation to ``device``; returns the codec."""
        self.device = as_device(device)
        return self

    def _describe(self) -> dict:
        """What ``repr`` shows between the name and the device."""
        return {}

    def __repr__(self) -> str:
        fields = {"name": self.name, **self._describe(), "device": str(self.device)}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"

    @abc.abstractmethod
    def encode(self, media, **options) -> Tensor:
        """Continuous latents of ``media``."""

    @abc.abstractmethod
    def decode(self, latents: Tensor, **options) -> Tensor:
        """Media from latents (continuous or quantized)."""

    @abc.abstractmethod
    def compress(self, media, **options) -> bytes:
        """A walloc bitstream of ``media``."""

    @abc.abstractmethod
    def decompress(self, data: bytes, **options) -> Tensor:
        """The media of a bitstream written by :meth:`compress`."""

    @abc.abstractmethod
    def quantized_latents(self, data: bytes) -> Tensor:
        """The integer latents of a bitstream."""

    @classmethod
    def rate(cls, data: bytes) -> dict:
        """``{"bytes": ..., and the rates that apply}`` of a stream of this codec kind, from its header."""
        return {"bytes": len(data), **cls._rates(cls.unpack(data), len(data))}

    @classmethod
    @abc.abstractmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        """The rates of a stream of ``nbytes`` from its verified container."""

    @classmethod
    def unpack(cls, data: bytes) -> bitstream.Container:
        """The verified container of a stream of this codec kind (BitstreamError otherwise)."""
        return bitstream.unpack(data, cls.container_id)

    @classmethod
    @abc.abstractmethod
    def from_stream(cls, data: bytes, device=None) -> "Codec":
        """A codec that can decode ``data`` (loaded by the name in its header, or rebuilt from the stream)."""


class TrainedCodec(Codec):
    """A codec with fixed trained weights (``model``). Its streams name the codec and fingerprint its weights,
    so a stream never decodes with other weights. A stream holds the coded latents, then any of the codec's
    ``extra_streams`` (named in the header's ``"extras"``, in order)."""

    extra_streams: frozenset[str] = frozenset()

    def __init__(self, name: str, model: nn.Module, device=None) -> None:
        super().__init__(name, device)
        self.model = model.eval().requires_grad_(False)
        self.fingerprint = weights_fingerprint(self.model)
        #: The ``config.json`` of the codec folder this codec was loaded from (None when built in code).
        self.folder_config: dict | None = None
        self.to(self.device)

    def to(self, device) -> "TrainedCodec":
        super().to(device)
        self.model.to(self.device)
        return self

    @classmethod
    def from_folder(cls, config: dict, model: nn.Module, device=None, **options) -> "TrainedCodec":
        """The codec of a codec folder's ``config`` and its loaded ``model``; ``options`` go to the class."""
        codec = cls._from_folder(config, model, device, **options)
        codec.folder_config = dict(config)
        return codec

    @classmethod
    def _from_folder(cls, config: dict, model: nn.Module, device=None, **options) -> "TrainedCodec":
        return cls(config["name"], model, device=device, **options)

    def save_pretrained(self, folder: str | Path, card: str | None = None, repo_id: str = "OWNER/REPO") -> Path:
        """Writes the codec as a codec folder (``config.json``, ``weights.safetensors``) with a Hugging Face model
        card (``README.md``: ``card``, or a short one naming the codec and how to load it from ``repo_id``), ready
        to upload (``hf upload OWNER/REPO FOLDER``) and to load with ``walloc.load("hf://OWNER/REPO")``."""
        if self.folder_config is None:
            raise ValueError(f"codec {self.name!r} was built in code, not loaded from a codec folder, so it has no "
                             f"folder config to save; write one with walloc.save_codec")
        folder = write_folder(folder, self.folder_config, self.model.state_dict())
        front = f"---\nlibrary_name: walloc\ntags:\n- walloc\n- compression\n- {self.kind}\n---\n\n"
        body = card or (f"# {self.name}\n\nA walloc {self.kind} codec ({type(self).__name__}, weights "
                        f"{self.fingerprint}).\n\n```python\nimport walloc\n\ncodec = walloc.load(\"hf://{repo_id}\")"
                        f"\n```\n")
        (folder / "README.md").write_text(front + body)
        return folder

    @classmethod
    def from_stream(cls, data: bytes, device=None) -> "TrainedCodec":
        from . import load  # codec modules are imported before the loader, so not at the top

        return load(stream_codec_name(data)[1], device, fingerprint=bitstream.unpack(data).meta.get("fingerprint"))

    def _pack(self, meta: dict, latent_stream: bytes, extras: dict[str, bytes] | None = None) -> bytes:
        """The container of a coded latent stream and ``extras``, with the codec's name and fingerprint."""
        meta = {**meta, "name": self.name, "fingerprint": self.fingerprint}
        if extras:
            meta["extras"] = list(extras)
        return bitstream.pack(self.container_id, meta, [latent_stream, *(extras or {}).values()])

    def _unpack_symbols(self, data: bytes) -> tuple[dict, Tensor, int, dict[str, bytes]]:
        """(header, int32 symbols, their width in bits, extra streams by name) of a stream this codec wrote;
        BitstreamError for anything else."""
        container = self.unpack(data)
        meta = container.meta
        if meta.get("fingerprint") != self.fingerprint:
            raise BitstreamError(f"this stream was written by codec {meta.get('name')!r} "
                                 f"(weights {meta.get('fingerprint')}), not by {self.name!r} "
                                 f"(weights {self.fingerprint}); load that codec to decode it (walloc.decompress "
                                 f"does, where the codec's folder keeps those weights)")
        names = meta.get("extras", [])
        if (not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names)
                or not set(names) <= self.extra_streams
                or len(container.streams) != 1 + len(names)):
            raise BitstreamError(f"corrupt {self.container_id} stream: its streams are not a latent stream and "
                                 f"{', '.join(sorted(self.extra_streams)) or 'nothing else'}")
        extras = dict(zip(names, container.streams[1:]))
        return meta, *decompress_latent_stream(container.streams[0]), extras


@contextlib.contextmanager
def exact_float32(device: torch.device) -> Iterator[None]:
    """Full float32 convolutions on CUDA (no TF32), so latents round to the same symbols on GPU and CPU
    except at exact ties, and decoded media agree across devices to float32 rounding. The flags govern CUDA
    alone, so work on other devices leaves them be (setting them costs tens of microseconds a call)."""
    if device.type != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic,
                     allow_tf32=False):
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous


def decompress_latent_stream(data: bytes) -> tuple[Tensor, int]:
    """(symbols, their width in bits) of a codec stream's latent stream: predictive (written now) or
    adaptive-histogram (written by walloc before the predictive coder; still read). Both decoders check the
    width in the header."""
    container = bitstream.unpack(data)
    if container.container_id == adaptive.CONTAINER_ID:
        symbols = adaptive.decompress_symbols(data)
    else:
        symbols = predictive.decompress_planes(data)
    return symbols, int(container.meta["bits"])


def latent_stream_shape(container: bitstream.Container) -> list[int] | None:
    """The shape of the symbols in a codec stream's latent stream, read from its header (None if absent)."""
    if not container.streams:
        return None
    try:
        shape = bitstream.unpack(container.streams[0]).meta.get("shape")
    except BitstreamError:
        return None
    return shape if isinstance(shape, list) and all(isinstance(s, int) for s in shape) else None


def stream_codec_name(data: bytes) -> tuple[str, str]:
    """(container id, codec name) written in a walloc codec stream's header."""
    container = bitstream.unpack(data)
    name = container.meta.get("name")
    if not isinstance(name, str):
        raise BitstreamError(f"this walloc stream ({container.container_id}) names no codec")
    return container.container_id, name
