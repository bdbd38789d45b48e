"""Audio codecs: multi-channel audio of any length to WaLLoC latents and walloc bitstreams."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import bitstream
from ..errors import BitstreamError
from ..metrics import kbps
from ..models import WallocAudioModel
from . import registry
from .base import exact_float32
from .wavelet import WallocCodec

REFERENCE_SAMPLE_RATE = 44100  # of the reference's released audio codecs, whose configs name none


@registry.register("audio", lambda arguments: WallocAudioModel(**arguments))
class AudioCodec(WallocCodec):
    """Audio: float (N, C, T) or (C, T) in [-1, 1] at ``sample_rate``, any length.

    A mono input to a stereo codec is coded as identical channels and averaged back; inputs with a multiple of
    the codec's channels are coded in groups. Lengths are padded to a multiple of 2**J (``decode`` returns the
    padded length; ``decompress`` crops back). Other sample rates are refused: resample first (for example with
    ``torchaudio.functional.resample`` or ``soxr``).
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

    def _check_rate(self, sample_rate: int | None) -> None:
        if sample_rate is not None and int(sample_rate) != self.sample_rate:
            raise ValueError(f"codec {self.name!r} codes {self.sample_rate} Hz audio, got {sample_rate} Hz: "
                             f"resample first")

    def as_batch(self, audio: Tensor) -> Tensor:
        audio = torch.as_tensor(audio)
        if audio.dim() == 2:
            audio = audio.unsqueeze(0)
        if audio.dim() != 3 or audio.shape[-1] == 0:
            raise ValueError(f"expected audio (N, C, T) with T > 0, got shape {tuple(audio.shape)}")
        if not audio.is_floating_point():
            raise ValueError(f"audio must be float in [-1, 1], got {audio.dtype}")
        return audio.to(self.device, torch.float32)

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
        self._check_rate(sample_rate)
        x = self._group(self.as_batch(audio))
        x = F.pad(x, (0, -x.shape[-1] % self.block))
        with exact_float32():
            return self.model.encode(self.model.to_signal(x))

    @torch.no_grad()
    def decode(self, latents: Tensor, channels: int | None = None, length: int | None = None) -> Tensor:
        """Audio in [-1, 1] from latents; ``channels`` regroups items as they were given to ``encode``, and
        ``length`` crops to the input's length (otherwise the padded length, a multiple of 2**J, is returned)."""
        latents = torch.as_tensor(latents, device=self.device, dtype=torch.float32)
        if latents.dim() != 3 or latents.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents (N, {self.latent_dim}, frames), got shape {tuple(latents.shape)}")
        with exact_float32():
            y = self.model.to_media(self.model.decode(latents))
        y = y if channels is None else self._ungroup(y, channels)
        return y if length is None else y[..., :length]

    def compress(self, audio: Tensor, sample_rate: int | None = None) -> bytes:
        """A walloc bitstream of the audio (rounded latents, coded by the predictive latent coder)."""
        x = self.as_batch(audio)
        meta = {"channels": x.shape[1], "length": x.shape[-1], "sample_rate": self.sample_rate}
        return self._pack_latents(self.encode(x, sample_rate), meta)

    def decompress(self, data: bytes) -> Tensor:
        """Audio (N, C, T) in [-1, 1], as it was compressed."""
        meta, latents = self._unpack_latents(data)
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
        return self.decode(latents, channels, length)

    @classmethod
    def _rates(cls, container: bitstream.Container, nbytes: int) -> dict:
        return stream_kbps(container, nbytes)


def stream_kbps(container: bitstream.Container, nbytes: int) -> dict:
    """``{"seconds", "kbps"}`` of an audio stream whose header records ``length`` and ``sample_rate``."""
    length, rate = container.meta.get("length"), container.meta.get("sample_rate")
    if not isinstance(length, int) or not isinstance(rate, int) or length < 1 or rate < 1:
        return {}
    return {"seconds": length / rate, "kbps": kbps(nbytes, length / rate)}
