"""The tonemap operator (global curves on an intensity) and the localtonemap operator."""

from __future__ import annotations

import json
import math

import pytest
import torch

import hdrvideo.ops.local  # noqa: F401  (registers localtonemap)
from hdrvideo.color.ictcp import rgb_to_ictcp
from hdrvideo.color.luminance import luminance
from hdrvideo.color.pq import eotf_inverse_ST2084
from hdrvideo.errors import InvalidInputError
from hdrvideo.frame import Frame
from hdrvideo.io.metadata import ContentLightLevel, MasteringDisplay
from hdrvideo.ops.base import OutputTarget, get_operator, parse_chain
from hdrvideo.ops.curves import CURVES
from hdrvideo.ops.gamut import Gamut
from hdrvideo.ops.local import LocalTonemap, bilateral_grid, durand_dorsey, reinhard_local
from hdrvideo.ops.tonemap import INTENSITIES, Tonemap, metadata_source, tonemap


def pq(nits: float) -> float:
    return float(eotf_inverse_ST2084(torch.tensor(nits, dtype=torch.float64)))


def hdr_frame(seed: int = 0, shape=(3, 24, 32), peak: float = 2000.0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) ** 4 * peak).to(dtype)


def grey_ramp(peak: float = 1000.0, n: int = 64) -> torch.Tensor:
    return torch.linspace(0.0, peak, n, dtype=torch.float64).expand(3, 1, n).clone()


# -- registration, options, output target -----------------------------------------------------
def test_the_filter_string_of_the_brief_builds_the_chain():
    tm, gm = parse_chain("tonemap=curve=bt2390:peak_nits=100,gamut=mode=perceptual")
    assert isinstance(tm, Tonemap) and isinstance(gm, Gamut)
    assert (tm.curve, tm.peak_nits, gm.mode) == ("bt2390", 100.0, "perceptual")
    assert get_operator("tonemap") is Tonemap
    assert parse_chain("tonemap=hable")[0].curve == "hable"  # bare first value = curve
    y = gm(tm(hdr_frame()))
    assert y.min() >= 0 and y.max() <= 100.0 + 1e-4


def test_defaults_and_output_targets():
    op = Tonemap()
    assert (op.curve, op.intensity, op.source_peak, op.target) == ("spline", "ictcp", "smoothed", "sdr")
    assert op.output_target() == OutputTarget("sdr", 100.0, 100.0)
    assert Tonemap(target="hdr10").output_target() == OutputTarget("hdr10", 1000.0, 203.0)
    assert Tonemap(target="hlg", peak_nits=600).output_target() == OutputTarget("hlg", 600.0, 203.0)
    assert Tonemap(peak_nits=203, white_nits=100).output_target() == OutputTarget("sdr", 203.0, 100.0)
    options = {o.name for o in Tonemap.options}
    assert {"curve", "target", "peak_nits", "white_nits", "source_peak", "source_peak_nits", "intensity",
            "desat", "dither", "param"} <= options
    for curve in CURVES.values():  # every curve parameter is an option of the operator
        assert {p.name for p in curve.params} <= options


def test_curve_parameters():
    assert Tonemap(curve="mobius", param=0.5).curve_params == {"transition": 0.5}
    assert parse_chain("tonemap=mobius:transition=0.4")[0].curve_params == {"transition": 0.4}
    assert Tonemap(curve="bt2390").curve_params == {"knee_offset": 0.5}
    with pytest.raises(InvalidInputError, match="has no parameter contrast"):
        parse_chain("tonemap=curve=hable:contrast=0.3")
    with pytest.raises(InvalidInputError, match="takes no parameter"):
        Tonemap(curve="clip", param=1.0)
    with pytest.raises(InvalidInputError, match="bt2390"):
        parse_chain("tonemap=curve=aces")
    with pytest.raises(InvalidInputError):
        Tonemap(desat=0.0)
    with pytest.raises(InvalidInputError):
        Tonemap()(torch.zeros(2, 4, 4))


# -- the mapping -------------------------------------------------------------------------------------
@pytest.mark.parametrize("intensity", INTENSITIES)
@pytest.mark.parametrize("curve", ["bt2390", "spline", "hable"])
def test_greys_follow_the_curve(intensity, curve):
    x = grey_ramp()
    y = tonemap(x, curve, src_peak_nits=1000, dst_peak_nits=100, intensity=intensity)
    want = CURVES[curve](x[0], src_peak_nits=1000, dst_peak_nits=100)
    tol = 1e-9 if intensity != "ictcp" else 1e-6
    assert torch.allclose(y, want.expand_as(y), rtol=tol, atol=tol)


@pytest.mark.parametrize("intensity", INTENSITIES)
@pytest.mark.parametrize("curve", list(CURVES))
def test_output_is_finite_and_within_the_target_peak(intensity, curve):
    x = hdr_frame(peak=4000.0)
    x[:, 0, 0] = torch.tensor([4000.0, 0.0, 0.0])  # pure, bright BT.2020 red
    x[:, 0, 1] = 0.0
    y = tonemap(x, curve, src_peak_nits=4000, dst_peak_nits=100, intensity=intensity, desat=0.9)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert torch.isfinite(y).all() and y.min() >= 0.0 and y.max() <= 100.0
    assert (y[:, 0, 1].abs() < 1e-6).all()  # black stays black


def test_maxrgb_and_luminance_keep_chromaticity():
    x = hdr_frame(seed=2, peak=600.0, dtype=torch.float64) + 0.5
    for intensity in ("maxrgb", "luminance"):
        y = tonemap(x, "bt2390", src_peak_nits=1000, dst_peak_nits=100, intensity=intensity)
        ratio_in = x / x.sum(dim=0, keepdim=True)
        ratio_out = y / y.sum(dim=0, keepdim=True)
        unclipped = y.amax(dim=0) < 100.0 - 1e-6
        assert torch.allclose(ratio_out[:, unclipped], ratio_in[:, unclipped], rtol=1e-9, atol=1e-12)
    # maxrgb maps the brightest component through the curve exactly.
    y = tonemap(x, "bt2390", src_peak_nits=1000, dst_peak_nits=100, intensity="maxrgb")
    want = CURVES["bt2390"](x.amax(dim=0), src_peak_nits=1000, dst_peak_nits=100)
    assert torch.allclose(y.amax(dim=0), want, rtol=1e-9)


def test_ictcp_keeps_hue_and_intensity_and_never_adds_chroma():
    x = hdr_frame(seed=3, peak=1500.0, dtype=torch.float64) + 1.0
    x[:, 0, :3] = torch.tensor([[1500.0, 0.0, 0.0], [0.0, 0.0, 1500.0], [900.0, 900.0, 0.0]]).T.double()
    y = tonemap(x, "spline", src_peak_nits=1500, dst_peak_nits=100, intensity="ictcp")
    assert y.max() <= 100.0 and y.min() >= 0.0
    a, b = rgb_to_ictcp(x), rgb_to_ictcp(y)
    ca, cb = torch.hypot(a[1], a[2]), torch.hypot(b[1], b[2])
    assert (cb <= ca * (1 + 1e-6) + 1e-9).all()
    chromatic = ca > 0.02
    dh = torch.remainder(torch.atan2(b[2], b[1]) - torch.atan2(a[2], a[1]) + math.pi, 2 * math.pi) - math.pi
    assert dh[chromatic].abs().max() * 180 / math.pi < 0.5  # also where chroma had to be cut
    # I is the curve's output, also for the saturated pixels whose chroma was reduced.
    from hdrvideo.color.pq import eotf_ST2084

    want = eotf_inverse_ST2084(CURVES["spline"](eotf_ST2084(a[0]), src_peak_nits=1500, dst_peak_nits=100))
    assert torch.allclose(b[0], want, atol=1e-5)
    assert (cb[0, :3] < 0.9 * ca[0, :3]).all()  # the bright primaries did lose chroma


def test_desat_reduces_saturation_mantiuk_style():
    x = hdr_frame(seed=4, peak=800.0, dtype=torch.float64) + 1.0
    full = tonemap(x, "reinhard", src_peak_nits=800, dst_peak_nits=100, intensity="luminance")
    pale = tonemap(x, "reinhard", src_peak_nits=800, dst_peak_nits=100, intensity="luminance", desat=0.5)

    def spread(v: torch.Tensor) -> torch.Tensor:
        return v.amax(dim=0) / v.amin(dim=0)

    inside = full.amax(dim=0) < 100.0 - 1e-6  # not desaturated by the final fit into range
    assert (spread(pale)[inside] <= spread(full)[inside] + 1e-9).all()
    assert spread(pale)[inside].mean() < spread(full)[inside].mean()
    # (C / L)^s L' on a pixel that stays in range: closed form.
    px = torch.tensor([40.0, 20.0, 10.0], dtype=torch.float64).view(3, 1, 1)
    out = tonemap(px, "linear", src_peak_nits=100, dst_peak_nits=100, intensity="luminance", desat=0.5)
    y_in = luminance(px)
    assert torch.allclose(out, (px / y_in) ** 0.5 * y_in)


# -- source peak ---------------------------------------------------------------------------------------
def test_metadata_source_order():
    md = MasteringDisplay.from_primaries("p3d65", max_luminance_nits=4000)
    cll = ContentLightLevel(max_cll_nits=1600, max_fall_nits=300)
    plus = {"windows": [{"maxscl_nits": (700.0, 900.0, 350.0), "average_maxrgb_nits": 40.0}]}
    assert metadata_source({}) == (1000.0, None, "fallback")
    assert metadata_source({"mastering_display": md})[::2] == (4000.0, "mastering_display")
    both = {"mastering_display": md, "content_light_level": cll}
    assert metadata_source(both)[::2] == (1600.0, "content_light_level")
    peak, avg, source = metadata_source({"hdr10plus": plus, "content_light_level": cll})
    assert (peak, source) == (900.0, "hdr10plus") and avg == pytest.approx(pq(40.0))
    assert metadata_source({"content_light_level": ContentLightLevel(0, 0)})[2] == "fallback"
    no_luminance = MasteringDisplay(md.red, md.green, md.blue, md.white_point, 0.0, 0.0, has_luminance=False)
    assert metadata_source({"mastering_display": no_luminance})[2] == "fallback"
    assert metadata_source({"mastering_display": md.to_dict()})[0] == 4000.0  # dict forms too


def test_source_peak_modes():
    x = hdr_frame(seed=5, peak=3000.0)
    side = {"content_light_level": ContentLightLevel(max_cll_nits=2500, max_fall_nits=200)}
    op = Tonemap(curve="bt2390", source_peak="metadata")
    op(Frame(x, side_data=side))
    assert op.last_mapping[0]["src_peak_nits"] == 2500.0
    assert op(x).shape == x.shape and op.last_mapping[0]["src_peak_nits"] == 1000.0  # bare tensor: fallback
    fixed = Tonemap(curve="bt2390", source_peak_nits=4000)
    fixed(Frame(x, side_data=side))
    assert fixed.last_mapping[0]["src_peak_nits"] == 4000.0
    frame_op = Tonemap(curve="spline", source_peak="frame")
    frame_op(x)
    m = frame_op.last_mapping[0]
    assert 1000.0 < m["src_peak_nits"] <= 3000.0 and m["params"]["avg_pq"] > 0
    # Never an expansion: a dim source is mapped as if it reached the target peak.
    dim = Tonemap(curve="bt2390", target="hdr10", source_peak_nits=400)
    y = dim(x.double().clamp(max=400.0))
    assert dim.last_mapping[0]["src_peak_nits"] == 1000.0
    assert torch.allclose(y, x.double().clamp(max=400.0), rtol=1e-6, atol=1e-6)


def test_statistics_feed_the_curve_parameters_unless_given():
    x = hdr_frame(seed=6)
    op = Tonemap(curve="reinhard", source_peak="frame")
    op(x)
    assert op.last_mapping[0]["params"]["logavg_nits"] != 26.0
    op = Tonemap(curve="reinhard", source_peak="frame", logavg_nits=26.0)
    op(x)
    assert op.last_mapping[0]["params"]["logavg_nits"] == 26.0


def scene(level: float, n: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(level))
    base = torch.rand(n, 3, 16, 16, generator=g) * 0.2 + 0.8
    return base * level


def test_smoothed_peak_follows_slowly_and_resets_at_cuts():
    op = Tonemap(curve="bt2390")
    for _ in range(5):
        op(scene(1000.0)[0])
    steady = op.last_mapping[0]["src_peak_nits"]
    # A small brightening: the smoothed peak moves only part of the way.
    op(scene(1100.0)[0] * 1.0)
    moved = op.last_mapping[0]["src_peak_nits"]
    frame_peak = Tonemap(curve="bt2390", source_peak="frame")
    frame_peak(scene(1100.0)[0])
    assert steady < moved < frame_peak.last_mapping[0]["src_peak_nits"]
    # A scene cut (much darker frame average) resets the filter to the new frame.
    op(scene(4000.0)[0])
    frame_peak(scene(4000.0)[0])
    assert op.last_mapping[0]["src_peak_nits"] == pytest.approx(frame_peak.last_mapping[0]["src_peak_nits"])


def test_batch_equals_frames_one_by_one_and_state_round_trips():
    frames = torch.cat([scene(500.0, 3), scene(700.0, 3), scene(3000.0, 2)])
    batch_op, single_op = Tonemap(), Tonemap()
    batched = batch_op(frames)
    single = torch.stack([single_op(f) for f in frames])
    assert torch.equal(batched, single)
    assert [m["src_peak_nits"] for m in batch_op.last_mapping][-1] == single_op.last_mapping[0]["src_peak_nits"]
    # Stop after 4 frames, save the state as JSON, continue in a fresh operator.
    first = Tonemap()
    first(frames[:4])
    state = json.loads(json.dumps(first.state_dict()))
    second = Tonemap()
    second.load_state_dict(state)
    assert torch.equal(second(frames[4:]), batched[4:])
    second.reset()
    assert second.state_dict()["frames"] == 0
    assert Tonemap(source_peak="metadata").state_dict() == {}
    with pytest.raises(InvalidInputError):
        Tonemap(source_peak="metadata").load_state_dict(state)


def test_upstream_peakdetect_statistics_are_used():
    chain = parse_chain("peakdetect=period_frames=0:minimum_peak_nits=0,tonemap=bt2390")
    frame = Frame(hdr_frame(seed=8, peak=3000.0))
    for op in chain:
        frame = op(frame)
    stats = frame.side_data["statistics"]
    assert chain[1].last_mapping[0]["src_peak_nits"] == pytest.approx(max(stats.peak_nits, 100.0))
    assert chain[1].state_dict()["frames"] == 0  # its own tracker was not used


def test_dither_hint_and_side_data():
    frame = Frame(hdr_frame(), index=3, pts_seconds=0.1, side_data={"corrupt": False})
    out = Tonemap(dither=True)(frame)
    assert out.side_data == {"corrupt": False, "dither": True} and out.index == 3
    assert "dither" not in Tonemap()(frame).side_data


def test_half_and_double_precision():
    x = hdr_frame()
    y32 = Tonemap(source_peak_nits=2000)(x)
    y64 = Tonemap(source_peak_nits=2000)(x.double())
    y16 = Tonemap(source_peak_nits=2000)(x.half())
    assert y64.dtype == torch.float64 and y16.dtype == torch.float16
    # float32 ICtCp round trips of saturated colours: errors relative to the pixel's brightest component.
    top = y64.amax(dim=0, keepdim=True).clamp(min=1.0)
    assert ((y32.double() - y64).abs() / top).max() < 2e-3
    assert ((y16.double() - y64).abs() / top).max() < 2e-2


# -- local tone mapping ----------------------------------------------------------------------------------
def step_edge(low: float = 2.0, high: float = 1000.0, shape=(24, 64)) -> torch.Tensor:
    x = torch.full((3, *shape), low)
    x[:, :, shape[1] // 2:] = high
    return x


def test_bilateral_grid_smooths_flat_regions_and_keeps_edges():
    g = torch.Generator().manual_seed(0)
    u = torch.zeros(32, 64)
    u[:, 32:] = 3.0
    noisy = u + 0.05 * torch.randn(u.shape, generator=g)
    base = bilateral_grid(noisy, 4.0, 0.4)
    assert (base - u).abs().max() < 0.05  # the 3-decade step is kept, nothing leaks across
    assert base[:, 4:28].std() < 0.5 * noisy[:, 4:28].std()  # noise is smoothed away
    assert torch.allclose(bilateral_grid(torch.full((8, 8), 1.5), 2.0, 0.3), torch.full((8, 8), 1.5))
    assert bilateral_grid(noisy.view(1, 1, 32, 64), 4.0, 0.4).shape == (1, 1, 32, 64)
    with pytest.raises(InvalidInputError):
        bilateral_grid(noisy, 0.0, 0.4)


@pytest.mark.parametrize("method", [durand_dorsey, reinhard_local])
def test_no_halo_at_a_step_edge(method):
    x = step_edge()
    y = method(x, src_peak_nits=1000.0, logavg_nits=45.0, sigma_spatial=0.1)
    row = luminance(y)[0, 12]
    dark, bright = row[:32], row[32:]
    # Far from the edge vs next to it: within 2 % on both sides (a halo would dip/overshoot).
    assert (dark - dark[0]).abs().max() <= 0.02 * dark[0]
    assert (bright - bright[-1]).abs().max() <= 0.02 * bright[-1]
    assert float(bright[0]) > float(dark[-1])


@pytest.mark.parametrize("method", [durand_dorsey, reinhard_local])
def test_ramps_are_finite_in_range_and_monotone(method):
    ramp = torch.logspace(-2, math.log10(2000.0), 160).expand(3, 12, 160).clone()
    y = method(ramp, src_peak_nits=2000.0, logavg_nits=20.0, dst_peak_nits=100.0)
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 100.0
    diff = torch.diff(luminance(y)[0], dim=-1)
    assert (diff >= -1e-3 * 100.0).all()
    # Local operators keep more local contrast in the shadows than the global curve does.
    assert float(luminance(y)[0, 6, 40]) > 0


def test_local_operator_is_registered_and_temporal():
    assert get_operator("localtonemap") is LocalTonemap
    op = parse_chain("localtonemap=reinhard:peak_nits=203")[0]
    assert op.method == "reinhard" and op.output_target() == OutputTarget("sdr", 203.0, 203.0)
    frames = torch.cat([scene(600.0, 2), scene(900.0, 2)])
    out = LocalTonemap()(frames)
    single_op = LocalTonemap()
    single = torch.stack([single_op(f) for f in frames])
    assert torch.equal(out, single) and out.max() <= 100.0
    state = single_op.state_dict()
    fresh = LocalTonemap()
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state
    fresh.reset()
    assert fresh.state_dict()["frames"] == 0
    assert LocalTonemap(target="hdr10").output_target() == OutputTarget("hdr10", 1000.0, 203.0)
    frame = LocalTonemap(method="durand")(Frame(hdr_frame(), index=2))
    assert frame.index == 2 and frame.data.max() <= 100.0
