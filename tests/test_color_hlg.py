"""ITU-R BT.2100-2 HLG: colour-science oracle, reference points, laws, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.color import (
    eotf_BT2100_HLG,
    eotf_inverse_BT2100_HLG,
    gamma_function_BT2100_HLG,
    oetf_BT2100_HLG,
    oetf_inverse_BT2100_HLG,
    ootf_BT2100_HLG,
    ootf_inverse_BT2100_HLG,
)
from hdrvideo.errors import InvalidInputError
from tests.oracle import assert_rel

colour = pytest.importorskip("colour")
models = colour.models
from colour.models.rgb.transfer_functions.itur_bt_2100 import (  # noqa: E402
    gamma_function_BT2100_HLG as colour_gamma_function,
)

# colour evaluates both branches of its np.where (log of negatives in the unused one).
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

F64 = torch.float64




def hwc(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -3, -1)


def chw(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, -1, -3)


@pytest.fixture
def rng():
    return np.random.default_rng(2100)


# -- OETF ---------------------------------------------------------------------------------
def test_oetf_matches_colour(rng):
    E = rng.uniform(0, 1, size=(3, 16, 16))
    assert_rel(oetf_BT2100_HLG(torch.from_numpy(E)), models.oetf_BT2100_HLG(E), 1e-9)
    E_p = rng.uniform(0, 1, size=(3, 16, 16))
    assert_rel(oetf_inverse_BT2100_HLG(torch.from_numpy(E_p)), models.oetf_inverse_BT2100_HLG(E_p), 1e-9)


def test_oetf_reference_points():
    assert oetf_BT2100_HLG(torch.tensor(1 / 12, dtype=F64)).item() == pytest.approx(0.5, abs=1e-12)
    assert oetf_BT2100_HLG(torch.tensor(1.0, dtype=F64)).item() == pytest.approx(1.0, abs=1e-7)
    assert oetf_BT2100_HLG(torch.tensor(0.0, dtype=F64)).item() == 0.0
    assert oetf_inverse_BT2100_HLG(torch.tensor(0.5, dtype=F64)).item() == pytest.approx(1 / 12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.floats(-1.0, 1.5))
def test_oetf_round_trip(e):
    E = torch.tensor(e, dtype=F64)
    assert oetf_inverse_BT2100_HLG(oetf_BT2100_HLG(E)).item() == pytest.approx(e, abs=1e-12)


def test_oetf_monotone_and_continuous():
    E = torch.linspace(-0.2, 1.2, 14001, dtype=F64)
    V = oetf_BT2100_HLG(E)
    assert (V.diff() > 0).all()
    assert (oetf_inverse_BT2100_HLG(V).diff() > 0).all()
    k = torch.tensor([1 / 12 - 1e-12, 1 / 12 + 1e-12], dtype=F64)
    assert oetf_BT2100_HLG(k).diff().abs().item() < 1e-9


# -- system gamma -------------------------------------------------------------------------
def test_gamma_reference():
    assert gamma_function_BT2100_HLG(1000) == pytest.approx(1.2, abs=1e-15)
    assert gamma_function_BT2100_HLG(1000, method="BT2100") == pytest.approx(1.2, abs=1e-15)


@pytest.mark.parametrize("L_W", [400.0, 600.0, 1000.0, 1500.0, 2000.0, 4000.0])
def test_gamma_BT2100_matches_colour(L_W):
    assert gamma_function_BT2100_HLG(L_W, method="BT2100") == pytest.approx(
        colour_gamma_function(L_W), abs=1e-12
    )


@pytest.mark.parametrize("L_W", [50.0, 100.0, 300.0, 3000.0, 4000.0, 10000.0])
def test_gamma_extended_outside(L_W):
    assert gamma_function_BT2100_HLG(L_W) == pytest.approx(1.2 * 1.111 ** math.log2(L_W / 1000), abs=1e-12)


@pytest.mark.parametrize("L_W", [400.0, 800.0, 2000.0])
def test_gamma_extended_inside(L_W):
    assert gamma_function_BT2100_HLG(L_W) == gamma_function_BT2100_HLG(L_W, method="BT2100")


def test_gamma_bad_arguments():
    with pytest.raises(InvalidInputError, match="extended"):
        gamma_function_BT2100_HLG(1000, method="nope")
    with pytest.raises(InvalidInputError):
        gamma_function_BT2100_HLG(0)


# -- OOTF ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("L_W", "L_B"), [(1000.0, 0.0), (600.0, 0.0), (2000.0, 0.0), (4000.0, 0.0), (1000.0, 0.05)])
def test_ootf_matches_colour(rng, L_W, L_B):
    E = rng.uniform(0, 1, size=(2, 3, 8, 8))
    g = gamma_function_BT2100_HLG(L_W)
    # BT.2100-1 is colour's name for the OOTF with alpha = L_W - L_B, beta = L_B.
    expected = chw(models.ootf_BT2100_HLG(hwc(E), L_B=L_B, L_W=L_W, gamma=g, method="ITU-R BT.2100-1"))
    assert_rel(ootf_BT2100_HLG(torch.from_numpy(E), L_W=L_W, L_B=L_B), expected, 1e-9)
    if L_B == 0:  # identical to colour's default (BT.2100-2) OOTF
        expected2 = chw(models.ootf_BT2100_HLG(hwc(E), L_W=L_W, gamma=g))
        assert_rel(ootf_BT2100_HLG(torch.from_numpy(E), L_W=L_W), expected2, 1e-9)
    F = ootf_BT2100_HLG(torch.from_numpy(E), L_W=L_W, L_B=L_B).numpy()
    expected_inv = chw(models.ootf_inverse_BT2100_HLG(hwc(F), L_B=L_B, L_W=L_W, gamma=g, method="ITU-R BT.2100-1"))
    assert_rel(ootf_inverse_BT2100_HLG(torch.from_numpy(F), L_W=L_W, L_B=L_B), expected_inv, 1e-9)


def test_ootf_gamma_override(rng):
    E = rng.uniform(0, 1, size=(3, 4, 4))
    expected = chw(models.ootf_BT2100_HLG(hwc(E), L_W=1000, gamma=1.3))
    assert_rel(ootf_BT2100_HLG(torch.from_numpy(E), gamma=1.3), expected, 1e-9)


def test_ootf_achromatic_is_power_law():
    E = torch.full((3, 1, 1), 0.25, dtype=F64)
    F = ootf_BT2100_HLG(E, L_W=1000.0)
    assert torch.allclose(F, torch.full_like(F, 1000 * 0.25**1.2))
    F = ootf_BT2100_HLG(torch.ones(3, 1, 1, dtype=F64), L_W=1000.0, L_B=0.1)
    assert torch.allclose(F, torch.full_like(F, 1000.0))


@pytest.mark.parametrize(("L_W", "L_B", "gamma"), [(1000.0, 0.0, None), (300.0, 0.1, None), (1000.0, 0.0, 1.0)])
def test_ootf_round_trip(L_W, L_B, gamma):
    E = torch.rand(2, 3, 6, 6, dtype=F64) * 0.999 + 0.001
    back = ootf_inverse_BT2100_HLG(ootf_BT2100_HLG(E, L_W, L_B, gamma), L_W, L_B, gamma)
    assert torch.allclose(back, E, atol=1e-12)


def test_ootf_black_is_black():
    z = torch.zeros(3, 2, 2, dtype=F64)
    assert (ootf_BT2100_HLG(z) == 0).all()
    assert (ootf_inverse_BT2100_HLG(z) == 0).all()
    assert torch.allclose(ootf_BT2100_HLG(z, L_B=0.5), torch.full_like(z, 0.5))


# -- EOTF ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("L_W", "L_B"), [(1000.0, 0.0), (1000.0, 0.005), (2000.0, 0.1), (4000.0, 0.0), (500.0, 0.05)])
def test_eotf_matches_colour(rng, L_W, L_B):
    E_p = rng.uniform(0, 1, size=(2, 3, 8, 8))
    g = gamma_function_BT2100_HLG(L_W)
    expected = chw(models.eotf_BT2100_HLG(hwc(E_p), L_B=L_B, L_W=L_W, gamma=g))
    F = eotf_BT2100_HLG(torch.from_numpy(E_p), L_W=L_W, L_B=L_B)
    assert_rel(F, expected, 1e-9)
    expected_inv = chw(models.eotf_inverse_BT2100_HLG(hwc(F.numpy()), L_B=L_B, L_W=L_W, gamma=g))
    assert_rel(eotf_inverse_BT2100_HLG(F, L_W=L_W, L_B=L_B), expected_inv, 1e-9)


def test_eotf_reference_white():
    F = eotf_BT2100_HLG(torch.full((3, 1, 1), 0.75, dtype=F64), L_W=1000.0)
    assert torch.allclose(F, torch.full_like(F, 203.0), atol=1.0)


def test_eotf_black_and_peak():
    for L_W, L_B in [(1000.0, 0.0), (1000.0, 0.01), (600.0, 0.5)]:
        black = eotf_BT2100_HLG(torch.zeros(3, 1, 1, dtype=F64), L_W, L_B)
        peak = eotf_BT2100_HLG(torch.ones(3, 1, 1, dtype=F64), L_W, L_B)
        assert torch.allclose(black, torch.full_like(black, L_B), atol=1e-9)
        assert torch.allclose(peak, torch.full_like(peak, L_W), rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.sampled_from([(1000.0, 0.0), (1000.0, 0.01), (2000.0, 0.1)]))
def test_eotf_round_trip(r, g, b, display):
    E_p = torch.tensor([r, g, b], dtype=F64).view(3, 1, 1)
    L_W, L_B = display
    back = eotf_inverse_BT2100_HLG(eotf_BT2100_HLG(E_p, L_W, L_B), L_W, L_B)
    # All-black pixels have no luminance to invert through the OOTF and return 0.
    if max(r, g, b) > 1e-3:
        assert torch.allclose(back, E_p, atol=1e-7)


def test_eotf_monotone_on_grey():
    V = torch.linspace(0, 1, 1001, dtype=F64).view(1, 1, -1).expand(3, 1, -1)
    F = eotf_BT2100_HLG(V, L_W=1000.0, L_B=0.01)[0, 0]
    assert (F.diff() > 0).all()


# -- shapes, gradients, bad arguments ------------------------------------------------------
CHANNEL_FUNCTIONS = [ootf_BT2100_HLG, ootf_inverse_BT2100_HLG, eotf_BT2100_HLG, eotf_inverse_BT2100_HLG]


@pytest.mark.parametrize("f", CHANNEL_FUNCTIONS)
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5), (2, 2, 3, 1, 1)])
def test_shapes(f, shape):
    x = torch.rand(shape)
    y = f(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert torch.allclose(f(x.double()).float(), y, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("f", CHANNEL_FUNCTIONS)
def test_wrong_shape(f):
    with pytest.raises(InvalidInputError):
        f(torch.rand(4, 2, 2))
    with pytest.raises(InvalidInputError):
        f(torch.rand(3))


@pytest.mark.parametrize("f", CHANNEL_FUNCTIONS)
@pytest.mark.parametrize(("L_W", "L_B"), [(0.0, 0.0), (100.0, 100.0), (100.0, -1.0)])
def test_bad_display(f, L_W, L_B):
    with pytest.raises(InvalidInputError):
        f(torch.rand(3, 1, 1), L_W=L_W, L_B=L_B)


def test_gradcheck():
    E = (torch.rand(3, 2, 2, dtype=F64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(oetf_BT2100_HLG, (E,))
    assert torch.autograd.gradcheck(oetf_inverse_BT2100_HLG, (E,))
    assert torch.autograd.gradcheck(lambda x: ootf_BT2100_HLG(x, 1000.0, 0.1), (E,))
    assert torch.autograd.gradcheck(lambda x: eotf_BT2100_HLG(x, 1000.0, 0.01), (E,))
    F = (torch.rand(3, 2, 2, dtype=F64) * 800 + 10).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: ootf_inverse_BT2100_HLG(x, 1000.0, 0.1), (F,))
    assert torch.autograd.gradcheck(lambda x: eotf_inverse_BT2100_HLG(x, 1000.0, 0.01), (F,))


@pytest.mark.parametrize("f", CHANNEL_FUNCTIONS + [oetf_BT2100_HLG, oetf_inverse_BT2100_HLG])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_finite_at_zero_and_negative(f, dtype):
    x = torch.tensor([[0.0, -0.1], [0.0, 2.0], [0.0, 1e-30]], dtype=dtype).view(3, 1, 2).requires_grad_()
    y = f(x)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
