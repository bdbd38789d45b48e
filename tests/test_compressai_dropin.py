"""walloc.compressai: CompressAI's entropy models coded with walloc's rANS, checked against CompressAI itself
(skipped, with the reason, where CompressAI is not installed; see bench/reference_compressai.py)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import walloc
from walloc.entropy import rans_decode


@pytest.fixture(scope="module")
def compressai(reference_compressai):
    return reference_compressai


@pytest.fixture(scope="module")
def dropin(compressai):
    import walloc.compressai

    return walloc.compressai


def _pair(compressai, dropin, channels: int = 16, seed: int = 0):
    """CompressAI's bottleneck and walloc's, with the same parameters (trained a little off the initial state)."""
    torch.manual_seed(seed)
    theirs = compressai.entropy_models.EntropyBottleneck(channels)
    with torch.no_grad():
        for parameter in theirs.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    ours = dropin.EntropyBottleneck(channels)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def test_is_a_compressai_entropy_model(compressai, dropin) -> None:
    ours = dropin.EntropyBottleneck(8)
    assert isinstance(ours, compressai.entropy_models.EntropyModel)
    assert isinstance(ours, compressai.entropy_models.EntropyBottleneck)
    assert isinstance(dropin.GaussianConditional(None), compressai.entropy_models.GaussianConditional)
    assert ours.entropy_coder.name == dropin.CODER_NAME
    with pytest.raises(ValueError, match="code with"):
        dropin.EntropyBottleneck(8, entropy_coder="ans")


@pytest.mark.parametrize("dims", [0, 1, 2, 3])
def test_forward_and_loss_are_compressais(compressai, dropin, dims: int) -> None:
    theirs, ours = _pair(compressai, dropin)
    x = 3 * torch.randn(2, 16, *([5] * dims))
    for mode in ("train", "eval"):
        theirs.train(mode == "train"), ours.train(mode == "train")
        torch.manual_seed(1)
        y_theirs, likelihood_theirs = theirs(x)
        torch.manual_seed(1)
        y_ours, likelihood_ours = ours(x)
        assert torch.equal(y_ours, y_theirs) and torch.equal(likelihood_ours, likelihood_theirs)
    assert torch.equal(ours.loss(), theirs.loss())


def test_update_builds_compressais_tables(compressai, dropin) -> None:
    theirs, ours = _pair(compressai, dropin)
    assert ours.update() is True and ours.update() is False and ours.update(force=True) is True
    theirs.update(force=True)
    for name in ("_quantized_cdf", "_cdf_length", "_offset"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name))
    assert ours.update(force=True, update_quantiles=True)
    theirs.update(force=True, update_quantiles=True)
    assert torch.equal(ours.quantiles, theirs.quantiles) and torch.equal(ours._quantized_cdf, theirs._quantized_cdf)


@pytest.mark.parametrize("spatial", [(), (7,), (9, 11), (3, 4, 5)])
def test_streams_decode_to_compressais_quantization(compressai, dropin, spatial) -> None:
    theirs, ours = _pair(compressai, dropin)
    theirs.update(), ours.update()
    x = 4 * torch.randn(3, 16, *spatial)
    x[0, 0].fill_(1e4)  # far outside the tables: escape-coded, as CompressAI's bypass mode
    strings = ours.compress(x)
    decoded = ours.decompress(strings, spatial)
    assert torch.equal(decoded, theirs.decompress(theirs.compress(x), spatial))
    medians = ours._get_medians().reshape(1, -1, *([1] * len(spatial)))
    assert torch.equal(decoded, torch.round(x - medians) + medians)


def test_the_bytes_are_walloc_rans_streams(compressai, dropin) -> None:
    theirs, ours = _pair(compressai, dropin)
    theirs.update(), ours.update()
    x = 4 * torch.randn(1, 16, 12, 12)
    strings = ours.compress(x)
    indexes = ours._build_indexes(x.size())[0]
    symbols = rans_decode(strings[0], indexes, ours._quantized_cdf, ours._cdf_length, ours._offset)
    assert torch.equal(symbols, ours.quantize(x, "symbols", ours._get_medians().reshape(1, -1, 1, 1))[0])
    # The one intended difference: CompressAI's own streams are not walloc's, and are rejected in one line.
    with pytest.raises(walloc.BitstreamError):
        ours.decompress(theirs.compress(x), (12, 12))
    with pytest.raises(walloc.BitstreamError):
        ours.decompress([strings[0][:-5]], (12, 12))
    with pytest.raises(ValueError, match="Invalid strings"):
        super(compressai.entropy_models.EntropyBottleneck, ours).decompress(strings,
                                                                            ours._build_indexes((2, 16, 12, 12)))


def test_pickle_and_deepcopy_keep_the_coder(compressai, dropin) -> None:
    _, ours = _pair(compressai, dropin)
    ours.update()
    x = 4 * torch.randn(2, 16, 6, 6)
    for clone in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert type(clone) is type(ours) and clone.entropy_coder.name == dropin.CODER_NAME
        assert clone.compress(x) == ours.compress(x)


@pytest.mark.parametrize("architecture", ["bmshj2018_factorized", "bmshj2018_hyperprior"])
def test_inside_a_compressai_model(compressai, dropin, architecture: str) -> None:
    torch.manual_seed(0)
    net = getattr(compressai.zoo, architecture)(quality=1, pretrained=False).eval()
    reference = copy.deepcopy(net)
    assert dropin.convert(net) is net
    assert isinstance(net.entropy_bottleneck, dropin.EntropyBottleneck)
    # CompressAI finds the bottleneck by isinstance: update builds its tables, aux_loss counts it.
    assert net.update() is True and net.entropy_bottleneck._quantized_cdf.numel() > 0
    assert net.update() is False and net.update(force=True) is True
    assert torch.equal(net.aux_loss(), net.entropy_bottleneck.loss()) and float(net.aux_loss()) > 0
    reference.update(force=True)
    image = torch.rand(1, 3, 128, 192)
    with torch.no_grad():
        coded = net.compress(image)
        x_hat = net.decompress(coded["strings"], coded["shape"])["x_hat"]
        theirs = reference.compress(image)
        x_hat_theirs = reference.decompress(theirs["strings"], theirs["shape"])["x_hat"]
    assert torch.equal(x_hat, x_hat_theirs)  # same tables, same symbols: the same reconstruction
    assert all(isinstance(s, bytes) for strings in coded["strings"] for s in strings)
