"""The fused CPU hot path: HDR10 Y'CbCr 4:2:0 -> SDR (or lower-peak HDR10) Y'CbCr 4:2:0.

The generic route (``frame_to_working`` -> operators -> ``working_to_frame``) touches every
pixel many times in float32 at full resolution (about 300 ms per 1080p frame on two cores).
For the most common job, HDR10 -> SDR with a global tone curve, this module does it in one
pass over the 10-bit codes, after jellyfin's fused ``tonemapx`` filter (``../shared/DESIGN.md``,
"The hot path (CPU)"): about 8.5 ms per 1080p frame natively on two cores, and the same
codes as the generic chain within one code value (measured in ``tests/test_ops_fused.py``).

Per pair of luma rows (rows split across OpenMP threads), in tiles of 256 pixels::

    10/12-bit codes -> Y', Cb, Cr                        (D - offset) * scale (BT.2100 Table 9)
    -> R', G', B' = Y' + chroma terms, clamped to [0, 1]                BT.2020 NCL matrix
    -> R, G, B (cd/m²) = EOTF table at R', G', B'                       PQ, SMPTE ST 2084
    -> gain = curve table at max(R', G', B')  (= PQ(max(R, G, B)): no per-pixel PQ needed)
       [intensity="luminance": at (Y / 10000)^(1/4), Y the BT.2020 luminance of R, G, B]
    -> R, G, B *= gain                     (curve(I) / I: the ratios of R, G, B are kept)
    -> above the peak: toward grey         (only the luminance intensity gets there; below)
    -> 3x3 linear matrix                   BT.2020 -> BT.709 (SDR), identity (HDR10)
    -> negative components: clip or desaturate (below)
    -> R', G', B' = OETF table at (L / peak)^(1/2) (SDR) or (L / peak)^(1/4) (PQ)
    -> Y' per pixel; Cb, Cr from the output R'G'B' filtered to 4:2:0     BT.709 / BT.2020 NCL
    -> code values, optional dither, round half up, clamp, write 8 or 10 bits.

**Tables.** Every transfer goes through a float32 table built here in float64 and rounded
once, shared by the native kernel and the torch path. Each table has ``n`` intervals over
the index domain [0, 1] and is stored as ``(n, 2)``: the value at the left node and the
step to the right node (the kernel fetches both with one 64-bit gather). Lookup, the one
formula both paths use::

    p = x * n;  i = min(int(p), n - 1);  f = p - i;  value = T[i, 0] + f * T[i, 1]

============  =======  ========================================  ==============================  ==========================
table         n        index ``x``                               value                           interpolation error
============  =======  ========================================  ==============================  ==========================
``eotf``      4096     the non-linear R', G' or B' (PQ signal)   cd/m² (ST 2084 EOTF)            < 0.05 PQ code (10-bit),
                                                                                                 < 0.002 above PQ 0.01
``curve``     1024     maxrgb: ``PQ(I)`` = max(R', G', B');       gain ``curve(I) / I`` at the    < 0.001 8-bit code
                       luminance: ``(Y / 10000)^(1/4)``          nodes ``I``
``oetf``      1024     SDR: ``sqrt(L / L_W)``;                    SDR: BT.1886 inverse,           < 0.05 8-bit code (SDR),
                       HDR10: ``(L / L_peak)^(1/4)``              ``L_B = 0``; HDR10: PQ           < 0.002 10-bit code (PQ)
============  =======  ========================================  ==============================  ==========================

The index domains spend entries where the functions bend: PQ is perceptually uniform, so
the EOTF and curve tables are indexed by the PQ signal itself; the output tables by a root
of linear light (BT.1886 becomes ``s^(1/1.2)``, PQ near black ``s^0.64``, both gentle). The
three tables (48 KiB) stay in L1/L2. The curve table is rebuilt every frame from the
temporally smoothed peak by evaluating ``CURVES[name].map`` on its nodes (under 1 ms), so
every curve of :mod:`hdrvideo.ops.curves` works here; :attr:`FusedTables.curve_nits` keeps
the mapped intensity at the nodes (monotone).

**Gamut.** As the generic ``tonemap`` operator, a colour above the peak (possible with the
luminance intensity) moves toward the grey of its BT.2020 luminance, ``c' = g + t (c - g)``,
just enough that its largest component is the peak (``fit_toward_grey``). Overshoots below
:data:`GAMUT_DEAD_BAND` (6e-5 relative) are left to the OETF's clip instead: the gain
table's interpolation overshoots the peak by up to 1.3e-5 in maxrgb mode, and desaturating
for that would lift a dark channel by whole PQ codes. After the BT.709 matrix, negative
components (BT.2020 colours outside BT.709) are either clipped (``gamut="clip"``, what the
writer does when no gamut operator ran) or desaturated toward the grey of the luminance
until the smallest component is 0 (``gamut="desaturate"``, the cheap gamut fallback, as
``gamut=mode=desaturate``: luminance and hue kept, saturation given up only where BT.709
cannot show it; one division per affected pixel).

**Chroma.** ``chroma="bilinear"`` (default) interpolates each pixel's chroma as
:func:`~hdrvideo.io.convert.upsample_chroma` does ("left" siting, rows centred; exact in
float32 since the weights are quarters) and filters the output chroma as
:func:`~hdrvideo.io.convert.downsample_chroma` ([1, 2, 1] / 4 on even columns, mean of the
row pair): the generic path's numbers. ``chroma="block"`` is jellyfin's 2x2 block design:
the block's chroma for its four pixels, output chroma the mean of the four, about 12 %
faster, but at sharp colour edges it differs from the generic path by several codes
(mean |dY| 0.5, 99th percentile 6 codes on a CGI frame).

**Dither.** ``"none"``, ``"ordered"`` (8x8 Bayer, ±0.5 code, the same pattern every frame:
no temporal noise for the encoder to spend bits on) or ``"tpdf"`` (triangular noise in
(-1, 1) code, as the writer's dither, from an integer hash (lowbias32) of the frame seed and
the sample's position in the frame: independent of threads and tiling, so the same input
and seed give the same bytes).

**Exactness.** The torch path evaluates the same IEEE float32 operations in the same order,
so the two agree bit for bit (the tests require one code value): the native module is built
with ``-ffp-contract=off`` (no FMA), its AVX2 version (chosen at run time) and its scalar
version round identically, the torch path takes square roots through float64 (torch's
float32 ``sqrt`` on CPU is not correctly rounded) and never divides a Python scalar by a
tensor (torch computes that as a multiplication by the reciprocal).

**Statistics** for the dynamic peak are measured on the pixels the generic operator reads
(:func:`hdrvideo.ops.stats.subsample_grid`, every 4th row and column), decoded from the
planes with the kernel's own conversion (:func:`sample_linear`, under 1 ms natively), and
smoothed by the ``tonemap`` operator's own tracker: each frame is mapped with statistics
that include it (frame-exact), without a second full-resolution pass.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from hdrvideo.color.luminance import luminance_weights
from hdrvideo.color.lut import node_table as _table, table_lookup
from hdrvideo.color.pq import PQ_PEAK_NITS, eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.color.primaries import rgb_to_rgb_matrix
from hdrvideo.color.sdr import eotf_inverse_BT1886
from hdrvideo.color.ycbcr import YCBCR_WEIGHTS, code_scales, ycbcr_matrix
from hdrvideo.errors import InvalidInputError, UnsupportedError
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.native import native_module
from hdrvideo.io.chroma import downsample_chroma, linear_positions, upsample_chroma
from hdrvideo.io.dither import MASK32 as _MASK32, lowbias32, quantise, tpdf_noise as _tpdf_noise
from hdrvideo.io.native_convert import decode_table

__all__ = [
    "CHROMAS",
    "COEFFICIENTS",
    "CURVE_SIZE",
    "DITHERS",
    "EOTF_SIZE",
    "FUSED_INPUT_FORMATS",
    "FusedTables",
    "FusedTonemapper",
    "GAMUTS",
    "GAMUT_DEAD_BAND",
    "INTENSITIES",
    "OETF_SIZE",
    "SampleGrid",
    "TARGETS",
    "build_tables",
    "curve_nodes",
    "gain_table",
    "native_available",
    "sample_linear",
    "supports",
    "table_lookup",
    "tonemap_yuv420",
    "tonemap_yuv420_native",
    "tonemap_yuv420_torch",
    "unsupported_reason",
]

#: Intervals of each table (see the module docstring).
EOTF_SIZE = 4096
CURVE_SIZE = 1024
OETF_SIZE = 1024

#: Names of the float32 constants handed to the kernel, in the order of ``enum Coeff`` in
#: ``native/tonemap_yuv.cpp``.
COEFFICIENTS: tuple[str, ...] = (
    "in_y_off", "in_y_scale", "in_c_off", "in_c_scale",
    "in_cr_r", "in_cb_g", "in_cr_g", "in_cb_b",
    "in_lum_r", "in_lum_g", "in_lum_b",
    "curve_inv_scale",
    "m00", "m01", "m02", "m10", "m11", "m12", "m20", "m21", "m22",
    "out_lum_r", "out_lum_g", "out_lum_b",
    "peak_nits",
    "gamut_high_nits",
    "oetf_inv_scale",
    "out_y_r", "out_y_g", "out_y_b",
    "out_cb_r", "out_cb_g", "out_cb_b",
    "out_cr_r", "out_cr_g", "out_cr_b",
    "out_y_scale", "out_y_off", "out_c_scale", "out_c_off",
    "out_max_code",
)

TARGETS = ("sdr", "hdr10")
INTENSITIES = ("maxrgb", "luminance")
GAMUTS = ("desaturate", "clip")
CHROMAS = ("bilinear", "block")
DITHERS = ("none", "ordered", "tpdf")
BACKENDS = ("auto", "native", "torch")
_DITHER_CODES = {"none": 0, "ordered": 1, "tpdf": 2}

#: Relative overshoot above the peak left to the OETF's clip rather than desaturated toward
#: grey: the gain table's interpolation overshoots the peak by up to 1.3e-5 (every curve of
#: CURVES, measured), which must not count as an out-of-range colour (module docstring).
GAMUT_DEAD_BAND = 2.0**-14


#: 8x8 Bayer index matrix (the same as ``kBayer8`` in the kernel).
BAYER8 = (
    (0, 32, 8, 40, 2, 34, 10, 42),
    (48, 16, 56, 24, 50, 18, 58, 26),
    (12, 44, 4, 36, 14, 46, 6, 38),
    (60, 28, 52, 20, 62, 30, 54, 22),
    (3, 35, 11, 43, 1, 33, 9, 41),
    (51, 19, 59, 27, 49, 17, 57, 25),
    (15, 47, 7, 39, 13, 45, 5, 37),
    (63, 31, 55, 23, 61, 29, 53, 21),
)


def _choose(kind: str, value: str, valid: Sequence[str]) -> str:
    if value not in valid:
        raise InvalidInputError(f"unknown {kind} {value!r}; valid: {', '.join(valid)}")
    return value


# -- tables -----------------------------------------------------------------------------------
def _sqrt(x: torch.Tensor) -> torch.Tensor:
    """Correctly rounded float32 square root.

    torch's float32 ``sqrt`` on CPU (MKL VML) is not correctly rounded (about one result in
    five is one ulp off), whereas the kernel's ``sqrtps`` is. Going through float64 is
    exact: a float64 root within one float64 ulp never crosses a float32 rounding boundary.
    """
    return x.double().sqrt().to(torch.float32)


def _grid(n: int) -> torch.Tensor:
    return torch.arange(n + 1, dtype=torch.float64) / n


@functools.lru_cache(maxsize=16)
def _oetf_table(target: str, peak_nits: float, n: int) -> torch.Tensor:
    """SDR: BT.1886 inverse with ``L_W = peak_nits``, ``L_B = 0`` (what the writer encodes,
    :func:`hdrvideo.color.transfer.encode_transfer`); HDR10: PQ. Index: root of ``L / peak``."""
    s = _grid(n)
    if target == "sdr":
        signal = eotf_inverse_BT1886(peak_nits * s * s, L_B=0.0, L_W=peak_nits)
    else:
        signal = eotf_inverse_ST2084(peak_nits * s**4)
    return _table(signal.clamp(0.0, 1.0))


def _resolve_curve(curve: Any) -> tuple[str, Callable[..., torch.Tensor]]:
    """``"bt2390"`` (a name of ``CURVES``), a record with ``.map``, or a callable."""
    if isinstance(curve, str):
        from hdrvideo.ops.curves import get_curve

        return curve, get_curve(curve).map
    if hasattr(curve, "map"):
        return str(getattr(curve, "name", type(curve).__name__)), curve.map
    if callable(curve):
        return getattr(curve, "__name__", "custom"), curve
    raise InvalidInputError(f"curve must be a name, a curve record or a callable, got {type(curve).__name__}")


def curve_nodes(
    curve: Any,
    src_peak_nits: float,
    dst_peak_nits: float,
    *,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    params: dict[str, Any] | None = None,
    intensity: str = "maxrgb",
    size: int = CURVE_SIZE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and mapped intensity (cd/m², float64) at the ``size + 1`` nodes of the curve table.

    The nodes are ``PQ^-1(k / size)`` (``intensity="maxrgb"``) or ``10000 (k / size)^4``
    (``"luminance"``), ``k = 0 .. size``; ``params`` go to the curve's ``map`` as keywords.
    """
    _, fn = _resolve_curve(curve)
    x = _grid(size)
    if intensity == "maxrgb":
        nodes = eotf_ST2084(x)
    else:
        nodes = PQ_PEAK_NITS * x**4
    mapped = fn(
        nodes,
        src_peak_nits=float(src_peak_nits),
        dst_peak_nits=float(dst_peak_nits),
        src_black_nits=float(src_black_nits),
        dst_black_nits=float(dst_black_nits),
        **(params or {}),
    )
    mapped = torch.as_tensor(mapped, dtype=torch.float64).reshape(nodes.shape)
    if not bool(torch.isfinite(mapped).all()):
        raise InvalidInputError("the tone curve returned non-finite values")
    return nodes, mapped


def gain_table(nodes: torch.Tensor, mapped: torch.Tensor) -> torch.Tensor:
    """The ``(n, 2)`` table (:mod:`hdrvideo.color.lut`) of ``curve(I) / I`` from :func:`curve_nodes`
    (also read by the linear-frame kernel, :func:`hdrvideo.ops.linear_native.tonemap_gain`)."""
    gain = torch.where(nodes > 0, mapped / nodes.clamp(min=1e-30), torch.zeros_like(nodes))
    # At I = 0 the gain is the limit of curve(I) / I: take the first positive node's value.
    first = int(torch.nonzero(nodes > 0)[0])
    gain[:first] = gain[first]
    return _table(gain)


@dataclass(frozen=True)
class FusedTables:
    """Everything the fused kernel needs for one frame (float32, CPU, contiguous).

    Attributes:
        eotf: ``(EOTF_SIZE, 2)``: PQ signal -> cd/m².
        curve: ``(CURVE_SIZE, 2)``: curve index (see ``intensity``) -> gain ``curve(I) / I``.
        oetf: ``(OETF_SIZE, 2)``: ``(L / dst_peak_nits)^(1/oetf_root)`` -> output signal 0-1.
        coefficients: ``(len(COEFFICIENTS),)`` float32 constants (matrices, code scales).
        curve_nits: ``(CURVE_SIZE + 1,)`` float64: the mapped intensity at the curve nodes, cd/m².
        curve_input_nits: ``(CURVE_SIZE + 1,)`` float64: the node intensities, cd/m².
        target, intensity, out_bits, out_range, oetf_root, gamut, chroma: what the kernel does.
        curve_name, src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits, params:
            the curve the ``curve`` table holds.
    """

    eotf: torch.Tensor
    curve: torch.Tensor
    oetf: torch.Tensor
    coefficients: torch.Tensor
    curve_nits: torch.Tensor
    curve_input_nits: torch.Tensor
    target: str
    intensity: str
    out_bits: int
    out_range: str
    oetf_root: int
    gamut: str
    chroma: str
    curve_name: str
    src_peak_nits: float
    dst_peak_nits: float
    src_black_nits: float = 0.0
    dst_black_nits: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    _arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def coefficient(self, name: str) -> float:
        """One constant by its name in :data:`COEFFICIENTS`."""
        return float(self.coefficients[COEFFICIENTS.index(name)])

    def numpy(self, name: str) -> np.ndarray:
        """``eotf``, ``curve``, ``oetf`` or ``coefficients`` as float32 numpy (cached, shared memory)."""
        array = self._arrays.get(name)
        if array is None:
            array = np.ascontiguousarray(getattr(self, name).numpy(), dtype=np.float32)
            self._arrays[name] = array
        return array

    def with_curve(
        self,
        curve: Any,
        src_peak_nits: float,
        *,
        src_black_nits: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> "FusedTables":
        """The same tables with the curve table rebuilt (once per frame: a new source peak).

        Costs one evaluation of the curve on ``CURVE_SIZE + 1`` nodes (well under 1 ms).
        """
        src_black = self.src_black_nits if src_black_nits is None else float(src_black_nits)
        _check_levels(src_peak_nits, self.dst_peak_nits, src_black, self.dst_black_nits)
        name, _ = _resolve_curve(curve)
        nodes, mapped = curve_nodes(
            curve, src_peak_nits, self.dst_peak_nits, src_black_nits=src_black,
            dst_black_nits=self.dst_black_nits, params=params, intensity=self.intensity,
            size=self.curve.shape[0],
        )
        return dataclasses.replace(
            self, curve=gain_table(nodes, mapped), curve_nits=mapped, curve_input_nits=nodes,
            curve_name=name, src_peak_nits=float(src_peak_nits), src_black_nits=src_black,
            params=dict(params or {}), _arrays={},
        )


def _check_levels(src_peak: float, dst_peak: float, src_black: float, dst_black: float) -> None:
    if not (0 < float(src_peak) <= PQ_PEAK_NITS and 0 < float(dst_peak) <= PQ_PEAK_NITS):
        raise InvalidInputError(f"peaks must be in (0, 10000] cd/m², got {src_peak} and {dst_peak}")
    if not (0 <= float(src_black) < float(src_peak) and 0 <= float(dst_black) < float(dst_peak)):
        raise InvalidInputError("black levels must be >= 0 and below their peaks")


def _coefficients(
    *, target: str, dst_peak_nits: float, in_bits: int, in_range: str, in_matrix: str, out_bits: int,
    out_range: str,
) -> torch.Tensor:
    values: dict[str, float] = {}
    ys, yo, cs, co = code_scales(in_bits, in_range)
    values.update(in_y_off=yo, in_y_scale=1 / ys, in_c_off=co, in_c_scale=1 / cs)
    kr, kb = YCBCR_WEIGHTS[in_matrix]
    kg = 1 - kr - kb
    values.update(
        in_cr_r=2 * (1 - kr), in_cb_g=-2 * kb * (1 - kb) / kg, in_cr_g=-2 * kr * (1 - kr) / kg, in_cb_b=2 * (1 - kb)
    )
    for name, w in zip(("in_lum_r", "in_lum_g", "in_lum_b"), luminance_weights("bt2020").tolist()):
        values[name] = w
    values["curve_inv_scale"] = 1 / PQ_PEAK_NITS
    out_primaries, out_matrix = ("bt709", "bt709") if target == "sdr" else ("bt2020", "bt2020nc")
    if out_primaries == "bt2020":
        matrix = torch.eye(3, dtype=torch.float64)
    else:
        matrix = rgb_to_rgb_matrix("bt2020", out_primaries)
    for i in range(3):
        for j in range(3):
            values[f"m{i}{j}"] = float(matrix[i, j])
    for name, w in zip(("out_lum_r", "out_lum_g", "out_lum_b"), luminance_weights(out_primaries).tolist()):
        values[name] = w
    values["peak_nits"] = dst_peak_nits
    values["gamut_high_nits"] = dst_peak_nits * (1 + GAMUT_DEAD_BAND)
    values["oetf_inv_scale"] = 1 / dst_peak_nits
    ycc = ycbcr_matrix(out_matrix)
    for row, prefix in enumerate(("out_y", "out_cb", "out_cr")):
        for col, channel in enumerate("rgb"):
            values[f"{prefix}_{channel}"] = float(ycc[row, col])
    ys, yo, cs, co = code_scales(out_bits, out_range)
    values.update(out_y_scale=ys, out_y_off=yo, out_c_scale=cs, out_c_off=co)
    values["out_max_code"] = 2**out_bits - 1
    return torch.tensor([float(values[name]) for name in COEFFICIENTS], dtype=torch.float32)


def build_tables(
    curve: Any,
    src_peak_nits: float,
    dst_peak_nits: float,
    target: str = "sdr",
    *,
    src_black_nits: float = 0.0,
    dst_black_nits: float = 0.0,
    params: dict[str, Any] | None = None,
    intensity: str = "maxrgb",
    gamut: str = "desaturate",
    chroma: str = "bilinear",
    in_bits: int = 10,
    in_range: str = "limited",
    in_matrix: str = "bt2020nc",
    out_bits: int | None = None,
    out_range: str = "limited",
    eotf_size: int = EOTF_SIZE,
    curve_size: int = CURVE_SIZE,
    oetf_size: int = OETF_SIZE,
) -> FusedTables:
    """Build the lookup tables and constants of the fused kernel.

    Args:
        curve: a name of :data:`hdrvideo.ops.curves.CURVES` (``"bt2390"``), a curve record
            with ``.map``, or a callable ``f(L, *, src_peak_nits, dst_peak_nits,
            src_black_nits, dst_black_nits, **params)`` on float64 tensors in cd/m².
        src_peak_nits: source peak the curve maps from, cd/m² (per frame: the smoothed peak).
        dst_peak_nits: display peak, cd/m²; for ``"sdr"`` also the BT.1886 white ``L_W``
            (code value 1.0), as the writer's SDR signalling (``pipeline.output_spec``).
        target: ``"sdr"`` (BT.709 primaries, BT.1886 with ``L_B = 0``, BT.709 Y'CbCr,
            default 8 bits) or ``"hdr10"`` (BT.2020, PQ, BT.2020 NCL, default 10 bits).
        src_black_nits, dst_black_nits: black levels of the curve (cd/m²).
        params: the curve's parameters (``knee_offset``, ``avg_pq``, ...), passed to ``map``.
        intensity: ``"maxrgb"`` (default: ``max(R, G, B)``, no channel exceeds the peak) or
            ``"luminance"`` (BT.2020 ``Y``; a colour above the peak moves toward its grey).
        gamut: what happens to colours outside BT.709 (SDR): ``"desaturate"`` (toward the
            grey of the same luminance until no channel is negative, as
            ``gamut=mode=desaturate``) or ``"clip"`` (negative channels clipped to 0, as the
            writer does when no gamut operator ran).
        chroma: ``"bilinear"`` (each pixel gets its own chroma, interpolated as
            :func:`~hdrvideo.io.convert.upsample_chroma`; output chroma filtered as
            :func:`~hdrvideo.io.convert.downsample_chroma`: the generic path's numbers) or
            ``"block"`` (jellyfin's: the 2x2 block's chroma for its four pixels, output chroma
            the mean of the four; about 5 % faster, differs at sharp colour edges).
        in_bits, in_range, in_matrix: the input coding (10 or 12 bits, limited or full,
            ``bt2020nc``; ``bt709``/``bt601`` matrices work too).
        out_bits, out_range: 8 or 10 (default 8 for SDR, 10 for HDR10), limited or full.
        eotf_size, curve_size, oetf_size: intervals of each table (defaults
            :data:`EOTF_SIZE`, :data:`CURVE_SIZE`, :data:`OETF_SIZE`).

    Returns:
        :class:`FusedTables`.

    Raises:
        InvalidInputError: bad names, levels or sizes. UnsupportedError: bit depths or a
        matrix the kernel does not handle.
    """
    target = _choose("target", target, TARGETS)
    intensity = _choose("intensity", intensity, INTENSITIES)
    gamut = _choose("gamut", gamut, GAMUTS)
    chroma = _choose("chroma", chroma, CHROMAS)
    in_range = _choose("range", in_range, ("limited", "full"))
    out_range = _choose("range", out_range, ("limited", "full"))
    if in_matrix not in YCBCR_WEIGHTS:
        raise UnsupportedError(f"input matrix {in_matrix!r}: the fused path handles {', '.join(YCBCR_WEIGHTS)}")
    if in_bits not in (10, 12):
        raise UnsupportedError(f"the fused path reads 10- or 12-bit input, not {in_bits}")
    out_bits = (8 if target == "sdr" else 10) if out_bits is None else int(out_bits)
    if out_bits not in (8, 10):
        raise UnsupportedError(f"the fused path writes 8- or 10-bit output, not {out_bits}")
    _check_levels(src_peak_nits, dst_peak_nits, src_black_nits, dst_black_nits)
    for name, size in (("eotf_size", eotf_size), ("curve_size", curve_size), ("oetf_size", oetf_size)):
        if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= 1 << 20:
            raise InvalidInputError(f"{name} must be an integer from 2 to 2^20, got {size!r}")
    name, _ = _resolve_curve(curve)
    nodes, mapped = curve_nodes(
        curve, src_peak_nits, dst_peak_nits, src_black_nits=src_black_nits,
        dst_black_nits=dst_black_nits, params=params, intensity=intensity, size=curve_size,
    )
    return FusedTables(
        eotf=torch.tensor(decode_table("pq", PQ_PEAK_NITS, eotf_size)),
        curve=gain_table(nodes, mapped),
        oetf=_oetf_table(target, float(dst_peak_nits), oetf_size),
        coefficients=_coefficients(
            target=target, dst_peak_nits=float(dst_peak_nits), in_bits=in_bits, in_range=in_range,
            in_matrix=in_matrix, out_bits=out_bits, out_range=out_range,
        ),
        curve_nits=mapped,
        curve_input_nits=nodes,
        target=target,
        intensity=intensity,
        out_bits=out_bits,
        out_range=out_range,
        oetf_root=2 if target == "sdr" else 4,
        gamut=gamut,
        chroma=chroma,
        curve_name=name,
        src_peak_nits=float(src_peak_nits),
        dst_peak_nits=float(dst_peak_nits),
        src_black_nits=float(src_black_nits),
        dst_black_nits=float(dst_black_nits),
        params=dict(params or {}),
    )


# -- the kernel's arithmetic in torch ---------------------------------------------------------
def _ordered_noise(rows: int, cols: int, device: torch.device) -> torch.Tensor:
    bayer = torch.tensor(BAYER8, dtype=torch.float32, device=device)
    noise = (2 * bayer + 1) * (1.0 / 128.0) - 0.5
    reps = (rows + 7) // 8, (cols + 7) // 8
    return noise.repeat(*reps)[:rows, :cols]


def _quantise(q: torch.Tensor, top: float, dither: str, key: int, index0: int) -> torch.Tensor:
    if dither == "ordered":
        q = q + _ordered_noise(q.shape[0], q.shape[1], q.device)
    return quantise(q, top, key=key if dither == "tpdf" else None, index0=index0)


def _as_tensor(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray):
        if a.dtype != np.uint16:
            raise InvalidInputError(f"{name}: expected uint16 codes, got {a.dtype}")
        return torch.from_numpy(a.astype(np.int32))
    raise InvalidInputError(f"{name}: expected a numpy array or a torch tensor, got {type(a).__name__}")


def _check_planes(y: Any, u: Any, v: Any) -> tuple[int, int]:
    for name, p in (("y", y), ("u", u), ("v", v)):
        if getattr(p, "ndim", None) != 2:
            raise InvalidInputError(f"{name}: expected a 2-D plane, got shape {tuple(getattr(p, 'shape', ()))}")
    height, width = int(y.shape[0]), int(y.shape[1])
    if height < 2 or width < 2 or height % 2 or width % 2:
        raise InvalidInputError(f"{width}x{height}: 4:2:0 needs an even width and height of at least 2")
    for name, p in (("u", u), ("v", v)):
        if tuple(p.shape) != (height // 2, width // 2):
            raise InvalidInputError(
                f"{name}: expected shape {(height // 2, width // 2)} for a {width}x{height} 4:2:0 frame, "
                f"got {tuple(p.shape)}"
            )
    return height, width


def _check_dither(dither: str, seed: int) -> tuple[int, int]:
    _choose("dither", dither, DITHERS)
    return _DITHER_CODES[dither], int(seed) & _MASK32


def tonemap_yuv420_torch(
    y: Any, u: Any, v: Any, tables: FusedTables, *, dither: str = "none", seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fused kernel in pure torch: the same float32 numbers, vectorised over the frame.

    Args:
        y: ``(H, W)`` luma codes; u, v: ``(H/2, W/2)`` chroma codes (numpy uint16, or
            integer torch tensors on any device); H and W even.
        tables: from :func:`build_tables`.
        dither: ``"none"``, ``"ordered"`` or ``"tpdf"``; seed: the frame's dither seed.

    Returns:
        ``(y, u, v)`` numpy arrays, uint8 for 8-bit output, uint16 for 10-bit.
    """
    height, width = _check_planes(y, u, v)
    _, seed = _check_dither(dither, seed)
    k = {name: float(value) for name, value in zip(COEFFICIENTS, tables.coefficients.tolist())}
    yt, ut, vt = _as_tensor(y, "y"), _as_tensor(u, "u"), _as_tensor(v, "v")
    device = yt.device
    eotf, curve, oetf = (t.to(device) for t in (tables.eotf, tables.curve, tables.oetf))

    hc, wc = height // 2, width // 2
    chroma = torch.stack([ut, vt]).to(torch.float32)
    if tables.chroma == "bilinear":  # each pixel's own chroma, as frame_to_working
        chroma = upsample_chroma(chroma, height, width, 1, 1)
    cb = (chroma[0] - k["in_c_off"]) * k["in_c_scale"]
    cr = (chroma[1] - k["in_c_off"]) * k["in_c_scale"]

    def up(c: torch.Tensor) -> torch.Tensor:  # block mode: the block's value for its four pixels
        if tables.chroma == "bilinear":
            return c
        return c[:, None, :, None].expand(hc, 2, wc, 2).reshape(height, width)

    dr = up(cr * k["in_cr_r"])
    dg = up(cb * k["in_cb_g"] + cr * k["in_cr_g"])
    db = up(cb * k["in_cb_b"])
    yv = (yt.to(torch.float32) - k["in_y_off"]) * k["in_y_scale"]
    rn = (yv + dr).clamp(0.0, 1.0)
    gn = (yv + dg).clamp(0.0, 1.0)
    bn = (yv + db).clamp(0.0, 1.0)
    r = table_lookup(eotf, rn)
    g = table_lookup(eotf, gn)
    b = table_lookup(eotf, bn)
    if tables.intensity == "luminance":
        lum = (r * k["in_lum_r"] + g * k["in_lum_g"]) + b * k["in_lum_b"]
        s = _sqrt(_sqrt((lum * k["curve_inv_scale"]).clamp(0.0, 1.0)))
        gain = table_lookup(curve, s)
    else:
        gain = table_lookup(curve, torch.maximum(torch.maximum(rn, gn), bn))
    r, g, b = r * gain, g * gain, b * gain
    del rn, gn, bn
    peak = k["peak_nits"]
    peak_t = torch.tensor(peak, dtype=torch.float32, device=device)
    mx = torch.maximum(torch.maximum(r, g), b)
    high = mx > k["gamut_high_nits"]
    if bool(high.any()):
        lum = (r * k["in_lum_r"] + g * k["in_lum_g"]) + b * k["in_lum_b"]
        grey = lum.clamp(0.0, peak)
        # tensors on both sides of every division: torch evaluates ``scalar / tensor`` as
        # ``scalar * reciprocal(tensor)``, not as the correctly rounded quotient
        t = ((peak_t - grey) / (mx - grey)).clamp(0.0, 1.0)
        r, g, b = (torch.where(high, grey + t * (c - grey), c) for c in (r, g, b))
    r3 = (r * k["m00"] + g * k["m01"]) + b * k["m02"]
    g3 = (r * k["m10"] + g * k["m11"]) + b * k["m12"]
    b3 = (r * k["m20"] + g * k["m21"]) + b * k["m22"]
    del r, g, b
    if tables.gamut == "desaturate":
        mn = torch.minimum(torch.minimum(r3, g3), b3)
        low = mn < 0.0
        if bool(low.any()):
            lum = (r3 * k["out_lum_r"] + g3 * k["out_lum_g"]) + b3 * k["out_lum_b"]
            grey = lum.clamp(min=0.0)
            t = (grey / (grey - mn)).clamp(0.0, 1.0)
            r3, g3, b3 = (torch.where(low, grey + t * (c - grey), c) for c in (r3, g3, b3))
    out = []
    for c in (r3, g3, b3):
        s = _sqrt((c * k["oetf_inv_scale"]).clamp(0.0, 1.0))
        if tables.oetf_root == 4:
            s = _sqrt(s)
        out.append(table_lookup(oetf, s))
    ro, go, bo = out

    top = k["out_max_code"]
    qy = ((ro * k["out_y_r"] + go * k["out_y_g"]) + bo * k["out_y_b"]) * k["out_y_scale"] + k["out_y_off"]

    if tables.chroma == "bilinear":  # [1, 2, 1] / 4 on even columns, mean of row pairs
        ra, ga, ba = downsample_chroma(torch.stack([ro, go, bo]), 1, 1)
    else:  # mean of each 2x2 block, in the kernel's order

        def box(c: torch.Tensor) -> torch.Tensor:
            c = c.reshape(hc, 2, wc, 2)
            return ((c[:, 0, :, 0] + c[:, 0, :, 1]) + (c[:, 1, :, 0] + c[:, 1, :, 1])) * 0.25

        ra, ga, ba = box(ro), box(go), box(bo)
    qb = ((ra * k["out_cb_r"] + ga * k["out_cb_g"]) + ba * k["out_cb_b"]) * k["out_c_scale"] + k["out_c_off"]
    qr = ((ra * k["out_cr_r"] + ga * k["out_cr_g"]) + ba * k["out_cr_b"]) * k["out_c_scale"] + k["out_c_off"]

    key = lowbias32(seed)
    plane, cplane = height * width, hc * wc
    dtype = np.uint8 if tables.out_bits == 8 else np.uint16
    codes = (
        _quantise(qy, top, dither, key, 0),
        _quantise(qb, top, dither, key, plane),
        _quantise(qr, top, dither, key, plane + cplane),
    )
    return tuple(c.cpu().numpy().astype(dtype) for c in codes)  # type: ignore[return-value]


# -- the native kernel ------------------------------------------------------------------------
def _native_module():
    return native_module("tonemap_yuv420", "sample_linear")


def native_available() -> bool:
    """Whether the compiled module ``hdrvideo._native`` is built and importable."""
    return _native_module() is not None


def tonemap_yuv420_native(
    y: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    tables: FusedTables,
    *,
    dither: str = "none",
    seed: int = 0,
    threads: int = 0,
    out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    simd: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fused kernel in C++ (``hdrvideo._native``), rows split across OpenMP threads.

    Args:
        y, u, v: numpy uint16 planes (rows may be strided, e.g. views of an ``av.VideoFrame``).
        tables: from :func:`build_tables`.
        dither, seed: as :func:`tonemap_yuv420_torch`.
        threads: OpenMP threads (0 = OpenMP's default, ``OMP_NUM_THREADS`` or all cores).
        out: optional preallocated ``(y, u, v)`` planes (uint8 or uint16 by ``tables.out_bits``,
            rows may be strided) to write into, e.g. the planes of a new ``av.VideoFrame``.
        simd: use the AVX2 version where the CPU has it (``False`` forces the scalar one,
            for tests; both give the same bytes).

    Raises:
        UnsupportedError: the native module is not built.
    """
    native = _native_module()
    if native is None:
        raise UnsupportedError("hdrvideo._native is not built; use backend='torch' or build with pip install .")
    height, width = _check_planes(y, u, v)
    dither_code, seed = _check_dither(dither, seed)
    planes = []
    for name, p in (("y", y), ("u", u), ("v", v)):
        if not isinstance(p, np.ndarray) or p.dtype != np.uint16:
            raise InvalidInputError(f"{name}: the native kernel takes numpy uint16 planes")
        if p.strides[1] != 2:
            p = np.ascontiguousarray(p)
        planes.append(p)
    dtype = np.uint8 if tables.out_bits == 8 else np.uint16
    if out is None:
        out = (
            np.empty((height, width), dtype),
            np.empty((height // 2, width // 2), dtype),
            np.empty((height // 2, width // 2), dtype),
        )
    try:
        native.tonemap_yuv420(
            *planes, *out,
            tables.numpy("eotf"), tables.numpy("curve"), tables.numpy("oetf"), tables.numpy("coefficients"),
            tables.intensity == "luminance", tables.oetf_root, dither_code, seed, int(threads), bool(simd),
            tables.gamut == "desaturate", tables.chroma == "bilinear",
        )
    except ValueError as error:
        raise InvalidInputError(str(error)) from None
    return out


def tonemap_yuv420(
    y: Any,
    u: Any,
    v: Any,
    tables: FusedTables,
    *,
    dither: str = "none",
    seed: int = 0,
    backend: str = "auto",
    threads: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tone-map 4:2:0 planes with :func:`tonemap_yuv420_native` or :func:`tonemap_yuv420_torch`.

    ``backend="auto"`` takes the native kernel when it is built and the planes are numpy
    arrays, the torch path otherwise; ``"native"`` raises :class:`UnsupportedError` when
    the module is missing.
    """
    backend = _choose("backend", backend, BACKENDS)
    if backend == "auto":
        backend = "native" if native_available() and isinstance(y, np.ndarray) else "torch"
    if backend == "native":
        return tonemap_yuv420_native(y, u, v, tables, dither=dither, seed=seed, threads=threads)
    return tonemap_yuv420_torch(y, u, v, tables, dither=dither, seed=seed)


# -- statistics straight from the planes ---------------------------------------------------------
@dataclass(frozen=True)
class SampleGrid:
    """Where the statistics read a ``width`` x ``height`` 4:2:0 frame.

    ``rows``/``cols`` are the luma positions :func:`hdrvideo.ops.stats.subsample_grid` reads
    (found by applying it to index grids, so the two cannot drift apart); ``crow``/``ccol``
    ``(n, 2)`` the two chroma rows/columns each sample interpolates between and
    ``crow_w``/``ccol_w`` ``(n, 2)`` their weights ``(1 - w, w)``, as
    :func:`hdrvideo.io.convert.upsample_chroma` computes them ("left" siting, rows centred).
    """

    rows: np.ndarray
    cols: np.ndarray
    crow: np.ndarray
    crow_w: np.ndarray
    ccol: np.ndarray
    ccol_w: np.ndarray

    @classmethod
    @functools.lru_cache(maxsize=16)
    def for_size(cls, height: int, width: int, grid_step: int) -> "SampleGrid":
        from hdrvideo.ops.stats import subsample_grid

        index_rows = torch.arange(height, dtype=torch.float32).view(1, height, 1).expand(1, height, width)
        index_cols = torch.arange(width, dtype=torch.float32).view(1, 1, width).expand(1, height, width)
        rows = subsample_grid(index_rows, grid_step)[0, :, 0].long()
        cols = subsample_grid(index_cols, grid_step)[0, 0, :].long()

        def pairs(size: int, sub: int, offset: float, at: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
            i0, i1, w1 = linear_positions(size, sub, 2, offset, torch.device("cpu"))
            index = torch.stack([i0[at], i1[at]], dim=1).to(torch.int32)
            weight = torch.stack([1 - w1[at], w1[at]], dim=1).to(torch.float32)
            return index.numpy(), weight.numpy()

        crow, crow_w = pairs(height, height // 2, 0.5, rows)
        ccol, ccol_w = pairs(width, width // 2, 0.0, cols)
        return cls(rows.to(torch.int32).numpy(), cols.to(torch.int32).numpy(), crow, crow_w, ccol, ccol_w)


def sample_linear_torch(y: Any, u: Any, v: Any, grid: SampleGrid, tables: FusedTables) -> torch.Tensor:
    """Linear light of the sampled pixels, in torch (:func:`sample_linear` without the native module)."""
    k = {name: float(value) for name, value in zip(COEFFICIENTS, tables.coefficients.tolist())}
    rows, cols = torch.from_numpy(grid.rows).long(), torch.from_numpy(grid.cols).long()
    crow, ccol = torch.from_numpy(grid.crow).long(), torch.from_numpy(grid.ccol).long()
    a, b = torch.from_numpy(grid.crow_w), torch.from_numpy(grid.ccol_w)
    luma = _as_tensor(y, "y")[rows][:, cols].to(torch.float32)

    def chroma(c: torch.Tensor) -> torch.Tensor:
        c = _as_tensor(c, "chroma")
        top = c[crow[:, 0]].to(torch.float32)
        bottom = c[crow[:, 1]].to(torch.float32)
        top = top[:, ccol[:, 0]] * b[:, 0] + top[:, ccol[:, 1]] * b[:, 1]
        bottom = bottom[:, ccol[:, 0]] * b[:, 0] + bottom[:, ccol[:, 1]] * b[:, 1]
        mixed = top * a[:, 0:1] + bottom * a[:, 1:2]
        return (mixed - k["in_c_off"]) * k["in_c_scale"]

    cb, cr = chroma(u), chroma(v)
    yv = (luma - k["in_y_off"]) * k["in_y_scale"]
    rn = (yv + cr * k["in_cr_r"]).clamp(0.0, 1.0)
    gn = (yv + (cb * k["in_cb_g"] + cr * k["in_cr_g"])).clamp(0.0, 1.0)
    bn = (yv + cb * k["in_cb_b"]).clamp(0.0, 1.0)
    return torch.stack([table_lookup(tables.eotf, c) for c in (rn, gn, bn)])


def sample_linear(
    y: Any, u: Any, v: Any, tables: FusedTables, grid_step: int = 4, *, backend: str = "auto"
) -> torch.Tensor:
    """Linear light of the pixels :func:`hdrvideo.ops.stats.measure_statistics` reads, from 4:2:0 planes.

    Equals ``subsample_grid(frame_to_working(frame), grid_step)`` up to the kernel's own
    conversion (its EOTF table, a few 1e-5 relative from the exact PQ EOTF): chroma is
    interpolated at each sample with the weights of
    :func:`~hdrvideo.io.convert.upsample_chroma`, then Y'CbCr -> R'G'B' -> EOTF table as
    the kernel does. Only the sampled pixels are touched (1/16 of a frame at the default
    step), natively about 0.3 ms for 1080p; measure the result with ``grid_step=1``.

    Returns:
        ``(3, h, w)`` float32, linear BT.2020, cd/m².
    """
    height, width = _check_planes(y, u, v)
    grid = SampleGrid.for_size(height, width, int(grid_step))
    backend = _choose("backend", backend, BACKENDS)
    native = _native_module() if backend != "torch" else None
    if backend == "native" and native is None:
        raise UnsupportedError("hdrvideo._native is not built; use backend='torch'")
    if native is None or not all(isinstance(p, np.ndarray) and p.dtype == np.uint16 for p in (y, u, v)):
        return sample_linear_torch(y, u, v, grid, tables)
    planes = [p if p.strides[1] == 2 else np.ascontiguousarray(p) for p in (y, u, v)]
    out = np.empty((3, len(grid.rows), len(grid.cols)), np.float32)
    native.sample_linear(
        *planes, grid.rows, grid.cols, grid.crow, grid.crow_w, grid.ccol, grid.ccol_w,
        tables.numpy("eotf"), tables.numpy("coefficients"), out,
    )
    return torch.from_numpy(out)


# -- the fast path as an object --------------------------------------------------------------------
#: The input the fused kernel decodes: HDR10 Y'CbCr 4:2:0 (limited or full range).
FUSED_INPUT_FORMATS = {"yuv420p10le": 10, "yuv420p12le": 12}


def _sdr_spec(peak_nits: float, bits: int = 8) -> ColorSpec:
    # what hdrvideo.pipeline.output_spec writes for an "sdr" target
    return ColorSpec("bt709", "bt1886", "bt709", "limited", bits, float(peak_nits), float(peak_nits))


def _hdr10_spec(bits: int = 10) -> ColorSpec:
    return ColorSpec("bt2020", "pq", "bt2020nc", "limited", bits, 10000.0, 203.0)


def _split_chain(chain_ops: Any) -> tuple[list[Any], str | None]:
    """``(operators, reason)``: the parsed chain, and why it is not fusable (or ``None``)."""
    from hdrvideo.ops.base import parse_chain

    ops = parse_chain(chain_ops) if isinstance(chain_ops, str) else list(chain_ops or ())
    names = [getattr(op, "name", type(op).__name__) for op in ops]
    if not ops or names[0] != "tonemap" or len(ops) > 2 or (len(ops) == 2 and names[1] != "gamut"):
        return ops, (
            f"the fused path runs 'tonemap' or 'tonemap,gamut', not {','.join(map(str, names)) or 'an empty chain'!r}"
        )
    return ops, None


def _chain_gamut(ops: Sequence[Any]) -> tuple[str | None, str | None]:
    """``(gamut, reason)``: the kernel's gamut handling for a chain (see :func:`supports`)."""
    if len(ops) == 1:
        return "clip", None  # no gamut operator: the writer clips negative components
    gamut_op = ops[1]
    if ops[0].target != "sdr":
        return None, "a gamut operator after an HDR10 tone map is not fused"
    if gamut_op.target != "bt709" or gamut_op.mode not in GAMUTS:
        return None, f"gamut mode={gamut_op.mode}:target={gamut_op.target} (fused: clip or desaturate to bt709)"
    return gamut_op.mode, None


def unsupported_reason(
    chain_ops: Any, in_spec: ColorSpec | None = None, out_spec: ColorSpec | None = None
) -> str | None:
    """Why a chain cannot take the fused path, or ``None`` when it can (see :func:`supports`)."""
    ops, reason = _split_chain(chain_ops)
    if reason is not None:
        return reason
    op = ops[0]
    if getattr(op, "net", None) is not None:
        return "curve=net (the tone-mapping network runs in torch, not in the fused kernel)"
    if op.target not in TARGETS:
        return f"target {op.target!r} (the fused path writes {', '.join(TARGETS)})"
    if op.intensity not in INTENSITIES:
        return f"intensity {op.intensity!r} (the fused path maps {', '.join(INTENSITIES)})"
    if float(op.desat) != 1.0:
        return f"desat={op.desat} (the fused path keeps RGB ratios: desat=1)"
    _, reason = _chain_gamut(ops)
    if reason is not None:
        return reason
    if in_spec is not None:
        if (in_spec.transfer, in_spec.primaries) != ("pq", "bt2020"):
            return f"input {in_spec.transfer}/{in_spec.primaries} (the fused path reads PQ BT.2020)"
        if in_spec.matrix != "bt2020nc":
            return f"input matrix {in_spec.matrix} (the fused path reads BT.2020 NCL Y'CbCr)"
        if in_spec.bit_depth not in (10, 12):
            return f"input bit depth {in_spec.bit_depth} (the fused path reads 10 or 12 bits)"
    if out_spec is not None:
        expected = _sdr_spec(op.peak_nits) if op.target == "sdr" else _hdr10_spec()
        want = (expected.primaries, expected.transfer, expected.matrix)
        got = (out_spec.primaries, out_spec.transfer, out_spec.matrix)
        if got != want:
            return f"output {'/'.join(got)} (the fused path writes {'/'.join(want)} for target {op.target})"
        if out_spec.bit_depth not in (8, 10):
            return f"output bit depth {out_spec.bit_depth} (the fused path writes 8 or 10 bits)"
        if op.target == "sdr" and abs(float(out_spec.peak_nits) - float(op.peak_nits)) > 1e-6:
            return f"SDR output white {out_spec.peak_nits} cd/m² differs from the tone curve's peak {op.peak_nits}"
    return None


def supports(chain_ops: Any, in_spec: ColorSpec | None = None, out_spec: ColorSpec | None = None) -> bool:
    """Whether a chain can run on the fused path (:class:`FusedTonemapper`) instead of
    ``frame_to_working`` -> operators -> ``working_to_frame``, giving the same codes (within
    a code value or two: the tests measure it).

    True for:

    - one ``tonemap`` operator with ``target`` ``sdr`` or ``hdr10``, ``intensity`` ``maxrgb``
      or ``luminance`` (the default ``ictcp`` is not fused) and ``desat=1``; any curve and
      curve parameters, any ``source_peak``;
    - optionally followed (SDR) by ``gamut`` with ``mode`` ``clip`` or ``desaturate`` and
      ``target=bt709``;
    - a PQ BT.2020 NCL 10/12-bit input, limited or full range;
    - an output signalled as :func:`hdrvideo.pipeline.output_spec` writes that target, 8 or
      10 bits, limited or full range.

    The frames must also be 4:2:0 (:data:`FUSED_INPUT_FORMATS`), which
    :meth:`FusedTonemapper.process` checks.

    Args:
        chain_ops: a list of operators, or a filter string
            (``"tonemap=curve=bt2390:intensity=maxrgb"``).
        in_spec, out_spec: the input and output signalling (``None``: not checked).
    """
    return unsupported_reason(chain_ops, in_spec, out_spec) is None


class FusedTonemapper:
    """The ``tonemap`` operator on the fused path: ``av.VideoFrame`` in, ``av.VideoFrame`` out.

    Per frame (frame-exact: the frame's own statistics are in the smoothing before it is
    mapped, as the generic operator does):

    1. the planes are read without copies (:func:`~hdrvideo.io.convert.frame_planes`);
    2. statistics are measured on the pixels the generic operator measures (every
       ``grid_step``-th row and column, :func:`sample_linear`,
       :func:`~hdrvideo.ops.stats.measure_statistics`) and smoothed by the operator's own
       tracker (:class:`~hdrvideo.ops.stats.TemporalStatistics`);
       with ``source_peak="metadata"`` the side data gives the peak instead;
    3. the source peak and curve parameters are chosen as :meth:`Tonemap.mapping_for
       <hdrvideo.ops.tonemap.Tonemap.mapping_for>` chooses them, and the curve table is
       rebuilt (skipped when nothing changed);
    4. the kernel writes straight into the planes of the new frame.

    Args:
        operator: a :class:`~hdrvideo.ops.tonemap.Tonemap`; or give its options as keywords
            (``curve="bt2390", intensity="maxrgb"``). Its tracker is shared, so the
            operator's ``state_dict`` and this object's agree.
        gamut: the :class:`~hdrvideo.ops.gamut.Gamut` operator that follows it in the chain
            (``mode`` ``clip`` or ``desaturate``, ``target=bt709``), or ``None``: negative
            BT.709 components are then clipped, as the writer does.
        in_spec: the input signalling (default HDR10: PQ, BT.2020, NCL, limited, 10 bit); a
            frame's own range is honoured.
        out_spec: the output signalling (default: what ``pipeline.output_spec`` writes for the
            operator's target: SDR 8-bit limited BT.709/BT.1886, HDR10 10-bit limited).
        backend: ``"auto"`` (native when built), ``"native"`` or ``"torch"``.
        threads: OpenMP threads of the native kernel (0 = OpenMP's default).
        dither: ``"none"``, ``"ordered"``, ``"tpdf"`` (``True``/``False``: tpdf/none); ``None``
            follows the operator (``tonemap=...:dither=true`` -> ``"tpdf"``, the writer's
            triangular dither; else none).
        seed: base of the per-frame dither seed ``seed + 0x9E3779B9 * n mod 2^32``, ``n`` the
            frame's ``pts`` (or its position when it has none): the same frame gets the same
            noise whatever came before it.
        grid_step: statistics grid (the operator's tracker's ``grid_step``, 4 by default).
        chroma: ``"bilinear"`` (default: the generic path's chroma resampling) or ``"block"``
            (jellyfin's 2x2 blocks, a little faster); see :func:`build_tables`.

    Raises:
        UnsupportedError: the operator or the specs cannot take the fused path (the message
            says why; see :func:`supports`).
    """

    def __init__(
        self,
        operator: Any = None,
        *,
        gamut: Any = None,
        in_spec: ColorSpec | None = None,
        out_spec: ColorSpec | None = None,
        backend: str = "auto",
        threads: int = 0,
        dither: str | bool | None = None,
        seed: int = 0,
        grid_step: int | None = None,
        chroma: str = "bilinear",
        **options: Any,
    ) -> None:
        from hdrvideo.ops.tonemap import Tonemap

        if operator is None:
            operator = Tonemap(**options)
        elif options:
            raise InvalidInputError(f"give a tonemap operator or its options, not both ({', '.join(options)})")
        in_spec = in_spec if in_spec is not None else _hdr10_spec()
        if out_spec is None:
            out_spec = _sdr_spec(operator.peak_nits) if operator.target == "sdr" else _hdr10_spec()
        chain = [operator] if gamut is None else [operator, gamut]
        reason = unsupported_reason(chain, in_spec, out_spec)
        if reason is not None:
            raise UnsupportedError(f"fused tone mapping: {reason}")
        self.operator = operator
        self.gamut_operator = gamut
        self.gamut, _ = _chain_gamut(chain)
        self.chroma = _choose("chroma", chroma, CHROMAS)
        self.in_spec, self.out_spec = in_spec, out_spec
        self.backend = _choose("backend", backend, BACKENDS)
        if self.backend == "native" and not native_available():
            raise UnsupportedError("hdrvideo._native is not built; use backend='torch' or build with pip install .")
        self.threads = int(threads)
        if dither is None:
            dither = bool(getattr(operator, "dither", False))
        if isinstance(dither, bool):
            dither = "tpdf" if dither else "none"
        self.dither = _choose("dither", dither, DITHERS)
        self.seed = int(seed) & _MASK32
        tracker = getattr(operator, "tracker", None)
        if grid_step is None:
            grid_step = tracker.grid_step if tracker is not None else 4
        self.grid_step = int(grid_step)
        if self.grid_step < 1:
            raise InvalidInputError(f"grid_step must be >= 1, got {self.grid_step}")
        self._static: dict[tuple, FusedTables] = {}
        self._tables: FusedTables | None = None
        self._curve_key: tuple | None = None
        self.frames = 0
        #: What the last frame was mapped with (``Tonemap.mapping_for``'s dict) and its statistics.
        self.last_mapping: dict[str, Any] | None = None
        self.last_statistics: Any = None

    @classmethod
    def from_chain(
        cls, chain_ops: Any, in_spec: ColorSpec | None = None, out_spec: ColorSpec | None = None, **kwargs: Any
    ) -> "FusedTonemapper":
        """Build from a chain that :func:`supports` accepts (its operators are used, not copied)."""
        ops, _ = _split_chain(chain_ops)
        reason = unsupported_reason(ops, in_spec, out_spec)
        if reason is not None:
            raise UnsupportedError(f"fused tone mapping: {reason}")
        return cls(ops[0], gamut=ops[1] if len(ops) > 1 else None, in_spec=in_spec, out_spec=out_spec, **kwargs)

    # -- temporal state ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the temporal state (scene cut, seek): the operator's tracker and the frame count."""
        self.operator.reset()
        self.frames = 0
        self.last_mapping = self.last_statistics = None

    def state_dict(self) -> dict[str, Any]:
        """``{"tonemap": operator.state_dict(), "frames": int}`` (JSON-friendly)."""
        return {"tonemap": self.operator.state_dict(), "frames": self.frames}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != {"tonemap", "frames"}:
            raise InvalidInputError(f"fused tonemapper state: expected keys frames, tonemap; got {sorted(state)}")
        self.operator.load_state_dict(state["tonemap"])
        self.frames = int(state["frames"])

    # -- per frame ------------------------------------------------------------------------------------
    def base_tables(self, spec: ColorSpec) -> FusedTables:
        """The tables for an input coding, with a placeholder curve (cached per coding)."""
        op = self.operator
        key = (spec.bit_depth, spec.range, spec.matrix, self.out_spec.bit_depth, self.out_spec.range)
        tables = self._static.get(key)
        if tables is None:
            tables = build_tables(
                op.curve_record, op.peak_nits, op.peak_nits, op.target, dst_black_nits=op.black_nits,
                params=op.curve_params, intensity=op.intensity, gamut=self.gamut, chroma=self.chroma,
                in_bits=spec.bit_depth, in_range=spec.range,
                in_matrix=spec.matrix, out_bits=self.out_spec.bit_depth, out_range=self.out_spec.range,
            )
            self._static[key] = tables
        return tables

    def mapping_for(
        self, planes: Sequence[np.ndarray], base: FusedTables, side_data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The curve range and parameters for one frame (updates the operator's tracker).

        Statistics are measured on :func:`sample_linear` of the planes (the pixels the
        generic operator would measure) and the choices are those of
        :meth:`hdrvideo.ops.tonemap.Tonemap.mapping_for`.
        """
        from hdrvideo.ops.stats import measure_statistics

        op = self.operator
        stats = None
        if op.tracker is not None:
            sub = sample_linear(*planes, base, self.grid_step, backend="torch" if self.backend == "torch" else "auto")
            stats = op.tracker.update(measure_statistics(sub, grid_step=1, percentile=op.tracker.percentile))
        self.last_statistics = stats
        if op.source_peak == "smoothed" or stats is None:
            # Tonemap takes smoothed statistics as "upstream" ones (from peakdetect) as they are.
            return op.mapping_for(None, side_data, stats)
        # source_peak="frame": the tracker (period 0) returned this frame's own statistics;
        # the mapping follows Tonemap.mapping_for with them.
        params = dict(op.curve_params)
        peak, source = stats.peak_nits, op.source_peak
        if op.source_peak_nits is not None:
            peak, source = float(op.source_peak_nits), "source_peak_nits"
        peak = min(max(peak, op.peak_nits), 10000.0)
        for name, value in (("avg_pq", stats.avg_pq), ("logavg_nits", stats.logavg_nits)):
            if name in params and name not in op.user_params and value is not None:
                params[name] = value
        return {
            "src_peak_nits": peak, "dst_peak_nits": float(op.peak_nits), "src_black_nits": 0.0,
            "dst_black_nits": float(op.black_nits), "params": params, "source": source,
        }

    def tables_for(self, mapping: dict[str, Any], base: FusedTables) -> FusedTables:
        """``base`` with the curve table of ``mapping`` (rebuilt only when the curve changed)."""
        key = (
            id(base), mapping["src_peak_nits"], mapping["src_black_nits"],
            tuple(sorted(mapping["params"].items())),
        )
        if self._tables is None or key != self._curve_key:
            self._tables = base.with_curve(
                self.operator.curve_record, mapping["src_peak_nits"], src_black_nits=mapping["src_black_nits"],
                params=mapping["params"],
            )
            self._curve_key = key
        return self._tables

    def frame_seed(self, vf: Any) -> int:
        """The dither seed of a frame: ``seed + 0x9E3779B9 * pts`` (or its position) mod 2^32."""
        n = vf.pts if getattr(vf, "pts", None) is not None else self.frames
        return (self.seed + 0x9E3779B9 * int(n)) & _MASK32

    def process(self, vf: Any, side_data: dict[str, Any] | None = None) -> Any:
        """Tone-map one decoded frame.

        Args:
            vf: an ``av.VideoFrame`` in :data:`FUSED_INPUT_FORMATS` (yuv420p10le/12le), even
                width and height.
            side_data: the frame's side data (``Frame.side_data`` of the reader: mastering
                display, content light level, HDR10+), used by ``source_peak="metadata"``.

        Returns:
            A new ``av.VideoFrame``: ``yuv420p`` (8-bit output) or ``yuv420p10le``, with
            ``pts``/``time_base`` of the input and the output's colour fields set
            (primaries, transfer, matrix, range).
        """
        import av

        from hdrvideo.io.convert import frame_planes

        fmt = vf.format.name
        if fmt not in FUSED_INPUT_FORMATS:
            raise UnsupportedError(f"the fused path reads {', '.join(FUSED_INPUT_FORMATS)}, not {fmt}")
        if vf.width % 2 or vf.height % 2:
            raise InvalidInputError(f"{vf.width}x{vf.height}: 4:2:0 needs an even width and height")
        spec = self.in_spec
        bits = FUSED_INPUT_FORMATS[fmt]
        frame_range = {1: "limited", 2: "full"}.get(int(vf.color_range or 0), spec.range)
        if (bits, frame_range) != (spec.bit_depth, spec.range):
            spec = spec.replace(bit_depth=bits, range=frame_range)
        planes = frame_planes(vf)
        base = self.base_tables(spec)
        mapping = self.mapping_for(planes, base, side_data)
        tables = self.tables_for(mapping, base)

        out_bits = self.out_spec.bit_depth
        out = av.VideoFrame(vf.width, vf.height, "yuv420p" if out_bits == 8 else "yuv420p10le")
        dtype = np.uint8 if out_bits == 8 else np.dtype("<u2")
        views = []
        for plane in out.planes:
            row = plane.line_size // dtype.itemsize if isinstance(dtype, np.dtype) else plane.line_size
            array = np.frombuffer(plane, dtype=dtype).reshape(-1, row)[: plane.height, : plane.width]
            views.append(array)
        seed = self.frame_seed(vf)
        backend = self.backend
        if backend == "auto":
            backend = "native" if native_available() else "torch"
        if backend == "native":
            tonemap_yuv420_native(
                *planes, tables, dither=self.dither, seed=seed, threads=self.threads, out=tuple(views)
            )
        else:
            for view, result in zip(views, tonemap_yuv420_torch(*planes, tables, dither=self.dither, seed=seed)):
                view[...] = result
        codes = self.out_spec.codes
        out.color_range = codes["color_range"]
        out.colorspace = codes["colorspace"]
        out.color_primaries = codes["color_primaries"]
        out.color_trc = codes["color_trc"]
        out.pts = vf.pts
        if vf.time_base is not None:
            out.time_base = vf.time_base
        self.last_mapping = mapping
        self.frames += 1
        return out

    def output_target(self) -> Any:
        """The operator's :class:`~hdrvideo.ops.base.OutputTarget` (for the writer's signalling)."""
        return self.operator.output_target()

    def __repr__(self) -> str:
        return f"FusedTonemapper({self.operator!r}, backend={self.backend}, dither={self.dither})"
