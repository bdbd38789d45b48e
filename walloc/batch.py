"""Files in, files out, many at once: :func:`compress_files` and :func:`decompress_files` (what ``walloc
compress`` / ``decompress`` run) take files or folders, work in one process on a pool of workers, and go on past
any file that fails.

Targets keep the sources' relative paths under the output folder: ``photos/a/b.jpg`` -> ``OUT/a/b.jpg.wlc``,
and back to ``OUT/a/b.jpg``. Every target is checked before any work starts: an existing one is refused unless
``force``. :func:`run` returns the failures (one line each) instead of raising, so one bad file costs one line.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch

from .errors import BitstreamError
from .media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES

STREAM_SUFFIX = ".wlc"
DEFAULT_CODECS = {"image": "rgb-16x", "audio": "stereo-17x", "video": "nervpp"}
# what a stream named only NAME.wlc decompresses to, inside an output folder
DEFAULT_FORMATS = {"image": ".png", "audio": ".flac", "video": ".mp4"}
MEDIA_SUFFIXES = IMAGE_SUFFIXES + AUDIO_SUFFIXES + VIDEO_SUFFIXES
# what a failing file may raise; anything else is a bug and propagates
FILE_ERRORS = (BitstreamError, ValueError, OSError, ImportError)


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path
    named: bool = False  # the target was named by the caller (not derived from the source's name)


def _sources(inputs: Iterable[str | Path], suffixes: tuple[str, ...]) -> list[tuple[Path, Path]]:
    """(file, its path relative to the input it came from) for every file, folders searched recursively."""
    found = []
    for given in map(Path, inputs):
        if given.is_dir():
            found += [(f, f.relative_to(given)) for f in sorted(given.rglob("*"))
                      if f.is_file() and f.suffix.lower() in suffixes]
        elif given.exists():
            found.append((given, Path(given.name)))
        else:
            raise FileNotFoundError(f"no such file or folder: {given}")
    return found


def plan(inputs: list[str | Path], output: str | Path, compress: bool, force: bool = False) -> list[Job]:
    """The jobs of one call. One input file and an output that is not a folder: that file to that output.
    Otherwise ``output`` is a folder (created) receiving every input file (media to compress, ``.wlc`` streams
    to decompress). ValueError, before any work, for targets that exist (unless ``force``) or collide."""
    output = Path(output)
    if len(inputs) == 1 and Path(inputs[0]).is_file() and not output.is_dir():
        jobs = [Job(Path(inputs[0]), output, named=True)]
    else:
        if output.exists() and not output.is_dir():
            raise ValueError(f"{output} is a file; several inputs need an output folder")
        sources = _sources(inputs, MEDIA_SUFFIXES if compress else (STREAM_SUFFIX,))
        if not sources:
            raise ValueError(f"no {'media' if compress else STREAM_SUFFIX} files in {', '.join(map(str, inputs))}")
        if compress:
            jobs = [Job(f, output / relative.with_name(relative.name + STREAM_SUFFIX)) for f, relative in sources]
        else:
            jobs = [Job(f, output / relative.with_suffix("")) for f, relative in sources]
    targets = [job.target for job in jobs]
    if len(set(targets)) != len(targets):
        raise ValueError("two inputs would write the same output file; give them separate folders")
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise ValueError(f"{existing[0]} exists{f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''};"
                         f" pass --force to overwrite")
    return jobs


def run(jobs: list[Job], work: Callable[[Job], str], workers: int | None = None,
        desc: str = "files") -> list[str]:
    """Runs ``work`` (returning a line to report, or raising one of ``FILE_ERRORS``) on every job, on
    ``workers`` threads (default: one per core, each with its share of torch's threads); returns the failures
    as ``"source: message"`` lines. One job runs in the caller's thread, with its messages printed as they come."""
    if len(jobs) == 1:
        return _attempt(work, jobs[0], report=True)
    from tqdm import tqdm

    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads // workers))
    failures: list[str] = []
    try:
        with ThreadPoolExecutor(workers) as pool, tqdm(total=len(jobs), desc=desc, unit="file") as bar:
            for failed in pool.map(lambda job: _attempt(work, job, report=False), jobs):
                failures += failed
                bar.update(1)
    finally:
        torch.set_num_threads(threads)
    return failures


def one_line(error: BaseException) -> str:
    """What a user is told of an error: its first line (its type's name when it has no message)."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _attempt(work: Callable[[Job], str], job: Job, report: bool) -> list[str]:
    try:
        job.target.parent.mkdir(parents=True, exist_ok=True)
        line = work(job)
    except FILE_ERRORS as error:
        return [f"{job.source}: {one_line(error)}"]
    if report:
        print(line)
    return []


# The target-rate options and the media they apply to: in a folder of images and audio, --bpp sets the images'
# rate and --kbps the audio's.
TARGET_RATE_KINDS = {"bpp": "image", "kbps": "audio"}


def codec_options(method: Callable, given: dict, codec_name: str) -> dict:
    """The options given (not None), refused with a one-line error where ``method`` takes none such."""
    import inspect

    parameters = inspect.signature(method).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    options = {k: v for k, v in given.items() if v is not None}
    for option in options:
        if option not in parameters and not takes_any:
            raise ValueError(f"--{option.replace('_', '-')} does not apply to codec {codec_name!r}")
    return options


def read_media(path: Path, kind: str, frame_size: tuple[int, int] | None = None) -> tuple[object, dict]:
    """(media, the compress options the file itself gives) of a file of ``kind``."""
    from .media import read_audio, read_picture, read_video

    if kind == "image":
        return read_picture(path), {}  # as the file has it: grey, alpha, 16 bits, ICC profile, upright
    if kind == "audio":
        audio, sample_rate = read_audio(path, int16=True)  # the codecs take int16: half the memory of long audio
        return audio, {"sample_rate": sample_rate}
    frames, fps = read_video(path, frame_size)
    return frames, {"fps": fps}


def compress_files(inputs: list[str | Path], output: str | Path, codec: str | None = None, force: bool = False,
                   workers: int | None = None, device=None, video_size: str = "S",
                   frame_size: tuple[int, int] | None = None, **options) -> list[str]:
    """Compresses files (images, audio, video; folders recursively) to ``output`` (a file for one input, else a
    folder): ``codec`` names the codec (default by kind, :data:`DEFAULT_CODECS`), ``options`` go to its
    ``compress`` (``quality``, ``bpp`` for images and ``kbps`` for audio (:data:`TARGET_RATE_KINDS`), ``bits``;
    video: ``prune``, ``epochs``, ``time_budget``). Returns the failures, one line each."""
    import threading

    from .codec import NervCodec, load
    from .media import media_kind

    jobs = plan(inputs, output, compress=True, force=force)
    suffixes = {job.source.suffix.lower() for job in jobs}
    kinds = {kind for kind, known in (("image", IMAGE_SUFFIXES), ("audio", AUDIO_SUFFIXES)) if suffixes & set(known)}
    for option, kind in TARGET_RATE_KINDS.items():
        if options.get(option) is not None and kind not in kinds:
            raise ValueError(f"--{option} sets the rate of {kind} files, and there are none among the inputs")
    loaded, lock = {}, threading.Lock()

    def codec_for(kind: str, source: Path):
        name = codec or DEFAULT_CODECS[kind]
        if kind == "video":  # video codecs fit a network to each video: nothing to share
            return NervCodec(name, video_size, device=device)
        with lock:  # one codec per name, loaded once and shared by the workers
            if name not in loaded:
                loaded[name] = load(name, device=device)
        if loaded[name].kind != kind:
            raise ValueError(f"codec {loaded[name].name!r} codes {loaded[name].kind}, but {source} is {kind}")
        return loaded[name]

    def work(job: Job) -> str:
        kind = media_kind(job.source)
        chosen = codec_for(kind, job.source)
        media, from_file = read_media(job.source, kind, frame_size)
        given = {k: v for k, v in options.items() if TARGET_RATE_KINDS.get(k, kind) == kind}
        data = chosen.compress(media, **from_file, **codec_options(chosen.compress, given, chosen.name))
        job.target.write_bytes(data)
        rate = chosen.rate(data)
        shown = f"{rate['kbps']:.1f} kbps" if kind == "audio" else f"{rate['bpp']:.4f} bpp"
        if "quality" in rate:
            shown += f", quality {rate['quality']:g}"
        return f"{job.source} -> {job.target}: {len(data)} bytes ({shown}, codec {chosen.name})"

    return run(jobs, work, workers, "compressing")


def decompress_files(inputs: list[str | Path], output: str | Path, force: bool = False, workers: int | None = None,
                     device=None, **options) -> list[str]:
    """Decodes walloc streams (files, or folders of ``.wlc``) to media files: one input to the file ``output``
    (format from its suffix), else into the folder ``output`` (``x.png.wlc`` -> ``x.png``; ``x.wlc`` -> the
    kind's :data:`DEFAULT_FORMATS`). ``options`` go to the codec's ``decompress`` (``steps``). Returns the
    failures, one line each."""
    from .codec import open_stream
    from .media import media_kind, write_audio, write_picture, write_video

    jobs = plan(inputs, output, compress=False, force=force)

    def work(job: Job) -> str:
        data = job.source.read_bytes()
        codec = open_stream(data, device=device)
        target = job.target
        if not job.named and target.suffix.lower() not in MEDIA_SUFFIXES:
            target = target.with_name(target.name + DEFAULT_FORMATS[codec.kind])
            if target.exists() and not force:
                raise ValueError(f"{target} exists; pass --force to overwrite")
        if media_kind(target) != codec.kind:
            raise ValueError(f"{job.source} holds {codec.kind}; {target} names a {media_kind(target)} format")
        given = codec_options(codec.decompress, options, codec.name)
        if codec.kind == "image":  # with its alpha, bit depth and colour profile
            write_picture(codec.decompress_picture(data), target)
        else:
            decoded = codec.decompress(data, **given)
            if codec.kind == "video":
                write_video(decoded, codec.fps, target)
            elif decoded.shape[0] != 1:
                raise ValueError(f"{job.source} holds {decoded.shape[0]} items; write them from Python")
            else:
                write_audio(decoded[0], codec.decoded_sample_rate(data), target)
        return f"{job.source} -> {target} (codec {codec.name})"

    return run(jobs, work, workers, "decompressing")
