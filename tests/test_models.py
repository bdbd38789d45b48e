"""WaLLoC architectures against the reference package (walloc 1.2.1), on the same random state_dicts."""

import pytest
import torch

from walloc.models import WallocAudioModel, WallocImageModel


def _randomize(state: dict, generator: torch.Generator) -> dict:
    """Random weights everywhere except the wavelet filter buffers (GroupNorm gains kept near 1)."""
    out = {}
    for key, value in state.items():
        if key.startswith(("wt.", "iwt.")):
            out[key] = value.clone()
        else:
            noise = torch.randn(value.shape, generator=generator) * 0.05
            out[key] = noise + (1.0 if "norm" in key and key.endswith("weight") else 0.0)
    return out


@pytest.fixture(scope="module")
def reference(reference_walloc):
    return reference_walloc


def test_image_model_matches_reference(reference):
    generator = torch.Generator().manual_seed(0)
    ref = reference.Codec2D(3, 3, None, 64, 12, 8, True).eval()
    state = _randomize(ref.state_dict(), generator)
    ref.load_state_dict(state)
    ours = WallocImageModel(3, 3, 64, 12, 8).eval()
    ours.load_state_dict(state, strict=True)
    x = torch.rand(2, 3, 64, 96, generator=generator) - 0.5
    with torch.no_grad():
        expected = ref(x)[0]
        packets = ref.wavelet_analysis(x, 3)
        torch.testing.assert_close(ours.quantize(ours.encode(x)), ref.encoder(packets), atol=0, rtol=0)
        torch.testing.assert_close(ours(x)[0], expected, atol=1e-4, rtol=0)
        latents = ref.encoder(packets)
        torch.testing.assert_close(ours.decode(latents), expected, atol=1e-4, rtol=0)


def test_audio_model_matches_reference(reference):
    generator = torch.Generator().manual_seed(1)
    ref = reference.Codec1D(2, 8, None, 96, 16, 8, True, True).eval()
    state = _randomize(ref.state_dict(), generator)
    ref.load_state_dict(state)
    ours = WallocAudioModel(2, 8, 96, 16, 8, post_filter=True).eval()
    ours.load_state_dict(state, strict=True)
    x = (torch.rand(2, 2, 256 * 24, generator=generator) - 0.5) * 0.8
    with torch.no_grad():
        expected = ref(x)[0]
        torch.testing.assert_close(ours(x)[0], expected, atol=1e-4, rtol=0)
        assert ours.encode(x).shape[-1] == ours.latent_frames(x.shape[-1]) == 24 + 2


@pytest.mark.parametrize("config", ["RGB_16x", "stereo_20x"])
def test_released_layouts_have_the_reference_keys(reference, config):
    """The released configurations (keys and shapes in ../shared/reference) build with identical state_dicts."""
    if config == "RGB_16x":
        ref, ours = reference.Codec2D(3, 3, None, 768, 12, 8, True), WallocImageModel(3, 3, 768, 12, 8)
    else:
        ref, ours = reference.Codec1D(2, 8, None, 768, 27, 8, True, True), WallocAudioModel(2, 8, 768, 27, 8, True)
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == theirs
    ours.load_state_dict(ref.state_dict(), strict=True)
    ours.check_filters()


def test_other_wavelet_filters_are_refused():
    model = WallocImageModel(3, 3, 32, 4, 8)
    state = model.state_dict()
    state["wt.h0_col"] = torch.flip(state["wt.h0_col"], dims=[2]) * 2
    model.load_state_dict(state)
    with pytest.raises(ValueError, match="bior4.4"):
        model.check_filters()


def test_windowed_attention_is_global_attention_when_the_keys_cover_the_map():
    """Windows whose margin reaches past the map give every query every key: global attention, to float32
    rounding; windows as large as the map are the global path itself; smaller margins are local."""
    from walloc.models.layers import SpatialSelfAttention

    torch.manual_seed(0)
    attention = SpatialSelfAttention(64).eval()
    x = torch.randn(2, 64, 21, 30)
    with torch.no_grad():
        full = attention(x)
        assert torch.equal(attention(x, (30, 0)), full)
        torch.testing.assert_close(attention(x, (8, 30)), full, atol=1e-5, rtol=1e-5)
        local = attention(x, (8, 2))
        assert (local - full).abs().max() > 1e-3
        attention.group_norm = torch.nn.Identity()  # its statistics are global by design; the keys are not
        local = attention(x, (8, 2))
        far = x.clone()
        far[..., :8, :8] += 5  # outside the keys of the windows at the opposite corner
        assert torch.equal(attention(far, (8, 2))[..., -8:, -8:], local[..., -8:, -8:])


@pytest.mark.parametrize("length", [129, 200, 255, 256, 1000, 4099])
@pytest.mark.parametrize("channels, padding, bias", [(2, 64, True), (3, 10, False), (1, 0, True)])
def test_toeplitz_conv1d_is_the_convolution(length, channels, padding, bias):
    """The block-Toeplitz product computes Conv1d's sums (against float64, within float32's error bound of a
    sum of kernel * channels products) and its gradients, at any length, padding and bias."""
    from walloc.models.layers import ToeplitzConv1d

    generator = torch.Generator().manual_seed(length + channels)
    conv = ToeplitzConv1d(channels, channels + 1, 129, padding=padding, bias=bias, block=128)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * 0.1)
    x = torch.randn(2, channels, length, generator=generator, requires_grad=True)
    y = conv(x)
    bias64 = None if conv.bias is None else conv.bias.double()
    expected = torch.nn.functional.conv1d(x.double(), conv.weight.double(), bias64, padding=padding)
    terms = channels * 129 + bias
    bound = torch.nn.functional.conv1d(x.abs().double(), conv.weight.abs().double(), padding=padding)
    assert y.shape == expected.shape
    assert ((y.double() - expected).abs() <= terms * 2.0**-24 * (bound + 1)).all()
    upstream = torch.randn(y.shape, generator=generator)
    grads = torch.autograd.grad(y, (x, conv.weight), upstream)
    reference = torch.nn.Conv1d(channels, channels + 1, 129, padding=padding, bias=bias)
    reference.load_state_dict(conv.state_dict())
    expected_grads = torch.autograd.grad(reference(x), (x, reference.weight), upstream)
    for ours, theirs in zip(grads, expected_grads):
        torch.testing.assert_close(ours, theirs, atol=1e-4 * theirs.abs().max().item(), rtol=0)
