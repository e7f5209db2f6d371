"""Per-frame quality scores: the ``score`` operator and ``hdrvideo score``.

Metrics (names as in filter strings and ``--metric``):

==============  ======================================================  ===============
name            what                                                    needs
==============  ======================================================  ===============
``nriqa``       the project's no-reference network                      --
                (:func:`hdrvideo.quality.nriqa.load_scorer`; scale in
                its ``scale``: predicted PU21-MS-SSIM, higher = better)
``pu21psnr``    PU21-PSNR, dB (Mantiuk & Azimi 2021, peak 256)          a reference
``pu21ssim``    PU21-SSIM (SSIM of PU21-encoded luminance)              a reference
``pu21msssim``  PU21-MS-SSIM                                            a reference
==============  ======================================================  ===============

The operator never changes pixels: it adds ``frame.side_data["scores"][metric] = float``
(a new dict; the input frame's side data is left as it was). A reference video is read
*frame-synchronously*: test frame ``index`` is compared with the reference's frame of the
same index; a size mismatch, or a reference that ends first, is an
:class:`~hdrvideo.errors.InvalidInputError` naming both.

Filter strings: ``score=nriqa``, ``score=pu21psnr:ref=ref.mkv``, several metrics joined by
``+`` (``score=pu21psnr+pu21ssim:ref=ref.mkv``), ``every=N`` to score every Nth frame.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from hdrvideo.engines.base import BACKEND_CHOICES
from hdrvideo.errors import InvalidInputError, OutputError, UnsupportedError
from hdrvideo.frame import Frame
from hdrvideo.io.atomic import atomic_output, check_output_path
from hdrvideo.ops.base import Operator, Option, register
from hdrvideo.quality.measures import frame_light_level

__all__ = [
    "FULL_REFERENCE",
    "METRICS",
    "FrameScorer",
    "ReferenceReader",
    "Score",
    "ScoreResult",
    "format_summary",
    "parse_metrics",
    "score_file",
    "summarise",
]

#: Full-reference metrics: name -> function name in :mod:`hdrvideo.quality.pu21_metrics`.
FULL_REFERENCE: dict[str, str] = {"pu21psnr": "pu21_psnr", "pu21ssim": "pu21_ssim", "pu21msssim": "pu21_msssim"}
#: Every metric name, no-reference first.
METRICS: tuple[str, ...] = ("nriqa", *FULL_REFERENCE)
#: Output formats of ``hdrvideo score`` by extension.
OUTPUT_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def parse_metrics(text: str | Sequence[str]) -> list[str]:
    """``"nriqa,pu21psnr"`` / ``"pu21psnr+pu21ssim"`` / a list -> validated, de-duplicated names."""
    items = text.replace("+", ",").split(",") if isinstance(text, str) else list(text)
    names: list[str] = []
    for item in (str(i).strip().lower() for i in items):
        if not item:
            continue
        if item not in METRICS:
            raise InvalidInputError(f"unknown metric {item!r}; available: {', '.join(METRICS)}")
        if item not in names:
            names.append(item)
    if not names:
        raise InvalidInputError(f"no metric given; available: {', '.join(METRICS)}")
    return names


class ReferenceReader:
    """A reference video read in step with a test stream (same frame index).

    Args:
        path: the reference (anything :func:`hdrvideo.api.open` reads).
        start_seconds, duration_seconds: the same window as the test stream.
    """

    def __init__(self, path: str | os.PathLike[str], *, start_seconds: float | None = None,
                 duration_seconds: float | None = None) -> None:
        self.path = os.fspath(path)
        self.start_seconds = start_seconds
        self.duration_seconds = duration_seconds
        self._reader: Any = None
        self._iterator: Any = None
        self._next_index = 0
        self._open()

    def _open(self) -> None:
        from hdrvideo.api import open as open_media

        self.close()
        self._reader = open_media(self.path, start_seconds=self.start_seconds, duration_seconds=self.duration_seconds)
        self._iterator = iter(self._reader)
        self._next_index = 0

    def frame(self, index: int, size: tuple[int, int]) -> torch.Tensor:
        """The reference frame ``index`` (``(3, H, W)`` cd/m²); ``size`` = test ``(H, W)``."""
        if index < self._next_index:
            self._open()  # a seek back (a reset operator): start again
        ref: Frame | None = None
        while self._next_index <= index:
            ref = next(self._iterator, None)
            if ref is None:
                raise InvalidInputError(
                    f"reference {self.path} has only {self._next_index} frame(s); the test stream has frame {index}"
                    " (the reference must have the same length)"
                )
            self._next_index += 1
        assert ref is not None
        if (ref.height, ref.width) != tuple(size):
            raise InvalidInputError(
                f"reference {self.path} is {ref.width}x{ref.height}, the test stream is {size[1]}x{size[0]}: "
                "full-reference metrics need the same size"
            )
        return ref.data

    def set_window(self, start_seconds: float | None, duration_seconds: float | None) -> None:
        """Read the reference over this window from now on (the test stream's ``-ss``/``-t``)."""
        if (start_seconds, duration_seconds) != (self.start_seconds, self.duration_seconds):
            self.start_seconds, self.duration_seconds = start_seconds, duration_seconds
            self._open()

    def remaining(self) -> bool:
        """Whether the reference has a frame after the last one asked for."""
        return next(self._iterator, None) is not None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _full_reference(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    try:
        from hdrvideo.quality import pu21_metrics
    except ImportError as error:
        raise UnsupportedError(f"metric {name}: hdrvideo.quality.pu21_metrics is not available ({error})") from None
    return getattr(pu21_metrics, FULL_REFERENCE[name])


class FrameScorer:
    """Compute the chosen metrics of frames.

    Args:
        metrics: names (see :data:`METRICS`) or a ``,``/``+``-separated string.
        ref: reference video for the full-reference metrics.
        every: score frames whose index is a multiple of ``every`` (others get no scores).
        scorer: an object with ``score(x) -> (N,) tensor`` to use for ``nriqa`` instead of
            :func:`hdrvideo.quality.nriqa.load_scorer` (tests, custom models).
        backend: engine backend for the NR scorer (``auto``, ``torch``, ``onnxruntime``...).
        start_seconds, duration_seconds: window of the reference (same as the test's).
    """

    def __init__(self, metrics: str | Sequence[str] = "nriqa", ref: str | os.PathLike[str] | None = None, *,
                 every: int = 1, scorer: Any = None, backend: str = "auto",
                 start_seconds: float | None = None, duration_seconds: float | None = None) -> None:
        self.metrics = parse_metrics(metrics)
        if int(every) < 1:
            raise InvalidInputError(f"every must be >= 1, got {every}")
        self.every = int(every)
        needs_ref = [m for m in self.metrics if m in FULL_REFERENCE]
        if needs_ref and ref is None:
            raise InvalidInputError(f"metric {', '.join(needs_ref)} needs a reference (--ref FILE / ref=FILE)")
        if ref is not None and not needs_ref:
            raise InvalidInputError(
                f"a reference was given but no full-reference metric asked for (add one of {', '.join(FULL_REFERENCE)})"
            )
        self._functions = {m: _full_reference(m) for m in needs_ref}
        self.scorer = None
        if "nriqa" in self.metrics:
            if scorer is None:
                try:
                    from hdrvideo.quality.nriqa import load_scorer
                except ImportError as error:
                    raise UnsupportedError(f"metric nriqa: the no-reference scorer is not available ({error})") from None
                scorer = load_scorer(backend=backend)
            self.scorer = scorer
        self.reference = (ReferenceReader(ref, start_seconds=start_seconds, duration_seconds=duration_seconds)
                          if ref is not None else None)

    @property
    def scale(self) -> dict[str, str]:
        """What each metric's numbers mean."""
        out = {"pu21psnr": "dB (peak 256), higher is better", "pu21ssim": "0..1, higher is better",
               "pu21msssim": "0..1, higher is better"}
        out["nriqa"] = str(getattr(self.scorer, "scale", "scorer's scale, higher is better"))
        return {m: out[m] for m in self.metrics}

    def wants(self, index: int) -> bool:
        return index % self.every == 0

    def __call__(self, x: torch.Tensor, index: int) -> dict[str, float]:
        """Scores of frame ``index`` (``(3, H, W)`` cd/m²); ``{}`` when it is skipped."""
        if not self.wants(index):
            return {}
        out: dict[str, float] = {}
        with torch.no_grad():
            if self.scorer is not None:
                out["nriqa"] = float(self.scorer.score(x).reshape(-1)[0])
            if self._functions:
                assert self.reference is not None
                ref = self.reference.frame(index, (int(x.shape[-2]), int(x.shape[-1]))).to(x.device, x.dtype)
                for name, fn in self._functions.items():
                    out[name] = float(fn(x, ref).reshape(-1)[0])
        return {m: out[m] for m in self.metrics if m in out}

    def close(self) -> None:
        if self.reference is not None:
            self.reference.close()


@register
class Score(Operator):
    """Add per-frame quality scores to ``side_data["scores"]``; pixels pass unchanged.

    Stateless in the operator sense: the reference is matched by ``frame.index`` (a seek
    back reopens it), so a reset, a seek or a chunk needs no state to be carried.
    ``scorer`` (keyword only, not a filter option) injects a no-reference scorer object.
    """

    name = "score"
    description = "per-frame quality scores into side_data['scores'] (nriqa, pu21psnr, pu21ssim, pu21msssim); pixels unchanged"
    options = (
        Option("metric", str, "nriqa", "metric(s), '+'-separated: nriqa, pu21psnr, pu21ssim, pu21msssim"),
        Option("ref", str, None, "reference video for pu21psnr/pu21ssim/pu21msssim, frame i against frame i (none by default)"),
        Option("every", int, 1, "score every Nth frame (by frame index)", minimum=1),
        Option("backend", str, "auto", "engine of the no-reference network",
               choices=BACKEND_CHOICES),
    )

    def __init__(self, scorer: Any = None, **values: Any) -> None:
        super().__init__(**values)
        self._scorer = FrameScorer(self.metric, self.ref, every=self.every, scorer=scorer, backend=self.backend)

    def process(self, x: torch.Tensor, frame: Frame | None = None) -> torch.Tensor:
        return x

    def follow_source_window(self, start_seconds: float | None, duration_seconds: float | None) -> None:
        """Called by :class:`~hdrvideo.pipeline.Pipeline`: read the reference over the source's
        window, so that test frame ``i`` of ``-ss 10`` meets reference frame ``i`` after 10 s."""
        if self._scorer.reference is not None:
            self._scorer.reference.set_window(start_seconds, duration_seconds)

    def __call__(self, frame: Frame | torch.Tensor) -> Frame | torch.Tensor:
        if isinstance(frame, torch.Tensor):
            return frame
        scores = self._scorer(frame.data, frame.index)
        side = dict(frame.side_data)
        if scores:
            side["scores"] = {**side.get("scores", {}), **scores}
        return Frame(data=frame.data, index=frame.index, pts_seconds=frame.pts_seconds, side_data=side)

    @property
    def scorer(self) -> FrameScorer:
        return self._scorer

    def close(self) -> None:
        self._scorer.close()


# ----------------------------------------------------------------------------- hdrvideo score


def summarise(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, mean, min, 5th/50th/95th percentile, max of the finite values (+ count of infinite)."""
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    finite = a[np.isfinite(a)]
    out: dict[str, float | int | None] = {"count": int(a.size), "infinite": int(a.size - finite.size)}
    if finite.size:
        p5, p50, p95 = np.percentile(finite, [5, 50, 95])
        out.update(mean=float(finite.mean()), min=float(finite.min()), p5=float(p5), p50=float(p50),
                   p95=float(p95), max=float(finite.max()))
    else:
        out.update(mean=None, min=None, p5=None, p50=None, p95=None, max=None)
    return out


@dataclass
class ScoreResult:
    """What ``hdrvideo score`` produced: rows written, per-column summaries, metric scales."""

    output: str
    frames: int
    metrics: list[str]
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    scale: dict[str, str] = field(default_factory=dict)

    def format(self) -> str:
        """The summary as a small text table."""
        lines = [f"{self.frames} frame(s) -> {self.output}", format_summary(self.summary)]
        for name, scale in self.scale.items():
            lines.append(f"{name}: {scale}")
        return "\n".join(lines)


def format_summary(summary: dict[str, dict[str, Any]]) -> str:
    """Summaries of :func:`summarise` per column as a text table (count, mean, min,
    percentiles, max)."""
    head = f"{'column':<14}{'count':>7}{'mean':>11}{'min':>11}{'p5':>11}{'p50':>11}{'p95':>11}{'max':>11}"
    lines = [head]
    for name, s in summary.items():
        cells = "".join(f"{s[k]:>11.4f}" if s[k] is not None else f"{'-':>11}"
                        for k in ("mean", "min", "p5", "p50", "p95", "max"))
        extra = f"  ({s['infinite']} infinite)" if s.get("infinite") else ""
        lines.append(f"{name:<14}{s['count']:>7}{cells}{extra}")
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:.6g}"
    return str(v)


def score_file(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    ref: str | os.PathLike[str] | None = None,
    metrics: str | Sequence[str] | None = None,
    start_seconds: float | None = None,
    duration_seconds: float | None = None,
    every: int = 1,
    overwrite: bool = False,
    progress: Any = None,
    scorer: Any = None,
    backend: str = "auto",
) -> ScoreResult:
    """Score every frame of ``input`` and write one row per frame to ``output``.

    Rows: ``index``, ``pts_seconds``, each metric, ``max_cll_nits`` and ``fall_nits`` (the
    frame's CTA-861.3 light level, cd/m²). ``output`` ends in ``.csv`` or ``.jsonl``; it is
    written atomically (nothing under its name unless the whole input was scored).

    ``metrics`` defaults to ``nriqa`` without a reference, ``pu21psnr,pu21ssim`` with one.
    ``progress``: as :class:`hdrvideo.pipeline.Pipeline`'s.
    """
    from hdrvideo.api import open as open_media
    from hdrvideo.pipeline import Pipeline

    out_path = Path(output)
    kind = OUTPUT_FORMATS.get(out_path.suffix.lower())
    if kind is None:
        raise OutputError(f"{out_path}: the scores file must end in {', '.join(OUTPUT_FORMATS)}")
    check_output_path(out_path, overwrite=overwrite)
    if metrics is None:
        metrics = ["pu21psnr", "pu21ssim"] if ref is not None else ["nriqa"]
    source = open_media(input, start_seconds=start_seconds, duration_seconds=duration_seconds)
    try:
        frame_scorer = FrameScorer(metrics, ref, every=every, scorer=scorer, backend=backend,
                                   start_seconds=start_seconds, duration_seconds=duration_seconds)
    except BaseException:
        source.close()
        raise
    names = frame_scorer.metrics
    columns = ["index", "pts_seconds", *names, "max_cll_nits", "fall_nits"]
    series: dict[str, list[float]] = {c: [] for c in (*names, "max_cll_nits", "fall_nits")}

    def stage(frame: Frame) -> Frame:
        scores = frame_scorer(frame.data, frame.index)
        side = dict(frame.side_data)
        side["scores"] = scores
        side["light_level"] = frame_light_level(frame.data)
        return Frame(data=frame.data, index=frame.index, pts_seconds=frame.pts_seconds, side_data=side)

    frames = 0
    try:
        with atomic_output(out_path, overwrite=overwrite) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f) if kind == "csv" else None
            if writer is not None:
                writer.writerow(columns)
            with Pipeline(source, [stage], progress=progress) as pipeline:
                for frame in pipeline:
                    max_cll, fall = frame.side_data["light_level"]
                    scores = frame.side_data["scores"]
                    row: dict[str, Any] = {"index": frame.index, "pts_seconds": frame.pts_seconds,
                                           **{m: scores.get(m) for m in names},
                                           "max_cll_nits": max_cll, "fall_nits": fall}
                    for m in names:
                        if m in scores:
                            series[m].append(scores[m])
                    series["max_cll_nits"].append(max_cll)
                    series["fall_nits"].append(fall)
                    if writer is not None:
                        writer.writerow([_cell(row[c]) for c in columns])
                    else:
                        f.write(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                            for k, v in row.items()}) + "\n")
                    frames += 1
            if frames == 0:
                raise InvalidInputError(f"{input}: no frame in the requested window")
            if frame_scorer.reference is not None and frame_scorer.reference.remaining():
                raise InvalidInputError(
                    f"reference {ref} has more frames than {input} ({frames}): the two must have the same length"
                )
    finally:
        frame_scorer.close()
        source.close()
    result = ScoreResult(os.fspath(out_path), frames, names, scale=frame_scorer.scale)
    result.summary = {name: summarise(values) for name, values in series.items()}
    return result


