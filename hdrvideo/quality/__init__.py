"""Quality measurement: full-reference metrics, temporal stability, scorers and monitoring.

Nothing here changes pixels. Temporal stability (issue #4) lives in
:mod:`hdrvideo.quality.flicker`: per-frame log2 mean luminance, flicker in stops (RMS of its
second difference away from scene cuts), scene-cut detection and settling time.
"""

from hdrvideo.quality.flicker import (
    FlickerReport,
    detect_cuts,
    flicker_report,
    flicker_stops,
    log_mean_luminance,
    second_difference,
    settle_frames,
)

__all__ = [
    "FlickerReport",
    "detect_cuts",
    "flicker_report",
    "flicker_stops",
    "log_mean_luminance",
    "second_difference",
    "settle_frames",
]
