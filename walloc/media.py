"""Reading and writing media files: images through Pillow, audio through soundfile (WAV, FLAC, OGG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif")


def media_kind(path: str | Path) -> str:
    """``"image"`` or ``"audio"`` from a file name's suffix; ValueError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    raise ValueError(f"{path}: unknown media type {suffix!r} (images: {', '.join(IMAGE_SUFFIXES)}; "
                     f"audio: {', '.join(AUDIO_SUFFIXES)})")


def find_media(folders: list[str | Path], kind: str) -> list[Path]:
    """Every file of ``kind`` under ``folders`` (recursively), sorted."""
    suffixes = IMAGE_SUFFIXES if kind == "image" else AUDIO_SUFFIXES
    files = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_file():
            files.append(folder)
        elif folder.is_dir():
            files += [p for p in folder.rglob("*") if p.suffix.lower() in suffixes]
        else:
            raise FileNotFoundError(f"no such file or folder: {folder}")
    return sorted(files)


def read_image(path: str | Path) -> Tensor:
    """uint8 (3, H, W) RGB."""
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"))
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def write_image(image: Tensor, path: str | Path) -> None:
    """Writes float (3, H, W) in [0, 1] or uint8 (3, H, W); the format comes from the suffix."""
    from PIL import Image

    if image.is_floating_point():
        image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    Image.fromarray(image.permute(1, 2, 0).cpu().numpy()).save(path)


def read_audio(path: str | Path) -> tuple[Tensor, int]:
    """float32 (channels, samples) in [-1, 1] and the sample rate."""
    import soundfile

    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(data.T.copy()), int(rate)


def write_audio(audio: Tensor, rate: int, path: str | Path) -> None:
    """Writes float (channels, samples) in [-1, 1]; the format comes from the suffix (16-bit PCM for WAV/FLAC)."""
    import soundfile

    suffix = Path(path).suffix.lower()
    subtype = "VORBIS" if suffix in (".ogg", ".oga") else "PCM_16"
    soundfile.write(str(path), audio.clamp(-1, 1).T.cpu().numpy(), rate, subtype=subtype)
