"""Reading and writing media files: images through Pillow, audio through soundfile (WAV, FLAC, OGG), video
through PyAV (optional: ``pip install 'walloc[video]'``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import ops

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi")
_planes_from_pixels = ops.eager(ops.planes_from_pixels)


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
    """uint8 (3, H, W) RGB (8 bits, colour, no alpha: :func:`read_picture` keeps what a file has)."""
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


@dataclass
class Picture:
    """An image as a file holds it: ``pixels`` float32 (C, H, W) in [0, 1], C = 1 (grey) or 3 (colour), at the
    file's precision; ``alpha`` float32 (H, W) in [0, 1] or None; ``bit_depth`` 8 or 16 (per sample, as stored);
    ``icc``, the colour profile's bytes, or None."""

    pixels: Tensor
    alpha: Tensor | None = None
    bit_depth: int = 8
    icc: bytes | None = None


_DEEP_SUFFIXES = (".png", ".tif", ".tiff")
# Pillow's modes of 8-bit pictures -> the one they are read in (grey, grey + alpha, colour, colour + alpha);
# any other (CMYK, YCbCr, LAB, HSV) is read as RGB
_EIGHT_BIT = {"1": "L", "L": "L", "P": "RGB", "LA": "LA", "La": "LA", "PA": "RGBA", "RGB": "RGB",
              "RGBA": "RGBA", "RGBa": "RGBA"}


def read_picture(path: str | Path) -> Picture:
    """A picture file as it is: EXIF orientation applied, grey kept grey, alpha kept, 16-bit samples at full
    precision (16-bit colour PNG and TIFF through PyAV, which Pillow reads only at 8 bits), the ICC profile
    (unless it is sRGB's, which a file without one means)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        icc = _non_srgb_profile(image.info.get("icc_profile"))
        orientation = image.getexif().get(0x0112, 1)
        if _deep_colour(image, path):
            return _read_deep_colour(path, orientation, icc)
        return picture_from_pil(ImageOps.exif_transpose(image), icc)


def picture_from_pil(image, icc: bytes | None = None) -> Picture:
    """A PIL image's samples as a :class:`Picture`: grey kept grey, alpha kept (palette transparency too), 16-bit
    grey at 16 bits. Samples are scaled in float32, as ``uint8_tensor.float() / 255`` is."""
    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image)
        if mode == "I" and (values.min() < 0 or values.max() > 65535):
            raise ValueError("32-bit integer samples outside 16 bits are not supported")
        return Picture(_planes(values.astype(np.float32) / np.float32(65535)), None, 16, icc)
    if mode == "F":
        return Picture(_planes(np.clip(np.asarray(image, dtype=np.float32), 0, 1)), None, 16, icc)
    if mode == "P" and "transparency" in image.info:
        mode = "PA"
    target = _EIGHT_BIT.get(mode, "RGB")
    planes = _eight_bit_planes(np.asarray(image.convert(target)))
    colour = planes[:3] if target.startswith("RGB") else planes[:1]
    return Picture(colour, planes[-1] if target.endswith("A") else None, 8, icc)


def _non_srgb_profile(icc: bytes | None) -> bytes | None:
    """An ICC profile worth carrying: None for none, and for sRGB, which is what a file without a profile means
    (a typical sRGB profile is 3 KB, a quarter of a small photo's stream)."""
    if not icc:
        return None
    import io

    from PIL import ImageCms

    try:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return icc  # not a profile Pillow reads: carried as it is
    return None if description.strip().lower().startswith("srgb") else icc


def _eight_bit_planes(array: np.ndarray) -> Tensor:
    """float32 (C, H, W) = samples / 255 from uint8 (H, W) or (H, W, C), in one threaded pass from the file's
    interleaved rows (numpy takes three: the float conversion, the division and the transpose, a quarter of a
    24 MP photo's compress)."""
    with warnings.catch_warnings():  # Pillow's arrays are read-only; the kernel only reads this one
        warnings.simplefilter("ignore", UserWarning)
        pixels = torch.from_numpy(array[..., None] if array.ndim == 2 else array)
    return _planes_from_pixels(pixels.permute(2, 0, 1)[None], 255.0, 0.0)[0]


def _planes(array: np.ndarray) -> Tensor:
    """float32 (C, H, W) from (H, W) or (H, W, C)."""
    array = array[..., None] if array.ndim == 2 else array
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))


def _deep_colour(image, path: str | Path) -> bool:
    """Whether ``image`` (opened from ``path``) is colour at 16 bits per sample, which Pillow would read at 8."""
    if image.format == "PNG":
        with open(path, "rb") as file:
            depth, colour_type = file.read(26)[24:26]  # IHDR's bit depth and colour type
        return depth == 16 and colour_type in (2, 4, 6)  # RGB, grey + alpha, RGBA (not grey alone: I;16)
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        return max(bits) > 8 and len(bits) >= 3
    return False


# EXIF orientation -> the numpy transform that shows the picture upright (as Pillow's exif_transpose)
_ORIENT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, 3),
           7: lambda a: np.rot90(a, 2).transpose(1, 0, 2), 8: lambda a: np.rot90(a, 1)}


def _read_deep_colour(path, orientation: int, icc: bytes | None) -> Picture:
    av = _pyav("16-bit colour images")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        name = frame.format.name  # rgb48be, rgba64be, ya16be, ...
        alpha, grey = name.startswith(("rgba", "ya")), name.startswith(("gray", "ya"))
        array = frame.to_ndarray(format="rgba64le" if alpha else "rgb48le").astype(np.float64) / 65535
    array = np.ascontiguousarray(_ORIENT.get(orientation, lambda a: a)(array))
    colour = array[..., :1] if grey else array[..., :3]
    return Picture(_planes(colour), torch.from_numpy(array[..., 3].astype(np.float32)) if alpha else None, 16, icc)


def write_picture(picture: Picture, path: str | Path) -> None:
    """Writes a picture as :func:`read_picture` reads it: 16 bits where the format holds them (PNG, TIFF), the
    alpha channel (ValueError for formats without one, rather than dropping it), the ICC profile."""
    from PIL import Image

    suffix = Path(path).suffix.lower()
    grey = picture.pixels.shape[0] == 1
    planes = picture.pixels if picture.alpha is None else torch.cat([picture.pixels, picture.alpha[None]])
    if picture.alpha is not None and suffix in (".jpg", ".jpeg", ".bmp", ".ppm"):
        raise ValueError(f"{path}: {suffix} holds no alpha channel; write .png, .webp or .tif to keep it")
    deep = picture.bit_depth == 16 and suffix in _DEEP_SUFFIXES
    levels = 65535 if deep else 255
    array = (planes.clamp(0, 1) * levels).round().permute(1, 2, 0).cpu().numpy()
    array = array.astype(np.uint16 if deep else np.uint8)
    if deep and not (grey and picture.alpha is None):
        return _write_deep_colour(array, path)
    options = {"icc_profile": picture.icc} if picture.icc else {}
    if deep:
        Image.fromarray(array[..., 0]).save(path, **options)  # uint16: mode I;16
    else:
        Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path, **options)


def _write_deep_colour(array: np.ndarray, path: str | Path) -> None:
    """16-bit RGB(A) or grey + alpha samples to PNG or TIFF through PyAV (FFmpeg's encoders)."""
    av = _pyav("16-bit colour images")
    if array.shape[-1] == 2:  # grey + alpha: written as RGBA, which every 16-bit reader takes
        array = np.concatenate([array[..., :1].repeat(3, -1), array[..., 1:]], -1)
    alpha = array.shape[-1] == 4
    encoder = "png" if Path(path).suffix.lower() == ".png" else "tiff"
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream(encoder, rate=1)
        stream.height, stream.width = array.shape[:2]
        stream.pix_fmt = ("rgba64be" if alpha else "rgb48be") if encoder == "png" else (
            "rgba64le" if alpha else "rgb48le")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgba64le" if alpha else "rgb48le")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)


_AUDIO_BLOCK = 1 << 20  # samples per channel read or written at a time: long files pass through one copy only


def read_audio(path: str | Path, int16: bool = False) -> tuple[Tensor, int]:
    """float32 (channels, samples) in [-1, 1] and the sample rate; with ``int16``, 16-bit and 8-bit PCM files
    come as int16 samples instead (exactly, in half the memory; other files still as float32)."""
    import soundfile

    try:
        file = soundfile.SoundFile(str(path))
    except soundfile.SoundFileError as error:
        raise ValueError(f"{path}: not an audio file walloc can read ({error})") from None
    with file:
        pcm16 = int16 and file.subtype in ("PCM_16", "PCM_S8", "PCM_U8")
        audio = torch.empty(file.channels, file.frames, dtype=torch.int16 if pcm16 else torch.float32)
        filled = 0
        while filled < file.frames:
            block = file.read(min(_AUDIO_BLOCK, file.frames - filled), dtype="int16" if pcm16 else "float32",
                              always_2d=True)
            if not len(block):  # the header counted more frames than the file holds
                break
            audio[:, filled:filled + len(block)] = torch.from_numpy(block.T)
            filled += len(block)
        return audio[:, :filled], int(file.samplerate)


def write_audio(audio: Tensor, rate: int, path: str | Path) -> None:
    """Writes float (channels, samples) in [-1, 1]; the format comes from the suffix (16-bit PCM for WAV, FLAC and
    AIFF; Vorbis, Opus or MP3 for those)."""
    import soundfile

    suffix = Path(path).suffix.lower()
    subtype = {".ogg": "VORBIS", ".oga": "VORBIS", ".opus": "OPUS", ".mp3": "MPEG_LAYER_III"}.get(suffix, "PCM_16")
    with soundfile.SoundFile(str(path), "w", rate, audio.shape[0], subtype=subtype) as file:
        for start in range(0, audio.shape[-1], _AUDIO_BLOCK):
            file.write(audio[:, start:start + _AUDIO_BLOCK].clamp(-1, 1).T.cpu().numpy())


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


def _pyav(what: str = "video"):
    try:
        import av
    except ImportError:
        raise ImportError(f"{what}: walloc reads and writes them through PyAV (pip install av)") from None
    return av
