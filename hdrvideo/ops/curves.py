"""Global tone curves as a table of records (libplacebo's ``pl_tone_map_function`` style).

Each curve is one :class:`ToneCurve`: a name, a one-line description, the space it works in,
its parameters (:class:`~hdrvideo.ops.base.Option`, with ranges and defaults), ``map`` and,
where it exists, ``map_inverse``. The ``tonemap`` operator's options and ``hdrvideo filters``
are generated from :data:`CURVES`, so the documentation cannot drift from the code.

Every ``map`` is a plain torch function on a luminance or intensity tensor in cd/m² (any
shape, any floating dtype/device; float16 is computed in float32)::

    f(L, *, src_peak_nits, dst_peak_nits, src_black_nits=0, dst_black_nits=0, **params) -> L_out

Inputs outside ``[src_black_nits, src_peak_nits]`` are clamped into it first (so a curve
table may be sampled over the whole PQ range) and the output always lies in
``[dst_black_nits, dst_peak_nits]``. ``map_inverse`` takes the same keywords (they name the
*forward* mapping) and returns the input luminance for an output luminance in the
destination range. The curves are meant for ``src_peak_nits >= dst_peak_nits`` (tone mapping
down); the ``tonemap`` operator never asks for more.

=============  =======  ===============================================================  =========
curve          space    what                                                             inverse
=============  =======  ===============================================================  =========
``bt2390``     pq       ITU-R BT.2390-10 §5.4.1 EETF (hermite knee, black lift)          numeric
``spline``     pq       libplacebo's single-pivot hyperbolic spline around ``avg_pq``    exact
``bt2446a``    linear   ITU-R BT.2446-1 Method A (on luminance, BT.1886 output)          exact
``reinhard``   linear   Reinhard et al. 2002 global photographic operator, eq. 4         exact
``hable``      linear   Hable's "Uncharted 2" filmic curve (FFmpeg vf_tonemap)           exact
``mobius``     linear   Möbius roll-off above a linear part (FFmpeg vf_tonemap)          exact
``drago``      linear   Drago et al. 2003 adaptive logarithmic mapping, eq. 4            numeric
``clip``       linear   no compression: clamp into the destination range                 exact*
``linear``     linear   scale the source range onto the destination range (+ exposure)   exact
=============  =======  ===============================================================  =========

(* ``clip``'s inverse is the identity on the destination range.)

Laws (tested in ``tests/test_ops_curves.py`` for every curve): finite everywhere, monotone
non-decreasing, ``src_black -> dst_black`` (within 1e-3 cd/m²), ``src_peak -> dst_peak``
(within 1 %; exact for all curves here, because the output is clamped to the destination
range and every curve reaches it), identity when source and destination ranges are equal
for ``bt2390``, ``spline``, ``clip`` and ``linear``, and ``map_inverse(map(L)) == L`` where
``map`` is strictly increasing. Exceptions, documented on each curve: ``clip`` maps black
to ``max(src_black, dst_black)`` (it does not compensate black); ``reinhard``/``drago`` use
a log-average that defaults to BT.2408's 18 % grey (26 cd/m²) when no statistics are given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.color.sdr import eotf_BT1886, eotf_inverse_BT1886
from hdrvideo.errors import InvalidInputError
from hdrvideo.ops.base import Option

__all__ = [
    "CURVES",
    "DEFAULT_LOGAVG_NITS",
    "STATISTICS_PARAMS",
    "ToneCurve",
    "curve_bt2390",
    "curve_bt2446a",
    "curve_clip",
    "curve_drago",
    "curve_hable",
    "curve_linear",
    "curve_mobius",
    "curve_reinhard",
    "curve_spline",
    "get_curve",
]

#: Log-average luminance assumed when no statistics are given, cd/m²: the 18 % grey card of
#: ITU-R BT.2408-7 Table 1 (26 cd/m² when HDR reference white is 203 cd/m²).
DEFAULT_LOGAVG_NITS = 26.0

#: Curve parameters that the ``tonemap`` operator fills from frame statistics when the user
#: does not give them: ``avg_pq`` (spline pivot), ``logavg_nits`` (reinhard, drago key).
STATISTICS_PARAMS = ("avg_pq", "logavg_nits")


# -- shared helpers ------------------------------------------------------------------------------
def _float(L: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
    """Work in float32 for half types (PQ powers amplify half rounding), else in place."""
    if not isinstance(L, torch.Tensor):
        raise InvalidInputError(f"a tone curve maps a torch.Tensor, got {type(L).__name__}")
    if not L.is_floating_point():
        return L.to(torch.float32), torch.float32
    if L.dtype in (torch.float16, torch.bfloat16):
        return L.float(), L.dtype
    return L, L.dtype


def _range(src_peak: float, dst_peak: float, src_black: float, dst_black: float) -> tuple[float, float, float, float]:
    """Validate the four levels (cd/m²) and return them as floats."""
    values = []
    for name, v in (("src_peak_nits", src_peak), ("dst_peak_nits", dst_peak)):
        v = float(v)
        if not (0.0 < v <= 10000.0):
            raise InvalidInputError(f"{name} must be in (0, 10000] cd/m², got {v!r}")
        values.append(v)
    for name, v, peak in (("src_black_nits", src_black, values[0]), ("dst_black_nits", dst_black, values[1])):
        v = float(v)
        if not (0.0 <= v < peak):
            raise InvalidInputError(f"{name} must satisfy 0 <= black < peak ({peak}), got {v!r}")
        values.append(v)
    return values[0], values[1], values[2], values[3]


def _pq(nits: float) -> float:
    """Scalar PQ inverse EOTF, float64 (SMPTE ST 2084 eq. 5.2)."""
    return float(eotf_inverse_ST2084(torch.tensor(float(nits), dtype=torch.float64)))


def _smoothstep(edge0: float, edge1: float, x: float) -> float:
    """libplacebo ``pl_smoothstep``: Hermite step that also works with ``edge0 > edge1``."""
    if edge0 == edge1:
        return float(x >= edge0)
    t = min(max((x - edge0) / (edge1 - edge0), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def _mix(a: float, b: float, t: float) -> float:
    return a * (1.0 - t) + b * t


def _finish(out: torch.Tensor, dst_black: float, dst_peak: float, dtype: torch.dtype) -> torch.Tensor:
    return torch.nan_to_num(out, nan=dst_black).clamp(dst_black, dst_peak).to(dtype)


def _bisect(
    forward: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor, lo: float, hi: float, iterations: int = 64
) -> torch.Tensor:
    """Invert a non-decreasing ``forward`` on ``[lo, hi]`` by bisection (float64, element-wise).

    Returns the smallest ``x`` (to ``(hi - lo) / 2**iterations``) with ``forward(x) >= y``.
    """
    y64 = y.to(torch.float64)
    a = torch.full_like(y64, lo)
    b = torch.full_like(y64, hi)
    for _ in range(iterations):
        m = 0.5 * (a + b)
        above = forward(m) >= y64
        b = torch.where(above, m, b)
        a = torch.where(above, a, m)
    return 0.5 * (a + b)


# -- BT.2390 EETF ----------------------------------------------------------------------------------
def curve_bt2390(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    knee_offset: float = 0.5,
) -> torch.Tensor:
    """ITU-R BT.2390-10 §5.4.1 EETF, in PQ.

    With ``E' = PQ(L)``, ``LB``/``LW`` the source black/peak and ``Lmin``/``Lmax`` the target's:

    - ``E1 = (E' - PQ(LB)) / (PQ(LW) - PQ(LB))``; ``minLum``, ``maxLum`` likewise of
      ``PQ(Lmin)``, ``PQ(Lmax)``;
    - ``KS = 1.5 maxLum - 0.5`` (``(1 + knee_offset) maxLum - knee_offset``; 0.5 is the
      Recommendation, libplacebo's ``knee_offset`` generalises it);
    - ``E2 = E1`` below ``KS``, else the hermite spline
      ``P(T) = (2T³ - 3T² + 1) KS + (T³ - 2T² + T)(1 - KS) + (-2T³ + 3T²) maxLum``,
      ``T = (E1 - KS) / (1 - KS)``;
    - ``E3 = E2 + b (1 - E2)^4``, ``b = minLum`` (black level lift);
    - ``E4 = E3 (PQ(LW) - PQ(LB)) + PQ(LB)``; output ``PQ^-1(E4)``.

    ============  ===========================================  ==========================
    Domain        ``L``: luminance / intensity, any shape        cd/m²
    Range         mapped luminance, same shape                   cd/m², [dst_black, dst_peak]
    ============  ===========================================  ==========================

    The black-level step moves the peak by ``b (1 - maxLum)^4`` in PQ: up when the target
    black is above the source's (a fraction of a percent; the output is clamped to
    ``dst_peak``, as libplacebo clamps its LUT), down when it is below (e.g. 635 -> 48 cd/m²
    with source black 0.031 and target black 0: the peak lands at 47.5 cd/m²), as the
    Recommendation's formula gives. The
    spline is monotone (its tangents meet the Fritsch–Carlson bound exactly) and the lift is
    monotone while ``minLum < 1/4``.
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    x, dtype = _float(L)
    pb, pw = _pq(src_black), _pq(src_peak)
    span = pw - pb
    min_lum = (_pq(dst_black) - pb) / span
    max_lum = (_pq(dst_peak) - pb) / span
    ks = (1.0 + knee_offset) * max_lum - knee_offset

    e1 = ((eotf_inverse_ST2084(x.clamp(min=0.0)) - pb) / span).clamp(0.0, 1.0)
    if ks < 1.0:
        t = (e1 - ks) / (1.0 - ks)
        t2, t3 = t * t, t * t * t
        p = (2 * t3 - 3 * t2 + 1) * ks + (t3 - 2 * t2 + t) * (1 - ks) + (-2 * t3 + 3 * t2) * max_lum
        e2 = torch.where(e1 < ks, e1, p)
    else:
        e2 = e1
    e3 = e2 + min_lum * (1.0 - e2).clamp(min=0.0) ** 4
    e4 = e3 * span + pb
    return _finish(eotf_ST2084(e4), dst_black, dst_peak, dtype)


def _bt2390_inverse(L: torch.Tensor, **kw: Any) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(
        kw["src_peak_nits"], kw["dst_peak_nits"], kw.get("src_black_nits", 0.0), kw.get("dst_black_nits", 0.0)
    )
    x, dtype = _float(L)

    def forward(v: torch.Tensor) -> torch.Tensor:
        return curve_bt2390(eotf_ST2084(v), **kw).to(torch.float64)

    # Bisect in PQ so that dark values get the same relative precision as bright ones.
    target = x.to(torch.float64).clamp(dst_black, dst_peak)
    pq = _bisect(forward, target, _pq(src_black), _pq(src_peak))
    return eotf_ST2084(pq).clamp(src_black, src_peak).to(dtype)


# -- libplacebo spline -----------------------------------------------------------------------------
#: libplacebo ``PL_TONE_MAP_CONSTANTS`` used by the spline's knee picking.
KNEE_MINIMUM = 0.1
KNEE_MAXIMUM = 0.8
KNEE_DEFAULT = 0.4
SLOPE_TUNING = 1.5
SLOPE_OFFSET = 0.2


def _st2094_pick_knee(
    src_min: float, src_max: float, src_avg: float | None, dst_min: float, dst_max: float, adaptation_base: float
) -> tuple[float, float]:
    """libplacebo ``st2094_pick_knee`` (all in PQ): source and target pivot of the spline."""
    src_knee_min = _mix(src_min, src_max, KNEE_MINIMUM)
    src_knee_max = _mix(src_min, src_max, KNEE_MAXIMUM)
    dst_knee_min = _mix(dst_min, dst_max, KNEE_MINIMUM)
    dst_knee_max = _mix(dst_min, dst_max, KNEE_MAXIMUM)
    src_knee = src_avg if src_avg else _mix(src_min, src_max, KNEE_DEFAULT)
    src_knee = min(max(src_knee, src_knee_min), src_knee_max)
    target = (src_knee - src_min) / (src_max - src_min)
    adapted = _mix(dst_min, dst_max, target)
    tuning = 1.0 - _smoothstep(KNEE_MAXIMUM, KNEE_DEFAULT, target) * _smoothstep(KNEE_MINIMUM, KNEE_DEFAULT, target)
    adaptation = _mix(adaptation_base, 1.0, tuning)
    adaptation = _mix(1.0, adaptation, _smoothstep(dst_min, dst_knee_min, src_knee))
    dst_knee = _mix(src_knee, adapted, adaptation)
    dst_knee = min(max(dst_knee, dst_knee_min), dst_knee_max)
    return src_knee, dst_knee


def _spline_constants(
    src_peak: float, dst_peak: float, src_black: float, dst_black: float,
    contrast: float, avg_pq: float | None, knee_adaptation: float,
) -> tuple[float, float, float, float, float, float, float, float, float, float]:
    in_min, in_max, out_min, out_max = _pq(src_black), _pq(src_peak), _pq(dst_black), _pq(dst_peak)
    src_pivot, dst_pivot = _st2094_pick_knee(in_min, in_max, avg_pq, out_min, out_max, knee_adaptation)
    slope = (dst_pivot - out_min) / (src_pivot - in_min)
    ratio = in_max / out_max - 1.0
    ratio = min(max(SLOPE_TUNING * ratio, SLOPE_OFFSET), 1.0 + SLOPE_OFFSET)
    slope = slope ** ((1.0 - contrast) * ratio)
    a_min, a_max = in_min - src_pivot, in_max - src_pivot
    b_min, b_max = out_min - dst_pivot, out_max - dst_pivot
    pk = (slope * a_min - b_min) / (b_min * a_min)
    qk = (slope * a_max - b_max) / (b_max * a_max)
    return in_min, in_max, out_min, out_max, src_pivot, dst_pivot, slope, pk, qk, contrast


def curve_spline(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    contrast: float = 0.5,
    avg_pq: float | None = None,
    knee_adaptation: float = 0.4,
) -> torch.Tensor:
    """libplacebo's ``spline`` (``src/tone_mapping.c``): a single-pivot hyperbolic spline in PQ.

    The pivot is chosen from the scene average ``avg_pq`` (libplacebo ``st2094_pick_knee``,
    after SMPTE ST 2094-10): the source pivot is ``avg_pq`` clamped to 10–80 % of the source
    PQ range; the target pivot moves it toward the linearly rescaled position by
    ``knee_adaptation`` (0.4). The slope through the pivot is ``(dst_pivot - dst_min) /
    (src_pivot - src_min)`` raised to ``(1 - contrast) * clamp(1.5 (PQ(src)/PQ(dst) - 1),
    0.2, 1.2)``; below and above the pivot ``x -> slope x / (1 + k x)`` with ``k`` solved so
    that black maps to black and peak to peak (``Pk``, ``Qk``).

    ============  ===========================================  ==========================
    Domain        ``L``: luminance / intensity, any shape        cd/m²
    Range         mapped luminance, same shape                   cd/m², [dst_black, dst_peak]
    ============  ===========================================  ==========================

    Args:
        contrast: libplacebo ``spline_contrast`` (0–1.5, default 0.5).
        avg_pq: scene average in PQ (``FrameStatistics.avg_pq``); ``None`` uses libplacebo's
            own fallback, 40 % of the source PQ range (``knee_default``).
        knee_adaptation: libplacebo ``knee_adaptation`` (0–1, default 0.4).

    Equal source and destination ranges give the identity. ``map_inverse`` is exact (the
    hyperbola ``y = s x / (1 + k x)`` inverts to ``x = y / (s - k y)``).
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    x, dtype = _float(L)
    in_min, in_max, _, _, sp, dp, slope, pk, qk, _ = _spline_constants(
        src_peak, dst_peak, src_black, dst_black, contrast, avg_pq, knee_adaptation
    )
    v = eotf_inverse_ST2084(x.clamp(min=0.0)).clamp(in_min, in_max) - sp
    k = torch.where(v > 0, torch.full_like(v, qk), torch.full_like(v, pk))
    v = slope * v / (1.0 + k * v) + dp
    return _finish(eotf_ST2084(v), dst_black, dst_peak, dtype)


def _spline_inverse(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    contrast: float = 0.5,
    avg_pq: float | None = None,
    knee_adaptation: float = 0.4,
) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    x, dtype = _float(L)
    _, _, out_min, out_max, sp, dp, slope, pk, qk, _ = _spline_constants(
        src_peak, dst_peak, src_black, dst_black, contrast, avg_pq, knee_adaptation
    )
    w = eotf_inverse_ST2084(x.clamp(min=0.0)).clamp(out_min, out_max) - dp
    k = torch.where(w > 0, torch.full_like(w, qk), torch.full_like(w, pk))
    w = w / (slope - k * w) + sp
    return eotf_ST2084(w).clamp(src_black, src_peak).to(dtype)


# -- BT.2446 method A --------------------------------------------------------------------------------
def _rho(peak_nits: float) -> float:
    """BT.2446-1 Method A: ``rho = 1 + 32 (L / 10000)^(1/2.4)``."""
    return 1.0 + 32.0 * (peak_nits / 10000.0) ** (1 / 2.4)


#: BT.2446-1 Method A step 3 breakpoints and coefficients, as the Recommendation writes them.
_A_KNEE1, _A_KNEE2 = 0.7399, 0.9909
_A_LIN = 1.0770
_A_QUAD = (-1.1510, 2.7811, -0.6302)


def curve_bt2446a(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
) -> torch.Tensor:
    """ITU-R BT.2446-1 Method A tone-mapping curve, applied to one intensity value.

    1. ``Y' = ((L - LB) / (LW - LB))^(1/2.4)`` (the Recommendation's gamma pre-correction);
    2. ``Y'p = log(1 + (rho_HDR - 1) Y') / log(rho_HDR)``, ``rho = 1 + 32 (L_peak/10000)^(1/2.4)``;
    3. ``Y'c = 1.0770 Y'p`` (≤ 0.7399), ``-1.1510 Y'p² + 2.7811 Y'p - 0.6302`` (< 0.9909),
       ``0.5 Y'p + 0.5`` above;
    4. ``Y'SDR = (rho_SDR^Y'c - 1) / (rho_SDR - 1)``; output ``BT.1886(Y'SDR)`` with
       ``L_B = dst_black``, ``L_W = dst_peak`` (as libplacebo's ``bt2446a``).

    ============  ===========================================  ==========================
    Domain        ``L``: luminance / intensity, any shape        cd/m²
    Range         mapped luminance, same shape                   cd/m², [dst_black, dst_peak]
    ============  ===========================================  ==========================

    The Recommendation applies the curve to gamma-corrected luma ``Y'`` and then corrects
    chroma (``f = Y'SDR / (1.1 Y')``); here the curve maps the intensity chosen by the
    ``tonemap`` operator, which carries chroma itself. The two pieces of step 3 meet with a
    jump of +5.5e-4 at 0.7399 (as printed in the Recommendation): monotone, not continuous.
    ``map_inverse`` inverts every step exactly (within that jump); it is not BT.2446's
    separate inverse-tone-mapping operator.
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    x, dtype = _float(L)
    rho_hdr, rho_sdr = _rho(src_peak), _rho(dst_peak)
    e = ((x - src_black) / (src_peak - src_black)).clamp(0.0, 1.0)
    y = e.clamp(min=1e-30).pow(1 / 2.4) * (e > 0)
    yp = torch.log1p((rho_hdr - 1.0) * y) / math.log(rho_hdr)
    a2, a1, a0 = _A_QUAD
    yc = torch.where(
        yp <= _A_KNEE1, _A_LIN * yp, torch.where(yp < _A_KNEE2, (a2 * yp + a1) * yp + a0, 0.5 * yp + 0.5)
    )
    ysdr = (torch.pow(torch.full_like(yc, rho_sdr), yc) - 1.0) / (rho_sdr - 1.0)
    return _finish(eotf_BT1886(ysdr.clamp(0.0, 1.0), L_B=dst_black, L_W=dst_peak), dst_black, dst_peak, dtype)


def _bt2446a_inverse(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    x, dtype = _float(L)
    rho_hdr, rho_sdr = _rho(src_peak), _rho(dst_peak)
    ysdr = eotf_inverse_BT1886(x.clamp(dst_black, dst_peak), L_B=dst_black, L_W=dst_peak).clamp(0.0, 1.0)
    yc = torch.log1p((rho_sdr - 1.0) * ysdr) / math.log(rho_sdr)
    a2, a1, a0 = _A_QUAD
    c1 = _A_LIN * _A_KNEE1
    c2 = (a2 * _A_KNEE2 + a1) * _A_KNEE2 + a0
    # Solve a2 p² + a1 p + (a0 - yc) = 0 on the increasing branch (below the vertex).
    disc = (a1 * a1 - 4.0 * a2 * (a0 - yc)).clamp(min=0.0)
    quad = (-a1 + torch.sqrt(disc)) / (2.0 * a2)
    yp = torch.where(yc <= c1, yc / _A_LIN, torch.where(yc < c2, quad, (yc - 0.5) / 0.5)).clamp(0.0, 1.0)
    y = (torch.pow(torch.full_like(yp, rho_hdr), yp) - 1.0) / (rho_hdr - 1.0)
    e = y.clamp(0.0, 1.0).pow(2.4)
    return (e * (src_peak - src_black) + src_black).clamp(src_black, src_peak).to(dtype)


# -- Reinhard (global photographic operator) -----------------------------------------------------
def _reinhard_scale(
    src_peak: float, src_black: float, key: float, logavg_nits: float | None, burnout_nits: float | None
) -> tuple[float, float]:
    logavg = DEFAULT_LOGAVG_NITS if logavg_nits is None else float(logavg_nits)
    if not logavg > 0:
        raise InvalidInputError(f"logavg_nits must be > 0, got {logavg_nits!r}")
    scale = key / logavg
    white = (src_peak - src_black) if burnout_nits is None else max(float(burnout_nits) - src_black, 1e-6)
    return scale, scale * white


def curve_reinhard(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    key: float = 0.18,
    logavg_nits: float | None = None,
    burnout_nits: float | None = None,
) -> torch.Tensor:
    """Reinhard et al. 2002 global operator with burn-out (eq. 2 and 4).

    ``Lm = key / logavg * (L - LB)``, ``Lwhite = key / logavg * (burnout - LB)``,
    ``Ld = Lm (1 + Lm / Lwhite²) / (1 + Lm)``; output ``dst_black + Ld (dst_peak - dst_black)``,
    clamped (luminance above ``burnout_nits`` burns out to the display peak).

    Args:
        key: the "key" a of the paper (0.18 = middle grey; 0.09 low key, 0.36 high key).
        logavg_nits: the scene's log-average luminance (``FrameStatistics.logavg_nits``);
            ``None`` = :data:`DEFAULT_LOGAVG_NITS` (BT.2408 18 % grey, 26 cd/m²).
        burnout_nits: the smallest luminance mapped to pure white (the paper's ``L_white``);
            ``None`` = the source peak, so the peak maps to the display peak exactly.
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    x, dtype = _float(L)
    scale, white = _reinhard_scale(src_peak, src_black, key, logavg_nits, burnout_nits)
    lm = scale * (x.clamp(max=src_peak) - src_black).clamp(min=0.0)
    ld = lm * (1.0 + lm / (white * white)) / (1.0 + lm)
    return _finish(dst_black + ld * (dst_peak - dst_black), dst_black, dst_peak, dtype)


def _reinhard_inverse(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    key: float = 0.18,
    logavg_nits: float | None = None,
    burnout_nits: float | None = None,
) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    x, dtype = _float(L)
    scale, white = _reinhard_scale(src_peak, src_black, key, logavg_nits, burnout_nits)
    ld = ((x - dst_black) / (dst_peak - dst_black)).clamp(0.0, 1.0)
    # Lm² / W² + Lm (1 - Ld) - Ld = 0, positive root written without cancellation.
    one = 1.0 - ld
    lm = 2.0 * ld / (one + torch.sqrt(one * one + 4.0 * ld / (white * white)))
    return (lm / scale + src_black).clamp(src_black, src_peak).to(dtype)


# -- Hable / Mobius (FFmpeg vf_tonemap, libplacebo) -------------------------------------------------
#: Hable's "Uncharted 2" constants, as FFmpeg's vf_tonemap and libplacebo write them.
_HABLE = dict(A=0.15, B=0.50, C=0.10, D=0.20, E=0.02, F=0.30)


def _hable(x):
    A, B, C, D, E, F = (_HABLE[k] for k in "ABCDEF")
    return (x * (A * x + C * B) + D * E) / (x * (A * x + B) + D * F) - E / F


def _relative(src_peak: float, dst_peak: float, src_black: float, dst_black: float) -> tuple[float, float]:
    """libplacebo ``rescale``: input relative to the destination range; and the source peak."""
    span = dst_peak - dst_black
    return span, (src_peak - src_black) / span


def curve_hable(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
) -> torch.Tensor:
    """Hable's filmic curve (John Hable, "Uncharted 2", GDC 2010), as FFmpeg ``vf_tonemap``.

    ``h(x) = (x (A x + C B) + D E) / (x (A x + B) + D F) - E / F`` with A..F = 0.15, 0.50, 0.10,
    0.20, 0.02, 0.30; ``x`` is the input relative to the display range (1.0 = display peak,
    as FFmpeg's and libplacebo's normalisation), output ``h(x) / h(peak)`` of the display
    range, so the source peak maps to the display peak.
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    span, peak = _relative(src_peak, dst_peak, src_black, dst_black)
    x = ((v.clamp(max=src_peak) - src_black) / span).clamp(min=0.0)
    y = _hable(x) / _hable(peak)
    return _finish(dst_black + y * span, dst_black, dst_peak, dtype)


def _hable_inverse(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    span, peak = _relative(src_peak, dst_peak, src_black, dst_black)
    A, B, C, D, E, F = (_HABLE[k] for k in "ABCDEF")
    r = ((v - dst_black) / span).clamp(0.0, 1.0) * _hable(peak) + E / F
    # A (1 - r) x² + B (C - r) x + D (E - r F) = 0, positive root.
    a, b, c = A * (1.0 - r), B * (C - r), D * (E - r * F)
    x = (-b + torch.sqrt((b * b - 4.0 * a * c).clamp(min=0.0))) / (2.0 * a)
    return (x * span + src_black).clamp(src_black, src_peak).to(dtype)


def _mobius_constants(j: float, peak: float) -> tuple[float, float, float]:
    a = -j * j * (peak - 1.0) / (j * j - 2.0 * j + peak)
    b = (j * j - 2.0 * j * peak + peak) / max(peak - 1.0, 1e-6)
    scale = (b * b + 2.0 * b * j + j * j) / (b - a)
    return a, b, scale


def curve_mobius(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    transition: float = 0.3,
) -> torch.Tensor:
    """Möbius roll-off (FFmpeg ``vf_tonemap`` ``mobius``, libplacebo ``mobius``).

    Linear (``M(x) = x``) up to the transition point ``j`` of the display range, then
    ``M(x) = scale (x + a) / (x + b)`` with ``M(j) = j``, ``M'(j) = 1``, ``M(peak) = 1``.
    Keeps in-range contrast exactly, compresses only highlights; with ``peak <= 1`` (source
    not brighter than the display) it is the identity.

    Args:
        transition: ``j``, FFmpeg's ``param`` (0–0.99, default 0.3).
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    span, peak = _relative(src_peak, dst_peak, src_black, dst_black)
    x = ((v.clamp(max=src_peak) - src_black) / span).clamp(min=0.0)
    j = float(transition)
    if peak > 1.0 + 1e-6 and j < peak:
        a, b, scale = _mobius_constants(j, peak)
        x = torch.where(x <= j, x, scale * (x + a) / (x + b))
    return _finish(dst_black + x * span, dst_black, dst_peak, dtype)


def _mobius_inverse(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    transition: float = 0.3,
) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    span, peak = _relative(src_peak, dst_peak, src_black, dst_black)
    y = ((v - dst_black) / span).clamp(min=0.0, max=min(1.0, peak))
    j = float(transition)
    if peak > 1.0 + 1e-6 and j < peak:
        a, b, scale = _mobius_constants(j, peak)
        y = torch.where(y <= j, y, (scale * a - y * b) / (y - scale))
    return (y * span + src_black).clamp(src_black, src_peak).to(dtype)


# -- Drago ---------------------------------------------------------------------------------------------
def curve_drago(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    bias: float = 0.85,
    logavg_nits: float | None = None,
) -> torch.Tensor:
    """Drago et al. 2003, "Adaptive logarithmic mapping for displaying high contrast scenes", eq. 4.

    ``Lw = (L - LB) / logavg`` (world luminance over the world adaptation luminance),
    ``Lwmax`` the same of the source peak,
    ``Ld = log(Lw + 1) / log10(Lwmax + 1) / log(2 + 8 (Lw / Lwmax)^(log(bias) / log(0.5)))``,
    which is 1 at ``Lwmax`` (the paper's ``Ldmax * 0.01`` factor is replaced by the display
    range); output ``dst_black + Ld (dst_peak - dst_black)``.

    Args:
        bias: the bias power function's parameter ``b`` (0.5–1; 0.85 in the paper).
        logavg_nits: world adaptation luminance; ``None`` = :data:`DEFAULT_LOGAVG_NITS`.
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    logavg = DEFAULT_LOGAVG_NITS if logavg_nits is None else float(logavg_nits)
    if not logavg > 0:
        raise InvalidInputError(f"logavg_nits must be > 0, got {logavg_nits!r}")
    lmax = (src_peak - src_black) / logavg
    p = math.log(bias) / math.log(0.5)
    lw = ((v.clamp(max=src_peak) - src_black) / logavg).clamp(min=0.0)
    t = (lw / lmax).clamp(0.0, 1.0)
    ld = torch.log1p(lw) / math.log10(lmax + 1.0) / torch.log(2.0 + 8.0 * t.clamp(min=1e-30).pow(p) * (t > 0))
    return _finish(dst_black + ld * (dst_peak - dst_black), dst_black, dst_peak, dtype)


def _drago_inverse(L: torch.Tensor, **kw: Any) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(
        kw["src_peak_nits"], kw["dst_peak_nits"], kw.get("src_black_nits", 0.0), kw.get("dst_black_nits", 0.0)
    )
    x, dtype = _float(L)

    def forward(v: torch.Tensor) -> torch.Tensor:
        return curve_drago(v, **kw).to(torch.float64)

    out = _bisect(forward, x.to(torch.float64).clamp(dst_black, dst_peak), src_black, src_peak, iterations=80)
    return out.clamp(src_black, src_peak).to(dtype)


# -- clip / linear -----------------------------------------------------------------------------------
def curve_clip(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
) -> torch.Tensor:
    """No tone mapping: clamp into ``[dst_black, dst_peak]`` (libplacebo ``clip``).

    Black maps to ``max(src_black, dst_black)`` (no black-point compensation).
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    return _finish(v.clamp(src_black, src_peak), dst_black, dst_peak, dtype)


def _clip_inverse(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    return v.clamp(dst_black, dst_peak).clamp(src_black, src_peak).to(dtype)


def curve_linear(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    exposure_stops: float = 0.0,
) -> torch.Tensor:
    """Scale the source range onto the destination range in linear light, times ``2^stops``.

    ``dst_black + (L - src_black) 2^stops (dst_peak - dst_black) / (src_peak - src_black)``,
    clamped (positive stops clip the brightest ``1 - 2^-stops`` of the range).
    """
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    gain = 2.0 ** float(exposure_stops) * (dst_peak - dst_black) / (src_peak - src_black)
    return _finish(dst_black + (v.clamp(src_black, src_peak) - src_black) * gain, dst_black, dst_peak, dtype)


def _linear_inverse(
    L: torch.Tensor,
    *,
    src_peak_nits: float,
    dst_peak_nits: float,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    exposure_stops: float = 0.0,
) -> torch.Tensor:
    src_peak, dst_peak, src_black, dst_black = _range(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    v, dtype = _float(L)
    gain = 2.0 ** float(exposure_stops) * (dst_peak - dst_black) / (src_peak - src_black)
    return ((v.clamp(dst_black, dst_peak) - dst_black) / gain + src_black).clamp(src_black, src_peak).to(dtype)


# -- the table -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToneCurve:
    """One tone curve (a row of :data:`CURVES`).

    Attributes:
        name: as written in a filter string (``tonemap=curve=bt2390``).
        description: one line.
        space: ``"pq"`` (the curve is defined on PQ signal values) or ``"linear"`` (on linear
            light); either way ``map`` takes and returns cd/m².
        params: the curve's parameters; the first one is what the ``tonemap`` operator's
            generic ``param`` option sets (as FFmpeg's ``param``).
        map: ``f(L, *, src_peak_nits, dst_peak_nits, src_black_nits=0, dst_black_nits=0,
            **params) -> L_out``.
        map_inverse: the inverse with the same keywords, or ``None``.
    """

    name: str
    description: str
    space: str
    params: tuple[Option, ...]
    map: Callable[..., torch.Tensor]
    map_inverse: Callable[..., torch.Tensor] | None = None

    def parse_params(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate ``values`` against :attr:`params`; return every param with its value.

        ``None`` values take the default. Unknown names raise :class:`InvalidInputError`
        with the list of valid ones.
        """
        values = dict(values or {})
        known = {o.name: o for o in self.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InvalidInputError(
                f"curve {self.name}: unknown parameter {', '.join(unknown)}; valid: {', '.join(known) or 'none'}"
            )
        out = {}
        for option in self.params:
            raw = values.get(option.name)
            out[option.name] = option.parse(option.default if raw is None else raw)
        return out

    def __call__(self, L: torch.Tensor, *, src_peak_nits: float, dst_peak_nits: float,
                 src_black_nits: float = 0.0, dst_black_nits: float = 0.0, **params: Any) -> torch.Tensor:
        """``map`` with validated parameters."""
        return self.map(L, src_peak_nits=src_peak_nits, dst_peak_nits=dst_peak_nits,
                        src_black_nits=src_black_nits, dst_black_nits=dst_black_nits, **self.parse_params(params))

    def inverse(self, L: torch.Tensor, *, src_peak_nits: float, dst_peak_nits: float,
                src_black_nits: float = 0.0, dst_black_nits: float = 0.0, **params: Any) -> torch.Tensor:
        """``map_inverse`` with validated parameters (raises when the curve has none)."""
        if self.map_inverse is None:
            raise InvalidInputError(f"curve {self.name} has no inverse")
        return self.map_inverse(L, src_peak_nits=src_peak_nits, dst_peak_nits=dst_peak_nits,
                                src_black_nits=src_black_nits, dst_black_nits=dst_black_nits,
                                **self.parse_params(params))


_LOGAVG_HELP = "scene log-average, cd/m² (none given: 26, BT.2408 18% grey)"


def _opt(name: str, default: Any, help: str, minimum: float | None = None, maximum: float | None = None) -> Option:
    return Option(name, float, default, help, minimum=minimum, maximum=maximum)


CURVES: dict[str, ToneCurve] = {
    c.name: c
    for c in (
        ToneCurve(
            "bt2390", "ITU-R BT.2390 EETF: hermite-spline knee in PQ, black level lift", "pq",
            (_opt("knee_offset", 0.5, "knee KS = (1 + o) maxLum - o; 0.5 = BT.2390 (libplacebo: 1.0)", 0.5, 2.0),),
            curve_bt2390, _bt2390_inverse,
        ),
        ToneCurve(
            "spline", "libplacebo's single-pivot hyperbolic spline in PQ around the scene average", "pq",
            (
                _opt("contrast", 0.5,
                     "libplacebo spline_contrast: higher = steeper at the pivot (toward clip), lower = toward linear",
                     0.0, 1.5),
                _opt("avg_pq", None, "pivot: scene average in PQ (none given: 40% of the PQ range)",
                     0.0, 1.0),
                _opt("knee_adaptation", 0.4, "0 = keep source pivot brightness, 1 = rescale it linearly",
                     0.0, 1.0),
            ),
            curve_spline, _spline_inverse,
        ),
        ToneCurve(
            "bt2446a", "ITU-R BT.2446-1 Method A (log curve, 3-piece knee, BT.1886 output)", "linear",
            (), curve_bt2446a, _bt2446a_inverse,
        ),
        ToneCurve(
            "reinhard", "Reinhard 2002 global photographic operator with burn-out white", "linear",
            (
                _opt("key", 0.18, "key value a: display value of the log-average (0.18 = mid grey)", 1e-3, 1.0),
                _opt("logavg_nits", None, _LOGAVG_HELP, 1e-4, 10000.0),
                _opt("burnout_nits", None, "smallest luminance shown as white, cd/m² (none given: the source peak)",
                     1e-3, 10000.0),
            ),
            curve_reinhard, _reinhard_inverse,
        ),
        ToneCurve("hable", "Hable's Uncharted 2 filmic curve (FFmpeg vf_tonemap)", "linear", (),
                  curve_hable, _hable_inverse),
        ToneCurve(
            "mobius", "linear below a transition point, Mobius roll-off above (FFmpeg vf_tonemap)", "linear",
            (_opt("transition", 0.3, "end of the linear part, fraction of the display peak", 0.0, 0.99),),
            curve_mobius, _mobius_inverse,
        ),
        ToneCurve(
            "drago", "Drago 2003 adaptive logarithmic mapping", "linear",
            (
                _opt("bias", 0.85, "bias power function parameter b (0.85 in the paper)", 0.5, 1.0),
                _opt("logavg_nits", None, _LOGAVG_HELP, 1e-4, 10000.0),
            ),
            curve_drago, _drago_inverse,
        ),
        ToneCurve("clip", "no compression: clamp to the display range", "linear", (),
                  curve_clip, _clip_inverse),
        ToneCurve(
            "linear", "scale the source range onto the display range in linear light", "linear",
            (_opt("exposure_stops", 0.0, "extra gain in stops (positive clips highlights)", -10.0, 10.0),),
            curve_linear, _linear_inverse,
        ),
    )
}


def get_curve(name: str) -> ToneCurve:
    """The :class:`ToneCurve` called ``name``; :class:`InvalidInputError` lists the valid names."""
    try:
        return CURVES[name]
    except (KeyError, TypeError):
        raise InvalidInputError(f"unknown tone curve {name!r}; valid: {', '.join(CURVES)}") from None
