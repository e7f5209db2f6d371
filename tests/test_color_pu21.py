"""PU21 (Mantiuk & Azimi 2021): published values, reference formula, laws, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.color import PU21_PARAMETERS, pu21_decode, pu21_encode
from hdrvideo.errors import InvalidInputError

F64 = torch.float64
SETS = ["banding", "banding_glare", "peaks", "peaks_glare"]

#: The parameter rows of gfxdisp/pu21 matlab/pu21_encoder.m, typed in again independently.
REFERENCE = {
    "banding": [1.070275272, 0.4088273932, 0.153224308, 0.2520326168, 1.063512885, 1.14115047, 521.4527484],
    "banding_glare": [0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627, 0.09150303166, 0.9099517204, 596.3148142],
    "peaks": [1.043882782, 0.6459495343, 0.3194584211, 0.374025247, 1.114783422, 1.095360363, 384.9217577],
    "peaks_glare": [816.885024, 1479.463946, 0.001253215609, 0.9329636822, 0.06746643971, 1.573435413, 419.6006374],
}


def reference_encode(Y: np.ndarray, name: str) -> np.ndarray:
    """pu21_encoder.m ``encode`` in numpy."""
    p = REFERENCE[name]
    Y = np.clip(Y, 0.005, 10000)
    return np.maximum(p[6] * (((p[0] + p[1] * Y ** p[3]) / (1 + p[2] * Y ** p[3])) ** p[4] - p[5]), 0)


def reference_decode(V: np.ndarray, name: str) -> np.ndarray:
    """pu21_encoder.m ``decode`` in numpy."""
    p = REFERENCE[name]
    V_p = np.maximum(V / p[6] + p[5], 0) ** (1 / p[4])
    return (np.maximum(V_p - p[0], 0) / (p[1] - p[2] * V_p)) ** (1 / p[3])


def test_constants_are_the_reference():
    assert set(PU21_PARAMETERS) == set(SETS)
    for name in SETS:
        assert list(PU21_PARAMETERS[name]) == REFERENCE[name]


def test_published_banding_glare():
    V = pu21_encode(torch.tensor([100.0, 10000.0], dtype=F64))
    assert V[0].item() == pytest.approx(256.38, abs=0.01)
    assert V[1].item() == pytest.approx(595.39, abs=0.01)


@pytest.mark.parametrize("name", SETS)
def test_matches_reference_formula(name):
    Y = 10 ** np.random.default_rng(21).uniform(-3, 4.5, size=(3, 16, 16))
    V = pu21_encode(torch.from_numpy(Y), name)
    np.testing.assert_allclose(V.numpy(), reference_encode(Y, name), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(pu21_decode(V, name).numpy(), reference_decode(V.numpy(), name), rtol=1e-10)


@pytest.mark.parametrize("name", SETS)
def test_round_trip_and_monotone(name):
    Y = torch.logspace(np.log10(0.0051), 4, 2000, dtype=F64)
    V = pu21_encode(Y, name)
    assert (V.diff() > 0).all()
    assert torch.allclose(pu21_decode(V, name), Y, rtol=1e-8)


@settings(max_examples=50, deadline=None)
@given(st.floats(np.log10(0.006), 4.0), st.sampled_from(SETS))
def test_round_trip_property(log_y, name):
    Y = torch.tensor(10.0**log_y, dtype=F64)
    assert pu21_decode(pu21_encode(Y, name), name).item() == pytest.approx(10.0**log_y, rel=1e-8)


@pytest.mark.parametrize("name", SETS)
def test_clamped_outside_range(name):
    Y = torch.tensor([0.0, 0.001, 0.005, 10000.0, 2e4, 1e6], dtype=F64, requires_grad=True)
    V = pu21_encode(Y, name)
    assert V[0] == V[1] == V[2] and V[3] == V[4] == V[5]
    assert (V >= 0).all()
    V.sum().backward()
    assert torch.isfinite(Y.grad).all()
    assert (Y.grad[[0, 1, 4, 5]] == 0).all()


@pytest.mark.parametrize("name", SETS)
def test_gradcheck_and_shapes(name):
    Y = (10 ** (torch.rand(3, 2, 2, dtype=F64) * 5 - 1.5)).requires_grad_()
    assert torch.autograd.gradcheck(lambda y: pu21_encode(y, name), (Y,))
    V = (pu21_encode(Y.detach(), name)).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: pu21_decode(v, name), (V,))
    for shape in [(3, 4, 5), (2, 3, 4, 5)]:
        y = pu21_encode(torch.rand(shape) * 1000, name)
        assert y.shape == shape and y.dtype == torch.float32
        assert pu21_decode(y, name).shape == shape


@pytest.mark.parametrize("name", SETS)
def test_decode_edges_finite(name):
    V = torch.tensor([-10.0, 0.0, 1e4], dtype=F64, requires_grad=True)
    Y = pu21_decode(V, name)
    assert not torch.isnan(Y).any()
    Y[:2].sum().backward()
    assert torch.isfinite(V.grad).all()


def test_bad_parameters():
    with pytest.raises(InvalidInputError, match="banding_glare"):
        pu21_encode(torch.rand(3), "glare")
    with pytest.raises(InvalidInputError):
        pu21_decode(torch.rand(3), parameters="PEAKS")
