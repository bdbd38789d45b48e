"""Reading and writing media files: images through Pillow, audio through soundfile (WAV, FLAC, OGG), video
through PyAV (optional: ``pip install 'walloc[video]'``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi")


def media_kind(path: str | Path) -> str:
    """``"image"``, ``"audio"`` or ``"video"`` from a file name's suffix; ValueError for anything else."""
    suffix = Path(path).suffix.lower()
    for kind, suffixes in (("image", IMAGE_SUFFIXES), ("audio", AUDIO_SUFFIXES), ("video", VIDEO_SUFFIXES)):
        if suffix in suffixes:
            return kind
    raise ValueError(f"{path}: unknown media type {suffix!r} (images: {', '.join(IMAGE_SUFFIXES)}; "
                     f"audio: {', '.join(AUDIO_SUFFIXES)}; video: {', '.join(VIDEO_SUFFIXES)})")


def find_media(folders: list[str | Path], kind: str) -> list[Path]:
    """Every file of ``kind`` under ``folders`` (recursively), sorted."""
    suffixes = {"image": IMAGE_SUFFIXES, "audio": AUDIO_SUFFIXES, "video": VIDEO_SUFFIXES}[kind]
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


def read_video(path: str | Path, size: tuple[int, int] | None = None) -> tuple[Tensor, float]:
    """(uint8 frames (T, 3, H, W), frames per second) of a video file through PyAV (FFmpeg's RGB conversion);
    ``size`` = (height, width) resizes every frame with area averaging."""
    av = _pyav()
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        for frame in container.decode(stream):
            frames.append(torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1))
    if not frames:
        raise ValueError(f"{path}: no video frames")
    video = torch.stack(frames)
    if size is not None and tuple(video.shape[-2:]) != tuple(size):
        import torch.nn.functional as F

        video = F.interpolate(video.float(), size=size, mode="area").round().clamp(0, 255).to(torch.uint8)
    return video, rate


def write_video(frames: Tensor, rate: float, path: str | Path) -> None:
    """Frames (T, 3, H, W), uint8 or float in [0, 1], to a lossless RGB H.264 file (libx264rgb, qp 0)."""
    av = _pyav()
    from fractions import Fraction

    if frames.is_floating_point():
        frames = (frames.clamp(0, 1) * 255).round().to(torch.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=Fraction(rate).limit_denominator(1001))
        stream.height, stream.width = frames.shape[-2:]
        stream.pix_fmt = "rgb24"
        stream.options = {"qp": "0"}
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(frame.permute(1, 2, 0).contiguous().numpy(), format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode())


def _pyav():
    try:
        import av
    except ImportError:
        raise ImportError("video needs PyAV: pip install 'walloc[video]' (or pip install av)") from None
    return av
