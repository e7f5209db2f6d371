"""The nriqa network, its shipped weights, the run-time scorer, baselines and cvvdp adapter."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.nn import nriqa
from hdrvideo.nn.nriqa import (
    GRID,
    PATCH,
    PU21_NORM,
    WEIGHTS_PATH,
    NRIQANet,
    distance_to_score,
    encode_input,
    extract_patches,
    score_to_distance,
)

needs_weights = pytest.mark.skipif(not WEIGHTS_PATH.exists(), reason="shipped nriqa weights not built")


def test_pu21_normaliser_is_pu_of_10000() -> None:
    assert PU21_NORM == pytest.approx(595.39, abs=0.01)
    assert encode_input(torch.tensor([10000.0]), "pu21").item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("encoding", ["pu21", "pq", "log", "srgb"])
def test_encodings_are_monotone_and_bounded(encoding: str) -> None:
    y = torch.logspace(-3, 4.2, 200)
    v = encode_input(y, encoding)
    assert torch.isfinite(v).all() and (v >= 0).all() and (v <= 1 + 1e-6).all()
    assert (v[1:] >= v[:-1] - 1e-7).all()


def test_unknown_encoding_raises() -> None:
    with pytest.raises(InvalidInputError):
        encode_input(torch.ones(3), "gamma")


def test_patches_tile_a_training_crop_and_centre_on_larger_frames() -> None:
    crop = torch.arange(3 * 192 * 192, dtype=torch.float32).view(3, 192, 192)
    p = extract_patches(crop)
    assert p.shape == (1, GRID * GRID, 3, PATCH, PATCH)
    assert torch.equal(torch.cat([torch.cat(list(p[0, r * 3:(r + 1) * 3]), -1) for r in range(3)], -2), crop)
    big = torch.rand(2, 3, 1080, 1920)
    pb = extract_patches(big)
    assert pb.shape == (2, 9, 3, PATCH, PATCH)
    assert torch.equal(pb[1, 4], big[1, :, 508:572, 928:992])  # the centre patch
    assert extract_patches(torch.rand(3, 50, 70)).shape == (1, 9, 3, PATCH, PATCH)  # small: resized up


def test_distance_transform_round_trips() -> None:
    s = torch.tensor([0.0, 0.5, 0.9, 0.99, 1.0])
    assert torch.allclose(distance_to_score(score_to_distance(s)), s, atol=1e-6)


def test_network_shapes_and_batch_consistency() -> None:
    torch.manual_seed(0)
    net = NRIQANet().eval()
    x = torch.rand(3, 9, 3, PATCH, PATCH)
    with torch.inference_mode():
        out = net(x)
        assert out.shape == (3,) and ((out >= 0) & (out <= 1)).all()
        assert torch.allclose(net(x[1:2]), out[1:2], atol=1e-6)
        assert net.features(x).shape == (3, 2 * NRIQANet.FEATURES)


def test_coral_recipe_loss_is_the_kits() -> None:
    from hdrvideo.nn.losses import coral_loss

    a, b = torch.randn(16, 8), torch.randn(16, 8) * 2
    assert coral_loss(a, a).item() == pytest.approx(0.0, abs=1e-9)
    assert coral_loss(a, b).item() > 0


def test_recipe_is_registered() -> None:
    from hdrvideo.nn.recipes import RECIPES

    assert RECIPES.get("nriqa") is nriqa.train


# -- shipped weights and scorer ----------------------------------------------------------------
def _card_sha() -> str:
    text = (WEIGHTS_PATH.with_suffix(".md")).read_text()
    match = re.search(r"sha256[^0-9a-f]*([0-9a-f]{64})", text)
    assert match, "model card states no SHA-256"
    return match.group(1)


@needs_weights
def test_shipped_weights_load_and_hash_as_the_card_says() -> None:
    from hdrvideo.nn.training import weights_sha256

    net, meta = nriqa.load_nriqa()
    assert isinstance(net, NRIQANet) and not net.training
    assert weights_sha256(WEIGHTS_PATH) == _card_sha()
    assert meta.get("teacher") == "pu21_msssim"


@pytest.fixture(scope="module")
def scorer():
    if not WEIGHTS_PATH.exists():
        pytest.skip("shipped nriqa weights not built")
    from hdrvideo.quality.nriqa import NRScorer

    return NRScorer(backend="torch")


def test_scorer_shapes_batch_resolution_determinism(scorer) -> None:
    g = torch.Generator().manual_seed(1)
    frames = torch.rand(2, 3, 216, 384, generator=g) * 500
    s = scorer.score(frames)
    assert s.shape == (2,) and s.dtype == torch.float32 and torch.isfinite(s).all()
    assert torch.allclose(scorer.score(frames[1]), s[1:], atol=1e-5)
    assert torch.equal(scorer.score(frames), s)
    for shape in ((3, 100, 130), (3, 1080, 1920), (3, 301, 177)):
        assert scorer.score(torch.rand(shape) * 100).shape == (1,)
    assert "higher is better" in scorer.scale
    with pytest.raises(InvalidInputError):
        scorer.score(torch.rand(4, 64, 64))


def test_scorer_ranks_clean_above_heavily_distorted_on_held_out_image(scorer, shared_data) -> None:
    from hdrvideo.nn.data import VALIDATION_IMAGES, real_hdr_images
    from hdrvideo.nn.distortions import apply_distortion

    image = next(im for im in real_hdr_images("val") if im.name == VALIDATION_IMAGES[0])
    clean = image.load(peak_nits=1000.0)
    h, w = clean.shape[-2:]
    clean = clean[:, (h - 384) // 2:(h - 384) // 2 + 384, (w - 384) // 2:(w - 384) // 2 + 384].contiguous()
    g = torch.Generator().manual_seed(0)
    worse = [apply_distortion(n, clean, 1.0, g) for n in ("x265", "pq_noise", "blur", "banding")]
    s = scorer.score(torch.stack([clean] + worse))
    assert (s[0] > s[1:]).all(), s


def test_load_scorer_is_cached(scorer) -> None:
    from hdrvideo.quality.nriqa import load_scorer

    assert load_scorer("torch") is load_scorer("torch")


def test_onnxruntime_agrees_with_torch(scorer) -> None:
    pytest.importorskip("onnxruntime")
    from hdrvideo.quality.nriqa import NRScorer

    try:
        ort = NRScorer(backend="onnxruntime")
    except Exception as error:  # noqa: BLE001 - engines not wired in this tree
        pytest.skip(f"onnxruntime engine unavailable: {error}")
    x = torch.rand(3, 3, 200, 300, generator=torch.Generator().manual_seed(3)) * 800
    assert torch.allclose(ort.score(x), scorer.score(x), atol=1e-4)


# -- baselines, cvvdp --------------------------------------------------------------------------
def test_brisque_features_and_ridge_fit() -> None:
    from hdrvideo.quality.baselines import Brisque, _aggd, _ggd, brisque_features

    rng = np.random.default_rng(0)
    assert _ggd(rng.normal(size=200_000))[0] == pytest.approx(2.0, abs=0.05)  # Gaussian: shape 2
    assert _ggd(rng.laplace(size=200_000))[0] == pytest.approx(1.0, abs=0.05)  # Laplacian: shape 1
    assert _aggd(rng.normal(size=200_000))[0] == pytest.approx(2.0, abs=0.05)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(64, 64)), 0), 1)
    smooth = 255 * (smooth - smooth.min()) / np.ptp(smooth)
    noisy = smooth + rng.normal(scale=20, size=smooth.shape)
    f_s, f_n = brisque_features(smooth), brisque_features(noisy)
    assert f_s.shape == (36,) and np.isfinite(f_s).all() and not np.allclose(f_s, f_n)
    feats = rng.normal(size=(50, 36))
    target = feats @ rng.normal(size=36) + 0.5
    model = Brisque(ridge=1e-6).fit_features(feats, target)
    assert np.allclose(model.predict_features(feats), target, atol=1e-3)


def test_niqe_prefers_pristine() -> None:
    from hdrvideo.nn.procedural import procedural_scene
    from hdrvideo.quality.baselines import Niqe

    pristine = torch.stack([procedural_scene(s, 192, 192, peak_nits=1000.0) for s in range(4)])
    model = Niqe().fit(pristine)
    noisy = (pristine * (1 + 0.3 * torch.randn(pristine.shape, generator=torch.Generator().manual_seed(0))))
    assert model.score(noisy.clamp(min=0)).mean() > model.score(pristine).mean()


def test_cvvdp_adapter() -> None:
    from hdrvideo.errors import UnsupportedError
    from hdrvideo.quality import cvvdp_adapter

    if not cvvdp_adapter.cvvdp_available():
        with pytest.raises(UnsupportedError, match="pip install --no-deps cvvdp"):
            cvvdp_adapter.cvvdp_jod(torch.ones(3, 32, 32), torch.ones(3, 32, 32))
        pytest.skip("cvvdp not importable here (needs torchvision)")
    x = torch.rand(3, 128, 128) * 200
    assert cvvdp_adapter.cvvdp_jod(x, x).item() == pytest.approx(10.0, abs=0.01)


# -- dataset and recipe (slow) -------------------------------------------------------------------
@pytest.mark.slow
def test_build_split_and_a_few_training_steps(tmp_path) -> None:
    from hdrvideo.nn.procedural import procedural_scene

    refs = [procedural_scene(s, nriqa.CROP, nriqa.CROP, peak_nits=1000.0) for s in (0, 1)]
    from hdrvideo.nn.distortions import DISTORTIONS

    split = nriqa.build_split(refs, (0.2, 0.9), seed=0, label="test")
    assert split.pq.shape == (2 * (1 + 2 * len(DISTORTIONS)), 3, nriqa.CROP, nriqa.CROP)
    assert (split.score[split.distortion == -1] == 1.0).all()
    # stronger level, lower teacher score on average
    lo = split.score[(split.distortion >= 0) & (split.level == 0.2)].mean()
    hi = split.score[(split.distortion >= 0) & (split.level == 0.9)].mean()
    assert lo > hi
    nriqa._save_split(tmp_path / "s.npz", split)
    again = nriqa._load_split(tmp_path / "s.npz")
    assert np.array_equal(again.pq, split.pq) and np.array_equal(again.score, split.score)
    # PQ codes decode back to the distorted light within 16-bit PQ quantisation
    assert torch.allclose(nriqa.encode_input(split.light(slice(0, 1)), "pq"),
                          split.encoded(slice(0, 1), "pq"), atol=1e-5)
    torch.manual_seed(0)
    net = NRIQANet()
    before = [p.detach().clone() for p in net.parameters()]
    nriqa._fit(net, split, 5, "pu21", np.random.default_rng(0), log=lambda s: None)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    pred = nriqa.predict(net, split, "pu21")
    assert pred.shape == split.score.shape and np.isfinite(pred).all()
