"""Quality measurement: full-reference metrics, temporal stability, scorers and monitoring.

Nothing here changes pixels.

- :mod:`hdrvideo.quality.flicker`: temporal stability (issue #4): per-frame log2 mean
  luminance, flicker in stops (RMS of its second difference away from scene cuts),
  scene-cut detection and settling time.
- :mod:`hdrvideo.quality.ssim`: SSIM / MS-SSIM (Wang et al. 2004, 2003), shared by the
  metrics and the training losses.
- :mod:`hdrvideo.quality.pu21_metrics`: PU21-PSNR, PU21-SSIM, PU21-MS-SSIM (Mantiuk & Azimi
  2021; PSNR peak 256 as the reference implementation).
- :mod:`hdrvideo.quality.tmqi`: TMQI (Yeganeh & Wang 2013) for tone-mapped pictures.
- :mod:`hdrvideo.quality.nriqa`: the no-reference scorer (the ``nriqa`` network through an engine).
- :mod:`hdrvideo.quality.scoring`: the ``score`` operator and ``hdrvideo score``
  (imported by :mod:`hdrvideo.ops`, not here, to keep this package free of the operator registry).
- :mod:`hdrvideo.quality.monitor`: ``hdrvideo monitor``.
- :mod:`hdrvideo.quality.baselines`, :mod:`hdrvideo.quality.cvvdp_adapter`: BRISQUE/NIQE
  baselines and ColorVideoVDP (when installed), for benchmarks.
"""

# hdrvideo.ops registers the ``score`` operator of quality.scoring, which reads this package's
# modules: importing ops first resolves that cycle the same way whichever package comes first.
import hdrvideo.ops  # noqa: F401, I001
from hdrvideo.quality.flicker import (
    FlickerReport,
    detect_cuts,
    flicker_report,
    flicker_stops,
    log_mean_luminance,
    second_difference,
    settle_frames,
)
from hdrvideo.quality.pu21_metrics import PU21_PSNR_PEAK, pu21_msssim, pu21_psnr, pu21_ssim
from hdrvideo.quality.tmqi import TMQIResult, tmqi

__all__ = [
    "PU21_PSNR_PEAK",
    "FlickerReport",
    "TMQIResult",
    "detect_cuts",
    "flicker_report",
    "flicker_stops",
    "log_mean_luminance",
    "pu21_msssim",
    "pu21_psnr",
    "pu21_ssim",
    "second_difference",
    "settle_frames",
    "tmqi",
]
