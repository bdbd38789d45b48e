"""Training a WaLLoC codec: MSE in the signal domain ([-0.5, 0.5]) + ``rate_weight`` x the bits per pixel
(images) or per time sample (audio) of the latents under a factorized entropy model (a differentiable proxy for
the coder, which also exploits spatial correlation and so spends fewer bits). Uniform noise stands in for
rounding. PSNR is over the media's full range, which the signal domain spans as 1 (the reference's convention).
Exports a codec folder loadable with ``walloc.load``.

Variable rate (``qualities``: [low, high]): each item's latents are quantized at a quality of the codec's scale
(walloc.codec.wavelet): noise as wide as that quality's step, the rate term on the latents divided by the step
(the integers the coder codes). Half the items are at ``high``, half spread uniformly over [low, high], so the
decoder keeps its top operating point while it learns the coarse ones."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..codec.package import build_model, save_codec
from ..codec.wavelet import step_size
from ..entropy import EntropyBottleneck
from ..entropy.symbols import to_symbols
from ..metrics import psnr_from_mse
from .config import TrainConfig
from .data import AudioSegments, ImageCrops, split_files
from .init import pca_init
from .task import Panel, Task

# The linear skip's weights are ~100x smaller than the rest; Adam's steps are scale-free, so it gets a
# proportionally smaller learning rate (otherwise the first steps wreck the PCA start).
_SKIP_LR_SCALE = 0.02


def samples_per_item(x: Tensor) -> int:
    """Pixels of an image or time samples of a clip (the unit of bits-per-X rates)."""
    return x.shape[-1] * (x.shape[-2] if x.dim() == 4 else 1)


def signal_data(config: TrainConfig) -> tuple[ImageCrops | AudioSegments, ImageCrops | AudioSegments | None]:
    """(training sampler, validation sampler or None) for a codec-like config, in [-0.5, 0.5]."""
    kind = "audio" if config.kind == "audio" else "image"
    train_files, val_files = split_files(config.data, kind, config.holdout, config.validation)
    if kind == "image":
        return ImageCrops(train_files, config.crop), ImageCrops(val_files, config.crop) if val_files else None
    channels = config.model.get("channels", 2)
    data = AudioSegments(train_files, config.segment, channels, config.sample_rate)
    val = AudioSegments(val_files, config.segment, channels, config.sample_rate, mix=False) if val_files else None
    return data, val


class CodecTask(Task):
    metrics = ("loss", "mse", "psnr_db", "rate_estimate")
    progress = ("psnr_db", "rate_estimate")
    val_metrics = ("val_psnr_db", "val_rate")
    panels = (Panel("psnr_db", "val_psnr_db", "PSNR (dB)", "distortion (train: noisy latents; held out: rounded)"),
              Panel("rate_estimate", "val_rate", "bits per pixel / sample",
                    "rate (train: entropy-model estimate; held out: real bytes)"))
    export_name = "codec"

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        self.config = config
        self.data, self.val_data = signal_data(config)
        self.model = build_model(config.kind, config.model)
        self.entropy = EntropyBottleneck(self.model.latent_dim, init_scale=30.0)
        # Only the density is needed for the rate term; its coding range (quantiles) is never used here.
        self.entropy.quantiles.requires_grad_(False)
        if config.init_codec:
            self._init_from_codec(config.init_codec)
        elif config.pca_init:
            pca_init(self.model, self.data.sample(32, torch.Generator().manual_seed(config.seed)))

    def _init_from_codec(self, name: str) -> None:
        from ..codec import load

        codec = load(name)
        if codec.folder_config is None or codec.folder_config.get("model") != self.config.model:
            raise ValueError(f"init_codec {name!r} has another model than this config's {self.config.model}")
        self.model.load_state_dict(codec.model.state_dict())

    def quantizer_steps(self, count: int) -> Tensor:
        """(count,) quantizer steps of items: 1 at a fixed rate; see the module docs for ``qualities``."""
        if self.config.qualities is None:
            return torch.ones(count)
        low, high = self.config.qualities
        spread = low + (high - low) * torch.rand(count)
        quality = torch.where(torch.rand(count) < 0.5, torch.full((count,), float(high)), spread)
        return step_size(quality)

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        return self.data.sample(batch_size, generator)

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, float]]:
        latents = self.model.encode(x)
        step = self.quantizer_steps(x.shape[0]).to(latents).view(-1, *[1] * (latents.dim() - 1))
        noisy, likelihoods = self.entropy(latents / step, training=True)
        x_hat = self.model.synthesis(self.model.decode_packets(noisy * step))
        mse = F.mse_loss(x_hat, x)
        rate = -torch.log2(likelihoods).sum() / (x.shape[0] * samples_per_item(x))
        loss = mse + self.config.rate_weight * rate
        return loss, {"loss": loss.item(), "mse": mse.item(), "psnr_db": psnr_from_mse(mse.item()),
                      "rate_estimate": rate.item()}

    def parameter_groups(self) -> list[dict]:
        skip = list(self.model.skip.parameters()) if self.model.skip is not None else []
        skip_ids = {id(p) for p in skip}
        rest = [p for p in self.parameters() if id(p) not in skip_ids and p.requires_grad]
        return [{"params": rest, "lr_scale": 1.0}] + ([{"params": skip, "lr_scale": _SKIP_LR_SCALE}] if skip else [])

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR and real coded bits per pixel / time sample on fixed held-out samples."""
        from ..entropy.predictive import compress_planes

        if self.val_data is None:
            return {}
        generator = torch.Generator().manual_seed(1234)
        mses, bits, count = [], 0, 0
        for _ in range(2):
            x = self.val_data.sample(4, generator).to(self.device)
            x_hat, latents = self.model(x)
            mses.append(F.mse_loss(x_hat, x).item())
            symbols = to_symbols(latents, self.model.latent_bits)
            bits += 8 * len(compress_planes(symbols, self.model.latent_bits, 2 if self.config.kind == "image" else 1))
            count += x.shape[0] * samples_per_item(x)
        return {"val_psnr_db": psnr_from_mse(sum(mses) / len(mses)), "val_rate": bits / count}

    def export(self, folder: Path) -> None:
        extra = {"sample_rate": self.config.sample_rate} if self.config.kind == "audio" else {}
        save_codec(folder, self.config.name, self.config.kind, self.config.model, self.model.eval(), **extra)
