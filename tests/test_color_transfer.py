"""The transfer registry: each name decodes/encodes as its standard says and round-trips."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.color import (
    TRANSFERS,
    decode_transfer,
    encode_transfer,
    eotf_BT1886,
    eotf_BT2100_HLG,
    eotf_sRGB,
    eotf_ST2084,
)
from hdrvideo.errors import InvalidInputError

F64 = torch.float64


def test_names():
    assert TRANSFERS == ("pq", "hlg", "srgb", "bt1886", "gamma22", "gamma28", "linear")


def test_each_name_is_its_standard():
    V = torch.rand(2, 3, 4, 4, dtype=F64)
    assert torch.equal(decode_transfer(V, "pq", peak_nits=1000.0), eotf_ST2084(V))
    assert torch.equal(decode_transfer(V, "pq", peak_nits=50.0), eotf_ST2084(V))  # absolute
    assert torch.allclose(decode_transfer(V, "hlg", peak_nits=1500.0, black_nits=0.1), eotf_BT2100_HLG(V, 1500.0, 0.1))
    assert torch.allclose(decode_transfer(V, "srgb", peak_nits=203.0), eotf_sRGB(V) * 203)
    assert torch.allclose(decode_transfer(V, "bt1886", peak_nits=100.0, black_nits=0.1), eotf_BT1886(V, 0.1, 100.0))
    assert torch.allclose(decode_transfer(V, "gamma22", peak_nits=100.0), V**2.2 * 100)
    assert torch.allclose(decode_transfer(V, "gamma28", peak_nits=100.0), V**2.8 * 100)
    assert torch.allclose(decode_transfer(V, "linear", peak_nits=203.0), V * 203)


@pytest.mark.parametrize("transfer", TRANSFERS)
@pytest.mark.parametrize(("peak", "black"), [(203.0, 0.0), (1000.0, 0.05)])
def test_round_trip(transfer, peak, black):
    V = torch.rand(2, 3, 5, 5, dtype=F64) * 0.98 + 0.01
    L = decode_transfer(V, transfer, peak_nits=peak, black_nits=black)
    assert L.shape == V.shape and (L >= 0).all()
    assert torch.allclose(encode_transfer(L, transfer, peak_nits=peak, black_nits=black), V, atol=1e-9)
    L2 = torch.rand(3, 4, 4, dtype=F64) * peak + black
    back = decode_transfer(encode_transfer(L2, transfer, peak_nits=peak, black_nits=black), transfer,
                           peak_nits=peak, black_nits=black)
    assert torch.allclose(back, L2, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(TRANSFERS), st.floats(0.0, 1.0))
def test_grey_round_trip_property(transfer, v):
    V = torch.full((3, 1, 1), v, dtype=F64)
    L = decode_transfer(V, transfer, peak_nits=1000.0)
    back = encode_transfer(L, transfer, peak_nits=1000.0)
    floor = 7.309559025783966e-07 if transfer == "pq" else 0.0  # PQ codes below c1^m2 mean 0 cd/m²
    assert torch.allclose(back, torch.full_like(V, max(v, floor)), atol=1e-9)


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_peak_and_black(transfer):
    ones, zeros = torch.ones(3, 1, 1, dtype=F64), torch.zeros(3, 1, 1, dtype=F64)
    peak = decode_transfer(ones, transfer, peak_nits=600.0)
    assert torch.allclose(peak, torch.full_like(peak, 10000.0 if transfer == "pq" else 600.0))
    assert decode_transfer(zeros, transfer, peak_nits=600.0).abs().max().item() < 1e-2


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_encode_not_clipped_and_nan_safe(transfer):
    L = torch.tensor([-50.0, 0.0, 2000.0], dtype=F64).view(1, 3, 1).expand(3, 3, 1).clone().requires_grad_()
    V = encode_transfer(L, transfer, peak_nits=100.0)
    assert torch.isfinite(V).all()
    if transfer != "pq":
        assert V[:, 2].min().item() > 1.0  # 20x the peak is not clipped to 1
    V.sum().backward()
    assert torch.isfinite(L.grad).all()


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_monotone_shapes_dtype_gradcheck(transfer):
    V = torch.linspace(0, 1, 257, dtype=F64).view(1, 1, -1).expand(3, 1, -1)
    L = decode_transfer(V, transfer, peak_nits=400.0)[0, 0]
    assert (L.diff() >= 0).all() and L[-1] > L[0]
    for shape in [(3, 4, 5), (2, 3, 4, 5)]:
        y = decode_transfer(torch.rand(shape), transfer, peak_nits=400.0)
        assert y.shape == shape and y.dtype == torch.float32
    x = (torch.rand(3, 2, 2, dtype=F64) * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: decode_transfer(t, transfer, peak_nits=400.0, black_nits=0.01), (x,))
    light = (torch.rand(3, 2, 2, dtype=F64) * 300 + 5).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: encode_transfer(t, transfer, peak_nits=400.0, black_nits=0.01), (light,))


def test_bad_arguments():
    x = torch.rand(3, 2, 2)
    with pytest.raises(InvalidInputError, match="pq, hlg, srgb"):
        decode_transfer(x, "st2084", peak_nits=100.0)
    with pytest.raises(InvalidInputError):
        encode_transfer(x, "PQ", peak_nits=100.0)
    with pytest.raises(InvalidInputError):
        decode_transfer(x, "srgb", peak_nits=0.0)
    with pytest.raises(InvalidInputError):
        decode_transfer(x, "bt1886", peak_nits=100.0, black_nits=100.0)
    with pytest.raises(InvalidInputError):
        encode_transfer(torch.rand(2, 2, 2), "linear", peak_nits=100.0)
    with pytest.raises(TypeError):
        decode_transfer(x, "pq", 100.0)  # peak_nits is keyword-only


@pytest.mark.parametrize("transfer", TRANSFERS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computed_in_float32(transfer, dtype):
    V = torch.rand(3, 8, 8, dtype=F64).to(dtype)
    got = decode_transfer(V, transfer, peak_nits=1000.0)
    assert got.dtype == dtype
    # Same as computing in float64 from the same half inputs, up to the output's rounding.
    ref = decode_transfer(V.double(), transfer, peak_nits=1000.0)
    assert torch.allclose(got.double(), ref, rtol=2 * torch.finfo(dtype).eps, atol=1e-6)
    L = (torch.rand(3, 8, 8, dtype=F64) * 1000).to(dtype)
    ref = encode_transfer(L.double(), transfer, peak_nits=1000.0)
    assert torch.allclose(encode_transfer(L, transfer, peak_nits=1000.0).double(), ref,
                          rtol=2 * torch.finfo(dtype).eps, atol=1e-6)
