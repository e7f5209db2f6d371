"""Frame statistics, their temporal smoothing with scene-cut resets, and the peakdetect operator."""

from __future__ import annotations

import json
import math

import pytest
import torch

from hdrvideo.color.pq import eotf_inverse_ST2084
from hdrvideo.errors import InvalidInputError
from hdrvideo.frame import Frame
from hdrvideo.ops.base import get_operator, parse_chain
from hdrvideo.ops.stats import (
    FrameStatistics,
    PeakDetect,
    TemporalStatistics,
    iir_coefficient,
    measure_statistics,
    measure_statistics_batch,
    smoothstep,
)


def pq(nits: float) -> float:
    return float(eotf_inverse_ST2084(torch.tensor(nits, dtype=torch.float64)))


def stats(avg: float, peak: float = 0.75, maximum: float | None = None, logavg: float = 50.0) -> FrameStatistics:
    return FrameStatistics(max_pq=peak if maximum is None else maximum, peak_pq=peak, avg_pq=avg, logavg_nits=logavg)


def random_frames(n: int, seed: int = 0, shape=(3, 36, 64)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=g) ** 4 * 2000.0


# -- measure_statistics ------------------------------------------------------------------------


def test_constant_frame():
    s = measure_statistics(torch.full((3, 64, 96), 100.0))
    for value in (s.max_pq, s.peak_pq, s.avg_pq):
        assert value == pytest.approx(pq(100.0), abs=1e-5)
    # exactly the PQ of 100 cd/m² as the colour module computes it in float32
    assert s.avg_pq == float(eotf_inverse_ST2084(torch.tensor([100.0]))) == s.max_pq == s.peak_pq
    assert s.logavg_nits == pytest.approx(100.0 + 1e-4, rel=1e-6)
    assert s.peak_nits == pytest.approx(100.0, rel=1e-4)


def test_specular_pixel_sets_max_but_not_percentile_peak():
    x = torch.full((3, 256, 256), 100.0)
    x[:, 2, 2] = 10000.0  # on the grid; 4096 samples, the 99.9th percentile is the 4092nd
    s = measure_statistics(x)
    assert s.max_pq == pytest.approx(1.0, abs=1e-5)
    assert s.peak_pq == pytest.approx(pq(100.0), abs=1e-5)
    assert s.max_nits == pytest.approx(10000.0, rel=1e-4)
    assert measure_statistics(x, percentile=100.0).peak_pq == s.max_pq


def test_percentile_is_the_exact_order_statistic():
    x = random_frames(1, seed=3, shape=(3, 120, 160))[0]
    s = measure_statistics(x, grid_step=2, percentile=99.0)
    m = x[:, 1::2, 1::2].amax(0).reshape(-1)
    k = math.ceil(0.99 * m.numel())
    assert s.peak_pq == float(eotf_inverse_ST2084(torch.kthvalue(m, k).values.reshape(1)))
    assert s.avg_pq == pytest.approx(float(eotf_inverse_ST2084(m.double()).mean()), abs=1e-5)


def test_uses_max_rgb_and_bt2020_luminance():
    x = torch.zeros(3, 16, 16)
    x[2] = 1000.0  # pure blue
    s = measure_statistics(x, grid_step=1)
    assert s.max_pq == pytest.approx(pq(1000.0), abs=1e-5)
    assert s.logavg_nits == pytest.approx(0.0593 * 1000.0, rel=1e-3)


def test_logavg_is_geometric_mean():
    x = torch.ones(3, 32, 32)
    x[:, :, 16:] = 100.0
    assert measure_statistics(x, grid_step=1).logavg_nits == pytest.approx(10.0, rel=1e-4)


def test_grid_samples_cell_centres():
    x = torch.arange(10.0).reshape(1, 10, 1).expand(3, 10, 10)
    from hdrvideo.ops.stats import subsample_grid

    assert subsample_grid(x, 4)[0, :, 0].tolist() == [2.0, 6.0]
    assert subsample_grid(x, 1).shape == x.shape
    assert subsample_grid(torch.ones(3, 1, 1, dtype=torch.int32), 4).dtype == torch.float32


def test_grid_step_reads_only_the_grid():
    x = torch.full((3, 64, 64), 100.0)
    x[:, 1, 1] = 5000.0
    assert measure_statistics(x, grid_step=4).max_pq == pytest.approx(pq(100.0), abs=1e-5)
    assert measure_statistics(x, grid_step=1).max_pq == pytest.approx(pq(5000.0), abs=1e-5)


def test_nan_and_inf_are_safe():
    x = torch.full((3, 64, 64), 100.0)
    x[0, 2, 2] = float("nan")
    x[1, 6, 6] = float("inf")
    x[2, 10, 10] = -float("inf")
    x[:, 14, 14] = -50.0
    s = measure_statistics(x)
    assert all(math.isfinite(v) for v in s.as_tensor().tolist())
    assert s.max_pq == pytest.approx(1.0, abs=1e-5)  # +inf counts as 10000 cd/m²
    assert 0.0 <= s.avg_pq <= 1.0 and s.logavg_nits > 0


def test_float16_and_float64_inputs():
    x = random_frames(1)[0]
    ref = measure_statistics(x)
    assert measure_statistics(x.half()).avg_pq == pytest.approx(ref.avg_pq, abs=1e-3)
    assert measure_statistics(x.double()).avg_pq == pytest.approx(ref.avg_pq, abs=1e-5)


def test_batch_equals_one_by_one():
    frames = random_frames(5)
    assert measure_statistics_batch(frames) == [measure_statistics(f) for f in frames]


def test_tensor_round_trip():
    s = measure_statistics(random_frames(1)[0])
    t = s.as_tensor()
    assert t.dtype == torch.float64 and t.shape == (4,)
    assert FrameStatistics.from_tensor(t) == s


@pytest.mark.parametrize(
    "call",
    [
        lambda: measure_statistics(torch.zeros(4, 8, 8)),
        lambda: measure_statistics(torch.zeros(1, 3, 8, 8)),
        lambda: measure_statistics(torch.zeros(3, 0, 8)),
        lambda: measure_statistics(torch.zeros(3, 8, 8), grid_step=0),
        lambda: measure_statistics(torch.zeros(3, 8, 8), grid_step=1.5),
        lambda: measure_statistics(torch.zeros(3, 8, 8), percentile=0.0),
        lambda: measure_statistics(torch.zeros(3, 8, 8), percentile=100.5),
        lambda: measure_statistics_batch(torch.zeros(3, 8, 8)),
        lambda: FrameStatistics.from_tensor(torch.zeros(3)),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises(InvalidInputError):
        call()


# -- TemporalStatistics -------------------------------------------------------------------------


def test_iir_coefficient_matches_libplacebo():
    assert iir_coefficient(20.0) == 1.0 - math.exp(-1.0 / 20.0)
    assert iir_coefficient(0.0) == 1.0
    with pytest.raises(InvalidInputError):
        iir_coefficient(-1.0)


def test_smoothstep():
    assert smoothstep(0.01, 0.03, 0.005) == 0.0
    assert smoothstep(0.01, 0.03, 0.02) == pytest.approx(0.5)
    assert smoothstep(0.01, 0.03, 0.05) == 1.0


def test_first_frame_is_taken_as_is():
    t = TemporalStatistics(minimum_peak_nits=0.0)
    assert t.last_reset_weight is None
    s = stats(0.5)
    assert t.update(s) == s and t.frames == 1
    assert t.last_reset_weight == 1.0


def test_iir_converges_with_the_period_as_time_constant():
    period = 20.0
    t = TemporalStatistics(period_frames=period, minimum_peak_nits=0.0)
    a, b = stats(0.500, peak=0.70, logavg=40.0), stats(0.505, peak=0.75, logavg=80.0)
    t.update(a)
    out = [t.update(b) for _ in range(100)]
    for n, s in enumerate(out, start=1):
        decay = math.exp(-n / period)  # (1 - coefficient) ** n
        assert s.avg_pq - b.avg_pq == pytest.approx((a.avg_pq - b.avg_pq) * decay, rel=1e-9, abs=1e-15)
        assert s.peak_pq - b.peak_pq == pytest.approx((a.peak_pq - b.peak_pq) * decay, rel=1e-9, abs=1e-15)
        assert math.log2(s.logavg_nits / b.logavg_nits) == pytest.approx(-1.0 * decay, rel=1e-9, abs=1e-15)
    # one time constant: 1/e of the step is left; five: under 1 %
    assert (out[19].peak_pq - b.peak_pq) / (a.peak_pq - b.peak_pq) == pytest.approx(math.exp(-1.0))
    assert abs(out[99].peak_pq - b.peak_pq) < 0.01 * abs(a.peak_pq - b.peak_pq)


def test_big_jump_resets_immediately():
    t = TemporalStatistics(minimum_peak_nits=0.0)
    for _ in range(10):
        t.update(stats(0.30, peak=0.60, logavg=5.0))
    assert t.last_reset_weight == 0.0
    new = stats(0.60, peak=0.80, maximum=0.9, logavg=300.0)
    assert t.update(new) == new  # exactly the new scene's statistics
    assert t.state == new and t.last_reset_weight == 1.0
    t.reset()
    assert t.last_reset_weight is None


def test_jump_inside_the_window_blends():
    t = TemporalStatistics(minimum_peak_nits=0.0)
    old, new = stats(0.40, peak=0.60), stats(0.421, peak=0.80)
    t.update(old)
    out = t.update(new)
    a = iir_coefficient(20.0)
    iir_avg = old.avg_pq + a * (new.avg_pq - old.avg_pq)
    iir_peak = old.peak_pq + a * (new.peak_pq - old.peak_pq)
    w = smoothstep(0.01, 0.03, abs(new.avg_pq - iir_avg))
    assert 0.0 < w < 1.0
    assert t.last_reset_weight == w
    assert out.avg_pq == pytest.approx(iir_avg * (1 - w) + new.avg_pq * w, abs=1e-15)
    assert out.peak_pq == pytest.approx(iir_peak * (1 - w) + new.peak_pq * w, abs=1e-15)
    assert iir_peak < out.peak_pq < new.peak_pq


def test_small_jitter_is_smoothed():
    g = torch.Generator().manual_seed(1)
    jitter = (torch.rand(400, 2, generator=g, dtype=torch.float64) - 0.5).tolist()
    inputs = [stats(0.5 + 0.008 * j[0], peak=0.7 + 0.04 * j[1]) for j in jitter]
    t = TemporalStatistics(minimum_peak_nits=0.0)
    outputs = [t.update(s) for s in inputs]

    def var(values):
        v = torch.tensor(values[100:], dtype=torch.float64)
        return float(v.var())

    for field in ("avg_pq", "peak_pq"):
        assert var([getattr(s, field) for s in outputs]) < 0.1 * var([getattr(s, field) for s in inputs])


def test_thresholds_zero_disable_resets_and_period_zero_disables_smoothing():
    t = TemporalStatistics(scene_low=0.0, minimum_peak_nits=0.0)
    t.update(stats(0.3))
    out = t.update(stats(0.6))
    assert out.avg_pq == pytest.approx(0.3 + iir_coefficient(20.0) * 0.3, abs=1e-15)

    t = TemporalStatistics(period_frames=0.0, minimum_peak_nits=0.0)
    for s in (stats(0.3), stats(0.31), stats(0.305, peak=0.5)):
        assert t.update(s) == s


def test_minimum_peak_floors_the_output_not_the_state():
    t = TemporalStatistics()  # minimum_peak_nits = 203 (libplacebo minimum_peak 1.0 x SDR white)
    low = stats(0.2, peak=0.3, logavg=1.0)
    out = t.update(low)
    assert out.peak_pq == pytest.approx(pq(203.0)) and out.max_pq == pytest.approx(pq(203.0))
    assert out.avg_pq == low.avg_pq and t.state == low


def test_reset_forgets_history():
    t = TemporalStatistics(minimum_peak_nits=0.0)
    t.update(stats(0.3))
    t.update(stats(0.31))
    t.reset()
    assert t.frames == 0 and t.state is None
    s = stats(0.305, peak=0.9)
    assert t.update(s) == s


def _measured_sequence(n: int = 60) -> list[FrameStatistics]:
    frames = random_frames(n, seed=7)
    frames[n // 2 :] *= 0.05  # a cut to a darker scene halfway
    return measure_statistics_batch(frames, grid_step=2)


def test_state_dict_round_trip_continues_identically():
    seq = _measured_sequence()
    whole = TemporalStatistics()
    expected = [whole.update(s) for s in seq]

    first = TemporalStatistics()
    got = [first.update(s) for s in seq[:25]]
    saved = json.loads(json.dumps(first.state_dict()))
    assert saved["frames"] == 25
    second = TemporalStatistics()
    second.load_state_dict(saved)
    got += [second.update(s) for s in seq[25:]]
    assert got == expected  # bit-identical


def test_deterministic():
    def run():
        t = TemporalStatistics()
        return [t.update(s) for s in _measured_sequence()]

    assert run() == run()


def test_state_dict_of_a_fresh_tracker_and_bad_states():
    t = TemporalStatistics()
    fresh = t.state_dict()
    assert fresh == {"frames": 0, "max_pq": None, "peak_pq": None, "avg_pq": None, "logavg_nits": None}
    t.load_state_dict(fresh)
    assert t.state is None
    with pytest.raises(InvalidInputError):
        t.load_state_dict({"frames": 1})
    with pytest.raises(InvalidInputError):
        t.load_state_dict({**fresh, "avg_pq": 0.5})
    with pytest.raises(InvalidInputError):
        t.load_state_dict({"frames": 1, "max_pq": 0.5, "peak_pq": float("nan"), "avg_pq": 0.5, "logavg_nits": 1.0})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period_frames": -1.0},
        {"scene_low": -1.0},
        {"scene_low": 3.0, "scene_high": 1.0},
        {"percentile": 0.0},
        {"minimum_peak_nits": -1.0},
        {"grid_step": 0},
    ],
)
def test_bad_settings_raise(kwargs):
    with pytest.raises(InvalidInputError):
        TemporalStatistics(**kwargs)


def test_update_rejects_non_finite_statistics():
    with pytest.raises(InvalidInputError):
        TemporalStatistics().update(stats(float("nan")))


# -- PeakDetect ------------------------------------------------------------------------------------


def test_peakdetect_is_registered_and_parses():
    assert get_operator("peakdetect") is PeakDetect
    (op,) = parse_chain("peakdetect=period_frames=10:scene_high=4:percentile=99.5")
    assert isinstance(op, PeakDetect) and op.temporal
    assert op.tracker.period_frames == 10.0 and op.tracker.scene_high == 4.0 and op.tracker.percentile == 99.5
    with pytest.raises(InvalidInputError):
        PeakDetect(smoothing=3)


def test_peakdetect_leaves_pixels_and_writes_side_data():
    x = random_frames(1)[0]
    before = x.clone()
    op = PeakDetect()
    frame = Frame(data=x, index=3, pts_seconds=0.1, side_data={"scores": {"a": 1.0}})
    out = op(frame)
    assert out.data is x and torch.equal(x, before)
    assert out.index == 3 and out.side_data["scores"] == {"a": 1.0}
    assert isinstance(out.side_data["statistics"], FrameStatistics)
    assert out.side_data["statistics"] == TemporalStatistics().update(measure_statistics(x))
    assert "statistics" not in frame.side_data  # the input frame is not modified


def test_peakdetect_batch_equals_sequential_and_state_api():
    frames = random_frames(12, seed=5)
    batch_op, single_op = PeakDetect(), PeakDetect()
    assert batch_op(frames) is frames
    batch = batch_op.last_statistics
    singles = [single_op(Frame(data=f, index=i)).side_data["statistics"] for i, f in enumerate(frames)]
    assert isinstance(batch, tuple) and list(batch) == singles
    in_frame = batch_op(Frame(data=frames[:2])).side_data["statistics"]
    single_op.process(frames[:2])
    assert isinstance(in_frame, tuple) and in_frame == single_op.last_statistics

    state = batch_op.state_dict()
    assert state["frames"] == 14
    restored = PeakDetect()
    restored.load_state_dict(json.loads(json.dumps(state)))
    nxt = random_frames(1, seed=9)[0]
    assert restored(nxt) is nxt
    batch_op(nxt)
    assert restored.last_statistics == batch_op.last_statistics
    restored.reset()
    assert restored.state_dict()["frames"] == 0 and restored.last_statistics is None
    with pytest.raises(InvalidInputError):
        restored.process(torch.zeros(2, 8, 8))
