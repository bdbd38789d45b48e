"""Audio codecs: multi-channel audio of any length to WaLLoC latents and walloc bitstreams."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .. import bitstream
from ..errors import BitstreamError
from ..metrics import kbps
from ..models import WallocAudioModel
from ..windows import windows
from . import registry
from .base import exact_float32
from .wavelet import WallocCodec, stream_quality

REFERENCE_SAMPLE_RATE = 44100  # of the reference's released audio codecs, whose configs name none
_MAX_SAMPLE_RATE = 1 << 20
# Long audio runs through the networks in chunks of CHUNK latent frames (2**J samples each: 48 s at J = 9 and
# 44.1 kHz), each with context on both sides that is computed and dropped, so memory stays that of one chunk.
# The encoder reaches as far as the analysis wavelet's support (under 8 frames): with the signal taken as
# periodic, as the whole-signal transform takes it, chunked latents are the whole signal's (to float32 rounding;
# bit for bit with AVX-512 kernels). The decoder's convolutions and synthesis wavelet reach under 128 frames:
# inside the signal the chunks join as exactly, and only the first and last 4 frames differ, where the
# whole-signal synthesis wraps around.
# Audio of up to CHUNK frames runs in one piece.
CHUNK, ENCODE_CONTEXT, DECODE_CONTEXT = 4096, 16, 128


def resample(audio: Tensor, from_rate: int, to_rate: int) -> Tensor:
    """(..., T) float or int16 audio (as :func:`as_float` reads it) at ``from_rate`` as float32 (..., about
    T * to_rate / from_rate) at ``to_rate``, by soxr (libsoxr, SoX's resampler, the one librosa uses by default:
    band-limited, linear phase, -0 dB passband to 0.91 of the lower Nyquist frequency in its VHQ setting, and fast
    on long files)."""
    if from_rate == to_rate:
        return as_float(audio)
    import soxr

    # soxr takes interleaved float frames (T, channels): written once from the samples, and copied back once (an
    # hour of stereo is 1.4 GB each way)
    planes = audio.reshape(-1, audio.shape[-1]).detach().cpu()
    frames = torch.empty(planes.shape[::-1])
    if as_float(planes, out=frames.T) is planes:  # float samples, which as_float leaves as they are
        frames.T.copy_(planes)
    out = soxr.resample(frames.numpy(), from_rate, to_rate, quality="VHQ")
    del frames
    return torch.from_numpy(np.ascontiguousarray(out.T)).reshape(*audio.shape[:-1], -1).to(audio.device)


def as_float(audio: Tensor, out: Tensor | None = None) -> Tensor:
    """float32 samples in [-1, 1] of float or int16 audio; int16 ones divided into ``out`` when it is given."""
    if audio.dtype != torch.int16:
        return audio
    return audio.float() / 32768 if out is None else torch.div(audio, 32768, out=out)


def _periodic_spans(start: int, end: int, period: int) -> list[tuple[int, int]]:
    """[start, end) of a signal taken as periodic with ``period`` (start may be negative, end past the period)
    as spans [a, b) within one period, in order."""
    spans = [(start % period, period)] if start < 0 else []
    spans.append((max(start, 0), min(end, period)))
    if end > period:
        spans.append((0, end - period))
    return spans


def checked_rate(sample_rate) -> int:
    """A sample rate given by a user; ValueError unless it is a positive whole number of Hz."""
    if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or not 0 < sample_rate <= _MAX_SAMPLE_RATE:
        raise ValueError(f"sample rate must be a whole number of Hz in (0, {_MAX_SAMPLE_RATE}], got {sample_rate}")
    return int(sample_rate)


class AudioInput:
    """What audio codecs share about their input: the batches they take (:meth:`as_batch`), and other sample
    rates: ``compress`` resamples to the codec's ``sample_rate`` and records the input's rate and length;
    ``decompress`` resamples back, so it returns audio at the input's rate (:meth:`decoded_sample_rate`)."""

    sample_rate: int
    container_id: str
    device: torch.device

    def as_batch(self, audio: Tensor) -> Tensor:
        """(N, C, T) on the codec's device: float32, or int16 samples kept as they are (half the memory of
        long audio; :func:`as_float` scales them by 1 / 32768, as libsndfile does)."""
        audio = torch.as_tensor(audio)
        if audio.dim() == 2:
            audio = audio.unsqueeze(0)
        if audio.dim() != 3 or audio.shape[-1] == 0 or audio.shape[1] == 0:
            raise ValueError(f"expected audio (N, C, T) with C, T > 0, got shape {tuple(audio.shape)}")
        if audio.dtype == torch.int16:
            return audio.to(self.device)
        if not audio.is_floating_point():
            raise ValueError(f"audio must be float in [-1, 1] or int16, got {audio.dtype}")
        return audio.to(self.device, torch.float32)

    def _to_codec_rate(self, audio: Tensor, sample_rate: int | None) -> tuple[Tensor, dict]:
        """(audio at the codec's rate, the header fields that undo the conversion)."""
        rate = self.sample_rate if sample_rate is None else checked_rate(sample_rate)
        if rate == self.sample_rate:
            return audio, {}
        return resample(audio, rate, self.sample_rate), {"input_rate": rate, "input_length": audio.shape[-1]}

    def _input_rate(self, meta: dict) -> int | None:
        """The input's rate recorded in a stream header (None: the codec's); BitstreamError when malformed."""
        rate, length = meta.get("input_rate"), meta.get("input_length")
        if rate is None:
            return None
        if (not isinstance(rate, int) or not isinstance(length, int) or not 0 < rate <= _MAX_SAMPLE_RATE
                or length < 1):
            raise BitstreamError(f"corrupt {self.container_id} stream: bad input sample rate or length")
        return rate

    def _to_input_rate(self, audio: Tensor, meta: dict) -> Tensor:
        rate = self._input_rate(meta)
        if rate is None:
            return audio
        audio = resample(audio, self.sample_rate, rate)
        length = meta["input_length"]
        return F.pad(audio, (0, max(0, length - audio.shape[-1])))[..., :length]

    def decoded_sample_rate(self, data: bytes) -> int:
        """The sample rate of ``decompress(data)``: the rate the audio was given at."""
        return self._input_rate(self.unpack(data).meta) or self.sample_rate


@registry.register("audio", lambda arguments: WallocAudioModel(**arguments))
class AudioCodec(AudioInput, WallocCodec):
    """Audio: float (N, C, T) or (C, T) in [-1, 1] (or int16 samples) at ``sample_rate``, any length.

    A mono input to a stereo codec is coded as identical channels and averaged back; inputs with a multiple of
    the codec's channels are coded in groups. Lengths are padded to a multiple of 2**J (``decode`` returns the
    padded length; ``decompress`` crops back). Audio at other sample rates is resampled (:func:`resample`):
    ``decompress`` returns it at the rate it was given at.
    """

    kind = "audio"
    container_id = "walloc-audio"
    plane_dims = 1

    def __init__(self, name: str, model: WallocAudioModel, sample_rate: int = REFERENCE_SAMPLE_RATE,
                 device=None) -> None:
        super().__init__(name, model, device)
        self.sample_rate = int(sample_rate)

    @classmethod
    def _folder_arguments(cls, config: dict) -> dict:
        return {"sample_rate": config.get("sample_rate", REFERENCE_SAMPLE_RATE)}

    def _describe(self) -> dict:
        return {**super()._describe(), "sample_rate": self.sample_rate}

    def _group(self, x: Tensor) -> Tensor:
        """(N, C, T) -> (N * C / k, k, T) for the codec's k channels (mono duplicated)."""
        k, (n, c, t) = self.model.channels, x.shape
        if c == 1 and k > 1:
            return x.expand(n, k, t)
        if c % k:
            raise ValueError(f"codec {self.name!r} codes {k}-channel audio; {c} channels is not a multiple")
        return x.reshape(n * c // k, k, t)

    def _ungroup(self, y: Tensor, channels: int) -> Tensor:
        k = self.model.channels
        if channels == 1 and k > 1:
            return y.mean(1, keepdim=True)
        return y.reshape(-1, channels, y.shape[-1])

    @torch.no_grad()
    def encode(self, audio: Tensor, sample_rate: int | None = None) -> Tensor:
        """Continuous latents (N * C / k, latent_dim, frames) for the codec's k channels, before rounding."""
        x = self._group(self._to_codec_rate(self.as_batch(audio), sample_rate)[0])
        frames = -(-x.shape[-1] // self.block)  # latents: one per frame, and one more at each end
        with exact_float32(self.device):
            if frames <= CHUNK:
                return self.model.encode(self._signal(x, 0, frames * self.block, frames * self.block))
            pieces = []
            for start, end, _, _ in windows(frames, CHUNK, 0):
                segment = self._signal(x, (start - ENCODE_CONTEXT) * self.block, (end + ENCODE_CONTEXT) * self.block,
                                       frames * self.block)
                latents = self.model.encode(segment)
                first = ENCODE_CONTEXT + 1  # frame i's latent is latent i + 1
                pieces.append(latents[..., first:first + end - start])
        # the end latents see only the encoder's padding: any chunk's are the whole signal's
        return torch.cat([latents[..., :1], *pieces, latents[..., -1:]], -1)

    def _signal(self, x: Tensor, start: int, end: int, period: int) -> Tensor:
        """The model's signal of samples [start, end) of x (N, C, T), float32 or int16, zero-padded to ``period``
        and taken as periodic (start may be negative, end past the period): ``to_signal(as_float(...))`` of those
        samples, written once into one fresh tensor (each full-size pass and tensor between them cost about a
        tenth of an encode)."""
        signal = torch.empty(*x.shape[:-1], end - start, device=x.device)
        at = 0
        for a, b in _periodic_spans(start, end, period):
            piece = x[..., a:min(b, x.shape[-1])]
            part = signal[..., at:at + piece.shape[-1]]
            self.model.to_signal(as_float(piece, out=part), out=part)
            signal[..., at + piece.shape[-1]:at + b - a] = 0
            at += b - a
        return signal

    @torch.no_grad()
    def decode(self, latents: Tensor, channels: int | None = None, length: int | None = None) -> Tensor:
        """Audio in [-1, 1] from latents; ``channels`` regroups items as they were given to ``encode``, and
        ``length`` crops to the input's length (otherwise the padded length, a multiple of 2**J, is returned)."""
        latents = torch.as_tensor(latents, device=self.device, dtype=torch.float32)
        if latents.dim() != 3 or latents.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents (N, {self.latent_dim}, frames), got shape {tuple(latents.shape)}")
        frames = latents.shape[-1] - 2  # latent j + 1 decodes to frame j
        with exact_float32(self.device):
            if frames <= CHUNK:
                y = self.model.to_media(self.model.decode(latents))
            else:  # into one output tensor, so that long audio is held once
                y = latents.new_empty(latents.shape[0], self.model.channels, frames * self.block)
                for start, end, _, _ in windows(frames, CHUNK, 0):
                    a, b = max(0, start - DECODE_CONTEXT), min(frames, end + DECODE_CONTEXT)
                    piece = self.model.to_media(self.model.decode(latents[..., a:b + 2]))
                    y[..., start * self.block:end * self.block] = piece[..., (start - a) * self.block:
                                                                         (end - a) * self.block]
        y = y if channels is None else self._ungroup(y, channels)
        return y if length is None else y[..., :length]

    def compress(self, audio: Tensor, sample_rate: int | None = None, quality: float | None = None,
                 kbps: float | None = None) -> bytes:
        """A walloc bitstream of the audio (quantized latents, coded by the predictive latent coder).
        ``quality`` in [1, ``max_quality``] (default 8) sets the latent quantizer (:mod:`walloc.codec.wavelet`);
        ``kbps`` instead asks for the highest quality whose stream takes at most that many kilobits a second of
        audio, and raises ValueError when even quality 1 takes more."""
        x, conversion = self._to_codec_rate(self.as_batch(audio), sample_rate)
        meta = {"channels": x.shape[1], "length": x.shape[-1], "sample_rate": self.sample_rate, **conversion}
        return self._pack_latents(self.encode(x), meta, None, quality, None if kbps is None else ("kbps", kbps))

    def decompress(self, data: bytes) -> Tensor:
        """Audio (N, C, T) in [-1, 1], as it was compressed (at its sample rate, :meth:`decoded_sample_rate`)."""
        meta, latents, _ = self._unpack_latents(data)
        channels, length = meta.get("channels"), meta.get("length")
        if not isinstance(channels, int) or not isinstance(length, int) or channels < 1 or length < 1:
            raise BitstreamError("corrupt walloc-audio stream: bad channel count or length")
        k = self.model.channels
        groups = 1 if channels == 1 else channels // k
        if channels != 1 and channels % k:
            raise BitstreamError(f"corrupt walloc-audio stream: {channels} channels for a {k}-channel codec")
        if (latents.dim() != 3 or latents.shape[0] % groups
                or latents.shape[-1] != self.model.latent_frames(-(-length // self.block) * self.block)):
            raise BitstreamError("corrupt walloc-audio stream: the length does not match the latents")
        return self._to_input_rate(self.decode(latents, channels, length), meta)

    @classmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        return {**stream_kbps(container, nbytes), **stream_quality(container.meta)}


def stream_kbps(container: bitstream.Container, nbytes: int) -> dict:
    """``{"seconds", "kbps"}`` of an audio stream whose header records ``length`` and ``sample_rate``."""
    length, rate = container.meta.get("length"), container.meta.get("sample_rate")
    if not isinstance(length, int) or not isinstance(rate, int) or length < 1 or rate < 1:
        return {}
    return {"seconds": length / rate, "kbps": kbps(nbytes, length / rate)}
