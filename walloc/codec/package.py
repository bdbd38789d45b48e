"""The on-disk form of trained networks: a folder with ``config.json`` and ``weights.safetensors`` (and, for
shipped codecs, a card). :func:`write_folder` and :func:`read_folder` are the one reader and writer of that
form; codecs, task heads, the CompressAI baseline and fitted videos all use them.

A codec folder's ``config.json``: ``{"format": 1, "name": str, "kind": a registered folder kind ("image",
"audio", "music2latent"), "model": {the model's constructor arguments}, "sample_rate": int (audio)}``. Shipped
codecs live in the wheel (``walloc/_codecs/<name>/``); folders named in ``WALLOC_CODECS_PATH``
(``os.pathsep``-separated) are searched first.

A codec whose weights were updated keeps the ones before in ``earlier/<fingerprint>.safetensors``: streams name
their weights' fingerprint, so those written with the earlier weights keep decoding (:func:`read_codec`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from torch import Tensor, nn

from . import registry

FORMAT = 1
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
EARLIER = "earlier"
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
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


def write_folder(folder: str | Path, config: dict, state: dict[str, Tensor]) -> Path:
    """Writes ``config`` as ``config.json`` and the tensors ``state`` as ``weights.safetensors`` into ``folder``
    (created)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    metadata = {"name": config["name"]} if isinstance(config.get("name"), str) else None
    save_file(tensors, str(folder / WEIGHTS), metadata=metadata)
    return folder


def read_folder(folder: str | Path, weights: Path | None = None) -> tuple[dict, dict[str, Tensor]]:
    """(config, tensors) of a folder written by :func:`write_folder` (tensors from ``weights`` instead of the
    folder's own when given); ValueError when it is not one."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG).read_text())
        state = load_file(str(weights or folder / WEIGHTS))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{folder} is not a walloc model folder: {error}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{folder}/{CONFIG} is not a JSON object")
    return config, state


def save_codec(folder: str | Path, name: str, kind: str, model_arguments: dict, model: nn.Module,
               **extra) -> Path:
    """Writes a codec folder for ``model`` (of the registered folder ``kind``) into ``folder``."""
    config = {"format": FORMAT, "name": name, "kind": kind, "model": model_arguments, **extra}
    return write_folder(folder, config, model.state_dict())


def build_model(kind: str, arguments: dict) -> nn.Module:
    """A fresh model of the registered folder ``kind`` from its constructor ``arguments``."""
    return registry.by_folder_kind(kind).build_model(arguments)


def earlier_weights(folder: str | Path, fingerprint: object) -> Path | None:
    """The file of a codec folder's earlier weights of ``fingerprint``, if it keeps them."""
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
        return None
    path = Path(folder) / EARLIER / f"{fingerprint}.safetensors"
    return path if path.is_file() else None


def read_codec(folder: str | Path, fingerprint: str | None = None) -> tuple[dict, nn.Module]:
    """(config, model in eval mode) from a codec folder: its weights, or the earlier ones of ``fingerprint``
    where the folder keeps them (see the module docs); ValueError on a malformed folder."""
    earlier = earlier_weights(folder, fingerprint)
    config, state = read_folder(folder, earlier)
    if config.get("format") != FORMAT:
        raise ValueError(f"{folder}: unsupported codec format {config.get('format')!r} (this walloc reads {FORMAT})")
    model = build_model(config["kind"], config["model"])
    model.load_state_dict(state)
    if hasattr(model, "check_filters"):
        model.check_filters()
    if earlier is not None and weights_fingerprint(model) != fingerprint:
        raise ValueError(f"{earlier}: these weights' fingerprint is {weights_fingerprint(model)}, not their name")
    return config, model.eval()


def weights_fingerprint(model: nn.Module) -> str:
    """A short hash of the weights: identifies a codec in bitstreams and latent caches."""
    import hashlib

    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
