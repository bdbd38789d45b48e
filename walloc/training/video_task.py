"""Fitting an implicit video representation (NeRV / NeRV++) to one video: the loss of the NeRV paper,
0.7 L1 + 0.3 (1 - SSIM), on random frames; held-out metric: the PSNR over every frame."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..codec.package import write_folder
from ..metrics import psnr_from_mse
from ..models.nerv import build_nerv, nerv_arguments
from .config import TrainConfig
from .task import Panel, Task


def _ssim(x: Tensor, y: Tensor) -> Tensor:
    try:
        from pytorch_msssim import ssim
    except ImportError:
        raise ImportError("fitting a video needs pytorch-msssim: pip install 'walloc[video]'") from None
    return ssim(x, y, data_range=1.0, size_average=True)


class VideoFitTask(Task):
    """``config.model``: ``{"arch": "nerv" | "nervpp", "size": "XS" | "S" | "M" | "L", "frame_size": [H, W]
    (optional resize)}``; frames from ``config.data[0]`` (a video file) unless given."""

    metrics = ("loss", "psnr_db")
    progress = ("psnr_db",)
    val_metrics = ("val_psnr_db",)
    panels = (Panel("psnr_db", "val_psnr_db", "PSNR (dB)", "fit (train: a batch of frames; held out: every frame)"),)
    export_name = "video"
    adam_betas = (0.5, 0.999)  # NeRV's optimizer

    def __init__(self, config: TrainConfig, frames: Tensor | None = None, fps: float = 25.0) -> None:
        super().__init__()
        self.config, self.fps = config, fps
        if frames is None:
            from ..media import read_video

            frames, self.fps = read_video(config.data[0], config.model.get("frame_size"))
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(f"expected frames (T, 3, H, W), got shape {tuple(frames.shape)}")
        # Not a buffer: checkpoints hold only weights, and DDP would broadcast the whole video every step.
        self.frames = frames.float() / 255 if frames.dtype == torch.uint8 else frames.float()
        arch = config.model.get("arch", "nervpp")
        self.arch = arch
        self.arguments = nerv_arguments(arch, config.model.get("size", "S"), *self.frames.shape[-2:])
        self.model = build_nerv(arch, self.arguments)

    def to_device(self, device: torch.device) -> "VideoFitTask":
        self.frames = self.frames.to(device)
        return self.to(device)

    def positions(self, indices: Tensor) -> Tensor:
        """Frame indices -> positions in (0, 1], in float64 as :meth:`walloc.video.NervCodec.decode` forms them:
        the encoding's top frequencies turn a float32 rounding of t into a different input (measured: decoding
        with other positions than training cost NeRV 0.2 dB and NeRV++ 0.6 dB)."""
        return (indices.double() + 1) / len(self.frames)

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        return torch.randint(len(self.frames), (batch_size,), generator=generator)

    def forward(self, indices: Tensor) -> tuple[Tensor, dict[str, float]]:
        output, target = self.model(self.positions(indices)), self.frames[indices]
        loss = 0.7 * F.l1_loss(output, target) + 0.3 * (1 - _ssim(output, target))
        mse = F.mse_loss(output, target).item()
        return loss, {"loss": loss.item(), "psnr_db": psnr_from_mse(mse)}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        indices = torch.arange(len(self.frames), device=self.frames.device)
        mse = sum(F.mse_loss(self.model(self.positions(i)), self.frames[i], reduction="sum").item()
                  for i in indices.split(8)) / self.frames.numel()
        return {"val_psnr_db": psnr_from_mse(mse)}

    def export(self, folder: Path) -> None:
        config = {"arch": self.arch, "arguments": self.arguments, "frames": len(self.frames), "fps": self.fps}
        write_folder(folder, config, self.model.state_dict())
