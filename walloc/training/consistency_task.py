"""Consistency training of a Music2Latent autoencoder (Pasini et al. 2024, after Song and Dhariwal's improved
consistency training, iCT 2023): no pre-trained teacher and no EMA.

For a clean spectrogram x, latents z = encoder(x) and one Gaussian draw n, the network at the higher noise level
of an adjacent pair of the Karras schedule, F(z, x + sigma_{i+1} n, sigma_{i+1}), is pulled towards its own
output one level lower, F(z, x + sigma_i n, sigma_i), held fixed (no gradient; at sigma_min it is x itself by
the boundary condition). The schedule has N levels, N doubling from 10 to 1280 over training; pairs are drawn
with a log-normal density over sigma (P_mean -1.1, P_std 2.0); each pair's loss is the pseudo-Huber distance
weighted by 1 / (sigma_{i+1} - sigma_i). The encoder learns through the student branch. The config's
``consistency`` field changes the schedule (:class:`ConsistencySchedule`).

Validation decodes a fixed held-out clip in one and in four steps and reports SI-SDR and the log-mel distance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..codec.package import build_model, save_codec
from ..media import read_audio
from ..metrics import log_mel_distance, si_sdr
from ..models.music2latent import audio_to_spectrogram, karras_sigmas
from .config import TrainConfig
from .data import AudioSegments, split_files
from .task import Panel, Task

HUBER_C = 0.00054  # iCT's pseudo-Huber constant, per unit of root-mean-square difference
VALIDATION_SECONDS = 4.0


@dataclass(frozen=True)
class ConsistencySchedule:
    """The noise-level curriculum (defaults: iCT's). Few levels make far-apart pairs; at the extreme, 2 levels
    make the only pair (sigma_min, sigma_max), a plain regression to the clean spectrogram, whose optimum for
    complex STFT values of unpredictable phase is near zero: the one-step decoder learns from the chain."""

    levels_start: int = 10
    levels_end: int = 1280
    p_mean: float = -1.1
    p_std: float = 2.0

    def __post_init__(self) -> None:
        if not 2 <= self.levels_start <= self.levels_end:
            raise ValueError(f"need 2 <= levels_start <= levels_end; got {self.levels_start}, {self.levels_end}")
        if self.p_std <= 0:
            raise ValueError(f"p_std must be positive, got {self.p_std}")

    def levels(self, step: int, total_steps: int) -> int:
        """N, the number of noise levels at ``step``: doubling from levels_start to levels_end in equal stages."""
        stages = int(math.log2(self.levels_end / self.levels_start)) + 1
        stage_length = max(1, total_steps // stages)
        return min(self.levels_start * 2 ** (step // stage_length), self.levels_end)

    def pair_probabilities(self, sigmas: Tensor) -> Tensor:
        """Probability of each adjacent pair (sigma_i, sigma_{i+1}) under the log-normal density of sigma."""
        edges = torch.erf((torch.log(sigmas) - self.p_mean) / (math.sqrt(2) * self.p_std))
        weights = edges[1:] - edges[:-1]
        return weights / weights.sum()


def karras_levels(levels: int) -> Tensor:
    """The ``levels`` noise levels sigma_min .. sigma_max of the Karras schedule (rho 7), ascending."""
    return torch.tensor(karras_sigmas(levels - 1)[::-1], dtype=torch.float64)


def draw_level_pairs(schedule: ConsistencySchedule, levels: int, shape: tuple[int, ...],
                     device) -> tuple[Tensor, Tensor]:
    """(sigma_i, sigma_{i+1}) of adjacent levels of a ``levels``-level schedule, ``shape`` draws of each."""
    sigmas = karras_levels(levels)
    count = math.prod(shape)
    pair = torch.multinomial(schedule.pair_probabilities(sigmas), count, replacement=True).view(shape)
    return sigmas[pair].to(device, torch.float32), sigmas[pair + 1].to(device, torch.float32)


def pseudo_huber(student: Tensor, teacher: Tensor, dims: int) -> Tensor:
    """iCT's pseudo-Huber distance over the last ``dims`` dimensions (per unit of root-mean-square difference)."""
    mean_square = (student - teacher).pow(2).flatten(-dims).mean(-1)
    return torch.sqrt(mean_square + HUBER_C**2) - HUBER_C


def validation_clip(files: list[Path], sample_rate: int) -> Tensor | None:
    """Up to VALIDATION_SECONDS from the middle of the first held-out file (C, T) in [-1, 1]."""
    if not files:
        return None
    audio, rate = read_audio(files[0])
    if rate != sample_rate:
        raise ValueError(f"validation file {files[0]} is {rate} Hz, not {sample_rate} Hz")
    length = min(audio.shape[1], int(VALIDATION_SECONDS * sample_rate))
    start = (audio.shape[1] - length) // 2
    return audio[:, start:start + length].clone()


def decoding_scores(codec, clip: Tensor, steps: tuple[int, ...], sample_rate: int) -> dict[str, float]:
    """SI-SDR and log-mel distance of ``clip`` (C, T) coded by ``codec``'s continuous latents and decoded in each
    of ``steps`` from a fixed generator: ``val_si_sdr``, ``val_log_mel`` (the first), then ``_<n>_steps``."""
    latents = codec.encode(clip.unsqueeze(0).to(codec.device))
    scores = {}
    for i, count in enumerate(steps):
        suffix = "" if i == 0 else f"_{count}_steps"
        decoded = codec.decode(latents, count, torch.Generator().manual_seed(0))[0, :clip.shape[0], :clip.shape[-1]]
        scores[f"val_si_sdr{suffix}"] = si_sdr(clip, decoded.cpu())
        scores[f"val_log_mel{suffix}"] = log_mel_distance(clip, decoded.cpu(), sample_rate)
    return scores


class ConsistencyTask(Task):
    metrics = ("loss", "levels")
    progress = ("loss",)
    val_metrics = ("val_si_sdr", "val_log_mel", "val_si_sdr_4_steps", "val_log_mel_4_steps")
    panels = (Panel("loss", None, "pseudo-Huber loss", "consistency training loss"),
              Panel(None, "val_log_mel", "log-mel distance", "held-out clip, one-step decode"),
              Panel(None, "val_log_mel_4_steps", "log-mel distance", "held-out clip, four-step decode"),
              Panel(None, "val_si_sdr_4_steps", "SI-SDR (dB)", "held-out clip, four-step decode"))
    export_name = "codec"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        self.model = build_model("music2latent", config.model)
        per_latent = self.model.config.samples_per_latent
        self.frames = max(1, (config.segment - 3 * self.model.config.hop) // per_latent)
        length = self.frames * per_latent + 3 * self.model.config.hop
        train_files, val_files = split_files(config.data, "audio", config.holdout, config.validation)
        self.data = AudioSegments(train_files, length, 2, config.sample_rate, mix=False)
        self.validation_clip = validation_clip(val_files, config.sample_rate)
        self.schedule = ConsistencySchedule(**(config.consistency or {}))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.int64))

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Mono items in [-1, 1]: one random channel of each random stereo segment."""
        stereo = self.data.sample(batch_size, generator) * 2
        channel = torch.randint(2, (batch_size,), generator=generator)
        return stereo[torch.arange(batch_size), channel]

    def forward(self, audio: Tensor) -> tuple[Tensor, dict[str, float]]:
        hop = self.model.config.hop
        with torch.no_grad():
            clean = audio_to_spectrogram(audio, hop)
        levels = self.schedule.levels(int(self.steps_done), self.config.steps)
        if self.training:
            self.steps_done += 1
        low, high = draw_level_pairs(self.schedule, levels, (clean.shape[0],), clean.device)
        noise = torch.randn_like(clean)
        latents = self.model.encode(clean)
        student = self.model(latents, clean + high.view(-1, 1, 1, 1) * noise, high)
        with torch.no_grad():
            teacher = self.model(latents.detach(), clean + low.view(-1, 1, 1, 1) * noise, low)
        loss = (pseudo_huber(student, teacher, 3) / (high - low)).mean()
        return loss, {"loss": loss.item(), "levels": float(levels)}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        from ..codec.music2latent import Music2LatentCodec

        if self.validation_clip is None:
            return {}
        codec = Music2LatentCodec("validation", self.model, self.device)
        scores = decoding_scores(codec, self.validation_clip, (1, 4), self.config.sample_rate)
        self.model.to(memory_format=torch.contiguous_format).requires_grad_(True)  # the codec took it for inference
        return scores

    def export(self, folder: Path) -> None:
        save_codec(folder, self.config.name, "music2latent", self.config.model, self.model.eval(),
                   sample_rate=self.config.sample_rate)
