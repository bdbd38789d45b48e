"""The on-disk form of a trained codec: a folder with ``config.json``, ``weights.safetensors`` and a card.

``config.json``: ``{"format": 1, "name": str, "kind": "image" | "audio" | "music2latent", "model": {constructor
arguments (Music2LatentConfig fields for music2latent)},
"sample_rate": int (audio)}``. Shipped codecs live in the wheel (``walloc/_codecs/<name>/``); folders named
in ``WALLOC_CODECS_PATH`` (``os.pathsep``-separated) are searched first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..models import WallocAudioModel, WallocImageModel
from ..models.music2latent import Music2LatentConfig, Music2LatentModel

FORMAT = 1
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
_SHIPPED = Path(__file__).resolve().parent.parent / "_codecs"


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("WALLOC_CODECS_PATH", "").split(os.pathsep) if p]
    return [*extra, _SHIPPED]


def codec_folders() -> dict[str, Path]:
    """name -> folder for every codec on the search path (earlier entries win)."""
    found: dict[str, Path] = {}
    for root in search_path():
        if root.is_dir():
            for config in sorted(root.glob(f"*/{CONFIG}")):
                found.setdefault(config.parent.name, config.parent)
    return found


def build_model(kind: str, arguments: dict) -> WallocImageModel | WallocAudioModel | Music2LatentModel:
    if kind == "image":
        return WallocImageModel(**arguments)
    if kind == "audio":
        return WallocAudioModel(**arguments)
    if kind == "music2latent":
        return Music2LatentModel(Music2LatentConfig.from_dict(arguments))
    raise ValueError(f"unknown codec kind {kind!r}")


def save_codec(folder: str | Path, name: str, kind: str, model_arguments: dict,
               model: WallocImageModel | WallocAudioModel, **extra) -> Path:
    """Writes ``config.json`` and ``weights.safetensors`` into ``folder`` (created)."""
    from safetensors.torch import save_file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT, "name": name, "kind": kind, "model": model_arguments, **extra}
    (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS), metadata={"name": name})
    return folder


def read_codec(folder: str | Path) -> tuple[dict, WallocImageModel | WallocAudioModel]:
    """(config, model in eval mode) from a codec folder; ValueError on a malformed folder."""
    from safetensors.torch import load_file
    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{folder} is not a walloc codec folder: {error}") from None
    if config.get("format") != FORMAT:
        raise ValueError(f"{folder}: unsupported codec format {config.get('format')!r} (this walloc reads {FORMAT})")
    model = build_model(config["kind"], config["model"])
    model.load_state_dict(load_file(str(folder / WEIGHTS)))
    if not isinstance(model, Music2LatentModel):
        model.check_filters()
    return config, model.eval()


def weights_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the weights: identifies a codec in bitstreams and latent caches."""
    import hashlib

    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
