"""PCA initialisation: the encoder starts as the leading principal components of the wavelet packets (and the
linear skip, when present, as their inverse), so training starts from the best linear codec."""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.wavelet_codec import WallocImageModel, _WaveletCodecModel

_TOP_COMPONENT_SPREAD = 0.42  # std of the first component, in units of the compander's scale


@torch.no_grad()
def pca_init(model: _WaveletCodecModel, samples: Tensor) -> None:
    packets = model.analysis(samples)
    flat = packets.transpose(0, 1).reshape(packets.shape[1], -1).double()
    mean = flat.mean(1)
    centred = flat - mean[:, None]
    eigenvalues, eigenvectors = torch.linalg.eigh(centred @ centred.T / centred.shape[1])
    order = eigenvalues.argsort(descending=True)[: model.latent_dim]
    basis = eigenvectors[:, order]                                   # (packets, latent_dim)
    # One gain for all components: the same quantization step everywhere is the MSE-optimal allocation.
    gain = _TOP_COMPONENT_SPREAD * model.encoder[1].scale / eigenvalues[order[0]].sqrt()
    conv = model.encoder[0]
    weight = (basis.T * gain).float()
    conv.weight.copy_(weight.view(conv.weight.shape))
    conv.bias.copy_((-(mean @ basis) * gain).float())
    if model.skip is not None:
        skip = model.skip
        skip.weight.zero_()
        inverse = (basis / gain).float()                             # (packets, latent_dim)
        if skip.weight.dim() == 4:
            skip.weight.copy_(inverse.view(skip.weight.shape))
        else:
            skip.weight[:, :, skip.weight.shape[-1] // 2] = inverse
        skip.bias.copy_(mean.float())
        # The decoder's last layer starts at zero, so the first reconstruction is exactly the linear one.
        decoder = model.decoder[1]
        if isinstance(model, WallocImageModel):
            decoder.conv_out.weight.zero_()
            decoder.conv_out.bias.zero_()
        else:
            decoder.conv2.weight_g.zero_()
