"""The codec API: ``walloc.load(name_or_path)``, ``walloc.available_codecs()``, ``walloc.load_reference(...)``,
``walloc.load_music2latent(...)`` and ``walloc.decompress(data)`` (which loads the codec named in the stream)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .audio import AudioCodec
from .base import Codec, stream_codec_name
from .image import ImageCodec
from .music2latent import Music2LatentCodec
from .package import build_model, codec_folders, read_codec, save_codec

REFERENCE_AUDIO_RATE = 44100


def available_codecs() -> list[str]:
    """Names of the codecs ``walloc.load`` finds: shipped ones and those on ``WALLOC_CODECS_PATH``."""
    return sorted(codec_folders())


def load(name_or_path: str | Path, device=None, **options) -> ImageCodec | AudioCodec | Music2LatentCodec:
    """A codec by name (see :func:`available_codecs`) or from a codec folder (``config.json`` + weights).
    ``options`` go to the codec class (Music2Latent: ``precision``, ``window``, ``overlap``)."""
    folders = codec_folders()
    if str(name_or_path) in folders:
        folder = folders[str(name_or_path)]
    elif Path(name_or_path).is_dir():
        folder = Path(name_or_path)
    else:
        raise ValueError(f"no codec named {str(name_or_path)!r} and no such codec folder; available codecs: "
                         f"{', '.join(available_codecs()) or 'none'}")
    config, model = read_codec(folder)
    if config["kind"] == "music2latent":
        return Music2LatentCodec(config["name"], model, device, **options)
    if options:
        raise ValueError(f"codec {config['name']!r} takes no options; got {sorted(options)}")
    if config["kind"] == "image":
        return ImageCodec(config["name"], model, device)
    return AudioCodec(config["name"], model, config.get("sample_rate", REFERENCE_AUDIO_RATE), device)


def load_music2latent(checkpoint_path: str | Path, device=None, precision: str = "float32",
                      trusted: bool = False) -> Music2LatentCodec:
    """The official Music2Latent checkpoint (``music2latent.pt`` of the music2latent package, CC BY-NC 4.0; walloc
    does not ship it), its ``gen_state_dict`` loaded unchanged. The file is a pickle: it is read with
    ``weights_only=True`` unless ``trusted`` (only for files from a source you trust)."""
    import pickle

    from ..models.music2latent import Music2LatentModel

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
    return Music2LatentCodec(Path(checkpoint_path).stem, model, device, precision)


def load_reference(checkpoint_path: str | Path, config_path: str | Path, device=None) -> ImageCodec | AudioCodec:
    """A released WaLLoC checkpoint of the reference package (``{"model_state_dict": ...}`` and its JSON config
    with the ``Codec2D``/``Codec1D`` arguments), loaded unchanged into walloc's implementation."""
    config = json.loads(Path(config_path).read_text())
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
    name = Path(checkpoint_path).stem
    if kind == "image":
        return ImageCodec(name, model, device)
    return AudioCodec(name, model, config.get("sample_rate", REFERENCE_AUDIO_RATE), device)


def decompress(data: bytes, device=None) -> torch.Tensor:
    """Decodes any walloc image or audio stream with the (installed) codec named in its header."""
    _, name = stream_codec_name(data)
    return load(name, device).decompress(data)


__all__ = ["AudioCodec", "Codec", "ImageCodec", "Music2LatentCodec", "available_codecs", "decompress", "load",
           "load_music2latent", "load_reference", "save_codec"]
