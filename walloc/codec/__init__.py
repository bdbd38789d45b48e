"""Every walloc codec behind one interface (:class:`Codec`), and the functions that find them:
``walloc.load(name_or_path)``, ``walloc.available_codecs()``, ``walloc.decompress(data)`` (any stream: the codec
is looked up by the container id in the stream, see :mod:`walloc.codec.registry`), ``walloc.load_reference(...)``
and ``walloc.load_music2latent(...)`` (released checkpoints of the reference packages)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .. import bitstream, hub
from . import registry
from .audio import REFERENCE_SAMPLE_RATE, AudioCodec
from .base import Codec, TrainedCodec, stream_codec_name
from .image import ImageCodec
from .music2latent import Music2LatentCodec
from .music2latent2 import Music2Latent2Codec
from .package import (
    CONFIG,
    FORMAT,
    WEIGHTS,
    build_model,
    codec_folders,
    read_codec,
    save_codec,
)
from .video import NervCodec

#: Where ``load_music2latent()`` reads the official checkpoint by default.
MUSIC2LATENT_CHECKPOINT = "hf://SonyCSLParis/music2latent/music2latent.pt"


def available_codecs() -> list[str]:
    """Names of the codecs ``walloc.load`` finds: shipped ones and those on ``WALLOC_CODECS_PATH``."""
    return sorted(codec_folders())


def load(name_or_path: str | Path, device=None, fingerprint: str | None = None, **options) -> TrainedCodec:
    """A codec by name (see :func:`available_codecs`), from a codec folder (``config.json`` + weights), or from
    a codec folder on the Hugging Face Hub, ``hf://OWNER/REPO[@REVISION][/FOLDER]`` (cached; see
    :mod:`walloc.hub`). ``fingerprint``: the earlier weights of that fingerprint where a local folder keeps them
    (what decoding a stream written before an update needs), its current weights otherwise. ``options`` go to
    the codec class (Music2Latent: ``precision``, ``window``, ``overlap``; Music2Latent2: ``precision``)."""
    folders = codec_folders()
    if hub.is_hub_path(name_or_path):
        folder = hub.download_files(hub.parse(name_or_path), [CONFIG, WEIGHTS])
    elif str(name_or_path) in folders:
        folder = folders[str(name_or_path)]
    elif Path(name_or_path).is_dir():
        folder = Path(name_or_path)
    else:
        raise ValueError(f"no codec named {str(name_or_path)!r} and no such codec folder; available codecs: "
                         f"{', '.join(available_codecs()) or 'none'}")
    config, model = read_codec(folder, fingerprint)
    return registry.by_folder_kind(config["kind"]).codec_class.from_folder(config, model, device, **options)


def load_music2latent(checkpoint_path: str | Path = MUSIC2LATENT_CHECKPOINT, device=None,
                      precision: str = "float32", trusted: bool = False) -> Music2LatentCodec:
    """The official Music2Latent checkpoint (``music2latent.pt`` of the music2latent package, CC BY-NC 4.0; walloc
    does not ship it), its ``gen_state_dict`` loaded unchanged: by default from the Hugging Face Hub (cached), or
    from a file or another ``hf://`` address. The file is a pickle: it is read with ``weights_only=True`` unless
    ``trusted`` (only for files from a source you trust)."""
    import pickle

    from ..models.music2latent import Music2LatentModel

    if hub.is_hub_path(checkpoint_path):
        checkpoint_path = hub.download(hub.parse(checkpoint_path))
    try:
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as error:
        raise ValueError(f"{checkpoint_path}: holds more than tensors, so it was not unpickled ({error}); pass "
                         f"trusted=True if you trust its source") from None
    state = checkpoint.get("gen_state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{checkpoint_path}: not a Music2Latent checkpoint (no gen_state_dict)")
    model = Music2LatentModel()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{checkpoint_path}: not the released Music2Latent layout (missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]})")
    config = {"format": FORMAT, "name": Path(checkpoint_path).stem, "kind": "music2latent", "model": {},
              "sample_rate": REFERENCE_SAMPLE_RATE}
    return Music2LatentCodec.from_folder(config, model, device, precision=precision)


def load_reference(checkpoint_path: str | Path, config_path: str | Path | None = None,
                   device=None) -> ImageCodec | AudioCodec:
    """A released WaLLoC checkpoint of the reference package (``{"model_state_dict": ...}`` and its JSON config
    with the ``Codec2D``/``Codec1D`` arguments; by default the ``.json`` beside the checkpoint), loaded unchanged
    into walloc's implementation. ``checkpoint_path`` may be a Hub address: ``hf://danjacobellis/walloc/RGB_16x``
    (the ``.pth`` and ``.json`` of that name, as the reference publishes them; cached)."""
    if hub.is_hub_path(checkpoint_path):
        checkpoint = hub.parse(checkpoint_path)
        name = checkpoint.name.removesuffix(".pth")
        checkpoint_path = hub.download_files(checkpoint.parent, [f"{name}.pth", f"{name}.json"]) / f"{name}.pth"
    checkpoint_path = Path(checkpoint_path)
    config_path = checkpoint_path.with_suffix(".json") if config_path is None else Path(config_path)
    config = json.loads(config_path.read_text())
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    state = checkpoint.get("model_state_dict", checkpoint)
    if not config.get("lightweight_encode", True):
        raise ValueError("only lightweight-encoder WaLLoC checkpoints (lightweight_encode=True, as all released "
                         "ones) are supported")
    kind = "image" if "wt.h0_col" in state else "audio"
    arguments = {k: config[k] for k in ("channels", "J", "Nd", "latent_dim", "latent_bits") if k in config}
    if kind == "audio":
        arguments["post_filter"] = bool(config.get("post_filter", "post.weight" in state))
    model = build_model(kind, arguments)
    model.load_state_dict(state)
    model.check_filters()
    folder_config = {"format": FORMAT, "name": checkpoint_path.stem, "kind": kind, "model": arguments}
    if kind == "audio":
        folder_config["sample_rate"] = config.get("sample_rate", REFERENCE_SAMPLE_RATE)
    return registry.by_folder_kind(kind).codec_class.from_folder(folder_config, model, device)


def open_stream(data: bytes, device=None) -> Codec:
    """The codec that decodes ``data``: the installed codec its header names, or for video the network the
    stream holds."""
    return registry.by_container_id(bitstream.unpack(data).container_id).codec_class.from_stream(data, device)


def decompress(data: bytes, device=None, **options) -> torch.Tensor:
    """The media of any walloc codec stream (images, audio, or a video's frames); ``options`` go to the codec's
    ``decompress`` (Music2Latent and Music2Latent2: ``steps``,
    ``generator``)."""
    return open_stream(data, device).decompress(data, **options)


__all__ = ["AudioCodec", "Codec", "ImageCodec", "Music2Latent2Codec", "Music2LatentCodec", "NervCodec", "TrainedCodec",
           "available_codecs", "decompress", "load", "load_music2latent", "load_reference", "open_stream",
           "save_codec", "stream_codec_name"]
