"""Building blocks of WaLLoC's decoders, with the parameter names of the released checkpoints.

The image decoder follows the layout of diffusers' ``autoencoder_kl.Decoder`` and the audio decoder that of
its ``OobleckDecoder``; both are written here so walloc needs no diffusers, and so the released state_dicts
load unchanged (``weight_g``/``weight_v`` for the weight-normed audio convolutions).
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..windows import windows

_NORM_EPS = 1e-6


class ResnetBlock2D(nn.Module):
    """GroupNorm -> SiLU -> 3x3 conv, twice, plus the input (a 1x1 conv when the width changes)."""

    def __init__(self, in_channels: int, out_channels: int, groups: int = 32) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=_NORM_EPS)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=_NORM_EPS)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


AttentionWindow = Optional[Tuple[int, int]]


class SpatialSelfAttention(nn.Module):
    """Single-head self-attention over the positions of a feature map, with a residual: global, or with
    ``window`` = (size, margin) on maps larger than ``size`` a side, windowed: the map is cut into windows of
    at most ``size`` x ``size`` positions whose queries attend to the keys of the window and ``margin``
    positions around it, so time grows linearly with the map instead of with its square."""

    def __init__(self, channels: int, groups: int = 32) -> None:
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, channels, eps=_NORM_EPS)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def _attend(self, queries: Tensor, keys: Tensor) -> Tensor:
        """Attention of the normalised positions ``queries`` (N, C, h, w) to ``keys`` (N, C, h', w')."""
        n, c, h, w = queries.shape
        q_tokens, kv_tokens = queries.flatten(2).transpose(1, 2), keys.flatten(2).transpose(1, 2)
        # (N, heads = 1, L, C): with a heads axis PyTorch takes its flash / memory-efficient kernels, which never
        # hold the L x L matrix; 3-D inputs fall back to the math path, which does (57 GB at 7.7 MP).
        q = self.to_q(q_tokens).unsqueeze(1)
        k, v = self.to_k(kv_tokens).unsqueeze(1), self.to_v(kv_tokens).unsqueeze(1)
        attended = F.scaled_dot_product_attention(q, k, v).squeeze(1)
        return self.to_out[0](attended).transpose(1, 2).reshape(n, c, h, w)

    def forward(self, x: Tensor, window: AttentionWindow = None) -> Tensor:
        normed = self.group_norm(x)
        h, w = x.shape[-2:]
        if window is None or (h <= window[0] and w <= window[0]):
            return x + self._attend(normed, normed)
        size, margin = window
        out = torch.empty_like(x)
        for top, bottom, _, _ in windows(h, size, 0):
            for left, right, _, _ in windows(w, size, 0):
                keys = normed[..., max(0, top - margin):bottom + margin, max(0, left - margin):right + margin]
                out[..., top:bottom, left:right] = self._attend(normed[..., top:bottom, left:right], keys)
        return x + out


class MidBlock2D(nn.Module):
    """ResNet block, then attention + ResNet block (``mid_block`` of the checkpoints)."""

    def __init__(self, channels: int, groups: int = 32, attention: bool = True) -> None:
        super().__init__()
        self.attentions = nn.ModuleList([SpatialSelfAttention(channels, groups)] if attention else [])
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, groups) for _ in range(2)])

    def forward(self, x: Tensor, window: AttentionWindow = None) -> Tensor:
        x = self.resnets[0](x)
        for attention in self.attentions:
            x = attention(x, window)
        return self.resnets[1](x)


class UpBlock2D(nn.Module):
    """A stack of ResNet blocks at constant resolution (``up_blocks.i``; WaLLoC never upsamples in it)."""

    def __init__(self, in_channels: int, out_channels: int, layers: int, groups: int = 32) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, groups) for i in range(layers)])

    def forward(self, x: Tensor) -> Tensor:
        for block in self.resnets:
            x = block(x)
        return x


class LatentDecoder2D(nn.Module):
    """WaLLoC's image decoder: latents (N, latent_dim, h, w) -> wavelet packets (N, out_channels, h, w)."""

    def __init__(self, in_channels: int, out_channels: int, width: int, layers_per_block: int = 2,
                 groups: int = 32, attention: bool = True) -> None:
        super().__init__()
        if width % groups:
            raise ValueError(f"decoder width {width} must be a multiple of its {groups} norm groups")
        self.conv_in = nn.Conv2d(in_channels, width, 3, padding=1)
        self.mid_block = MidBlock2D(width, groups, attention)
        self.up_blocks = nn.ModuleList([UpBlock2D(width, width, layers_per_block + 1, groups)])
        self.conv_norm_out = nn.GroupNorm(groups, width, eps=_NORM_EPS)
        self.conv_out = nn.Conv2d(width, out_channels, 3, padding=1)

    def forward(self, z: Tensor, window: AttentionWindow = None) -> Tensor:
        """``window``: see :class:`SpatialSelfAttention`."""
        x = self.mid_block(self.conv_in(z), window)
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Snake1d(nn.Module):
    """x + sin(a x)**2 / b with per-channel log-scale a and b (the Oobleck activation)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        alpha, beta = self.alpha.exp(), self.beta.exp()
        return x + (beta + 1e-9).reciprocal() * torch.sin(alpha * x).pow(2)


class WeightNormConv1d(nn.Conv1d):
    """Conv1d whose weight is ``weight_g * weight_v / ||weight_v||`` (norm over all but the first dim)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _weight_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, _normed_weight(self), self.bias)


class WeightNormConvTranspose1d(nn.ConvTranspose1d):
    """ConvTranspose1d with the same weight normalisation (over all but the first, input-channel, dim)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _weight_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose1d(x, _normed_weight(self), self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


def _weight_norm(conv: nn.Module) -> None:
    weight = conv.weight.detach()
    del conv.weight
    conv.weight_g = nn.Parameter(torch.linalg.vector_norm(weight, dim=(1, 2), keepdim=True))
    conv.weight_v = nn.Parameter(weight.clone())


def _normed_weight(conv: nn.Module) -> Tensor:
    return torch._weight_norm(conv.weight_v, conv.weight_g, 0)


class ToeplitzConv1d(nn.Conv1d):
    """A Conv1d with few channels and a long kernel (stride 1, zero padding), as one matrix product.

    The signal is cut into blocks of ``block`` outputs; each block's outputs are its input span (the block and
    ``kernel - 1`` samples around it) times a banded Toeplitz matrix built from the kernel. That is twice the
    multiply-adds of the direct sum for ``block = 128`` and a 129-tap kernel, at matrix-product speed: torch's
    direct 1-D convolutions of this shape (WaLLoC's audio post-filter: 2 channels, 129 taps, 2 million samples
    per chunk) run at well under a GFLOP/s on some CPUs and build a 258-row im2col copy on others. Parameters
    and state-dict keys are Conv1d's.
    """

    def __init__(self, *args, block: int = 128, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if (self.stride, self.dilation, self.groups, self.padding_mode) != ((1,), (1,), 1, "zeros") \
                or isinstance(self.padding, str):
            raise ValueError("ToeplitzConv1d takes stride 1, dilation 1, one group and numeric zero padding")
        self.block = block

    def forward(self, x: Tensor) -> Tensor:
        n, channels, length = x.shape
        taps, block, pad = self.kernel_size[0], self.block, self.padding[0]
        outputs = length + 2 * pad - taps + 1
        if outputs < 1:
            return super().forward(x)  # torch's own error for a signal shorter than the kernel
        blocks = -(-outputs // block)
        span = block + taps - 1
        padded = F.pad(x, (pad, blocks * block + taps - 1 - length - pad))
        spans = padded.unfold(-1, span, block).transpose(1, 2).reshape(n * blocks, channels * span)
        # toeplitz[(c, j), (o, t)] = weight[o, c, j - t] where 0 <= j - t < taps, else 0
        lag = torch.arange(span, device=x.device).view(-1, 1) - torch.arange(block, device=x.device)
        inside = (lag >= 0) & (lag < taps)
        toeplitz = self.weight[:, :, lag.clamp(0, taps - 1)] * inside
        toeplitz = toeplitz.permute(1, 2, 0, 3).reshape(channels * span, -1)
        bias = self.bias.repeat_interleave(block) if self.bias is not None else x.new_zeros(toeplitz.shape[1])
        y = torch.addmm(bias, spans, toeplitz).view(n, blocks, self.out_channels, block)
        return y.transpose(1, 2).reshape(n, self.out_channels, blocks * block)[..., :outputs]


class OobleckResidualUnit(nn.Module):
    """Snake -> dilated k=7 conv -> Snake -> 1x1 conv, plus the input."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.snake1 = Snake1d(channels)
        self.conv1 = WeightNormConv1d(channels, channels, 7, dilation=dilation, padding=3 * dilation)
        self.snake2 = Snake1d(channels)
        self.conv2 = WeightNormConv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.snake2(self.conv1(self.snake1(x))))


class OobleckDecoderBlock(nn.Module):
    """Snake -> transposed conv (stride ``stride``) -> three residual units with dilations 1, 3, 9."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.snake1 = Snake1d(in_channels)
        self.conv_t1 = WeightNormConvTranspose1d(in_channels, out_channels, 2 * stride, stride=stride,
                                                 padding=(stride + 1) // 2)
        self.res_unit1 = OobleckResidualUnit(out_channels, 1)
        self.res_unit2 = OobleckResidualUnit(out_channels, 3)
        self.res_unit3 = OobleckResidualUnit(out_channels, 9)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_t1(self.snake1(x))
        return self.res_unit3(self.res_unit2(self.res_unit1(x)))


class OobleckDecoder(nn.Module):
    """WaLLoC's audio decoder: latents (N, channels, T) -> wavelet packets (N, audio_channels, T').

    ``channel_multiples[i]`` scales the width of the blocks from the output side; with WaLLoC's stride-1
    blocks each block shortens the sequence by one frame.
    """

    def __init__(self, channels: int, input_channels: int, audio_channels: int, upsampling_ratios: list[int],
                 channel_multiples: list[int]) -> None:
        super().__init__()
        multiples = [1, *channel_multiples]
        self.conv1 = WeightNormConv1d(input_channels, channels * multiples[-1], 7, padding=3)
        depth = len(upsampling_ratios)
        self.block = nn.ModuleList([
            OobleckDecoderBlock(channels * multiples[depth - i], channels * multiples[depth - i - 1], stride)
            for i, stride in enumerate(upsampling_ratios)])
        self.snake1 = Snake1d(channels)
        self.conv2 = WeightNormConv1d(channels, audio_channels, 7, padding=3, bias=False)

    def forward(self, z: Tensor) -> Tensor:
        x = self.conv1(z)
        for block in self.block:
            x = block(x)
        return self.conv2(self.snake1(x))
