"""ITU-R BT.2100-2 ICtCp (PQ and HLG): colour-science oracle, laws, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hdrvideo.color import ictcp_to_rgb, rgb_to_ictcp
from hdrvideo.errors import InvalidInputError
from tests.oracle import assert_rel

colour = pytest.importorskip("colour")

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

F64 = torch.float64
COLOUR_METHOD = {"pq": "ITU-R BT.2100-2 PQ", "hlg": "ITU-R BT.2100-2 HLG"}
SCALE = {"pq": 10000.0, "hlg": 1.0}


def hwc(x):
    return np.moveaxis(np.asarray(x), -3, -1)


def chw(x):
    return np.moveaxis(np.asarray(x), -1, -3)




@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_matches_colour(transfer):
    rng = np.random.default_rng(7)
    if transfer == "pq":
        rgb = 10 ** rng.uniform(-2, 4, size=(2, 3, 8, 8))  # cd/m²
    else:
        rgb = rng.uniform(0, 1, size=(2, 3, 8, 8))
    expected = chw(colour.RGB_to_ICtCp(hwc(rgb), method=COLOUR_METHOD[transfer]))
    got = rgb_to_ictcp(torch.from_numpy(rgb), transfer)
    assert_rel(got, expected, 1e-9)
    back = chw(colour.ICtCp_to_RGB(hwc(got.numpy()), method=COLOUR_METHOD[transfer]))
    assert_rel(ictcp_to_rgb(got, transfer), back, 1e-9)


def test_pq_variant_equals_dolby_2016():
    rgb = np.random.default_rng(8).uniform(0, 1000, size=(3, 4, 4))
    expected = chw(colour.RGB_to_ICtCp(hwc(rgb), method="Dolby 2016"))
    assert_rel(rgb_to_ictcp(torch.from_numpy(rgb), "pq"), expected, 1e-9)


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_neutral_has_no_chroma(transfer):
    grey = torch.full((3, 2, 2), 0.3 * SCALE[transfer], dtype=F64)
    ictcp = rgb_to_ictcp(grey, transfer)
    assert torch.allclose(ictcp[1:], torch.zeros_like(ictcp[1:]), atol=1e-14)


def test_pq_intensity_is_pq_of_grey():
    from hdrvideo.color import eotf_inverse_ST2084

    grey = torch.full((3, 1, 1), 203.0, dtype=F64)
    assert rgb_to_ictcp(grey)[0].item() == pytest.approx(eotf_inverse_ST2084(torch.tensor(203.0, dtype=F64)).item())


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
def test_round_trip_and_shapes(transfer, shape):
    rgb = torch.rand(shape, dtype=F64) * SCALE[transfer]
    ictcp = rgb_to_ictcp(rgb, transfer)
    assert ictcp.shape == shape
    assert torch.allclose(ictcp_to_rgb(ictcp, transfer), rgb, rtol=1e-9, atol=1e-9 * SCALE[transfer])
    assert rgb_to_ictcp(rgb.float(), transfer).dtype == torch.float32


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_gradcheck(transfer):
    rgb = ((torch.rand(3, 2, 2, dtype=F64) * 0.8 + 0.1) * SCALE[transfer] / 10).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: rgb_to_ictcp(x, transfer), (rgb,))
    ictcp = rgb_to_ictcp(rgb.detach(), transfer).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: ictcp_to_rgb(x, transfer), (ictcp,))
    zero = torch.zeros(3, 1, 1, dtype=F64, requires_grad=True)
    rgb_to_ictcp(zero, transfer).sum().backward()
    assert torch.isfinite(zero.grad).all()


def test_bad_arguments():
    with pytest.raises(InvalidInputError, match="hlg"):
        rgb_to_ictcp(torch.rand(3, 1, 1), "sdr")
    with pytest.raises(InvalidInputError):
        ictcp_to_rgb(torch.rand(3, 1, 1), "PQ")
    with pytest.raises(InvalidInputError):
        rgb_to_ictcp(torch.rand(1, 1, 1))
