"""The flicker measurement of issue #4: log mean luminance, flicker in stops, cuts, settling."""

from __future__ import annotations

import math

import pytest
import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.ops.stats import TemporalStatistics, measure_statistics
from hdrvideo.quality import (
    FlickerReport,
    detect_cuts,
    flicker_report,
    flicker_stops,
    log_mean_luminance,
    second_difference,
    settle_frames,
)


def alternating(n: int, amplitude: float = 0.01) -> torch.Tensor:
    return amplitude * torch.tensor([(-1.0) ** t for t in range(n)], dtype=torch.float64)


# -- log_mean_luminance ---------------------------------------------------------------------------


def test_log_mean_luminance_of_constant_frames():
    frames = torch.full((4, 3, 8, 12), 100.0)
    frames[1] *= 2.0
    got = log_mean_luminance(frames)
    assert got.dtype == torch.float64 and got.shape == (4,)
    assert got.tolist() == pytest.approx([math.log2(100.0), math.log2(200.0), math.log2(100.0), math.log2(100.0)], abs=1e-6)


def test_log_mean_luminance_takes_iterables_and_subsamples():
    ramp = torch.linspace(10.0, 500.0, 64)
    frames = [(ramp[:, None] * ramp[None, :] / 100.0 * (k + 1)).expand(3, 64, 64) for k in range(3)]
    full = log_mean_luminance(iter(frames))
    assert torch.equal(full, log_mean_luminance(torch.stack(frames)))
    assert log_mean_luminance(frames, grid_step=4).tolist() == pytest.approx(full.tolist(), abs=0.05)


def test_log_mean_luminance_black_and_bad_values():
    black = torch.zeros(1, 3, 4, 4)
    assert log_mean_luminance(black).tolist() == [math.log2(1e-4)]
    x = torch.full((1, 3, 4, 4), 100.0)
    x[0, 0, 0, 0] = float("nan")
    assert math.isfinite(float(log_mean_luminance(x)[0]))
    with pytest.raises(InvalidInputError):
        log_mean_luminance([torch.zeros(4, 4)])
    with pytest.raises(InvalidInputError):
        log_mean_luminance(torch.zeros(3, 4, 4))


# -- flicker_stops -----------------------------------------------------------------------------------


def test_alternating_series_has_known_flicker():
    # each second difference is +-4 x 0.01 stops, so the RMS is exactly 0.04
    assert flicker_stops(alternating(50)) == pytest.approx(0.04, rel=1e-12)
    assert flicker_stops(alternating(50, 0.25).tolist()) == pytest.approx(1.0, rel=1e-12)


def test_steady_level_and_steady_fade_do_not_flicker():
    assert flicker_stops(torch.full((30,), 6.0, dtype=torch.float64)) == 0.0
    fade = torch.linspace(8.0, -2.0, 40, dtype=torch.float64)
    assert flicker_stops(fade) == pytest.approx(0.0, abs=1e-12)


def test_second_difference():
    d = second_difference([0.0, 1.0, 4.0, 9.0])
    assert d.tolist() == [2.0, 2.0]
    assert second_difference([1.0, 2.0]).numel() == 0


def test_cuts_are_excluded():
    n, cut = 60, 30
    s = alternating(n) + 3.0 * (torch.arange(n) >= cut).double()
    assert flicker_stops(s) > 0.5  # the 3-stop step dominates
    assert flicker_stops(s, cuts=[cut]) == pytest.approx(0.04, rel=1e-12)
    # frames near the cut, where an adapting operator may move, are left out too
    bump = s.clone()
    bump[cut + 2] += 0.5
    assert flicker_stops(bump, cuts=[cut], exclude=2) > 0.04
    assert flicker_stops(bump, cuts=[cut], exclude=3) == pytest.approx(0.04, rel=1e-12)


def test_input_explains_its_own_flicker():
    g = torch.Generator().manual_seed(2)
    inp = 5.0 + 0.3 * torch.randn(80, generator=g, dtype=torch.float64)
    out = inp - 2.5  # a static curve: a constant offset in log2
    assert flicker_stops(out) > 0.3
    assert flicker_stops(out, inp) == pytest.approx(0.0, abs=1e-12)
    pumping = out + alternating(80)
    assert flicker_stops(pumping, inp) == pytest.approx(0.04, rel=1e-9)


def test_flicker_of_too_short_or_fully_excluded_series_is_nan():
    assert math.isnan(flicker_stops([1.0, 2.0]))
    assert math.isnan(flicker_stops(alternating(6), cuts=[3], exclude=2))


@pytest.mark.parametrize(
    "call",
    [
        lambda: flicker_stops([[1.0, 2.0, 3.0]]),
        lambda: flicker_stops([1.0, float("nan"), 3.0]),
        lambda: flicker_stops([1.0, 2.0, 3.0], [1.0, 2.0]),
        lambda: flicker_stops([1.0, 2.0, 3.0], exclude=-1),
        lambda: flicker_stops([1.0, 2.0, 3.0], cuts=[1.5]),
    ],
)
def test_bad_series_raise(call):
    with pytest.raises(InvalidInputError):
        call()


# -- detect_cuts ---------------------------------------------------------------------------------------


def test_detect_cuts_on_a_series():
    s = 6.0 + alternating(40, 0.1)
    s[25:] -= 2.0
    assert detect_cuts(s) == [25]
    assert detect_cuts(s.tolist()) == [25]
    assert detect_cuts(torch.linspace(8.0, 0.0, 40)) == []  # a fade is not a cut


def test_detect_cuts_on_frames_sees_histogram_changes_at_equal_mean():
    a = torch.full((3, 16, 16), 100.0)
    b = torch.full((3, 16, 16), 10.0)
    b[:, :, 8:] = 190.0  # same mean luminance, different picture
    frames = [a, a, a, b, b, a * 8.0]
    assert log_mean_luminance([a, b]).diff().abs().item() < 1e-6
    assert detect_cuts(frames, grid_step=1) == [3, 5]
    assert detect_cuts(torch.stack(frames), grid_step=1) == [3, 5]
    assert detect_cuts(frames, grid_step=1, histogram_threshold=1.0) == [5]  # log jump only


def test_detect_cuts_bad_arguments():
    with pytest.raises(InvalidInputError):
        detect_cuts([1.0, 2.0], threshold_stops=0.0)
    with pytest.raises(InvalidInputError):
        detect_cuts([1.0, 2.0], histogram_threshold=2.0)


# -- settle_frames ----------------------------------------------------------------------------------------


def test_settle_frames_on_steps():
    n, cut = 120, 20
    instant = torch.zeros(n, dtype=torch.float64)
    instant[cut:] = -2.0
    assert settle_frames(instant, cut) == 0
    lagged = instant.clone()
    lagged[cut] = 0.0  # one frame late
    assert settle_frames(lagged, cut) == 1

    # exponential approach with time constant tau: 2 exp(-k / tau) <= 0.05 from k = 19 on
    tau = 5.0
    t = torch.arange(n, dtype=torch.float64)
    smooth = torch.where(t >= cut, -2.0 + 2.0 * torch.exp(-(t - cut) / tau), torch.zeros_like(t))
    assert settle_frames(smooth, cut, tolerance_stops=0.05) == math.ceil(tau * math.log(2.0 / 0.05)) == 19
    # relative to the input, a content change inside the new scene does not count
    inp = torch.where(t >= cut + 50, 1.0, 0.0).double()
    assert settle_frames(smooth + inp, cut, input_log2=inp) == 19
    assert settle_frames(smooth, cut, end=cut + 10) == 9


def test_settle_frames_bad_arguments():
    with pytest.raises(InvalidInputError):
        settle_frames([0.0, 1.0], 2)
    with pytest.raises(InvalidInputError):
        settle_frames([0.0, 1.0, 2.0], 1, tolerance_stops=-1.0)


# -- flicker_report -------------------------------------------------------------------------------------------


def test_flicker_report():
    n, cut = 80, 40
    t = torch.arange(n, dtype=torch.float64)
    inp = 7.0 + 0.02 * torch.sin(t / 3.0)
    inp[cut:] -= 3.0
    # an adapting operator: its offset follows the input's level with a 4-frame time constant
    offset = torch.where(t >= cut, 1.5 * torch.exp(-(t - cut) / 4.0), torch.zeros_like(t))
    out = inp - 4.0 + offset + alternating(n, 0.005)
    report = flicker_report(inp, out)
    assert isinstance(report, FlickerReport)
    assert report.frames == n and report.cuts == (cut,) and report.exclude == 2
    # 4 ln(1.5 / 0.05) = 13.6 frames, one more for the +-0.005 jitter around the final level
    assert report.settle_frames == (settle_frames(out, cut, input_log2=inp, end=n),)
    assert report.settle_frames[0] in (14, 15)
    assert report.flicker_stops > 0.02 and report.input_flicker_stops < 0.01
    d = report.as_dict()
    assert d["cuts"] == [cut] and set(d) >= {"flicker_stops", "settle_frames", "output_flicker_stops"}
    # cuts given by the caller
    assert flicker_report(inp, out, cuts=[]).cuts == ()
    with pytest.raises(InvalidInputError):
        flicker_report(inp, out, cuts=[0])


# -- the point of it all: smoothing reduces pumping --------------------------------------------------------


def _pan(frames: int = 60, height: int = 48, width: int = 64) -> list[torch.Tensor]:
    """A static background (40-200 cd/m²) with a 3000 cd/m² object crossing the picture."""
    background = torch.linspace(40.0, 200.0, width).expand(3, height, width).clone()
    out = []
    for t in range(frames):
        x = background.clone()
        left = -40 + 4 * t  # visible on frames 9..25
        lo, hi = max(left, 0), min(left + 8, width)
        if lo < hi:
            x[:, 20:28, lo:hi] = 3000.0
        out.append(x)
    return out


def _map(frames: list[torch.Tensor], tracker: TemporalStatistics) -> list[torch.Tensor]:
    """The simplest dynamic tone curve: scale so that the detected peak lands on 100 cd/m²."""
    return [x * (100.0 / tracker.update(measure_statistics(x, grid_step=1)).peak_nits) for x in frames]


def test_smoothing_reduces_pumping_on_a_pan():
    frames = _pan()
    inp = log_mean_luminance(frames)
    assert detect_cuts(frames, grid_step=1) == []  # no cut in the source

    dynamic = log_mean_luminance(_map(frames, TemporalStatistics(period_frames=0.0)))
    smoothed = log_mean_luminance(_map(frames, TemporalStatistics()))
    static = log_mean_luminance([x * (100.0 / 3000.0) for x in frames])

    f_dynamic = flicker_stops(dynamic, inp)
    f_smoothed = flicker_stops(smoothed, inp)
    assert flicker_stops(static, inp) == pytest.approx(0.0, abs=1e-6)
    assert f_dynamic > 0.5  # log2(3000 / 203) ~ 3.9 stops jump in and out
    assert f_smoothed < f_dynamic / 5.0
