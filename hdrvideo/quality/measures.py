r"""Per-frame measures of a monitored HDR stream, on working-space frames.

Every function takes ``x``: a ``(3, H, W)`` (or ``(N, 3, H, W)``) tensor of linear BT.2020
light in cd/m² (:class:`hdrvideo.frame.Frame` ``data``) and returns plain Python floats
(batched input: the measure over the whole batch). :class:`FrameMeasurer` keeps the little
state that temporal measures need (previous frame, recent log-mean luminance) in bounded
rolling windows, so it runs for hours in constant memory.

=====================  =======================================================  ===========
measure                definition                                               unit
=====================  =======================================================  ===========
``max_cll_nits``       frame MaxCLL: max over pixels of max(R, G, B)            cd/m²
                       (CTA-861.3 Annex P, on linear BT.2020 light)
``fall_nits``          frame-average light level: mean of max(R, G, B)          cd/m²
``mean_nits``          mean luminance Y (BT.2020 weights)                       cd/m²
``gamut_pct``          pixels outside BT.709 (a component < -tol x the          %
                       pixel's largest, after BT.2020 -> BT.709)
``clipped_pct``        pixels with max(R, G, B) >= 99 % of the stream's peak     %
``frozen_diff``        mean abs difference of PQ(Y) from the previous frame     PQ code
                       (ST 2084 code value 0-1, on a subsampled grid)
``flicker_stops``      \|log2 mean_nits - previous\|                             stops
``flicker_rms_stops``  RMS of the second difference of log2 mean luminance      stops
                       over a rolling window (issue #4's flicker measure)
``cll_ratio``          max_cll_nits / signalled MaxCLL                          ratio
``fall_ratio``         fall_nits / signalled MaxFALL                            ratio
``mastering_ratio``    max_cll_nits / mastering display peak (ST 2086)          ratio
=====================  =======================================================  ===========

Ratios are ``None`` when the stream does not signal the value (0 means "unknown" in
CTA-861.3). Negative light (chroma up-sampling overshoot) counts as 0; NaN as 0.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import torch

from hdrvideo.color.luminance import luminance
from hdrvideo.color.pq import eotf_inverse_ST2084
from hdrvideo.color.primaries import rgb_to_rgb_matrix
from hdrvideo.errors import InvalidInputError
from hdrvideo.ops.stats import subsample_grid
from hdrvideo.quality.flicker import FLOOR_NITS, second_difference

__all__ = [
    "GAMUT_TOLERANCE",
    "CLIP_FRACTION_OF_PEAK",
    "FrameMeasurer",
    "Signalled",
    "clipped_percent",
    "frame_light_level",
    "frozen_difference",
    "mean_luminance",
    "out_of_gamut_percent",
]

#: A BT.709 component below ``-GAMUT_TOLERANCE`` x the pixel's largest component is out of gamut.
GAMUT_TOLERANCE = 0.01
#: Pixels darker than this (max component, cd/m²) are not judged for gamut: noise, not colour.
GAMUT_FLOOR_NITS = 0.05
#: A pixel is clipped when max(R, G, B) reaches this fraction of the peak.
CLIP_FRACTION_OF_PEAK = 0.99
#: ST 2086's lowest max display mastering luminance (cd/m²); below it the peak is not used.
MASTERING_PEAK_FLOOR_NITS = 5.0
#: Grid step of the frozen-frame comparison (centre pixel of each cell).
FROZEN_GRID_STEP = 4


def _check(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] != 3 or x.numel() == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(f"expected a non-empty (3, H, W) or (N, 3, H, W) tensor, got {shape}")
    return torch.nan_to_num(x.float(), nan=0.0, posinf=1e4, neginf=0.0)


def _max_rgb(x: torch.Tensor) -> torch.Tensor:
    return x.amax(dim=-3).clamp(min=0.0)


def frame_light_level(x: torch.Tensor) -> tuple[float, float]:
    """Frame MaxCLL and frame-average light level (FALL), CTA-861.3 Annex P.

    ============  ==============================================  ==========
    Domain        ``x``: linear BT.2020 RGB ``(*, 3, H, W)``       cd/m²
    Range         ``(max_cll_nits, fall_nits)``                    cd/m²
    ============  ==============================================  ==========

    Per pixel the light level is max(R, G, B) (negative light counts as 0); MaxCLL is its
    maximum over the frame, FALL its mean. The stream's MaxCLL/MaxFALL are the maxima of
    these over all frames.
    """
    return _light_level(_max_rgb(_check(x)))


def _light_level(max_rgb: torch.Tensor) -> tuple[float, float]:
    return float(max_rgb.max()), float(max_rgb.mean())


def _luminance(x: torch.Tensor) -> torch.Tensor:
    """BT.2020 luminance ``(*, H, W)`` (:func:`hdrvideo.color.luminance.luminance`)."""
    return luminance(x, "bt2020")[..., 0, :, :]


def mean_luminance(x: torch.Tensor) -> float:
    """Mean luminance Y (BT.2020 weights, negative counts as 0), cd/m²."""
    return _mean_nits(_check(x))


def _mean_nits(x: torch.Tensor) -> float:
    return float(_luminance(x).clamp(min=0.0).mean())


_TO_709: torch.Tensor | None = None


def out_of_gamut_percent(x: torch.Tensor, tolerance: float = GAMUT_TOLERANCE) -> float:
    """Percentage of pixels whose colour lies outside BT.709 (ITU-R BT.709 primaries).

    The pixel is converted from linear BT.2020 to linear BT.709 (RP 177 matrix from
    :func:`hdrvideo.color.primaries.rgb_to_rgb_matrix`); it is out of gamut when a component
    is below ``-tolerance`` times its largest component (a relative tolerance, so it does
    not depend on brightness). Pixels whose largest component is under
    :data:`GAMUT_FLOOR_NITS` are counted as in gamut. Range 0-100 %.
    """
    return _gamut(_check(x), tolerance)


def _gamut(x: torch.Tensor, tolerance: float) -> float:
    global _TO_709
    if _TO_709 is None:
        _TO_709 = rgb_to_rgb_matrix("bt2020", "bt709").float()
    m = _TO_709.to(x.device)
    rgb = (m @ x.reshape(*x.shape[:-2], -1)).reshape(x.shape)
    top = rgb.amax(dim=-3)
    low = rgb.amin(dim=-3)
    out = (low < -tolerance * top.abs()) & (top >= GAMUT_FLOOR_NITS)
    return 100.0 * int(out.sum()) / out.numel()


def clipped_percent(x: torch.Tensor, peak_nits: float) -> float:
    """Percentage of pixels whose max(R, G, B) is at least 99 % of ``peak_nits`` (cd/m²)."""
    if not peak_nits > 0:
        raise InvalidInputError(f"peak_nits must be positive, got {peak_nits}")
    return _clipped(_max_rgb(_check(x)), peak_nits)


def _clipped(max_rgb: torch.Tensor, peak_nits: float) -> float:
    return 100.0 * int((max_rgb >= CLIP_FRACTION_OF_PEAK * peak_nits).sum()) / max_rgb.numel()


def _pq_luma(x: torch.Tensor, step: int) -> torch.Tensor:
    """PQ code values of the luminance of ``x`` (already checked), on every ``step``-th pixel."""
    y = _luminance(subsample_grid(x, step)).clamp(0.0, 10000.0)
    return eotf_inverse_ST2084(y)


def frozen_difference(previous: torch.Tensor, current: torch.Tensor) -> float:
    """Mean absolute difference of two PQ-encoded luminance images (ST 2084 code 0-1).

    Both are what :func:`_pq_luma` returns for consecutive frames; 0 means identical.
    """
    if previous.shape != current.shape:
        return math.inf  # a size change is not a frozen picture
    return float((current - previous).abs().mean(dtype=torch.float64))


@dataclass(frozen=True)
class Signalled:
    """What a stream signals about its light level (``None`` = not signalled / unknown).

    ``max_cll_nits``/``max_fall_nits``: CTA-861.3 MaxCLL/MaxFALL (0 is "unknown" and is
    stored as ``None``); ``mastering_peak_nits``: ST 2086 max display mastering luminance,
    ``None`` when the decoder flags it absent or it is outside ST 2086's 5-10000 cd/m²
    (an implausible value is a metadata problem of the stream, reported as such, not a
    yardstick for the content).
    ``peak_nits``: the level treated as "the peak" for clipping (mastering peak, else 10000).
    """

    max_cll_nits: float | None = None
    max_fall_nits: float | None = None
    mastering_peak_nits: float | None = None

    @property
    def peak_nits(self) -> float:
        return self.mastering_peak_nits or 10000.0

    @classmethod
    def from_side_data(cls, mastering_display: Any = None, content_light_level: Any = None) -> "Signalled":
        cll = fall = peak = None
        if content_light_level is not None:
            cll = float(content_light_level.max_cll_nits) or None
            fall = float(content_light_level.max_fall_nits) or None
        md = mastering_display
        if md is not None and md.has_luminance and MASTERING_PEAK_FLOOR_NITS <= md.max_luminance_nits <= 10000:
            peak = float(md.max_luminance_nits)
        return cls(cll, fall, peak)


class FrameMeasurer:
    """All per-frame measures of one stream, with the temporal ones' rolling state.

    Args:
        signalled: the stream's signalled light levels (for ratios and the clipping peak).
        flicker_window: frames in the rolling window of ``flicker_rms_stops`` (about one
            second of video: 24-60).
        gamut_tolerance: see :func:`out_of_gamut_percent`.

    :meth:`measure` returns a ``dict[str, float | None]`` with the keys of the module table.
    :meth:`reset` forgets the temporal state (after a reconnect: the next frame is not
    compared with a frame of the previous connection).
    """

    KEYS = (
        "max_cll_nits", "fall_nits", "mean_nits", "gamut_pct", "clipped_pct", "frozen_diff",
        "flicker_stops", "flicker_rms_stops", "cll_ratio", "fall_ratio", "mastering_ratio",
    )

    def __init__(self, signalled: Signalled | None = None, *, flicker_window: int = 24,
                 gamut_tolerance: float = GAMUT_TOLERANCE) -> None:
        if int(flicker_window) < 3:
            raise InvalidInputError(f"flicker_window must be >= 3 frames, got {flicker_window}")
        self.signalled = signalled or Signalled()
        self.gamut_tolerance = float(gamut_tolerance)
        self._logs: deque[float] = deque(maxlen=int(flicker_window))
        self._previous_pq: torch.Tensor | None = None

    def reset(self) -> None:
        self._logs.clear()
        self._previous_pq = None

    def measure(self, x: torch.Tensor) -> dict[str, float | None]:
        """Measures of one ``(3, H, W)`` working-space frame (cd/m²)."""
        x = _check(x)
        mx = _max_rgb(x)
        max_cll, fall = _light_level(mx)
        mean = _mean_nits(x)
        pq = _pq_luma(x, FROZEN_GRID_STEP)
        frozen = None if self._previous_pq is None else frozen_difference(self._previous_pq, pq)
        self._previous_pq = pq
        log_mean = math.log2(max(mean, FLOOR_NITS))
        flicker = None if not self._logs else abs(log_mean - self._logs[-1])
        self._logs.append(log_mean)
        rms = None
        if len(self._logs) >= 3:
            rms = float(second_difference(list(self._logs)).square().mean().sqrt())
        s = self.signalled
        return {
            "max_cll_nits": max_cll,
            "fall_nits": fall,
            "mean_nits": mean,
            "gamut_pct": _gamut(x, self.gamut_tolerance),
            "clipped_pct": _clipped(mx, s.peak_nits),
            "frozen_diff": frozen,
            "flicker_stops": flicker,
            "flicker_rms_stops": rms,
            "cll_ratio": max_cll / s.max_cll_nits if s.max_cll_nits else None,
            "fall_ratio": fall / s.max_fall_nits if s.max_fall_nits else None,
            "mastering_ratio": max_cll / s.mastering_peak_nits if s.mastering_peak_nits else None,
        }
