"""Temporal instability ("flicker", "pumping") of a tone-mapped video, in stops.

The measurement of issue #4. Every temporal operator is judged by it in the benchmarks:

1. :func:`log_mean_luminance`: per-frame ``log2`` of the mean luminance (cd/m²), one
   number per frame, for the input and for the output.
2. :func:`flicker_stops`: the RMS of the **second difference** of that series, in stops,
   leaving out the frames next to scene cuts. A steady level and a steady fade (a straight
   line in log2) both score 0; what scores is a change of *speed*: a brightness that jumps
   and comes back, or pumps. Given the input's series too, the output is measured relative
   to it (``output - input``), so flicker that is in the source is not charged to the
   operator.
3. :func:`detect_cuts` finds scene cuts in the input (a jump of the log mean, or of the PQ
   histogram), and :func:`settle_frames` counts how many frames the output needs after a
   cut to reach its new level (how sluggish the adaptation is).
4. :func:`flicker_report` does all of it for one pair of series.

Anchor values (issue #4): libplacebo's dynamic peak detection pumps about 0.016 stops (RMS
of the second difference of per-frame log2 mean luminance, away from the cut); a static
Hable curve about 0.003 stops.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import torch

from hdrvideo.color.luminance import luminance
from hdrvideo.color.pq import eotf_inverse_ST2084
from hdrvideo.errors import InvalidInputError
from hdrvideo.ops.stats import subsample_grid

__all__ = [
    "FlickerReport",
    "detect_cuts",
    "flicker_report",
    "flicker_stops",
    "log_mean_luminance",
    "second_difference",
    "settle_frames",
]

#: Mean luminance below this counts as this (cd/m²), so black frames give a finite log.
FLOOR_NITS = 1e-4
#: Bins of the PQ histogram used by :func:`detect_cuts` on frames.
HISTOGRAM_BINS = 64

Series = torch.Tensor | Sequence[float]


def _frames(frames: torch.Tensor | Iterable[torch.Tensor]) -> Iterable[torch.Tensor]:
    if isinstance(frames, torch.Tensor):
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise InvalidInputError(f"expected (T, 3, H, W) frames, got {tuple(frames.shape)}")
        return iter(frames)
    return iter(frames)


def _check_frame(f: torch.Tensor, index: int) -> None:
    if not isinstance(f, torch.Tensor) or f.dim() != 3 or f.shape[0] != 3 or f.numel() == 0:
        shape = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
        raise InvalidInputError(f"frame {index}: expected a non-empty (3, H, W) tensor, got {shape}")


def _mean_luminance(f: torch.Tensor, grid_step: int) -> float:
    s = subsample_grid(f, grid_step)
    y = torch.nan_to_num(luminance(s, "bt2020"), nan=0.0, posinf=1e4, neginf=0.0).clamp_(min=0.0)
    return float(torch.mean(y, dtype=torch.float64))


def _check_step(grid_step: int) -> int:
    if isinstance(grid_step, bool) or int(grid_step) != grid_step or grid_step < 1:
        raise InvalidInputError(f"grid_step must be an integer >= 1, got {grid_step!r}")
    return int(grid_step)


def log_mean_luminance(frames: torch.Tensor | Iterable[torch.Tensor], *, grid_step: int = 1) -> torch.Tensor:
    """Per-frame ``log2`` of the mean luminance.

    ============  ===================================================  ================
    Domain        frames: linear BT.2020 RGB, each ``(3, H, W)``        cd/m²
    Range         float64 ``(T,)``                                     log2(cd/m²)
    ============  ===================================================  ================

    Args:
        frames: a ``(T, 3, H, W)`` tensor or any iterable of ``(3, H, W)`` tensors (a
            generator is read once, frame by frame, so a long clip need not fit in memory).
        grid_step: average the centre pixel of every ``grid_step`` x ``grid_step`` cell only
            (:func:`hdrvideo.ops.stats.subsample_grid`; 1 = every pixel; 4 is
            16 times cheaper, unbiased on linear gradients, and noisier the finer the texture:
            for pixel noise the error falls as one over the square root of the samples).

    Luminance uses the BT.2020 weights; NaN counts as 0, ``+inf`` as 10000 cd/m², negative
    luminance as 0; a mean below :data:`FLOOR_NITS` counts as :data:`FLOOR_NITS`.
    """
    grid_step = _check_step(grid_step)
    values = []
    for i, f in enumerate(_frames(frames)):
        _check_frame(f, i)
        values.append(math.log2(max(_mean_luminance(f, grid_step), FLOOR_NITS)))
    return torch.tensor(values, dtype=torch.float64)


def _series(values: Series, name: str) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=torch.float64).detach().cpu()
    if t.dim() != 1:
        raise InvalidInputError(f"{name}: expected a 1-D series, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise InvalidInputError(f"{name}: the series has non-finite values")
    return t


def _cut_list(cuts: Iterable[int] | None) -> list[int]:
    if cuts is None:
        return []
    out = []
    for c in cuts:
        if isinstance(c, bool) or int(c) != c:
            raise InvalidInputError(f"cut indices must be integers, got {c!r}")
        out.append(int(c))
    return sorted(set(out))


def second_difference(series: Series) -> torch.Tensor:
    """``d[t] = s[t+1] - 2 s[t] + s[t-1]`` for ``t = 1 .. T-2`` (float64 ``(T-2,)``).

    Element ``i`` of the result is centred on frame ``i + 1``.
    """
    s = _series(series, "series")
    if s.numel() < 3:
        return torch.zeros(0, dtype=torch.float64)
    return s[2:] - 2.0 * s[1:-1] + s[:-2]


def _kept_centres(length: int, cuts: list[int], exclude: int) -> torch.Tensor:
    """Mask over second-difference centres ``t = 1 .. T-2``: ``True`` where kept."""
    centres = torch.arange(1, max(length - 1, 1), dtype=torch.int64)
    keep = torch.ones(centres.numel(), dtype=torch.bool)
    for c in cuts:
        # The cut lies between frames c-1 and c; centres c-1 and c straddle it. Leave those
        # out and `exclude` more frames on each side.
        keep &= ~((centres >= c - 1 - exclude) & (centres <= c + exclude))
    return keep


def flicker_stops(
    output_log2: Series,
    input_log2: Series | None = None,
    *,
    cuts: Iterable[int] | None = None,
    exclude: int = 2,
) -> float:
    """Temporal instability: RMS of the second difference of a per-frame log2 series, in stops.

    ``sqrt(mean_t (s[t+1] - 2 s[t] + s[t-1])^2)`` with ``s = output_log2`` or, when the
    input's series is given, ``s = output_log2 - input_log2`` (the part of the output's
    brightness changes that the input does not explain).

    Scene cuts: a cut at index ``c`` means frame ``c`` is the first of a new scene. The
    second differences centred on ``c - 1`` and ``c`` straddle it and are always left out
    when ``cuts`` are given, and so are ``exclude`` more on each side (centres
    ``c - 1 - exclude .. c + exclude``), where an adapting operator is allowed to move.
    ``cuts=None`` leaves nothing out (use :func:`detect_cuts` to find them).

    Examples: a constant level or a constant-speed fade give 0; a level alternating by
    ±0.01 stops frame to frame gives exactly 0.04 (each second difference is ±4 x 0.01).
    Anchors (issue #4): libplacebo's dynamic peak detection about 0.016, a static Hable
    curve about 0.003.

    Returns:
        The RMS in stops; ``nan`` when no second difference is left (fewer than 3 frames,
        or all of them near cuts).
    """
    out = _series(output_log2, "output_log2")
    if input_log2 is not None:
        inp = _series(input_log2, "input_log2")
        if inp.numel() != out.numel():
            raise InvalidInputError(f"input_log2 has {inp.numel()} frames, output_log2 {out.numel()}")
        out = out - inp
    if isinstance(exclude, bool) or int(exclude) != exclude or exclude < 0:
        raise InvalidInputError(f"exclude must be an integer >= 0, got {exclude!r}")
    d = second_difference(out)
    if d.numel() == 0:
        return float("nan")
    keep = _kept_centres(out.numel(), _cut_list(cuts), int(exclude))
    d = d[keep]
    if d.numel() == 0:
        return float("nan")
    return math.sqrt(float(torch.mean(d * d)))


def _pq_histogram(f: torch.Tensor, grid_step: int) -> torch.Tensor:
    s = subsample_grid(f, grid_step)
    y = torch.nan_to_num(luminance(s, "bt2020"), nan=0.0, posinf=1e4, neginf=0.0).clamp_(0.0, 1e4)
    pq = eotf_inverse_ST2084(y).reshape(-1)
    bins = (pq * HISTOGRAM_BINS).long().clamp_(0, HISTOGRAM_BINS - 1)
    h = torch.bincount(bins, minlength=HISTOGRAM_BINS).to(torch.float64)
    return h / h.sum()


def detect_cuts(
    source: Series | torch.Tensor | Iterable[torch.Tensor],
    *,
    threshold_stops: float = 1.0,
    histogram_threshold: float = 0.5,
    grid_step: int = 4,
) -> list[int]:
    """Find scene cuts in the input: indices of the first frame of each new scene.

    A simple detector, meant for measuring (where the cut is known to be in the source),
    not for editing:

    - on a log2 series (1-D tensor or sequence of floats, as :func:`log_mean_luminance`
      gives): a cut before frame ``t`` when ``|s[t] - s[t-1]| > threshold_stops``;
    - on frames (``(T, 3, H, W)`` tensor or iterable of ``(3, H, W)``): the same test on
      their log mean luminance, **or** a total-variation distance between the 64-bin PQ
      luminance histograms of frames ``t-1`` and ``t`` (half the L1 distance of the
      normalised histograms, 0 = same, 1 = disjoint) above ``histogram_threshold``, which
      catches a cut between two scenes of similar average brightness.

    A fade or a pan changes both slowly and is not a cut; a flash of one frame gives two
    (into it and out of it).
    """
    threshold_stops = float(threshold_stops)
    if not threshold_stops > 0:
        raise InvalidInputError(f"threshold_stops must be > 0, got {threshold_stops!r}")
    histogram_threshold = float(histogram_threshold)
    if not 0.0 < histogram_threshold <= 1.0:
        raise InvalidInputError(f"histogram_threshold must be in (0, 1], got {histogram_threshold!r}")
    is_series = getattr(source, "ndim", None) == 1 or (
        isinstance(source, Sequence)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in source)
    )
    if is_series:
        s = _series(source, "source")
        jumps = (s[1:] - s[:-1]).abs() > threshold_stops
        return [int(i) + 1 for i in torch.nonzero(jumps).flatten().tolist()]

    grid_step = _check_step(grid_step)
    cuts: list[int] = []
    previous: tuple[float, torch.Tensor] | None = None
    for i, f in enumerate(_frames(source)):
        _check_frame(f, i)
        current = (math.log2(max(_mean_luminance(f, grid_step), FLOOR_NITS)), _pq_histogram(f, grid_step))
        if previous is not None:
            jump = abs(current[0] - previous[0])
            distance = 0.5 * float((current[1] - previous[1]).abs().sum())
            if jump > threshold_stops or distance > histogram_threshold:
                cuts.append(i)
        previous = current
    return cuts


def settle_frames(
    output_log2: Series,
    cut_index: int,
    *,
    input_log2: Series | None = None,
    tolerance_stops: float = 0.05,
    end: int | None = None,
) -> int:
    """Frames after a cut until the output stays within tolerance of its final post-cut level.

    The scene runs from ``cut_index`` to ``end`` (exclusive; default: the end of the series).
    Its final level is the value on its last frame; the result is the smallest ``k`` such
    that every frame from ``cut_index + k`` to the end of the scene is within
    ``tolerance_stops`` of it. 0 means the output lands on its new level on the cut frame
    itself; a filter with time constant τ frames that must travel ``D`` stops needs about
    ``τ ln(D / tolerance)`` frames.

    With ``input_log2`` the series is ``output - input``, so brightness changes of the
    content inside the new scene do not count as settling.
    """
    s = _series(output_log2, "output_log2")
    if input_log2 is not None:
        inp = _series(input_log2, "input_log2")
        if inp.numel() != s.numel():
            raise InvalidInputError(f"input_log2 has {inp.numel()} frames, output_log2 {s.numel()}")
        s = s - inp
    n = s.numel()
    end = n if end is None else int(end)
    if isinstance(cut_index, bool) or int(cut_index) != cut_index or not 0 <= cut_index < end <= n:
        raise InvalidInputError(f"need 0 <= cut_index < end <= {n}, got cut_index={cut_index!r}, end={end}")
    tolerance_stops = float(tolerance_stops)
    if not tolerance_stops >= 0:
        raise InvalidInputError(f"tolerance_stops must be >= 0, got {tolerance_stops!r}")
    scene = s[int(cut_index):end]
    outside = ((scene - scene[-1]).abs() > tolerance_stops).nonzero().flatten()
    return 0 if outside.numel() == 0 else int(outside[-1]) + 1


@dataclass(frozen=True)
class FlickerReport:
    """What :func:`flicker_report` found.

    Attributes:
        frames: length of the series.
        flicker_stops: :func:`flicker_stops` of the output (relative to the input), cuts
            left out — the number to compare with the anchors.
        output_flicker_stops: the same of the output alone (absolute).
        input_flicker_stops: the same of the input alone (what the source brings).
        cuts: indices of the first frame of each scene after a cut (in the input).
        settle_frames: :func:`settle_frames` for each cut, relative to the input, each scene
            ending at the next cut.
        exclude: frames left out on each side of a cut.
    """

    frames: int
    flicker_stops: float
    output_flicker_stops: float
    input_flicker_stops: float
    cuts: tuple[int, ...]
    settle_frames: tuple[int, ...]
    exclude: int

    def as_dict(self) -> dict:
        """JSON-friendly form (tuples become lists)."""
        d = asdict(self)
        d["cuts"], d["settle_frames"] = list(self.cuts), list(self.settle_frames)
        return d


def flicker_report(
    input_log2: Series,
    output_log2: Series,
    *,
    cuts: Iterable[int] | None = None,
    exclude: int = 2,
    threshold_stops: float = 1.0,
    tolerance_stops: float = 0.05,
) -> FlickerReport:
    """Flicker, cuts and settling of one output against its input (two log2 series).

    Cuts are found in the input with :func:`detect_cuts` (``threshold_stops``) unless given.
    """
    inp = _series(input_log2, "input_log2")
    out = _series(output_log2, "output_log2")
    if inp.numel() != out.numel():
        raise InvalidInputError(f"input_log2 has {inp.numel()} frames, output_log2 {out.numel()}")
    found = detect_cuts(inp, threshold_stops=threshold_stops) if cuts is None else _cut_list(cuts)
    for c in found:
        if not 0 < c < inp.numel():
            raise InvalidInputError(f"cut index {c} is outside 1..{inp.numel() - 1}")
    bounds = [*found, inp.numel()]
    settle = tuple(
        settle_frames(out, c, input_log2=inp, tolerance_stops=tolerance_stops, end=bounds[i + 1])
        for i, c in enumerate(found)
    )
    return FlickerReport(
        frames=int(inp.numel()),
        flicker_stops=flicker_stops(out, inp, cuts=found, exclude=exclude),
        output_flicker_stops=flicker_stops(out, cuts=found, exclude=exclude),
        input_flicker_stops=flicker_stops(inp, cuts=found, exclude=exclude),
        cuts=tuple(found),
        settle_frames=settle,
        exclude=int(exclude),
    )
