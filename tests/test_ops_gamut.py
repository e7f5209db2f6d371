"""The gamut operator: clip, desaturate and perceptual (ICtCp) gamut mapping."""

from __future__ import annotations

import math

import pytest
import torch

from hdrvideo.color.ictcp import rgb_to_ictcp
from hdrvideo.color.luminance import luminance
from hdrvideo.color.primaries import convert_primaries
from hdrvideo.errors import InvalidInputError
from hdrvideo.frame import Frame
from hdrvideo.ops.base import get_operator, parse_chain
from hdrvideo.ops.gamut import (
    GAMUT_MODES,
    Gamut,
    fit_toward_grey,
    gamut_boundary,
    gamut_perceptual,
    map_gamut,
)

TARGETS = ("bt709", "p3d65")


def saturated_bt2020(seed: int = 0, shape=(3, 24, 32), peak: float = 800.0) -> torch.Tensor:
    """Random BT.2020 colours, many of them far outside BT.709 (components near 0)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64) ** 3
    return x * torch.rand((1, *shape[1:]), generator=g, dtype=torch.float64) * peak + 1e-3


def in_target(x: torch.Tensor, target: str, tol: float = 1e-4) -> bool:
    t = convert_primaries(x.double(), "bt2020", target)
    scale = t.abs().amax(dim=-3, keepdim=True).clamp(min=1e-12)
    return bool((t / scale >= -tol).all())


def hue_degrees(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ictcp = rgb_to_ictcp(x.double())
    ct, cp = ictcp[..., 1, :, :], ictcp[..., 2, :, :]
    return torch.atan2(cp, ct) * 180 / math.pi, torch.sqrt(ct * ct + cp * cp)


def far_inside(target: str, seed: int = 1, amount: float = 0.3) -> torch.Tensor:
    """Colours of ``target`` a fraction ``amount`` of the way from grey to a random target colour."""
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(3, 16, 16, generator=g, dtype=torch.float64)
    grey = rgb.mean(dim=0, keepdim=True)
    level = 0.5 + 400 * torch.rand(1, 16, 16, generator=g, dtype=torch.float64)
    return convert_primaries((grey + amount * (rgb - grey)) * level, target, "bt2020")


def test_registered_with_its_options():
    assert get_operator("gamut") is Gamut
    op = parse_chain("gamut")[0]
    assert (op.mode, op.target, op.knee) == ("perceptual", "bt709", 0.8)
    op = parse_chain("gamut=desaturate:target=p3d65")[0]
    assert (op.mode, op.target) == ("desaturate", "p3d65")
    assert op.output_target() is None and op.state_dict() == {}
    with pytest.raises(InvalidInputError, match="clip, desaturate, perceptual"):
        parse_chain("gamut=mode=squash")
    with pytest.raises(InvalidInputError, match="bt709, p3d65, bt2020"):
        Gamut(target="srgb")
    with pytest.raises(InvalidInputError):
        Gamut()(torch.zeros(4, 8, 8))


@pytest.mark.parametrize("mode", GAMUT_MODES)
@pytest.mark.parametrize("target", TARGETS)
def test_output_is_inside_the_target_gamut(mode, target):
    x = saturated_bt2020()
    assert not in_target(x, target)
    y = map_gamut(x, mode, target)
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    assert in_target(y, target)


@pytest.mark.parametrize("mode", ("desaturate", "perceptual"))
@pytest.mark.parametrize("target", TARGETS)
def test_colours_far_inside_are_untouched(mode, target):
    x = far_inside(target)
    y = map_gamut(x, mode, target)
    assert torch.allclose(y, x, rtol=1e-4, atol=0.0)


def test_clip_keeps_in_gamut_colours_and_clamps_the_rest():
    x = far_inside("bt709", amount=1.0)  # anywhere in BT.709, up to its boundary
    assert torch.allclose(map_gamut(x, "clip", "bt709"), x, rtol=1e-9, atol=1e-9)
    green = torch.tensor([0.0, 100.0, 0.0], dtype=torch.float64).view(3, 1, 1)  # BT.2020 green
    clipped = convert_primaries(map_gamut(green, "clip", "bt709"), "bt2020", "bt709").flatten()
    assert abs(float(clipped[0])) < 1e-9 and abs(float(clipped[2])) < 1e-9 and clipped[1] > 0


@pytest.mark.parametrize("target", TARGETS)
def test_desaturate_keeps_luminance(target):
    x = saturated_bt2020(seed=3)
    y = map_gamut(x, "desaturate", target)
    assert torch.allclose(luminance(y), luminance(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("target", TARGETS)
def test_perceptual_keeps_ictcp_hue_and_luminance(target):
    x = saturated_bt2020(seed=4)
    y = gamut_perceptual(x, target)
    h_in, c_in = hue_degrees(x)
    h_out, _ = hue_degrees(y)
    chromatic = c_in > 0.01
    dh = torch.remainder(h_out - h_in + 180.0, 360.0) - 180.0
    assert dh[chromatic].abs().max() < 2.0  # degrees
    rel = (luminance(y) - luminance(x)).abs() / luminance(x)
    assert rel.max() < 0.01
    # ...and never brighter in any component than the brightest component was.
    assert (y.amax(dim=0) <= x.amax(dim=0) * (1 + 1e-9)).all()


def test_perceptual_compression_is_smooth_and_reaches_the_boundary():
    # A saturation ramp from grey to pure BT.2020 green at constant luminance.
    t = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
    grey = torch.full((3,), 60.0, dtype=torch.float64)
    green = torch.tensor([0.0, 60.0 / 0.6780, 0.0], dtype=torch.float64)
    ramp = (grey[:, None] + t[None, :] * (green - grey)[:, None]).view(3, 1, -1)
    y = gamut_perceptual(ramp, "bt709")
    _, c = hue_degrees(y)
    c = c.flatten()
    assert (torch.diff(c) >= -1e-9).all(), "chroma must grow along the ramp (no folding)"
    # The end of the ramp (the BT.2020 boundary) lands on the BT.709 boundary.
    end = convert_primaries(y[..., -1:], "bt2020", "bt709").flatten()
    assert float(end.min()) == pytest.approx(0.0, abs=1e-3 * float(end.max()))
    # No flat, clipped stretch: the last 20 % of the ramp still gains chroma.
    assert float(c[-1] - c[-40]) > 0.01 * float(c[-1])
    # Desaturate, by contrast, clips: its chroma stops growing once it meets the boundary.
    _, c_clip = hue_degrees(map_gamut(ramp, "desaturate", "bt709"))
    c_clip = c_clip.flatten()
    assert float(c_clip[-1] - c_clip[-40]) < 1e-6


def test_bt2020_target_changes_nothing_inside_bt2020():
    x = saturated_bt2020(seed=5)
    for mode in GAMUT_MODES:
        assert torch.allclose(map_gamut(x, mode, "bt2020"), x, rtol=1e-12, atol=1e-12)


def test_colours_outside_bt2020_are_brought_inside():
    x = torch.tensor([[-20.0, 100.0, 50.0], [300.0, -5.0, -1.0]], dtype=torch.float64).T.reshape(3, 1, 2)
    for mode in GAMUT_MODES:
        for target in ("bt709", "bt2020"):
            assert in_target(map_gamut(x, mode, target), target)


def test_boundary_table_matches_a_direct_search():
    # On the table's own nodes the interpolated boundary is the searched one; between them it
    # stays within a few percent of a fresh bisection.
    i = torch.tensor([0.3, 0.45, 0.6], dtype=torch.float64)
    hue = torch.tensor([0.1, 2.0, 4.0], dtype=torch.float64)
    c = gamut_boundary(i, hue, "bt709")
    inside = torch.stack([i, 0.97 * c * torch.cos(hue), 0.97 * c * torch.sin(hue)]).view(3, 1, 3)
    outside = torch.stack([i, 1.03 * c * torch.cos(hue), 1.03 * c * torch.sin(hue)]).view(3, 1, 3)
    from hdrvideo.color.ictcp import ictcp_to_rgb

    assert in_target(ictcp_to_rgb(inside), "bt709", tol=0.0)
    rgb_out = convert_primaries(ictcp_to_rgb(outside), "bt2020", "bt709")
    assert (rgb_out.amin(dim=0) < 0).all()


def test_fit_toward_grey():
    rgb = torch.tensor([[150.0, 20.0, -10.0], [50.0, 40.0, 30.0]]).T.reshape(3, 1, 2)
    y = luminance(rgb)
    out = fit_toward_grey(rgb, y, lo=0.0, hi=100.0)
    assert out.min() >= 0.0 and out.max() <= 100.0
    assert torch.allclose(luminance(out), y, rtol=1e-5)
    assert torch.equal(out[..., 1], rgb[..., 1])  # already inside: untouched


def test_batches_frames_and_dtypes():
    x = torch.stack([saturated_bt2020(seed=s, shape=(3, 8, 8)) for s in range(3)])
    op = Gamut()
    y = op(x)
    assert y.shape == x.shape
    for k in range(3):
        assert torch.allclose(y[k], op(x[k]), rtol=1e-12, atol=1e-12)
    y32 = op(x.float())
    assert y32.dtype == torch.float32 and in_target(y32, "bt709", tol=1e-3)
    frame = op(Frame(x[0].float(), index=7, side_data={"k": 1}))
    assert frame.index == 7 and frame.side_data == {"k": 1}
