"""The learned baseline: CompressAI's factorized-prior image codec (Balle et al., ICLR 2018), trained by
``walloc train`` on the same data, crops, batch, schedule and budget as a WaLLoC codec, so the comparison
in ``bench/rd_images.py`` measures the architectures, not the training.

Needs ``compressai`` (``pip install compressai``). The export, ``baseline/`` (``config.json`` and
``weights.safetensors``, CDF tables included), loads with :func:`load_factorized_prior`; its bitstreams are
CompressAI's own range-coded strings.
"""

from __future__ import annotations

import struct
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..codec.package import read_folder, write_folder
from ..metrics import psnr_from_mse
from ..models import WallocImageModel
from .codec_task import signal_data
from .config import TrainConfig
from .task import Panel, Task

_AUX_STEPS = 3000  # fitting the coding range of the latents' densities after training (no data needed)


def _compressai_model(arguments: dict) -> torch.nn.Module:
    try:
        from compressai.models import FactorizedPrior
    except ImportError:
        raise ImportError("the factorized-prior baseline needs CompressAI: pip install compressai") from None
    return FactorizedPrior(**arguments)


class FactorizedPriorTask(Task):
    metrics = ("loss", "mse", "psnr_db", "rate_estimate")
    progress = ("psnr_db", "rate_estimate")
    val_metrics = ("val_psnr_db", "val_rate")
    panels = (Panel("psnr_db", "val_psnr_db", "PSNR (dB)", "distortion (train: noisy latents; held out: rounded)"),
              Panel("rate_estimate", "val_rate", "bits per pixel", "rate (entropy-model estimate)"))
    export_name = "baseline"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        self.data, self.val_data = signal_data(config)
        self.model = _compressai_model(config.model)
        # As in CompressAI, the coding range (quantiles) is not trained by the rate-distortion loss; it is
        # fitted by the auxiliary loss at export.
        self.model.entropy_bottleneck.quantiles.requires_grad_(False)

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        return WallocImageModel.to_media(self.data.sample(batch_size, generator))

    def _rate_distortion(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model(x)
        bits = sum(-torch.log2(v).sum() for v in out["likelihoods"].values())
        return F.mse_loss(out["x_hat"], x), bits / (x.shape[0] * x.shape[-2] * x.shape[-1])

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        mse, rate = self._rate_distortion(x)
        loss = mse + self.config.rate_weight * rate
        return loss, {"loss": loss.item(), "mse": mse.item(), "psnr_db": psnr_from_mse(mse.item()),
                      "rate_estimate": rate.item()}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        if self.val_data is None:
            return {}
        generator = torch.Generator().manual_seed(1234)
        results = [self._rate_distortion(WallocImageModel.to_media(self.val_data.sample(4, generator).to(self.device)))
                   for _ in range(2)]
        return {"val_psnr_db": psnr_from_mse(sum(m.item() for m, _ in results) / 2),
                "val_rate": sum(r.item() for _, r in results) / 2}

    def export(self, folder: Path) -> None:
        fit_coding_range(self.model)
        self.model.update(force=True)
        config = {"architecture": "compressai.models.FactorizedPrior", "name": self.config.name,
                  "arguments": self.config.model}
        write_folder(folder, config, self.model.state_dict())


def fit_coding_range(model: torch.nn.Module, steps: int = _AUX_STEPS) -> float:
    """Minimises CompressAI's auxiliary loss over the quantiles only (the densities stay as trained), so the
    CDF tables cover the latents' range; returns the final auxiliary loss."""
    quantiles = model.entropy_bottleneck.quantiles
    quantiles.requires_grad_(True)
    others = [p for p in model.parameters() if p is not quantiles]
    flags = [p.requires_grad for p in others]
    for p in others:
        p.requires_grad_(False)
    optimizer = torch.optim.Adam([quantiles], lr=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        loss = model.aux_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    for p, flag in zip(others, flags):
        p.requires_grad_(flag)
    quantiles.requires_grad_(False)
    return loss.item()


def load_factorized_prior(folder: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The trained baseline from ``folder`` (a ``walloc train`` export), in eval mode, ready to compress."""
    config, state = read_folder(folder)
    model = _compressai_model(config["arguments"])
    model.load_state_dict(state)
    return model.eval().to(device)


class FactorizedPriorCodec:
    """A trained baseline behind the image-codec interface the benchmarks use: ``compress(image) -> bytes`` (a
    4-byte size header and CompressAI's range-coded string) and ``decompress(bytes) -> (1, 3, H, W)`` in
    [0, 1]. Images are reflect-padded to a multiple of 16 (the analysis transform's stride) and cropped back."""

    kind = "image"

    def __init__(self, folder: str | Path, name: str | None = None) -> None:
        self.model = load_factorized_prior(folder)
        self.name = name or read_folder(folder)[0]["name"]

    @torch.no_grad()
    def compress(self, image: Tensor) -> bytes:
        x = image.reshape(1, *image.shape[-3:]).float() / (255 if image.dtype == torch.uint8 else 1)
        h, w = x.shape[-2:]
        x = F.pad(x, (0, -w % 16, 0, -h % 16), mode="reflect")
        strings = self.model.compress(x)["strings"][0]
        return struct.pack(">HH", h, w) + strings[0]

    @torch.no_grad()
    def decompress(self, data: bytes) -> Tensor:
        h, w = struct.unpack(">HH", data[:4])
        shape = (-(-h // 16), -(-w // 16))
        return self.model.decompress([[data[4:]]], shape)["x_hat"][..., :h, :w]
