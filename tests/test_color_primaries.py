"""Primaries and matrices (SMPTE RP 177), luminance: colour-science oracle and laws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hdrvideo.color import (
    PRIMARIES,
    Primaries,
    apply_matrix,
    convert_primaries,
    luminance,
    luminance_weights,
    rgb_to_rgb_matrix,
    rgb_to_xyz_matrix,
)
from hdrvideo.errors import InvalidInputError

colour = pytest.importorskip("colour")

F64 = torch.float64
COLOUR_NAMES = {"bt709": "ITU-R BT.709", "bt2020": "ITU-R BT.2020", "p3d65": "P3-D65", "dci-p3": "DCI-P3"}


@pytest.mark.parametrize("name", list(COLOUR_NAMES))
def test_rgb_to_xyz_matches_colour(name):
    expected = colour.RGB_COLOURSPACES[COLOUR_NAMES[name]].matrix_RGB_to_XYZ
    np.testing.assert_allclose(rgb_to_xyz_matrix(name).numpy(), expected, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(("src", "dst"), [("bt709", "bt2020"), ("bt2020", "bt709"), ("p3d65", "bt2020"), ("bt2020", "p3d65")])
def test_rgb_to_rgb_matches_colour(src, dst):
    expected = colour.matrix_RGB_to_RGB(COLOUR_NAMES[src], COLOUR_NAMES[dst], chromatic_adaptation_transform=None)
    np.testing.assert_allclose(rgb_to_rgb_matrix(src, dst).numpy(), expected, rtol=1e-5, atol=1e-8)


def test_bradford_matches_colour():
    expected = colour.matrix_RGB_to_RGB("DCI-P3", "ITU-R BT.709", chromatic_adaptation_transform="Bradford")
    np.testing.assert_allclose(rgb_to_rgb_matrix("dci-p3", "bt709", adapt="bradford").numpy(), expected, atol=1e-5)


def test_bt709_to_bt2020_published():
    # ITU-R BT.2087-0 eq. (3), to the four decimals it prints.
    expected = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
    np.testing.assert_allclose(rgb_to_rgb_matrix("bt709", "bt2020").numpy(), expected, atol=6e-5)


def test_white_maps_to_white():
    for name in PRIMARIES:
        m = rgb_to_xyz_matrix(name)
        assert m[1].sum().item() == pytest.approx(1.0, abs=1e-12)
    for src in ("bt709", "p3d65", "bt601-625", "bt601-525"):
        ones = torch.ones(3, 1, 1, dtype=F64)
        assert torch.allclose(convert_primaries(ones, src, "bt2020"), ones, atol=1e-12)


def test_convert_round_trip_and_shapes():
    for shape in [(3, 4, 5), (2, 3, 4, 5)]:
        x = torch.rand(shape, dtype=F64)
        y = convert_primaries(x, "bt709", "bt2020")
        assert y.shape == shape
        assert torch.allclose(convert_primaries(y, "bt2020", "bt709"), x, atol=1e-12)
    assert convert_primaries(torch.rand(3, 1, 1).float(), "bt709", "p3d65").dtype == torch.float32


def test_apply_matrix_gradcheck():
    x = torch.rand(3, 2, 2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: apply_matrix(t, rgb_to_rgb_matrix("bt709", "bt2020")), (x,))


def test_bad_primaries():
    with pytest.raises(InvalidInputError, match="bt2020"):
        rgb_to_xyz_matrix("rec2020")
    with pytest.raises(InvalidInputError):
        rgb_to_rgb_matrix("bt709", "bt2020", adapt="cat02")
    with pytest.raises(InvalidInputError):
        apply_matrix(torch.rand(4, 2, 2), torch.eye(3))


# -- luminance ----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "weights"), [("bt2020", (0.2627, 0.6780, 0.0593)), ("bt709", (0.2126, 0.7152, 0.0722))])
def test_luminance_weights_published(name, weights):
    np.testing.assert_allclose(luminance_weights(name).numpy(), weights, atol=5e-5)


@pytest.mark.parametrize("name", list(COLOUR_NAMES))
def test_luminance_matches_colour(name):
    rgb = np.random.default_rng(3).uniform(0, 1000, size=(2, 3, 4, 4))
    xyz = colour.RGB_to_XYZ(np.moveaxis(rgb, 1, -1), COLOUR_NAMES[name], chromatic_adaptation_transform=None)
    Y = luminance(torch.from_numpy(rgb), name)
    assert Y.shape == (2, 1, 4, 4)
    np.testing.assert_allclose(Y[:, 0].numpy(), xyz[..., 1], rtol=1e-5)


def test_luminance_any_primaries_and_shapes():
    for name in [*PRIMARIES, "xyz", Primaries((0.7, 0.3), (0.2, 0.7), (0.15, 0.05), (0.3127, 0.329))]:
        ones = torch.ones(3, 2, 2, dtype=F64)
        Y = luminance(ones, name)
        assert Y.shape == (1, 2, 2)
        assert torch.allclose(Y, torch.ones_like(Y))
    x = torch.rand(3, 2, 2, dtype=F64)
    assert torch.equal(luminance(x, "xyz"), x[1:2])
    assert luminance(torch.rand(3, 2, 2)).dtype == torch.float32
    g = torch.rand(3, 2, 2, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(luminance, (g,))
    with pytest.raises(InvalidInputError):
        luminance(torch.rand(3, 2))
    with pytest.raises(InvalidInputError):
        luminance(torch.rand(3, 2, 2), "nope")
