"""Tone curves: the table, the laws every curve must obey, and reference values."""

from __future__ import annotations

import math

import colour
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hdrvideo.errors import InvalidInputError
from hdrvideo.ops.base import Option
from hdrvideo.ops.curves import CURVES, DEFAULT_LOGAVG_NITS, ToneCurve, get_curve

NAMES = ("bt2390", "spline", "bt2446a", "reinhard", "hable", "mobius", "drago", "clip", "linear")
#: Curves that are the identity when source and destination ranges are equal.
IDENTITY = ("bt2390", "spline", "clip", "linear")

LAWS = settings(max_examples=25, deadline=None)


def pq(nits: float) -> float:
    """Independent PQ (colour-science), the oracle of the reference tests."""
    return float(colour.models.eotf_inverse_ST2084(nits))


def nits(signal: float) -> float:
    return float(colour.models.eotf_ST2084(signal))


def grid(src_peak: float, n: int = 513) -> torch.Tensor:
    """Inputs spread evenly in PQ over [0, src_peak] (dense where the curves bend), float64."""
    signal = torch.linspace(0.0, pq(src_peak), n, dtype=torch.float64)
    values = torch.from_numpy(np.asarray(colour.models.eotf_ST2084(signal.numpy()), dtype=np.float64))
    values[0], values[-1] = 0.0, src_peak
    return values


peaks = st.tuples(
    st.floats(min_value=203.0, max_value=10000.0), st.floats(min_value=0.05, max_value=1.0)
).map(lambda t: (t[0], max(48.0, t[0] * t[1])))


# -- the table ---------------------------------------------------------------------------------
def test_table_lists_every_curve_with_a_complete_record():
    assert tuple(CURVES) == NAMES
    for name, curve in CURVES.items():
        assert isinstance(curve, ToneCurve) and curve.name == name
        assert curve.description and curve.space in ("pq", "linear")
        assert all(isinstance(p, Option) for p in curve.params)
        assert callable(curve.map) and (curve.map_inverse is None or callable(curve.map_inverse))
    assert CURVES["bt2390"].space == CURVES["spline"].space == "pq"


def test_get_curve_names_the_valid_curves_when_unknown():
    assert get_curve("hable") is CURVES["hable"]
    with pytest.raises(InvalidInputError, match="bt2390, spline"):
        get_curve("aces")
    with pytest.raises(ValueError):  # InvalidInputError is also a ValueError
        get_curve("")


def test_parameters_are_validated():
    curve = CURVES["mobius"]
    assert curve.parse_params() == {"transition": 0.3}
    assert curve.parse_params({"transition": "0.5"}) == {"transition": 0.5}
    with pytest.raises(InvalidInputError, match="valid: transition"):
        curve.parse_params({"contrast": 0.2})
    with pytest.raises(InvalidInputError, match="above the maximum"):
        curve.parse_params({"transition": 1.5})
    x = torch.tensor([500.0])
    with pytest.raises(InvalidInputError):
        curve(x, src_peak_nits=1000, dst_peak_nits=100, knee=0.4)


@pytest.mark.parametrize("name", NAMES)
def test_bad_levels_raise(name):
    x = torch.tensor([1.0])
    for kw in (
        dict(src_peak_nits=0.0, dst_peak_nits=100.0),
        dict(src_peak_nits=1000.0, dst_peak_nits=-1.0),
        dict(src_peak_nits=20000.0, dst_peak_nits=100.0),
        dict(src_peak_nits=1000.0, dst_peak_nits=100.0, dst_black_nits=100.0),
        dict(src_peak_nits=1000.0, dst_peak_nits=100.0, src_black_nits=-0.1),
    ):
        with pytest.raises(InvalidInputError):
            CURVES[name].map(x, **kw)


# -- laws -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@LAWS
@given(levels=peaks)
def test_finite_monotone_in_range_black_and_peak(name, levels):
    src_peak, dst_peak = levels
    curve = CURVES[name]
    x = grid(src_peak)
    y = curve(x, src_peak_nits=src_peak, dst_peak_nits=dst_peak)
    assert torch.isfinite(y).all()
    assert (torch.diff(y) >= -1e-9 * dst_peak).all(), "not monotone"
    assert y.min() >= 0.0 and y.max() <= dst_peak
    assert abs(float(y[0])) <= 1e-3, "black does not map to black"
    assert float(y[-1]) == pytest.approx(dst_peak, rel=0.01), "peak does not map to peak"
    # Beyond the source range (a curve table sampled over the whole PQ range): saturates.
    above = curve(torch.tensor([src_peak * 1.5, 10000.0], dtype=torch.float64),
                  src_peak_nits=src_peak, dst_peak_nits=dst_peak)
    assert torch.allclose(above, torch.full_like(above, float(y[-1])))


@pytest.mark.parametrize("name", NAMES)
@LAWS
@given(levels=peaks, src_black=st.floats(0.0, 0.05), dst_black=st.floats(0.0, 0.5))
@example(levels=(635.0, 48.0), src_black=0.03125, dst_black=0.0)  # a target black below the source's
def test_black_levels(name, levels, src_black, dst_black):
    src_peak, dst_peak = levels
    y = CURVES[name](torch.tensor([0.0, src_black, src_peak], dtype=torch.float64), src_peak_nits=src_peak,
                     dst_peak_nits=dst_peak, src_black_nits=src_black, dst_black_nits=dst_black)
    assert torch.isfinite(y).all()
    # clip does not compensate black (documented): it maps black to max(src, dst black).
    expected_black = max(src_black, dst_black) if name == "clip" else dst_black
    assert float(y[0]) == pytest.approx(expected_black, abs=1e-3)
    assert float(y[1]) == pytest.approx(expected_black, abs=1e-3)
    assert float(y[2]) == pytest.approx(_expected_peak(name, src_peak, dst_peak, src_black, dst_black), rel=0.01)


def _expected_peak(name: str, src_peak: float, dst_peak: float, src_black: float, dst_black: float) -> float:
    """Where the source peak lands. BT.2390-10 §5.4.1's black-level step ``E3 = E2 + b (1 - E2)^4``
    with ``b = minLum`` moves the peak too (``E2 = maxLum`` there): up when the target black
    is above the source's (then clamped to the target peak), down when it is below."""
    if name != "bt2390":
        return dst_peak
    pb, span = pq(src_black), pq(src_peak) - pq(src_black)
    min_lum, max_lum = (pq(dst_black) - pb) / span, (pq(dst_peak) - pb) / span
    e3 = max_lum + min_lum * (1.0 - max_lum) ** 4
    return min(dst_peak, nits(e3 * span + pb))


@pytest.mark.parametrize("name", IDENTITY)
@LAWS
@given(peak=st.floats(min_value=48.0, max_value=10000.0), black=st.sampled_from([0.0, 0.005, 0.1]))
def test_identity_when_ranges_are_equal(name, peak, black):
    x = grid(peak)
    x = x[x >= black]
    y = CURVES[name](x, src_peak_nits=peak, dst_peak_nits=peak, src_black_nits=black, dst_black_nits=black)
    assert torch.allclose(y, x, rtol=0.005, atol=1e-3)


def _inverse_domain(name: str, src_peak: float) -> torch.Tensor:
    x = grid(src_peak)
    if name == "bt2390":  # the spline's tangent is 0 at the peak: the inverse is ill-posed there
        x = x[x <= 0.9 * src_peak]
    return x


@pytest.mark.parametrize("name", NAMES)
@LAWS
@given(levels=peaks)
def test_inverse_undoes_the_map(name, levels):
    src_peak, dst_peak = levels
    curve = CURVES[name]
    assert curve.map_inverse is not None
    x = _inverse_domain(name, src_peak)
    if name == "clip":  # the identity below the destination peak
        x = x[x <= dst_peak]
    y = curve(x, src_peak_nits=src_peak, dst_peak_nits=dst_peak)
    back = curve.inverse(y, src_peak_nits=src_peak, dst_peak_nits=dst_peak)
    assert torch.allclose(back, x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_and_device_are_kept(name):
    curve = CURVES[name]
    x = torch.rand(2, 1, 5, 7) * 1500
    for dtype in (torch.float32, torch.float64, torch.float16):
        y = curve(x.to(dtype), src_peak_nits=1000, dst_peak_nits=100)
        assert y.shape == x.shape and y.dtype == dtype
        assert torch.isfinite(y).all()
    y32 = curve(x, src_peak_nits=1000, dst_peak_nits=100)
    y64 = curve(x.double(), src_peak_nits=1000, dst_peak_nits=100)
    assert torch.allclose(y32.double(), y64, rtol=2e-4, atol=2e-4)


# -- reference values ---------------------------------------------------------------------------------
def bt2390_reference(L: float, LB: float, LW: float, Lmin: float, Lmax: float) -> float:
    """ITU-R BT.2390-10 §5.4.1, transcribed from the Recommendation's text (scalar, colour PQ)."""
    E = pq(L)
    E1 = (E - pq(LB)) / (pq(LW) - pq(LB))
    minLum = (pq(Lmin) - pq(LB)) / (pq(LW) - pq(LB))
    maxLum = (pq(Lmax) - pq(LB)) / (pq(LW) - pq(LB))
    KS = 1.5 * maxLum - 0.5
    b = minLum

    def P(B: float) -> float:
        T = (B - KS) / (1 - KS)
        return (2 * T**3 - 3 * T**2 + 1) * KS + (T**3 - 2 * T**2 + T) * (1 - KS) + (-2 * T**3 + 3 * T**2) * maxLum

    E2 = E1 if E1 < KS else P(E1)
    E3 = E2 + b * (1 - E2) ** 4
    E4 = E3 * (pq(LW) - pq(LB)) + pq(LB)
    return nits(E4)


@pytest.mark.parametrize(
    "LB, LW, Lmin, Lmax",
    [
        (0.0, 1000.0, 0.0, 100.0),
        (0.005, 4000.0, 0.1, 600.0),
        (0.0001, 10000.0, 0.05, 1000.0),
        (0.0, 1000.0, 0.0, 203.0),
    ],
)
def test_bt2390_matches_the_recommendation(LB, LW, Lmin, Lmax):
    points = [LB, 0.01, 0.1, 1.0, 5.0, 10.0, 30.0, 60.0, 100.0, 150.0, 300.0, 0.5 * LW, 0.9 * LW]
    x = torch.tensor(points, dtype=torch.float64)
    y = CURVES["bt2390"](x, src_peak_nits=LW, dst_peak_nits=Lmax, src_black_nits=LB, dst_black_nits=Lmin)
    for L, got in zip(points, y.tolist()):
        want = min(bt2390_reference(L, LB, LW, Lmin, Lmax), Lmax)
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9), L


def test_bt2390_1000_to_100_keeps_values_below_the_knee():
    # Knee: KS = 1.5 maxLum - 0.5 of the normalised PQ range.
    max_lum = pq(100.0) / pq(1000.0)
    knee_nits = nits((1.5 * max_lum - 0.5) * pq(1000.0))
    assert 25.0 < knee_nits < 30.0  # about 28 cd/m²
    x = torch.tensor([0.0, 0.1, 1.0, 5.0, 10.0, 0.99 * knee_nits], dtype=torch.float64)
    y = CURVES["bt2390"](x, src_peak_nits=1000, dst_peak_nits=100)
    assert torch.allclose(y, x, rtol=1e-9, atol=1e-12)
    # Above the knee the roll-off starts gently: 100 cd/m² keeps about 70 % of its light.
    y100 = float(CURVES["bt2390"](torch.tensor([100.0], dtype=torch.float64), src_peak_nits=1000, dst_peak_nits=100))
    assert y100 == pytest.approx(bt2390_reference(100.0, 0.0, 1000.0, 0.0, 100.0), rel=1e-9)
    assert 60.0 < y100 < 80.0


def bt2446a_reference(L: float, Lhdr: float, Lsdr: float) -> float:
    """ITU-R BT.2446-1 Method A steps 1-4 on one value, transcribed (then BT.1886 with L_B = 0)."""
    Y = (L / Lhdr) ** (1 / 2.4)
    rho_hdr = 1 + 32 * (Lhdr / 10000) ** (1 / 2.4)
    rho_sdr = 1 + 32 * (Lsdr / 10000) ** (1 / 2.4)
    Yp = math.log(1 + (rho_hdr - 1) * Y) / math.log(rho_hdr)
    if Yp <= 0.7399:
        Yc = 1.0770 * Yp
    elif Yp < 0.9909:
        Yc = -1.1510 * Yp**2 + 2.7811 * Yp - 0.6302
    else:
        Yc = 0.5 * Yp + 0.5
    Ysdr = (rho_sdr**Yc - 1) / (rho_sdr - 1)
    return Lsdr * Ysdr**2.4


@pytest.mark.parametrize("Lhdr, Lsdr", [(1000.0, 100.0), (4000.0, 100.0), (1000.0, 203.0)])
def test_bt2446a_matches_the_recommendation(Lhdr, Lsdr):
    points = [0.0, 0.05, 1.0, 10.0, 50.0, 100.0, 203.0, 500.0, 0.95 * Lhdr, Lhdr]
    y = CURVES["bt2446a"](torch.tensor(points, dtype=torch.float64), src_peak_nits=Lhdr, dst_peak_nits=Lsdr)
    for L, got in zip(points, y.tolist()):
        assert got == pytest.approx(bt2446a_reference(L, Lhdr, Lsdr), rel=1e-9, abs=1e-12), L


def ffmpeg_hable(x: float) -> float:
    a, b, c, d, e, f = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
    return (x * (x * a + b * c) + d * e) / (x * (x * a + b) + d * f) - e / f


def ffmpeg_mobius(x: float, j: float, peak: float) -> float:
    if x <= j:
        return x
    a = -j * j * (peak - 1.0) / (j * j - 2.0 * j + peak)
    b = (j * j - 2.0 * j * peak + peak) / max(peak - 1.0, 1e-6)
    return (b * b + 2.0 * b * j + j * j) / (b - a) * (x + a) / (x + b)


def test_hable_and_mobius_match_ffmpeg_vf_tonemap():
    # vf_tonemap works on linear light with 1.0 = the SDR display peak; peak = source / display.
    points = [0.0, 1.0, 10.0, 30.0, 80.0, 100.0, 300.0, 999.0]
    x = torch.tensor(points, dtype=torch.float64)
    hable = CURVES["hable"](x, src_peak_nits=1000, dst_peak_nits=100)
    mobius = CURVES["mobius"](x, src_peak_nits=1000, dst_peak_nits=100, transition=0.3)
    for L, h, m in zip(points, hable.tolist(), mobius.tolist()):
        assert h == pytest.approx(100 * ffmpeg_hable(L / 100) / ffmpeg_hable(10.0), rel=1e-9, abs=1e-12)
        assert m == pytest.approx(100 * ffmpeg_mobius(L / 100, 0.3, 10.0), rel=1e-9, abs=1e-12)
    # mobius is linear below the transition point (30 % of the display peak).
    assert mobius[:3].tolist() == pytest.approx(points[:3])


def test_reinhard_is_the_photographic_global_operator():
    key, logavg, white = 0.18, 20.0, 600.0
    L = torch.tensor([0.0, 5.0, 20.0, 200.0, 599.0, 600.0, 900.0], dtype=torch.float64)
    y = CURVES["reinhard"](L, src_peak_nits=1000, dst_peak_nits=100, key=key, logavg_nits=logavg,
                           burnout_nits=white)
    for l_in, got in zip(L.tolist(), y.tolist()):
        lm, lw = key / logavg * l_in, key / logavg * white
        assert got == pytest.approx(100 * min(1.0, lm * (1 + lm / lw**2) / (1 + lm)), rel=1e-9, abs=1e-12)
    assert float(y[5]) == pytest.approx(100.0) and float(y[6]) == 100.0  # burnt out above white
    # The log-average maps to about key on the display (Reinhard's definition of the key).
    mid = float(CURVES["reinhard"](torch.tensor([logavg], dtype=torch.float64), src_peak_nits=1000,
                                   dst_peak_nits=100, logavg_nits=logavg))
    assert mid == pytest.approx(100 * key / (1 + key), rel=0.01)
    # Without statistics, BT.2408's 18 % grey plays the log-average.
    default = CURVES["reinhard"](torch.tensor([26.0], dtype=torch.float64), src_peak_nits=1000, dst_peak_nits=100)
    assert DEFAULT_LOGAVG_NITS == 26.0 and float(default) == pytest.approx(mid, rel=0.01)


def test_drago_is_the_adaptive_logarithmic_mapping():
    logavg, bias, peak = 30.0, 0.85, 4000.0
    L = torch.tensor([0.0, 3.0, 30.0, 300.0, 4000.0], dtype=torch.float64)
    y = CURVES["drago"](L, src_peak_nits=peak, dst_peak_nits=100, bias=bias, logavg_nits=logavg)
    lmax = peak / logavg
    for l_in, got in zip(L.tolist(), y.tolist()):
        lw = l_in / logavg
        bias_power = (lw / lmax) ** (math.log(bias) / math.log(0.5))
        want = math.log(lw + 1) / math.log10(lmax + 1) / math.log(2 + 8 * bias_power)
        assert got == pytest.approx(100 * want, rel=1e-9, abs=1e-12)
    # A lower bias brightens the mid-tones (the paper's Figure 5).
    brighter = CURVES["drago"](L, src_peak_nits=peak, dst_peak_nits=100, bias=0.7, logavg_nits=logavg)
    assert (brighter[1:4] > y[1:4]).all()


def test_spline_follows_the_scene_average_and_contrast():
    x = grid(4000.0)
    curve = CURVES["spline"]
    dark = curve(x, src_peak_nits=4000, dst_peak_nits=100, avg_pq=0.2)
    bright = curve(x, src_peak_nits=4000, dst_peak_nits=100, avg_pq=0.55)
    assert not torch.allclose(dark, bright)
    # The pivot passes through the knee libplacebo picks; contrast bends the slope there.
    flat = curve(x, src_peak_nits=4000, dst_peak_nits=100, avg_pq=0.4, contrast=0.0)
    steep = curve(x, src_peak_nits=4000, dst_peak_nits=100, avg_pq=0.4, contrast=1.0)
    for y in (dark, bright, flat, steep):
        assert (torch.diff(y) >= 0).all() and float(y[-1]) == pytest.approx(100.0)
    # contrast = 1 makes the slope at the pivot 1 (in PQ); lower values tilt it toward the chord.
    assert not torch.allclose(flat, steep)
    # Without an average, libplacebo's fallback (40 % of the PQ range) is used.
    fallback = curve(x, src_peak_nits=4000, dst_peak_nits=100)
    explicit = curve(x, src_peak_nits=4000, dst_peak_nits=100, avg_pq=0.4 * pq(4000.0))
    assert torch.allclose(fallback, explicit)


def test_linear_applies_exposure_in_stops():
    x = torch.tensor([0.0, 100.0, 400.0, 1000.0], dtype=torch.float64)
    y = CURVES["linear"](x, src_peak_nits=1000, dst_peak_nits=100, exposure_stops=1.0)
    assert y.tolist() == pytest.approx([0.0, 20.0, 80.0, 100.0])
    y = CURVES["clip"](x, src_peak_nits=1000, dst_peak_nits=100)
    assert y.tolist() == [0.0, 100.0, 100.0, 100.0]
