"""mu-law compression (Kalantari & Ramamoorthi 2017)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.color import mu_law_decode, mu_law_encode
from hdrvideo.errors import InvalidInputError

F64 = torch.float64


def test_formula_and_end_points():
    x = torch.tensor([0.0, 0.001, 0.18, 1.0], dtype=F64)
    expected = torch.log(1 + 5000 * x) / math.log(1 + 5000)
    assert torch.allclose(mu_law_encode(x), expected, rtol=1e-14)
    assert mu_law_encode(x)[0] == 0 and mu_law_encode(x)[-1].item() == pytest.approx(1.0, abs=1e-15)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.0, 1.0), st.sampled_from([10.0, 5000.0]))
def test_round_trip(x, mu):
    X = torch.tensor(x, dtype=F64)
    assert mu_law_decode(mu_law_encode(X, mu), mu).item() == pytest.approx(x, rel=1e-12, abs=1e-15)


def test_monotone_shapes_gradients():
    x = torch.linspace(0, 1, 1001, dtype=F64)
    assert (mu_law_encode(x).diff() > 0).all()
    for shape in [(3, 4, 5), (2, 3, 4, 5)]:
        assert mu_law_encode(torch.rand(shape)).shape == shape
    inner = (torch.rand(3, 2, 2, dtype=F64) * 0.9 + 0.05).requires_grad_()
    assert torch.autograd.gradcheck(mu_law_encode, (inner,))
    assert torch.autograd.gradcheck(mu_law_decode, (inner,))
    edge = torch.tensor([-1.0, 0.0, 1.0], dtype=F64, requires_grad=True)
    mu_law_encode(edge).sum().backward()
    assert torch.isfinite(edge.grad).all()


def test_bad_mu():
    with pytest.raises(InvalidInputError):
        mu_law_encode(torch.rand(3), mu=0.0)
    with pytest.raises(InvalidInputError):
        mu_law_decode(torch.rand(3), mu=-5.0)
