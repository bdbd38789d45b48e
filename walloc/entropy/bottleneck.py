"""The factorized prior of Ballé et al. 2018 ("Variational image compression with a scale hyperprior"),
with the parameter and buffer names of ``compressai.entropy_models.EntropyBottleneck`` so that state dicts
load both ways, coded with walloc's rANS.

Each channel has a learned cumulative density c(y) = sigmoid(f(y)), f a small monotone network per channel
(matrices through softplus, biases, tanh gates). The likelihood of an integer-quantized value is
c(y + 1/2) - c(y - 1/2); training adds uniform noise instead of rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .rans import rans_decode, rans_encode
from .tables import quantize_pmf


class _LowerBoundFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, bound: Tensor) -> Tensor:
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, bound = ctx.saved_tensors
        # Let gradients through where they would raise x back above the bound, so training is not stuck.
        return grad * ((x >= bound) | (grad < 0)).to(grad.dtype), None


class LowerBound(nn.Module):
    """max(x, bound) whose gradient still flows where it pushes x upwards (buffer name ``bound``)."""

    def __init__(self, bound: float) -> None:
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: Tensor) -> Tensor:
        return _LowerBoundFn.apply(x, self.bound.to(x.dtype))


class EntropyBottleneck(nn.Module):
    """Factorized entropy model for (N, C, ...) latents.

    ``forward(y) -> (y_hat, likelihoods)``; ``update()`` builds the 16-bit tables; ``compress(y)`` returns one
    rANS stream per batch item and ``decompress(strings, size)`` inverts it (``size`` = the spatial shape).
    ``loss()`` is the auxiliary loss that fits the quantiles (the coded range) during training.
    """

    _TABLE_BUFFERS = ("_offset", "_quantized_cdf", "_cdf_length")

    def __init__(
        self,
        channels: int,
        *,
        tail_mass: float = 1e-9,
        init_scale: float = 10.0,
        filters: tuple[int, ...] = (3, 3, 3, 3),
        likelihood_bound: float = 1e-9,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be positive, got {channels}")
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        self.init_scale = float(init_scale)
        self.tail_mass = float(tail_mass)
        widths = (1,) + self.filters + (1,)
        scale = self.init_scale ** (1 / (len(self.filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(self.filters) + 1):
            # softplus(init) = 1 / (scale * width): the initial density is spread over +-init_scale.
            init = math.log(math.expm1(1 / scale / widths[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, widths[i + 1], widths[i]), init)))
            self.biases.append(nn.Parameter(torch.empty(channels, widths[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(self.filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[i + 1], 1)))
        self.quantiles = nn.Parameter(
            torch.tensor([-self.init_scale, 0.0, self.init_scale]).repeat(channels, 1, 1)
        )
        target = math.log(2 / self.tail_mass - 1)
        self.register_buffer("_offset", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_quantized_cdf", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_cdf_length", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("target", torch.tensor([-target, 0.0, target]))
        self.likelihood_lower_bound = LowerBound(likelihood_bound)

    # -- density -------------------------------------------------------------------------------------------
    def _logits_cumulative(self, x: Tensor, stop_gradient: bool = False) -> Tensor:
        """f(x) for x of shape (C, 1, K): the logit of the cumulative density, per channel."""
        logits = x
        for i, matrix in enumerate(self.matrices):
            bias = self.biases[i]
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            logits = torch.matmul(F.softplus(matrix), logits) + bias
            if i < len(self.factors):
                factor = self.factors[i].detach() if stop_gradient else self.factors[i]
                logits = logits + torch.tanh(factor) * torch.tanh(logits)
        return logits

    def _likelihood(self, x: Tensor, stop_gradient: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        lower = self._logits_cumulative(x - 0.5, stop_gradient)
        upper = self._logits_cumulative(x + 0.5, stop_gradient)
        return torch.sigmoid(upper) - torch.sigmoid(lower), lower, upper

    def _medians(self) -> Tensor:
        return self.quantiles[:, :, 1:2]

    def forward(self, y: Tensor, training: bool | None = None) -> tuple[Tensor, Tensor]:
        """Quantized (or, in training, noisy) latents and their likelihoods, both shaped like ``y``."""
        if y.dim() < 2 or y.shape[1] != self.channels:
            raise ValueError(f"expected (N, {self.channels}, ...) latents, got shape {tuple(y.shape)}")
        training = self.training if training is None else training
        values = y.transpose(0, 1).reshape(self.channels, 1, -1)
        if training:
            values = values + torch.empty_like(values).uniform_(-0.5, 0.5)
        else:
            medians = self._medians()
            values = torch.round(values - medians) + medians
        likelihood, _, _ = self._likelihood(values)
        likelihood = self.likelihood_lower_bound(likelihood)
        shape = (self.channels, y.shape[0]) + tuple(y.shape[2:])
        y_hat = values.reshape(shape).transpose(0, 1).contiguous()
        return y_hat, likelihood.reshape(shape).transpose(0, 1).contiguous()

    def loss(self) -> Tensor:
        """Auxiliary loss: pulls the quantiles to where the cumulative reaches tail_mass/2, 1/2, 1 - tail_mass/2."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return (logits - self.target).abs().sum()

    # -- tables and coding ---------------------------------------------------------------------------------
    @torch.no_grad()
    def update(self, force: bool = False) -> bool:
        """Builds the quantized CDFs from the current density; returns False if they exist and not ``force``."""
        if self._offset.numel() > 0 and not force:
            return False
        medians = self.quantiles[:, 0, 1]
        minima = torch.ceil(medians - self.quantiles[:, 0, 0]).int().clamp_min(0)
        maxima = torch.ceil(self.quantiles[:, 0, 2] - medians).int().clamp_min(0)
        pmf_start = medians - minima
        pmf_length = maxima + minima + 1
        max_length = int(pmf_length.max())
        samples = torch.arange(max_length, device=medians.device)[None, None, :] + pmf_start[:, None, None]
        pmf, lower, upper = self._likelihood(samples, stop_gradient=True)
        pmf = pmf[:, 0, :]
        tail = torch.sigmoid(lower[:, 0, 0]) + torch.sigmoid(-upper[:, 0, -1])
        cdf = torch.zeros(self.channels, max_length + 2, dtype=torch.int32, device=medians.device)
        for c in range(self.channels):
            n = int(pmf_length[c])
            probs = torch.cat([pmf[c, :n], tail[c : c + 1]]).cpu()
            cdf[c, : n + 2] = quantize_pmf(probs).to(cdf.device)
        self._offset = -minima
        self._quantized_cdf = cdf
        self._cdf_length = (pmf_length + 2).int()
        return True

    def _tables(self) -> tuple[Tensor, Tensor, Tensor]:
        if self._offset.numel() == 0:
            raise RuntimeError("EntropyBottleneck has no tables: call update() first (after training)")
        return self._quantized_cdf, self._cdf_length, self._offset

    def _indexes(self, spatial: tuple[int, ...]) -> Tensor:
        """The table row of every latent of one item: its channel."""
        idx = torch.arange(self.channels, dtype=torch.int32).view(1, -1, *([1] * len(spatial)))
        return idx.expand(1, self.channels, *spatial).contiguous()

    def _medians_view(self, spatial: tuple[int, ...]) -> Tensor:
        return self._medians().detach().reshape(1, -1, *([1] * len(spatial)))

    def compress(self, y: Tensor) -> list[bytes]:
        """One rANS stream per batch item: round(y - median) coded with the per-channel tables."""
        if y.dim() < 2 or y.shape[1] != self.channels:
            raise ValueError(f"expected (N, {self.channels}, ...) latents, got shape {tuple(y.shape)}")
        cdfs, lengths, offsets = self._tables()
        spatial = tuple(y.shape[2:])
        symbols = torch.round(y.detach() - self._medians_view(spatial).to(y)).int()
        indexes = self._indexes(spatial)
        return [rans_encode(symbols[i], indexes, cdfs, lengths, offsets) for i in range(y.shape[0])]

    def decompress(self, strings: list[bytes], size) -> Tensor:
        """Inverse of :meth:`compress`: (len(strings), C, *size) dequantized latents."""
        if not isinstance(strings, (list, tuple)):
            raise ValueError("strings must be the list that compress() returned")
        cdfs, lengths, offsets = self._tables()
        spatial = tuple(int(s) for s in size)
        indexes = self._indexes(spatial)
        medians = self._medians_view(spatial)
        symbols = [rans_decode(s, indexes, cdfs, lengths, offsets) for s in strings]
        if not symbols:
            return medians.new_zeros((0, self.channels) + spatial)
        return torch.cat(symbols).to(medians.dtype).to(medians.device) + medians

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The tables' shapes depend on the trained density: take whatever shape the checkpoint has.
        for name in self._TABLE_BUFFERS:
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
