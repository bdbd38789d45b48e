"""JPEG-byte and AVC-byte tokenizers: exact canonical round trips, BPE, and robust decoding of any ids."""

from __future__ import annotations

import io

import numpy as np
import pytest

import walloc

# Test dependencies (pip install ".[test]"); a bare GPU machine may lack them.
Image = pytest.importorskip("PIL.Image", reason="Pillow is a test dependency")
pytest.importorskip("tokenizers", reason="tokenizers is a test dependency")
from walloc.tokenizers import AvcTokenizer, JpegTokenizer  # noqa: E402


def natural_image(seed: int, height: int = 300, width: int = 420) -> np.ndarray:
    """Smooth colour fields, edges and texture: compresses like a photograph, not like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    img = np.zeros((height, width, 3))
    for c in range(3):
        a, b, f = rng.uniform(-1, 1, 3)
        img[..., c] = 0.5 + 0.3 * np.sin(2 * np.pi * (a * x + b * y) * (1 + 3 * abs(f)))
    for _ in range(6):
        cy, cx, r = rng.uniform(0, 1, 3)
        mask = (y - cy * height / max(height, width)) ** 2 + (x - cx) ** 2 < (0.2 * r) ** 2
        img[mask] = rng.uniform(0, 1, 3)
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tokenizer() -> JpegTokenizer:
    return JpegTokenizer()


def test_decode_of_encode_is_pillows_decode_of_the_canonical_jpeg(tokenizer) -> None:
    for seed in range(3):
        image = natural_image(seed)
        canonical = tokenizer.canonical_jpeg(image)
        with Image.open(io.BytesIO(canonical)) as im:
            reference = np.asarray(im.convert("RGB"))
        ids = tokenizer.encode(image)
        assert ids[0] == tokenizer.vocab.bos and ids[-1] == tokenizer.vocab.eos
        for strict in (False, True):
            assert np.array_equal(np.asarray(tokenizer.decode(ids, strict=strict)), reference)
        assert reference.shape == (256, 256, 3)


def test_stripped_stream_plus_tables_is_the_canonical_file(tokenizer) -> None:
    canonical = tokenizer.canonical_jpeg(natural_image(7))
    stripped = tokenizer.strip_tables(canonical)
    assert len(stripped) < len(canonical) - 400  # two DQT and four DHT segments
    assert b"\xff\xdb" not in stripped[:200] and b"\xff\xc4" not in stripped[:200]
    assert tokenizer.insert_tables(stripped) == canonical
    assert stripped.count(b"\xff\xd0") == 32  # RST0 of 8 cycles among 255 restart markers


def test_inputs_of_every_kind(tokenizer) -> None:
    import torch

    image = natural_image(1, 256, 256)
    ids = tokenizer.encode(image)
    assert tokenizer.encode(Image.fromarray(image)) == ids
    assert tokenizer.encode(torch.from_numpy(image).permute(2, 0, 1)) == ids
    assert tokenizer.batch_encode([image, image]) == [ids, ids]
    with pytest.raises(ValueError):
        tokenizer.encode(np.zeros((4, 4, 3), dtype=np.float64))


def test_bpe_gives_fewer_tokens_and_survives_save_load(tokenizer, tmp_path) -> None:
    train = [natural_image(s) for s in range(10, 22)]
    bpe = JpegTokenizer().train_bpe(train, vocab_size=320)
    assert bpe.vocab_size == 320
    held_out = natural_image(99)
    byte_ids, bpe_ids = tokenizer.encode(held_out), bpe.encode(held_out)
    assert len(bpe_ids) < len(byte_ids)
    assert np.array_equal(np.asarray(bpe.decode(bpe_ids, strict=True)), np.asarray(tokenizer.decode(byte_ids)))
    bpe.save(tmp_path / "tok.json")
    loaded = JpegTokenizer.load(tmp_path / "tok.json")
    assert loaded.encode(held_out) == bpe_ids and loaded.vocab_size == 320


def test_any_ids_decode_best_effort_or_raise_strictly(tokenizer) -> None:
    rng = np.random.default_rng(0)
    ids = tokenizer.encode(natural_image(3))
    cases = [
        [],
        [tokenizer.vocab.bos],
        ids[: len(ids) // 2],
        ids[:10] + ids[500:],
        ids[: len(ids) // 3] + tokenizer.encode(natural_image(4))[2000:],
        [int(v) for v in rng.integers(0, 258, 3000)],
        [int(v) for v in rng.integers(-5, 10_000, 500)],
        ids[:-1] + [10**9],
        ids[:100] + ["x", None, 3.5, float("nan")] + ids[100:],
    ]
    for _ in range(20):
        damaged = list(ids)
        for pos in rng.integers(1, len(ids) - 1, 5):
            damaged[pos] = int(rng.integers(0, 256))
        cases.append(damaged)
    for case in cases:
        image = tokenizer.decode(case)
        assert image.size == (256, 256) and image.mode == "RGB"
        with pytest.raises(walloc.BitstreamError):
            tokenizer.decode(case, strict=True)


def test_damage_stays_local(tokenizer) -> None:
    ids = tokenizer.encode(natural_image(5))
    clean = np.asarray(tokenizer.decode(ids)).astype(int)
    damaged = list(ids)
    damaged[len(ids) // 2] ^= 0x55
    diff = np.abs(np.asarray(tokenizer.decode(damaged)).astype(int) - clean).max(axis=2)
    assert 0 < (diff > 0).mean() < 0.25


def test_avc_roundtrip_and_robustness() -> None:
    pytest.importorskip("av", reason="PyAV is a test dependency")
    tok = AvcTokenizer()
    clip = np.stack([np.asarray(Image.fromarray(natural_image(s)).resize((256, 144))) for s in range(4)])
    ids = tok.encode(clip)
    frames = tok.decode(ids, strict=True)
    assert frames.shape == (4, 144, 256, 3)
    psnr = 10 * np.log10(255**2 / np.mean((frames.numpy().astype(float) - clip) ** 2))
    assert psnr > 22
    rng = np.random.default_rng(1)
    for case in ([], [int(v) for v in rng.integers(0, 258, 2000)], ids[: len(ids) // 2]):
        out = tok.decode(case)
        assert out.dtype.is_floating_point is False and out.shape[1:] == (144, 256, 3)
    with pytest.raises(walloc.BitstreamError):
        tok.decode([int(v) for v in rng.integers(0, 256, 500)], strict=True)


def test_short_fuzz_pass() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("fuzz_tokenizers",
                                                  Path(__file__).parents[1] / "bench" / "fuzz_tokenizers.py")
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    tok = JpegTokenizer()
    seeds = [tok.encode(im) for im in fuzz.seed_images(2)]
    result = fuzz.fuzz(tok, seeds, 1500, lambda image: image.size == (256, 256) or pytest.fail("wrong size"))
    assert result["sequences"] == 1500


def test_source_metadata_never_reaches_the_canonical_file(tokenizer) -> None:
    image = Image.fromarray(natural_image(2))
    image.info.update({"dpi": (300, 300), "icc_profile": b"\0" * 200})
    assert tokenizer.encode(image) == tokenizer.encode(natural_image(2))
