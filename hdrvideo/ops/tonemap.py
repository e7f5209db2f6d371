"""Global tone mapping of working-space frames: the ``tonemap`` operator and its function.

The operator maps one *intensity* value per pixel through a tone curve of
:mod:`hdrvideo.ops.curves` and carries the colour along so that hue is kept:

``ictcp`` (default)
    BT.2100 ICtCp: the curve maps ``I`` (as cd/m², ``PQ^-1(I)``; for grey ``I = PQ(Y)``, so
    greys follow the curve exactly), and ``Ct``/``Cp`` are scaled by libplacebo's chroma
    factor ``min(I / I', hull(I') / hull(I))``, ``hull(v) = v (v - 3)²``
    (``src/shaders/colorspace.c``, ``pl_shader_color_map_ex``): chroma never grows, and
    shrinks with intensity where the display's gamut volume shrinks, so highlights
    desaturate gently as on film instead of exploding in saturation. Hue is constant in a
    perceptually uniform space, which is why this is the default (libplacebo and mpv tone
    map this way).
``maxrgb``
    ``I = max(R, G, B)``, ``RGB' = RGB * curve(I) / I`` (FFmpeg ``vf_tonemap``, HDR10+
    ST 2094-40): ratios, hence chromaticity, are kept exactly and no component can exceed
    the peak; saturated highlights stay saturated and get darker than with ``ictcp``.
``luminance``
    ``I = Y`` (BT.2020), ``RGB' = RGB * curve(Y) / Y``: keeps luminance and chromaticity;
    bright saturated colours overflow the peak and are brought back by the final step.

``desat`` (Mantiuk et al. 2009, "Color correction for tone mapping", eq. 2) replaces the
ratio by ``(C / L)^s``: ``C' = (C / L)^s * L'``, with ``s`` in (0, 1] (1 = keep ratios,
smaller = less saturated). For ``ictcp`` it is applied after the mapping with ``L = Y``.

Last, every pixel is brought into ``[0, peak]``, giving up only the saturation the display
cannot show: with ``ictcp`` by reducing its chroma at constant ``I`` and hue (bisection on
the offending pixels only), then, for all modes (and for the rounding left by the former),
by blending it toward the grey of its own luminance
(:func:`hdrvideo.ops.gamut.fit_toward_grey`), which keeps luminance and chromaticity hue.
So the output is always a valid BT.2020 colour, no component above the target peak, still
in the working space (cd/m²).

**Default intensity: ``ictcp``.** It is the only mode whose hue is constant in a perceptual
space (measured on the OpenEXR test images: 99th-percentile ICtCp hue shift 0.03° against
0.4–2.5° for ``maxrgb`` and 8–25° for ``luminance``), and highlights roll off toward white
as the display's colour volume narrows, which is what libplacebo (and so mpv) do today.
``maxrgb`` is the choice when saturated colours must never lose saturation, or to match
the fused hot path (:mod:`hdrvideo.ops.fused`, which implements ``maxrgb`` and
``luminance``).

**Source peak.** ``source_peak="metadata"`` uses, in libplacebo's order, the HDR10+ scene
peak (``max(maxscl)`` of the first window), MaxCLL, the mastering display's maximum, else
1000 cd/m²: one curve for the whole stream, no flicker, but no adaptation either.
``"frame"`` measures each frame (:func:`hdrvideo.ops.stats.measure_statistics`: 99.9th
percentile of ``max(R, G, B)``, floored at 203 cd/m²); ``"smoothed"`` (default) filters
those statistics over time with scene-cut resets (:class:`~hdrvideo.ops.stats.TemporalStatistics`,
libplacebo's peak detection), so the curve follows the content without pumping. A frame
carrying ``side_data["statistics"]`` from an upstream ``peakdetect`` uses those instead
(in ``"smoothed"`` mode), so smoothing can be configured there. ``source_peak_nits`` fixes
the peak (for files whose metadata is wrong). The statistics also feed the curves'
``avg_pq`` (spline pivot) and ``logavg_nits`` (reinhard, drago) unless given. The source
peak is never taken below the target peak: this operator compresses, it never expands.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

from hdrvideo.color._safe import spow
from hdrvideo.color.ictcp import ictcp_to_rgb, rgb_to_ictcp
from hdrvideo.color.luminance import luminance
from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.engines.base import BACKEND_CHOICES
from hdrvideo.errors import InvalidInputError
from hdrvideo.frame import Frame
from hdrvideo.ops import linear_native
from hdrvideo.ops.base import Operator, Option, OutputTarget, register
from hdrvideo.ops.curves import CURVES, STATISTICS_PARAMS, ToneCurve, get_curve
from hdrvideo.ops.gamut import fit_toward_grey
from hdrvideo.ops.stats import FrameStatistics, TemporalStatistics

__all__ = [
    "DEFAULT_PEAK_NITS",
    "DITHER_OPTION",
    "INTENSITIES",
    "NET_CURVE",
    "SOURCE_PEAKS",
    "TARGET_KINDS",
    "Tonemap",
    "metadata_source",
    "tonemap",
]

TARGET_KINDS = ("sdr", "hdr10", "hlg")
INTENSITIES = ("ictcp", "maxrgb", "luminance")
SOURCE_PEAKS = ("smoothed", "frame", "metadata")

#: The ``curve`` value that delegates to the tone-mapping network (:mod:`hdrvideo.ops.tmnet`).
NET_CURVE = "net"
#: Target display peak when ``peak_nits`` is not given: BT.1886's reference 100 cd/m² for
#: SDR, a 1000 cd/m² display for HDR10 and HLG (BT.2100's reference HLG display).
DEFAULT_PEAK_NITS = {"sdr": 100.0, "hdr10": 1000.0, "hlg": 1000.0}
#: Source peak when ``source_peak="metadata"`` finds no metadata, cd/m².
FALLBACK_SOURCE_PEAK_NITS = 1000.0
#: Reference white of HDR outputs (ITU-R BT.2408), cd/m².
HDR_REFERENCE_WHITE_NITS = 203.0


def _pq(nits: float) -> float:
    return float(eotf_inverse_ST2084(torch.tensor(float(nits), dtype=torch.float64)))


def _hull(v: torch.Tensor) -> torch.Tensor:
    """libplacebo's gamut-volume proxy ``v (v - 3)²`` (increasing on [0, 1])."""
    return v * (v - 3.0) * (v - 3.0)


def _fit_chroma_ictcp(rgb: torch.Tensor, peak: float, iterations: int = 20) -> torch.Tensor:
    """Reduce the ICtCp chroma of pixels with a component outside ``[0, peak]`` just enough.

    At constant ``I`` and hue the chroma is scaled by the largest factor in [0, 1] (found by
    bisection, ``iterations`` halvings) that brings every component into ``[0, peak]``; grey
    (factor 0) always fits because the curve keeps ``I`` at or below ``PQ(peak)``. Only the
    offending pixels are converted, so the cost follows their number.
    """
    slack = 1e-6 * peak  # rounding of the ICtCp round trip; the final fit clamps what is left
    bad = ((rgb > peak + slack) | (rgb < -slack)).any(dim=-3)
    if not bool(bad.any()):
        return rgb
    pixels = rgb.movedim(-3, -1)[bad]  # (n, 3)
    # No clamp: a slightly negative component (the chroma scaling can leave BT.2020) still has
    # positive cone responses, and clamping it would turn the hue.
    ictcp = rgb_to_ictcp(pixels.T.reshape(3, -1, 1))  # (3, n, 1)
    lo = torch.zeros_like(ictcp[0])
    hi = torch.ones_like(ictcp[0])

    def candidate(k: torch.Tensor) -> torch.Tensor:
        return ictcp_to_rgb(torch.stack([ictcp[0], ictcp[1] * k, ictcp[2] * k]))

    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        trial = candidate(mid)
        ok = ((trial <= peak + slack) & (trial >= -slack)).all(dim=0)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    fitted = candidate(lo).reshape(3, -1).T  # (n, 3)
    out = rgb.movedim(-3, -1).clone()
    out[bad] = fitted.to(out.dtype)
    return out.movedim(-1, -3)


def tonemap(
    x: torch.Tensor,
    curve: str | ToneCurve = "spline",
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    intensity: str = "ictcp",
    desat: float = 1.0,
    params: dict[str, Any] | None = None,
) -> torch.Tensor:
    """Tone-map working-space RGB with one global curve (see the module docstring).

    ============  =================================================  ====================
    Domain        ``x``: linear BT.2020 RGB, ``(*, 3, H, W)``          cd/m²
    Range         same shape, every component in [0, dst_peak_nits]    cd/m²
    ============  =================================================  ====================

    Args:
        x: any floating dtype/device (float16 is computed in float32).
        curve: a name of :data:`~hdrvideo.ops.curves.CURVES` or a :class:`ToneCurve`.
        src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits: the curve's range.
        intensity: ``"ictcp"``, ``"maxrgb"`` or ``"luminance"``.
        desat: Mantiuk's saturation exponent ``s`` in (0, 1].
        params: the curve's parameters (validated; ``None`` values take defaults).
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 3 or x.shape[-3] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(f"tonemap expects a (*, 3, H, W) tensor, got {shape}")
    if intensity not in INTENSITIES:
        raise InvalidInputError(f"unknown intensity {intensity!r}; valid: {', '.join(INTENSITIES)}")
    desat = float(desat)
    if not 0.0 < desat <= 1.0:
        raise InvalidInputError(f"desat must be in (0, 1], got {desat!r}")
    record = get_curve(curve) if isinstance(curve, str) else curve
    values = record.parse_params(params)
    kw = dict(src_peak_nits=src_peak_nits, dst_peak_nits=dst_peak_nits,
              src_black_nits=src_black_nits, dst_black_nits=dst_black_nits, **values)
    if linear_native.applies(x, desat):  # float32 CPU: one native pass
        if intensity == "ictcp":
            return linear_native.tonemap_ictcp(x, record, **kw)
        return linear_native.tonemap_gain(x, record, intensity=intensity, **kw)
    dtype = x.dtype
    v = x if dtype in (torch.float32, torch.float64) else x.float()
    tiny = 1e-20

    if intensity == "ictcp":
        ictcp = rgb_to_ictcp(v.clamp(min=0.0))
        i_in = ictcp[..., 0:1, :, :]
        i_out = eotf_inverse_ST2084(record.map(eotf_ST2084(i_in), **kw))
        factor = torch.minimum(i_in / i_out.clamp(min=tiny), _hull(i_out) / _hull(i_in).clamp(min=tiny))
        out = ictcp_to_rgb(torch.cat([i_out, ictcp[..., 1:, :, :] * factor], dim=-3))
        if desat != 1.0:
            y = luminance(out, "bt2020")
            out = torch.where(y > tiny, spow(out / y.clamp(min=tiny), desat) * y, out)
        out = _fit_chroma_ictcp(out, float(dst_peak_nits))
    else:
        if intensity == "maxrgb":
            level = v.amax(dim=-3, keepdim=True).clamp(min=0.0)
        else:
            level = luminance(v, "bt2020").clamp(min=0.0)
        mapped = record.map(level, **kw)
        safe = level.clamp(min=tiny)
        if desat == 1.0:
            scaled = v * (mapped / safe)
        else:
            scaled = spow(v / safe, desat) * mapped
        out = torch.where(level > tiny, scaled, mapped.expand_as(v))

    y = luminance(out, "bt2020")
    out = fit_toward_grey(out, y, lo=0.0, hi=float(dst_peak_nits))
    return out.to(dtype)


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def metadata_source(side_data: dict[str, Any] | None) -> tuple[float, float | None, str]:
    """Source peak (cd/m²), average (PQ or ``None``) and where they came from, from side data.

    Order (libplacebo ``PL_HDR_METADATA_ANY``): HDR10+ ``max(maxscl)`` of the first window
    (and its ``average_maxrgb`` as the average), MaxCLL, ST 2086 maximum luminance, else
    :data:`FALLBACK_SOURCE_PEAK_NITS`. Accepts the records of :mod:`hdrvideo.io.metadata`
    or their ``to_dict()`` forms.
    """
    side_data = side_data or {}
    plus = side_data.get("hdr10plus")
    windows = _field(plus, "windows")
    if windows:
        first = windows[0]
        maxscl = _field(first, "maxscl_nits") or ()
        peak = max((float(v) for v in maxscl), default=0.0)
        if peak > 0:
            avg = _field(first, "average_maxrgb_nits")
            avg_pq = _pq(float(avg)) if avg else None
            return peak, avg_pq, "hdr10plus"
    cll = _field(side_data.get("content_light_level"), "max_cll_nits")
    if cll:
        return float(cll), None, "content_light_level"
    display = side_data.get("mastering_display")
    md = _field(display, "max_luminance_nits") if _field(display, "has_luminance") is not False else None
    if md:
        return float(md), None, "mastering_display"
    return FALLBACK_SOURCE_PEAK_NITS, None, "fallback"


def _curve_param_options() -> tuple[Option, ...]:
    """One option per distinct curve parameter (default ``None`` = the curve's default)."""
    seen: dict[str, tuple[Option, list[str]]] = {}
    for curve in CURVES.values():
        for p in curve.params:
            if p.name in seen:
                seen[p.name][1].append(curve.name)
            else:
                seen[p.name] = (p, [curve.name])
    options = []
    for name, (p, owners) in seen.items():
        if name in STATISTICS_PARAMS:
            auto = "; auto: from statistics"
        else:
            auto = f"; auto: {p.default:g}" if p.default is not None else ""
        options.append(Option(
            name, p.type, None, f"[{', '.join(owners)}] {p.help}{auto}",
            choices=p.choices, minimum=p.minimum, maximum=p.maximum,
        ))
    return tuple(options)


#: The options every display-targeting operator shares (``tonemap``, ``localtonemap``).
TARGET_OPTIONS: tuple[Option, ...] = (
    Option("target", str, "sdr", "output for: sdr | hdr10 | hlg", choices=TARGET_KINDS),
    Option("peak_nits", float, None, "target display peak, cd/m² (auto: 100 for sdr, 1000 for hdr10/hlg)",
           minimum=1.0, maximum=10000.0),
    Option("white_nits", float, None,
           "reference white of the output, cd/m², signalled to the writer (auto: peak for sdr, else 203)",
           minimum=1.0, maximum=10000.0),
)


#: The option that asks the writer to dither the quantisation to the output bit depth.
DITHER_OPTION = Option("dither", bool, False, "ask the writer to dither (side_data['dither'] = True)")


class DisplayTarget:
    """Mix-in for operators with :data:`TARGET_OPTIONS`: resolves the automatic levels,
    reports the output target the writer's signalling follows, and passes the
    :data:`DITHER_OPTION` request on in ``side_data["dither"]`` (put it before
    :class:`~hdrvideo.ops.base.Operator` in the bases)."""

    target: str
    peak_nits: float | None
    white_nits: float | None
    dither: bool = False

    def __call__(self, frame: Frame | torch.Tensor) -> Frame | torch.Tensor:
        out = super().__call__(frame)  # type: ignore[misc]  (Operator.__call__: a new side_data dict)
        if self.dither and isinstance(out, Frame):
            out.side_data["dither"] = True
        return out

    def resolve_target_levels(self) -> None:
        """Fill ``peak_nits`` / ``white_nits`` left automatic (see :data:`TARGET_OPTIONS`)."""
        if self.peak_nits is None:
            self.peak_nits = DEFAULT_PEAK_NITS[self.target]
        if self.white_nits is None:
            self.white_nits = self.peak_nits if self.target == "sdr" else min(HDR_REFERENCE_WHITE_NITS, self.peak_nits)

    def output_target(self) -> OutputTarget:
        return OutputTarget(self.target, float(self.peak_nits), float(self.white_nits))


def statistics_tracker(source_peak: str) -> TemporalStatistics | None:
    """The tracker for a ``source_peak`` choice: smoothed (libplacebo defaults), this frame's
    own statistics (``frame``: no smoothing, no scene logic), or none (``metadata``)."""
    if source_peak == "smoothed":
        return TemporalStatistics()
    if source_peak == "frame":
        return TemporalStatistics(period_frames=0.0, scene_low=0.0, scene_high=0.0)
    return None


@register
class Tonemap(DisplayTarget, Operator):
    """``tonemap``: global tone mapping to an SDR or lower-peak HDR display (see the module).

    Space: working space in, working space out (BT.2020 linear cd/m², every component in
    [0, peak]); :meth:`output_target` tells the writer what the output is for. Temporal:
    with ``source_peak`` ``"smoothed"`` (or ``"frame"``) the statistics tracker is the state
    (``reset``/``state_dict``/``load_state_dict`` delegate to it). Batches ``(N, 3, H, W)``
    go through the tracker frame by frame, in order, so a batch gives the numbers of the
    same frames one at a time.
    """

    name: ClassVar[str] = "tonemap"
    description: ClassVar[str] = "global tone mapping (BT.2390, spline, BT.2446a, ...) with temporally smoothed peak"
    temporal: ClassVar[bool] = True
    options: ClassVar[tuple[Option, ...]] = (
        Option("curve", str, "spline", "tone curve (hdrvideo.ops.curves.CURVES), or net (the tmnet network)",
               choices=(*CURVES, NET_CURVE)),
        *TARGET_OPTIONS,
        Option("black_nits", float, 0.0, "target display black, cd/m² (curve black point)",
               minimum=0.0, maximum=5.0),
        Option("source_peak", str, "smoothed", "source peak from: smoothed | frame | metadata",
               choices=SOURCE_PEAKS),
        Option("source_peak_nits", float, None, "fixed source peak, cd/m² (overrides the above)",
               minimum=1.0, maximum=10000.0),
        Option("intensity", str, "ictcp", "what the curve maps: ictcp (I, chroma scaled) | maxrgb | luminance",
               choices=INTENSITIES),
        Option("desat", float, 1.0, "saturation exponent s of C' = (C/L)^s L' (Mantiuk 2009), in (0, 1]",
               minimum=0.0, maximum=1.0),
        DITHER_OPTION,
        Option("param", float, None, "the curve's first parameter (FFmpeg-style generic param)"),
        Option("backend", str, None, "curve=net only: network engine auto | torch | onnxruntime | tensorrt",
               choices=BACKEND_CHOICES),
        *_curve_param_options(),
    )

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        if not self.desat > 0.0:
            raise InvalidInputError(f"tonemap: desat must be in (0, 1], got {self.desat}")
        #: ``curve=net``: the ``tmnet`` operator this one delegates to (``None`` otherwise).
        self.net: Operator | None = None
        if self.curve == NET_CURVE:
            from hdrvideo.ops.tmnet import TMNetOperator

            self.net = TMNetOperator.from_tonemap(self)
            self.peak_nits, self.white_nits = self.net.peak_nits, self.net.white_nits
            self.tracker, self.last_mapping = None, []
            return
        if self.backend is not None:
            raise InvalidInputError(f"tonemap: backend applies to curve=net only (curve is {self.curve})")
        self.curve_record = get_curve(self.curve)
        own = {p.name for p in self.curve_record.params}
        params: dict[str, Any] = {}
        for option in _curve_param_options():
            value = getattr(self, option.name)
            if value is not None and option.name not in own:
                raise InvalidInputError(
                    f"tonemap: curve {self.curve} has no parameter {option.name}; "
                    f"its parameters: {', '.join(own) or 'none'}"
                )
            if option.name in own:
                params[option.name] = value
        if self.param is not None:
            if not self.curve_record.params:
                raise InvalidInputError(f"tonemap: curve {self.curve} takes no parameter (param={self.param})")
            first = self.curve_record.params[0].name
            if params.get(first) is None:
                params[first] = self.param
        self.curve_params = self.curve_record.parse_params({k: v for k, v in params.items() if v is not None})
        self.user_params = {k for k, v in params.items() if v is not None}
        self.resolve_target_levels()
        if self.black_nits >= self.peak_nits:
            raise InvalidInputError(f"tonemap: black_nits {self.black_nits} must be below peak_nits {self.peak_nits}")
        self.tracker: TemporalStatistics | None = statistics_tracker(self.source_peak)
        #: What the last processed frame (or batch, one entry per frame) was mapped with.
        self.last_mapping: list[dict[str, Any]] = []

    # -- per-frame parameters ------------------------------------------------------------------
    def _frame_statistics(self, x: torch.Tensor, upstream: Any) -> FrameStatistics | None:
        if self.tracker is None:
            return None
        if self.source_peak == "smoothed" and isinstance(upstream, FrameStatistics):
            return upstream
        return self.tracker.observe(x)

    def mapping_for(self, x: torch.Tensor, side_data: dict[str, Any] | None, upstream: Any = None) -> dict[str, Any]:
        """The curve range and parameters for one ``(3, H, W)`` frame (updates the tracker)."""
        stats = self._frame_statistics(x, upstream)
        params = dict(self.curve_params)
        if stats is None:
            peak, avg_pq, source = metadata_source(side_data)
            logavg = None
        else:
            peak, avg_pq, logavg, source = stats.peak_nits, stats.avg_pq, stats.logavg_nits, self.source_peak
        if self.source_peak_nits is not None:
            peak, source = float(self.source_peak_nits), "source_peak_nits"
        peak = min(max(peak, self.peak_nits), 10000.0)
        for name, value in (("avg_pq", avg_pq), ("logavg_nits", logavg)):
            if name in params and name not in self.user_params and value is not None:
                params[name] = value
        return {
            "src_peak_nits": peak,
            "dst_peak_nits": float(self.peak_nits),
            "src_black_nits": 0.0,
            "dst_black_nits": float(self.black_nits),
            "params": params,
            "source": source,
        }

    # -- processing ---------------------------------------------------------------------------------
    def process(self, x: torch.Tensor, frame: Frame | None = None) -> torch.Tensor:
        if self.net is not None:
            return self.net.process(x, frame)
        if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidInputError(f"tonemap expects (3, H, W) or (N, 3, H, W), got {shape}")
        side_data = frame.side_data if frame is not None else {}
        upstream = side_data.get("statistics")
        frames: Sequence[torch.Tensor] = [x] if x.dim() == 3 else list(x)
        if not isinstance(upstream, (list, tuple)) or len(upstream) != len(frames):
            upstream = [upstream if x.dim() == 3 else None] * len(frames)
        outputs, mappings = [], []
        for f, up in zip(frames, upstream):
            m = self.mapping_for(f, side_data, up)
            mappings.append(m)
            outputs.append(tonemap(
                f, self.curve_record,
                src_peak_nits=m["src_peak_nits"], dst_peak_nits=m["dst_peak_nits"],
                src_black_nits=m["src_black_nits"], dst_black_nits=m["dst_black_nits"],
                intensity=self.intensity, desat=self.desat, params=m["params"],
            ))
        self.last_mapping = mappings
        return outputs[0] if x.dim() == 3 else torch.stack(outputs)

    # -- temporal state ---------------------------------------------------------------------------
    def reset(self) -> None:
        if self.net is not None:
            self.net.reset()
        if self.tracker is not None:
            self.tracker.reset()
        self.last_mapping = []

    def state_dict(self) -> dict[str, Any]:
        if self.net is not None:
            return self.net.state_dict()
        return {} if self.tracker is None else self.tracker.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.net is not None:
            self.net.load_state_dict(state)
        elif self.tracker is None:
            super().load_state_dict(state)
        else:
            self.tracker.load_state_dict(state)
