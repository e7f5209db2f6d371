"""SMPTE ST 2084 (PQ): colour-science oracle, published values, laws, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.color import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.errors import InvalidInputError
from tests.oracle import assert_rel

colour = pytest.importorskip("colour")

F64 = torch.float64




@pytest.fixture
def rng():
    return np.random.default_rng(2084)


def test_eotf_matches_colour(rng):
    N = rng.uniform(0, 1, size=(2, 3, 16, 16))
    assert_rel(eotf_ST2084(torch.from_numpy(N)), colour.models.eotf_ST2084(N), 1e-10)


def test_eotf_inverse_matches_colour(rng):
    C = 10 ** rng.uniform(-4, 4, size=(3, 16, 16))
    assert_rel(eotf_inverse_ST2084(torch.from_numpy(C)), colour.models.eotf_inverse_ST2084(C), 1e-10)


@pytest.mark.parametrize("L_p", [1000.0, 4000.0])
def test_L_p_matches_colour(rng, L_p):
    N = rng.uniform(0, 1, size=(3, 4, 4))
    assert_rel(eotf_ST2084(torch.from_numpy(N), L_p=L_p), colour.models.eotf_ST2084(N, L_p=L_p), 1e-10)
    C = rng.uniform(0, L_p, size=(3, 4, 4))
    assert_rel(eotf_inverse_ST2084(torch.from_numpy(C), L_p=L_p), colour.models.eotf_inverse_ST2084(C, L_p=L_p), 1e-10)


@pytest.mark.parametrize(
    ("nits", "signal"),
    [(0.0, 7.309559e-07), (100.0, 0.508078421517399), (203.0, 0.580688881), (1000.0, 0.751827096247041), (10000.0, 1.0)],
)
def test_published_values(nits, signal):
    got = eotf_inverse_ST2084(torch.tensor(nits, dtype=F64)).item()
    assert got == pytest.approx(signal, rel=1e-6, abs=1e-12)
    if nits > 0:
        assert eotf_ST2084(torch.tensor(signal, dtype=F64)).item() == pytest.approx(nits, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0))
def test_round_trip_signal(n):
    N = torch.tensor(n, dtype=F64)
    # Signals below c1^m2 (the code of 0 cd/m²) all decode to 0 cd/m².
    assert eotf_inverse_ST2084(eotf_ST2084(N)).item() == pytest.approx(max(n, 7.309559025783966e-07), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 10000.0))
def test_round_trip_light(c):
    C = torch.tensor(c, dtype=F64)
    assert eotf_ST2084(eotf_inverse_ST2084(C)).item() == pytest.approx(c, rel=1e-9, abs=1e-9)


def test_monotone_and_finite():
    N = torch.linspace(-0.5, 2.5, 3001, dtype=F64)
    C = eotf_ST2084(N)
    assert torch.isfinite(C).all()
    assert (C.diff() >= 0).all()
    L = torch.logspace(-6, 5, 2000, dtype=F64)
    assert (eotf_inverse_ST2084(L).diff() > 0).all()


@pytest.mark.parametrize("shape", [(3, 5, 7), (2, 3, 5, 7), (7,)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_dtypes(shape, dtype):
    x = torch.rand(shape, dtype=dtype)
    for f in (eotf_ST2084, eotf_inverse_ST2084):
        y = f(x)
        assert y.shape == x.shape and y.dtype == dtype


def test_float32_close_to_float64():
    N = torch.rand(3, 8, 8, dtype=F64)
    assert torch.allclose(eotf_ST2084(N.float()).double(), eotf_ST2084(N), rtol=1e-4, atol=1e-6)


def test_gradcheck():
    N = (torch.rand(3, 2, 2, dtype=F64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(eotf_ST2084, (N,))
    C = (torch.rand(3, 2, 2, dtype=F64) * 5000 + 1).requires_grad_()
    assert torch.autograd.gradcheck(eotf_inverse_ST2084, (C,))


@pytest.mark.parametrize("f", [eotf_ST2084, eotf_inverse_ST2084])
def test_gradients_finite_at_edges(f):
    x = torch.tensor([-1.0, 0.0, 1e-30, 1.0, 1.5, 3.0, 2e4], dtype=F64, requires_grad=True)
    f(x).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("L_p", [0.0, -1.0, float("nan")])
def test_bad_L_p(L_p):
    with pytest.raises(InvalidInputError):
        eotf_ST2084(torch.zeros(3), L_p=L_p)
    with pytest.raises(InvalidInputError):
        eotf_inverse_ST2084(torch.zeros(3), L_p=L_p)
