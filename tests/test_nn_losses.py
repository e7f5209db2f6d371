"""Losses: reference values, identities, gradients (float64 gradcheck), the temporal regulariser."""

from __future__ import annotations

import math

import pytest
import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.nn.losses import (
    RandomSimilarity,
    coral_loss,
    mu_law_l1,
    mu_law_l2,
    pu21_l1,
    ssim,
    ssim_loss,
    temporal_regularised_loss,
)


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_mu_law_identical_is_zero_and_hand_value():
    x = rand(2, 3, 4, 4) * 1000
    assert mu_law_l1(x, x) == 0 and mu_law_l2(x, x) == 0
    pred = torch.full((1, 3, 1, 1), 100.0)
    target = torch.full((1, 3, 1, 1), 1000.0)
    T = lambda v: math.log(1 + 5000 * v / 10000) / math.log(1 + 5000)  # noqa: E731
    assert mu_law_l1(pred, target).item() == pytest.approx(abs(T(100) - T(1000)), rel=1e-6)
    assert mu_law_l2(pred, target).item() == pytest.approx((T(100) - T(1000)) ** 2, rel=1e-5)


def test_pu21_l1_values():
    x = rand(1, 3, 4, 4) * 1000
    assert pu21_l1(x, x) == 0
    lo = torch.full((1, 3, 2, 2), 100.0, dtype=torch.float64)
    hi = torch.full((1, 3, 2, 2), 10000.0, dtype=torch.float64)
    # V(100) ~ 256.38, V(10000) ~ 595.39 (STYLE.md reference values)
    assert pu21_l1(lo, hi).item() == pytest.approx((595.39 - 256.38) / 595.39, abs=1e-3)


def test_ssim_identity_and_range():
    x = rand(2, 3, 16, 16)
    assert torch.allclose(ssim(x, x), torch.ones(2, dtype=torch.float64))
    assert ssim_loss(x, x).abs() < 1e-12
    noisy = (x + 0.2 * rand(2, 3, 16, 16, seed=1)).clamp(0, 1)
    assert 0 < ssim_loss(x, noisy) < 1
    with pytest.raises(InvalidInputError):
        ssim(rand(1, 3, 8, 8), rand(1, 3, 8, 8))


def test_coral_known_covariances():
    # Source: features with covariance diag(1, 1); target: the same features scaled by 2 on
    # axis 0 -> covariance diag(4, 1). L = ((4 - 1)^2) / (4 * 2^2) = 9 / 16.
    base = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]], dtype=torch.float64)
    # unbiased covariance of base: diag(4/3, 4/3); scale to unit covariance
    source = base * math.sqrt(3 / 4)
    target = source * torch.tensor([2.0, 1.0], dtype=torch.float64)
    assert coral_loss(source, target).item() == pytest.approx(9 / 16)
    assert coral_loss(source, source) == 0
    # feature maps are average-pooled
    maps = source[:, :, None, None].expand(4, 2, 3, 3)
    assert coral_loss(maps, target).item() == pytest.approx(9 / 16)
    with pytest.raises(InvalidInputError):
        coral_loss(source[:1], target)


def test_coral_matches_numpy_cov():
    s, t = rand(16, 5), rand(12, 5, seed=2) ** 2
    import numpy as np

    cs, ct = np.cov(s.numpy(), rowvar=False), np.cov(t.numpy(), rowvar=False)
    assert coral_loss(s, t).item() == pytest.approx(((cs - ct) ** 2).sum() / (4 * 25))


def test_gradcheck_losses():
    p = (rand(1, 3, 3, 3) * 900 + 10).requires_grad_()
    t = rand(1, 3, 3, 3, seed=1) * 900 + 10
    assert torch.autograd.gradcheck(lambda a: mu_law_l1(a, t), (p,))
    assert torch.autograd.gradcheck(lambda a: mu_law_l2(a, t), (p,))
    assert torch.autograd.gradcheck(lambda a: pu21_l1(a, t), (p,))
    q = rand(1, 1, 6, 6).requires_grad_()
    other = rand(1, 1, 6, 6, seed=3)
    assert torch.autograd.gradcheck(lambda a: ssim_loss(a, other, window_size=3), (q,))
    f = rand(6, 4).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: coral_loss(a, rand(5, 4, seed=4)), (f,))
    T = RandomSimilarity.sample(torch.Generator().manual_seed(0), 1)
    x = rand(1, 1, 5, 5).requires_grad_()
    assert torch.autograd.gradcheck(T, (x,))


def test_random_similarity_identity_and_roll():
    x = rand(3, 3, 20, 24)
    assert torch.allclose(RandomSimilarity.identity(3)(x), x, atol=1e-12)
    z = torch.zeros(2, dtype=torch.float64)
    right = RandomSimilarity(torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64), z, torch.ones(2, dtype=torch.float64))
    out = right(x[:2])
    assert torch.allclose(out[0, :, :, 1:], torch.roll(x[0], 1, dims=-1)[:, :, 1:], atol=1e-12)
    assert torch.allclose(out[1, :, 1:, :], torch.roll(x[1], 1, dims=-2)[:, 1:, :], atol=1e-12)
    with pytest.raises(InvalidInputError):
        right(x)  # 3 pictures, 2 transforms


def test_random_similarity_sample_ranges_and_determinism():
    a = RandomSimilarity.sample(torch.Generator().manual_seed(5), 64)
    b = RandomSimilarity.sample(torch.Generator().manual_seed(5), 64)
    assert torch.equal(a.shift_px, b.shift_px) and torch.equal(a.zoom, b.zoom)
    assert a.shift_px.abs().max() <= 2 and a.rotation_deg.abs().max() <= 1
    assert 0.97 <= a.zoom.min() and a.zoom.max() <= 1.03
    # rotation about the centre keeps the centre pixel (odd size)
    x = rand(1, 1, 9, 9)
    rot = RandomSimilarity(torch.zeros(1, 2, dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    assert rot(x)[0, 0, 4, 4] == pytest.approx(x[0, 0, 4, 4].item())


def test_temporal_regulariser_zero_for_equivariant_model():
    x = rand(2, 3, 16, 16)
    target = x * 2
    scale = lambda v: 2 * v  # noqa: E731 - commutes with any warp
    loss, rec, reg = temporal_regularised_loss(
        scale, x, target, lambda a, b: (a - b).abs().mean(), alpha=0.9, generator=torch.Generator().manual_seed(0),
        return_terms=True,
    )
    assert rec.abs() < 1e-12 and reg.abs() < 1e-12 and loss.abs() < 1e-12


def test_temporal_regulariser_penalises_position_dependent_model():
    x = rand(2, 1, 16, 16)
    ramp = torch.linspace(0, 1, 16, dtype=torch.float64)[None, None, None, :]
    model = lambda v: v + ramp  # noqa: E731 - not shift-equivariant
    T = RandomSimilarity(torch.tensor([[2.0, 0.0], [2.0, 0.0]], dtype=torch.float64), torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    loss, rec, reg = temporal_regularised_loss(model, x, model(x), torch.nn.functional.mse_loss, alpha=0.9, transform=T, return_terms=True)
    assert rec == 0 and reg > 0
    assert loss.item() == pytest.approx(0.1 * reg.item())


def test_temporal_regulariser_gradients_and_shape_check():
    net = torch.nn.Conv2d(3, 3, 3, padding=1).double()
    x = rand(2, 3, 12, 12)
    loss = temporal_regularised_loss(net, x, x, torch.nn.functional.l1_loss, generator=torch.Generator().manual_seed(1))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    pool = torch.nn.AvgPool2d(2)
    with pytest.raises(InvalidInputError, match="size"):
        temporal_regularised_loss(pool, x, x, torch.nn.functional.l1_loss)
