"""Writes compressai_entropy_bottleneck.pt: CompressAI's own outputs for a fixed EntropyBottleneck, so the
tests check walloc against CompressAI without installing it (CompressAI pulls in torchvision and a CUDA torch).

    python tests/data/make_compressai_fixture.py   # needs compressai (1.2.8 wrote the committed file)
"""

from pathlib import Path

import compressai
import torch
from compressai.entropy_models import EntropyBottleneck

torch.manual_seed(0)
model = EntropyBottleneck(8)
with torch.no_grad():
    for p in model.parameters():
        p.add_(0.3 * torch.randn_like(p))
    model.quantiles.copy_(torch.tensor([-6.0, 0.3, 7.0]).repeat(8, 1, 1) + 0.5 * torch.randn(8, 1, 3))
before = {k: v.clone() for k, v in model.state_dict().items()}
y = 3 * torch.randn(2, 8, 5, 7)
model.eval()
y_hat, likelihoods = model(y)
aux = model.loss()
model.update()
torch.save(
    {
        "compressai": compressai.__version__,
        "state_dict": before,
        "state_dict_updated": {k: v.clone() for k, v in model.state_dict().items()},
        "y": y,
        "y_hat": y_hat.detach(),
        "likelihoods": likelihoods.detach(),
        "aux_loss": aux.detach(),
    },
    Path(__file__).with_name("compressai_entropy_bottleneck.pt"),
)
