"""PU21-PSNR / SSIM / MS-SSIM: reference values, laws, shapes, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hdrvideo.color.pu21 import PU21_PARAMETERS
from hdrvideo.errors import InvalidInputError
from hdrvideo.quality.pu21_metrics import (
    MSSSIM_MIN_SIDE,
    PU21_PSNR_PEAK,
    pu21_msssim,
    pu21_psnr,
    pu21_ssim,
)


def _pu_by_hand(Y: float) -> float:
    """pu21_encoder.m ``encode`` with the banding_glare constants, in plain Python."""
    p1, p2, p3, p4, p5, p6, p7 = PU21_PARAMETERS["banding_glare"]
    Y = min(max(Y, 0.005), 10000.0)
    return max(p7 * (((p1 + p2 * Y**p4) / (1 + p3 * Y**p4)) ** p5 - p6), 0.0)


def _textured(seed: int = 0, size: int = MSSSIM_MIN_SIDE) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(3, 20, 20, generator=g)
    up = torch.nn.functional.interpolate(base[None], size=(size, size), mode="bilinear")[0]
    return (10 ** (up * 3)).float()  # 1..1000 cd/m², smooth texture


def test_peak_is_the_reference_implementations() -> None:
    assert PU21_PSNR_PEAK == 256.0


def test_psnr_of_uniform_images_by_hand() -> None:
    ref = torch.full((3, 16, 16), 100.0)
    test = torch.full((3, 16, 16), 200.0)
    expected = 20 * math.log10(256.0 / abs(_pu_by_hand(200.0) - _pu_by_hand(100.0)))
    assert pu21_psnr(test, ref).item() == pytest.approx(expected, abs=1e-4)


def test_psnr_mse_is_over_all_rgb_channels() -> None:
    ref = torch.full((3, 8, 8), 100.0)
    test = ref.clone()
    test[0] = 400.0  # one channel of three differs
    d = _pu_by_hand(400.0) - _pu_by_hand(100.0)
    expected = 10 * math.log10(256.0**2 / (d * d / 3))
    assert pu21_psnr(test, ref).item() == pytest.approx(expected, abs=1e-4)


def test_values_are_clamped_to_the_pu21_range() -> None:
    ref = torch.full((3, 16, 16), 0.001)
    test = torch.zeros(3, 16, 16)  # both below 0.005 cd/m²: equal after clamping
    assert math.isinf(pu21_psnr(test, ref).item())
    hi = torch.full((3, 16, 16), 20000.0)
    assert math.isinf(pu21_psnr(hi, torch.full_like(hi, 10000.0)).item())


def test_identical_images() -> None:
    x = _textured()
    assert math.isinf(pu21_psnr(x, x).item()) and pu21_psnr(x, x).item() > 0
    assert pu21_ssim(x, x).item() == pytest.approx(1.0, abs=1e-6)
    assert pu21_msssim(x, x).item() == pytest.approx(1.0, abs=1e-6)


def test_ssim_matches_scikit_image() -> None:
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    from hdrvideo.color.luminance import luminance
    from hdrvideo.color.pu21 import pu21_encode

    ref = _textured(1, 64)
    test = ref * (1 + 0.2 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(2))).clamp(min=0)
    a = pu21_encode(luminance(test.double()))[0].numpy()
    b = pu21_encode(luminance(ref.double()))[0].numpy()
    expected = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=256.0)
    assert pu21_ssim(test, ref).item() == pytest.approx(expected, abs=1e-5)


def test_monotone_in_noise_level() -> None:
    ref = _textured(3)
    g = torch.Generator().manual_seed(4)
    noise = torch.randn(ref.shape, generator=g)
    psnr, ssim, ms = [], [], []
    for sigma in (0.01, 0.1, 0.5):
        test = (ref * (1 + sigma * noise)).clamp(min=0)
        psnr.append(pu21_psnr(test, ref).item())
        ssim.append(pu21_ssim(test, ref).item())
        ms.append(pu21_msssim(test, ref).item())
    for series in (psnr, ssim, ms):
        assert all(a > b for a, b in zip(series, series[1:])), series


def test_shapes_and_batch_consistency() -> None:
    for fn in (pu21_psnr, pu21_ssim, pu21_msssim):
        size = MSSSIM_MIN_SIDE if fn is pu21_msssim else 32
        a, b = _textured(5, size), _textured(6, size)
        batch_t = torch.stack([a, b])
        batch_r = torch.stack([b, a])
        out = fn(batch_t, batch_r)
        assert out.shape == (2,) and out.dtype == torch.float32
        assert fn(a, b).shape == (1,)
        assert out[0].item() == pytest.approx(fn(a, b).item(), rel=1e-6)
        assert out[0].item() == pytest.approx(out[1].item(), rel=1e-6)  # symmetric


def test_msssim_in_unit_range_and_blur_lowers_it() -> None:
    ref = _textured(7)
    k = torch.ones(3, 1, 5, 5) / 25
    blurred = torch.nn.functional.conv2d(ref[None], k, padding=2, groups=3)[0]
    v = pu21_msssim(blurred, ref).item()
    assert 0.0 < v < 1.0
    assert np.isfinite(v)


def test_bad_inputs_raise() -> None:
    x = _textured()
    with pytest.raises(InvalidInputError):
        pu21_psnr(x, x[:, :100])
    with pytest.raises(InvalidInputError):
        pu21_ssim(x[:2], x[:2])
    small = x[:, :MSSSIM_MIN_SIDE - 1, :MSSSIM_MIN_SIDE - 1]
    with pytest.raises(InvalidInputError, match="MS-SSIM"):
        pu21_msssim(small, small)
    with pytest.raises(ValueError):  # InvalidInputError is a ValueError too
        pu21_ssim(x[:, :8, :8], x[:, :8, :8])
