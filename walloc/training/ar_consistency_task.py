"""Consistency training of a Music2Latent2 autoencoder on pairs of consecutive chunks (no teacher network, no
EMA: the schedule, pair density and loss of :mod:`walloc.training.consistency_task`).

Each item is two consecutive chunks of ``channels``-channel audio, both encoded to summary embeddings. Each
chunk of the pair gets its own adjacent noise levels (sigma_i, sigma_{i+1}) and one Gaussian draw; the network
at the higher levels, F([prev, cur] + sigma_{i+1} n, sigma_{i+1} | summaries), is pulled to its own output at the
lower levels, held fixed. Both halves are scored: the current chunk learns to denoise with its re-noised
predecessor as context (the autoregressive step), the previous one to denoise alone (the causal mask hides the
current chunk from it), which is the second decoding step. With probability ``SILENT_PREVIOUS`` the previous
chunk is silence with zero summaries, the context the first chunk of a stream is decoded with.

Consistency training alone lets the summaries collapse: at initialisation the two transformers dilute the input's
share of the summaries to a few percent and of the decoder's maps to about 1%, the consistency network's
zero-initialised output gives the encoder no gradient at all, the network learns to denoise without the maps, and
the encoder is then pushed to a constant. So the decoder's finest map also predicts the chunk's magnitude
spectrogram through a 1x1 convolution (trained here, not exported), a normalised squared error added with weight
``ENVELOPE_WEIGHT``: a direct gradient that makes the summaries carry the spectral envelope from the first step.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..codec.package import build_model, save_codec
from ..models.music2latent2 import audio_to_chunks
from .config import TrainConfig
from .consistency_task import (
    ConsistencySchedule,
    decoding_scores,
    draw_level_pairs,
    pseudo_huber,
    validation_clip,
)
from .data import AudioSegments, split_files
from .task import Panel, Task

SILENT_PREVIOUS = 0.1
ENVELOPE_WEIGHT = 1.0


class ARConsistencyTask(Task):
    metrics = ("loss", "loss_previous", "loss_current", "loss_envelope", "levels")
    progress = ("loss",)
    val_metrics = ("val_si_sdr", "val_log_mel", "val_si_sdr_2_steps", "val_log_mel_2_steps")
    panels = (Panel("loss", None, "loss", "training loss (consistency + envelope)"),
              Panel("loss_current", None, "pseudo-Huber loss", "current chunk (autoregressive step)"),
              Panel("loss_envelope", None, "normalised squared error", "magnitudes from the summaries"),
              Panel(None, "val_log_mel", "log-mel distance", "held-out clip, one-step decode"),
              Panel(None, "val_log_mel_2_steps", "log-mel distance", "held-out clip, two-step decode"))
    export_name = "codec"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        self.model = build_model("music2latent2", config.model)
        c = self.model.config
        length = 2 * c.chunk_samples + 3 * c.hop
        train_files, val_files = split_files(config.data, "audio", config.holdout, config.validation)
        self.data = AudioSegments(train_files, length, c.channels, config.sample_rate, mix=False)
        self.validation_clip = validation_clip(val_files, config.sample_rate)
        self.schedule = ConsistencySchedule(**(config.consistency or {}))
        self.envelope = nn.Conv2d(c.patch_channels[0], c.channels, 1)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.int64))

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """(B, channels, 2 chunks + 3 hops) in [-1, 1]."""
        return self.data.sample(batch_size, generator) * 2

    def forward(self, audio: Tensor) -> tuple[Tensor, dict[str, float]]:
        c = self.model.config
        batch = audio.shape[0]
        with torch.no_grad():
            clean = audio_to_chunks(audio, c)  # (B, 2, data_channels, bins, frames)
            audible = (torch.rand(batch, device=clean.device) >= SILENT_PREVIOUS).float()
            clean[:, 0] *= audible.view(-1, 1, 1, 1)
        levels = self.schedule.levels(int(self.steps_done), self.config.steps)
        if self.training:
            self.steps_done += 1
        low, high = draw_level_pairs(self.schedule, levels, (batch, 2), clean.device)
        noise = torch.randn_like(clean)
        summaries = self.model.encode(clean.flatten(0, 1)).unflatten(0, (batch, 2))
        summaries = torch.stack([summaries[:, 0] * audible.view(-1, 1, 1), summaries[:, 1]], dim=1)
        features = self.model.features(summaries.flatten(0, 1))
        student = self.model.denoise_pair(clean + high.view(batch, 2, 1, 1, 1) * noise, high, features)
        with torch.no_grad():
            teacher = self.model.denoise_pair(clean + low.view(batch, 2, 1, 1, 1) * noise, low,
                                              [f.detach() for f in features])
        losses = pseudo_huber(student, teacher, 3) / (high - low)  # (B, 2)
        magnitude = clean.flatten(0, 1).unflatten(1, (c.channels, 2)).norm(dim=2)
        error = (self.envelope(features[0]).float() - magnitude).square().mean()
        envelope = error / magnitude.square().mean().clamp_min(1e-8)
        loss = losses.mean() + ENVELOPE_WEIGHT * envelope
        return loss, {"loss": loss.item(), "loss_previous": losses[:, 0].mean().item(),
                      "loss_current": losses[:, 1].mean().item(), "loss_envelope": envelope.item(),
                      "levels": float(levels)}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        from ..codec.music2latent2 import Music2Latent2Codec

        if self.validation_clip is None:
            return {}
        codec = Music2Latent2Codec("validation", self.model, self.device)
        scores = decoding_scores(codec, self.validation_clip, (1, 2), self.config.sample_rate)
        self.model.requires_grad_(True)  # the codec took it for inference
        return scores

    def export(self, folder: Path) -> None:
        save_codec(folder, self.config.name, "music2latent2", self.config.model, self.model.eval(),
                   sample_rate=self.config.sample_rate)
