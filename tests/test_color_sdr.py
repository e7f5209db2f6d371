"""SDR transfers (sRGB, BT.1886, BT.709, pure gamma): colour-science oracle and laws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.color import (
    eotf_BT1886,
    eotf_inverse_BT1886,
    eotf_inverse_sRGB,
    eotf_sRGB,
    gamma_decode,
    gamma_encode,
    oetf_BT709,
    oetf_inverse_BT709,
)
from hdrvideo.errors import InvalidInputError
from tests.oracle import assert_rel

colour = pytest.importorskip("colour")
models = colour.models

F64 = torch.float64




@pytest.fixture
def x01():
    return np.random.default_rng(1886).uniform(0, 1, size=(2, 3, 12, 12))


def test_srgb_matches_colour(x01):
    assert_rel(eotf_inverse_sRGB(torch.from_numpy(x01)), models.eotf_inverse_sRGB(x01), 1e-12)
    assert_rel(eotf_sRGB(torch.from_numpy(x01)), models.eotf_sRGB(x01), 1e-12)


def test_srgb_near_zero_matches_colour():
    x = np.linspace(-0.01, 0.05, 601)
    assert_rel(eotf_inverse_sRGB(torch.from_numpy(x)), models.eotf_inverse_sRGB(x), 1e-12)
    assert_rel(eotf_sRGB(torch.from_numpy(x)), models.eotf_sRGB(x), 1e-12)


@pytest.mark.parametrize(("L_B", "L_W"), [(0.0, 100.0), (0.1, 100.0), (0.05, 203.0), (0.0, 1.0)])
def test_bt1886_matches_colour(x01, L_B, L_W):
    L = eotf_BT1886(torch.from_numpy(x01), L_B=L_B, L_W=L_W)
    assert_rel(L, models.eotf_BT1886(x01, L_B=L_B, L_W=L_W), 1e-12)
    assert_rel(eotf_inverse_BT1886(L, L_B=L_B, L_W=L_W), models.eotf_inverse_BT1886(L.numpy(), L_B=L_B, L_W=L_W), 1e-10)


def test_bt1886_black_white():
    V = torch.tensor([0.0, 1.0], dtype=F64)
    assert torch.allclose(eotf_BT1886(V, L_B=0.1, L_W=100.0), torch.tensor([0.1, 100.0], dtype=F64))
    assert eotf_BT1886(torch.tensor(0.5, dtype=F64)).item() == pytest.approx(100 * 0.5**2.4)


def test_bt709_matches_colour(x01):
    assert_rel(oetf_BT709(torch.from_numpy(x01)), models.oetf_BT709(x01), 1e-12)
    assert_rel(oetf_inverse_BT709(torch.from_numpy(x01)), models.oetf_inverse_BT709(x01), 1e-12)
    assert oetf_BT709(torch.tensor(0.18, dtype=F64)).item() == pytest.approx(0.409007728864150, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 1.0))
def test_round_trips(v):
    V = torch.tensor(v, dtype=F64)
    # IEC 61966-2-1's two pieces miss each other by ~3e-8 at the knee (0.04045 / 12.92 is
    # a little above 0.0031308), so the sRGB round trip is exact only to that.
    assert eotf_inverse_sRGB(eotf_sRGB(V)).item() == pytest.approx(v, abs=5e-8)
    assert eotf_inverse_BT1886(eotf_BT1886(V, 0.05, 120.0), 0.05, 120.0).item() == pytest.approx(v, abs=1e-12)
    # BT.709's rounded constants leave a gap (0.081-0.0813) in the OETF's range at the knee,
    # so the identity that holds everywhere is inverse(oetf(L)) = L.
    assert oetf_inverse_BT709(oetf_BT709(V)).item() == pytest.approx(v, abs=1e-12)
    for g in (2.2, 2.8):
        assert gamma_encode(gamma_decode(V, g), g).item() == pytest.approx(v, abs=1e-12)


def test_gamma_sign_safe():
    x = torch.tensor([-0.25, 0.0, 0.25], dtype=F64)
    assert torch.allclose(gamma_decode(x, 2.2), torch.tensor([-(0.25**2.2), 0.0, 0.25**2.2], dtype=F64))
    assert torch.allclose(gamma_decode(gamma_encode(x, 2.2), 2.2), x)


@pytest.mark.parametrize(
    "f",
    [eotf_sRGB, eotf_inverse_sRGB, eotf_BT1886, eotf_inverse_BT1886, oetf_BT709, oetf_inverse_BT709,
     lambda x: gamma_encode(x, 2.2), lambda x: gamma_decode(x, 2.2)],
)
def test_monotone_shapes_gradients(f):
    x = torch.linspace(0, 1, 1001, dtype=F64)
    assert (f(x).diff() > 0).all()
    for shape in [(3, 4, 5), (2, 3, 4, 5)]:
        y = f(torch.rand(shape))
        assert y.shape == shape and y.dtype == torch.float32
    edge = torch.tensor([-0.5, 0.0, 1e-30, 1.0, 2.0], dtype=F64, requires_grad=True)
    f(edge).sum().backward()
    assert torch.isfinite(edge.grad).all()
    inner = (torch.rand(3, 2, 2, dtype=F64) * 0.8 + 0.15).requires_grad_()
    assert torch.autograd.gradcheck(f, (inner,))


def test_bad_arguments():
    x = torch.rand(3)
    with pytest.raises(InvalidInputError):
        eotf_BT1886(x, L_B=100.0, L_W=100.0)
    with pytest.raises(InvalidInputError):
        eotf_inverse_BT1886(x, L_B=-1.0)
    with pytest.raises(InvalidInputError):
        gamma_encode(x, 0.0)
    with pytest.raises(InvalidInputError):
        gamma_decode(x, -2.2)
