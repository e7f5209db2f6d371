"""Y'CbCr and code values: colour-science oracle, BT.2100 Table 9 points, laws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.color import (
    YCBCR_WEIGHTS,
    codes_to_rgb,
    codes_to_ycbcr,
    rgb_to_codes,
    rgb_to_ycbcr,
    ycbcr_to_codes,
    ycbcr_to_rgb,
)
from hdrvideo.errors import InvalidInputError

colour = pytest.importorskip("colour")

F64 = torch.float64
COLOUR_K = {"bt709": "ITU-R BT.709", "bt2020nc": "ITU-R BT.2020", "bt601": "ITU-R BT.601"}
MATRICES = list(YCBCR_WEIGHTS)


def hwc(x):
    return np.moveaxis(np.asarray(x), -3, -1)


def chw(x):
    return np.moveaxis(np.asarray(x), -1, -3)


@pytest.fixture
def rgb():
    return np.random.default_rng(709).uniform(0, 1, size=(2, 3, 8, 8))


def test_weights_match_colour():
    for name, key in COLOUR_K.items():
        np.testing.assert_array_equal(np.asarray(YCBCR_WEIGHTS[name]), colour.WEIGHTS_YCBCR[key])


@pytest.mark.parametrize("matrix", MATRICES)
def test_normalised_matches_colour(rgb, matrix):
    K = colour.WEIGHTS_YCBCR[COLOUR_K[matrix]]
    expected = chw(colour.RGB_to_YCbCr(hwc(rgb), K=K, out_legal=False, out_int=False))
    got = rgb_to_ycbcr(torch.from_numpy(rgb), matrix=matrix)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    back = chw(colour.YCbCr_to_RGB(hwc(got.numpy()), K=K, in_legal=False, in_int=False, out_legal=False))
    np.testing.assert_allclose(ycbcr_to_rgb(got, matrix=matrix).numpy(), back, atol=1e-12)
    np.testing.assert_allclose(back, rgb, atol=1e-12)


@pytest.mark.parametrize("matrix", MATRICES)
@pytest.mark.parametrize("bits", [8, 10, 12])
def test_limited_codes_match_colour(rgb, matrix, bits):
    K = colour.WEIGHTS_YCBCR[COLOUR_K[matrix]]
    top = 2**bits - 1
    # colour's non-integer legal output is code / (2^n - 1).
    expected = chw(colour.RGB_to_YCbCr(hwc(rgb), K=K, out_bits=bits, out_legal=True, out_int=False)) * top
    codes = ycbcr_to_codes(rgb_to_ycbcr(torch.from_numpy(rgb), matrix), bits=bits, range="limited")
    np.testing.assert_allclose(codes.numpy(), expected, rtol=1e-12, atol=1e-9)
    ints = np.round(codes.numpy()).astype(np.int64)
    expected_rgb = chw(colour.YCbCr_to_RGB(hwc(ints), K=K, in_bits=bits, in_legal=True, in_int=True, out_legal=False))
    got_rgb = ycbcr_to_rgb(codes_to_ycbcr(torch.from_numpy(ints).double(), bits, "limited"), matrix)
    np.testing.assert_allclose(got_rgb.numpy(), expected_rgb, atol=1e-12)


@pytest.mark.parametrize("matrix", MATRICES)
@pytest.mark.parametrize("bits", [8, 10])
def test_full_codes_match_colour(rgb, matrix, bits):
    K = colour.WEIGHTS_YCBCR[COLOUR_K[matrix]]
    expected = chw(colour.RGB_to_YCbCr(hwc(rgb), K=K, out_bits=bits, out_legal=False, out_int=True))
    codes = ycbcr_to_codes(rgb_to_ycbcr(torch.from_numpy(rgb), matrix), bits=bits, range="full")
    rounded = np.clip(np.round(codes.numpy()), 0, 2**bits - 1)
    # colour clamps Cb/Cr codes at 2^n - 0.5 before rounding; our +/-0.5 extremes don't occur here.
    np.testing.assert_array_equal(rounded, expected)
    expected_rgb = chw(colour.YCbCr_to_RGB(hwc(expected), K=K, in_bits=bits, in_legal=False, in_int=True, out_legal=False))
    got_rgb = ycbcr_to_rgb(codes_to_ycbcr(torch.from_numpy(expected).long(), bits, "full").double(), matrix)
    np.testing.assert_allclose(got_rgb.numpy(), expected_rgb, atol=1e-6)


@pytest.mark.parametrize(
    ("bits", "range_", "black", "white", "c_min", "c_mid", "c_max"),
    [
        (8, "limited", 16, 235, 16, 128, 240),
        (10, "limited", 64, 940, 64, 512, 960),
        (12, "limited", 256, 3760, 256, 2048, 3840),
        (10, "full", 0, 1023, 0.5, 512, 1023.5),
        (8, "full", 0, 255, 0.5, 128, 255.5),
    ],
)
def test_table9_points(bits, range_, black, white, c_min, c_mid, c_max):
    ycc = torch.tensor([[0.0, 1.0, 0.5], [-0.5, 0.0, 0.5], [-0.5, 0.0, 0.5]], dtype=F64).view(3, 1, 3)
    codes = ycbcr_to_codes(ycc, bits=bits, range=range_)
    assert codes[0, 0].tolist() == [black, white, (black + white) / 2]
    assert codes[1, 0].tolist() == [c_min, c_mid, c_max]
    assert torch.allclose(codes_to_ycbcr(codes, bits=bits, range=range_), ycc)
    rgb = torch.tensor([0.0, 1.0, 0.5], dtype=F64).view(1, 1, 3).expand(3, 1, 3)
    assert rgb_to_codes(rgb, bits, range_)[0, 0].tolist() == [black, white, (black + white) / 2]


def test_grey_has_no_chroma_and_white_is_one():
    for matrix in MATRICES:
        grey = torch.full((3, 2, 2), 0.4, dtype=F64)
        ycc = rgb_to_ycbcr(grey, matrix)
        assert torch.allclose(ycc[0], grey[0]) and torch.allclose(ycc[1:], torch.zeros_like(ycc[1:]), atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), st.sampled_from(MATRICES),
       st.sampled_from([8, 10, 12, 16]), st.sampled_from(["limited", "full"]))
def test_round_trips(values, matrix, bits, range_):
    x = torch.tensor(values, dtype=F64).view(3, 1, 1)
    ycc = rgb_to_ycbcr(x, matrix)
    assert torch.allclose(ycbcr_to_rgb(ycc, matrix), x, atol=1e-12)
    assert torch.allclose(codes_to_ycbcr(ycbcr_to_codes(ycc, bits, range_), bits, range_), ycc, atol=1e-12)
    assert torch.allclose(codes_to_rgb(rgb_to_codes(x, bits, range_), bits, range_), x, atol=1e-12)


def test_integer_codes_accepted():
    codes = torch.tensor([64, 512, 512], dtype=torch.int32).view(3, 1, 1)
    ycc = codes_to_ycbcr(codes, 10, "limited")
    assert ycc.dtype == torch.float32 and ycc.abs().max().item() == 0
    rgb = codes_to_rgb(torch.tensor([940, 64, 502], dtype=torch.int16), 10, "limited")
    assert rgb.dtype == torch.float32 and rgb[:2].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
def test_shapes_dtype_device(shape):
    x = torch.rand(shape)
    for y in (rgb_to_ycbcr(x), ycbcr_to_rgb(x), ycbcr_to_codes(x), codes_to_ycbcr(x), rgb_to_codes(x), codes_to_rgb(x)):
        assert y.shape == shape and y.dtype == torch.float32 and y.device == x.device


def test_gradcheck():
    x = torch.rand(3, 2, 2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: rgb_to_ycbcr(t, "bt709"), (x,))
    assert torch.autograd.gradcheck(lambda t: ycbcr_to_rgb(t, "bt601"), (x,))
    assert torch.autograd.gradcheck(lambda t: ycbcr_to_codes(t, 10, "full"), (x,))


def test_bad_arguments():
    x = torch.rand(3, 2, 2)
    with pytest.raises(InvalidInputError, match="bt2020nc"):
        rgb_to_ycbcr(x, "bt2020c")
    with pytest.raises(InvalidInputError):
        ycbcr_to_rgb(x, "rgb")
    with pytest.raises(InvalidInputError, match="limited"):
        ycbcr_to_codes(x, 10, "tv")
    with pytest.raises(InvalidInputError):
        codes_to_ycbcr(x, 7, "full")
    with pytest.raises(InvalidInputError):
        rgb_to_codes(x, 10.0, "full")
    with pytest.raises(InvalidInputError):
        rgb_to_ycbcr(torch.rand(2, 2, 2))
