"""HDR metadata: SMPTE ST 2086 mastering display, CTA-861.3 light level, SMPTE ST 2094-40 (HDR10+).

One record per standard, each with its units in its field names:

=================================  ==========================  ===============================
record                             standard                    FFmpeg side data it is read from
=================================  ==========================  ===============================
:class:`MasteringDisplay`          SMPTE ST 2086               ``AVMasteringDisplayMetadata``
:class:`ContentLightLevel`         CTA-861.3 (MaxCLL/MaxFALL)  ``AVContentLightMetadata``
:class:`HDR10PlusMetadata`         SMPTE ST 2094-40 app. 4     ``AVDynamicHDRPlus``
=================================  ==========================  ===============================

Reading: PyAV hands each frame's side data over as the raw C struct of libavutil
(``bytes(side_data)``). The structs are mirrored below with :mod:`ctypes` so that the
compiler's alignment rules are applied for us; their sizes are checked at import against
FFmpeg 8 / libavutil 60 (88, 8 and 11304 bytes). Container-level ``mdcv``/``clli`` boxes and
Matroska ``Colour`` elements arrive as frame side data too (PyAV 18 exposes no stream side
data), so :func:`frame_side_data` is the one door for everything.

Writing: :func:`x265_params` and :func:`svtav1_params` build the option strings that
libx265 (``x265-params``) and libsvtav1 (``svtav1-params``) take, each in the units that
encoder documents (x265 ``doc/reST/cli.rst``; SVT-AV1 ``Docs/Parameters.md`` Appendix A.2).

Validation (:func:`validate_mastering_display`, :func:`validate_content_light_level`,
:func:`validate_hdr10plus`) returns human-readable problems as strings; readers turn them
into :class:`hdrvideo.errors.HDRVideoWarning`. Nothing here warns or logs by itself.

Quantisation of the carriers (what a round trip through a file keeps):

=========================  ===========================  ==============================
quantity                   HEVC SEI / MP4 / Matroska    AV1 metadata OBU
=========================  ===========================  ==============================
chromaticity x, y          1/50000                      1/65536 (0.16 fixed point)
max luminance              0.0001 cd/m²                 1/256 cd/m² (24.8 fixed point)
min luminance              0.0001 cd/m²                 1/16384 cd/m² (18.14 fixed point)
MaxCLL, MaxFALL            1 cd/m² (uint16)             1 cd/m² (uint16)
=========================  ===========================  ==============================
"""

from __future__ import annotations

import ctypes
import gc
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hdrvideo.color.pq import PQ_PEAK_NITS  # PQ (SMPTE ST 2084) cannot encode light above it
from hdrvideo.errors import MetadataError

if TYPE_CHECKING:  # pragma: no cover
    import av

__all__ = [
    "MasteringDisplay",
    "ContentLightLevel",
    "HDR10PlusWindow",
    "HDR10PlusEllipticalSelector",
    "HDR10PlusMetadata",
    "parse_mastering_display",
    "parse_content_light_level",
    "parse_hdr10plus",
    "frame_side_data",
    "validate_mastering_display",
    "validate_content_light_level",
    "validate_hdr10plus",
    "x265_master_display",
    "x265_params",
    "svtav1_mastering_display",
    "svtav1_params",
    "from_x265_string",
    "from_svtav1_string",
    "parse_max_cll",
]

# ---------------------------------------------------------------------------------------
# libavutil structs (FFmpeg 8 / libavutil 60), mirrored field by field
# ---------------------------------------------------------------------------------------


class _AVRational(ctypes.Structure):
    """``AVRational`` (libavutil/rational.h)."""

    _fields_ = [("num", ctypes.c_int), ("den", ctypes.c_int)]


class _AVMasteringDisplayMetadata(ctypes.Structure):
    """``AVMasteringDisplayMetadata`` (libavutil/mastering_display_metadata.h).

    ``display_primaries`` is in R, G, B order (FFmpeg reorders the G, B, R of the HEVC SEI).
    """

    _fields_ = [
        ("display_primaries", (_AVRational * 2) * 3),
        ("white_point", _AVRational * 2),
        ("min_luminance", _AVRational),
        ("max_luminance", _AVRational),
        ("has_primaries", ctypes.c_int),
        ("has_luminance", ctypes.c_int),
    ]


class _AVContentLightMetadata(ctypes.Structure):
    """``AVContentLightMetadata`` (libavutil/mastering_display_metadata.h)."""

    _fields_ = [("MaxCLL", ctypes.c_uint), ("MaxFALL", ctypes.c_uint)]


class _AVHDRPlusPercentile(ctypes.Structure):
    """``AVHDRPlusPercentile`` (libavutil/hdr_dynamic_metadata.h)."""

    _fields_ = [("percentage", ctypes.c_uint8), ("percentile", _AVRational)]


class _AVHDRPlusColorTransformParams(ctypes.Structure):
    """``AVHDRPlusColorTransformParams`` (libavutil/hdr_dynamic_metadata.h)."""

    _fields_ = [
        ("window_upper_left_corner_x", _AVRational),
        ("window_upper_left_corner_y", _AVRational),
        ("window_lower_right_corner_x", _AVRational),
        ("window_lower_right_corner_y", _AVRational),
        ("center_of_ellipse_x", ctypes.c_uint16),
        ("center_of_ellipse_y", ctypes.c_uint16),
        ("rotation_angle", ctypes.c_uint8),
        ("semimajor_axis_internal_ellipse", ctypes.c_uint16),
        ("semimajor_axis_external_ellipse", ctypes.c_uint16),
        ("semiminor_axis_external_ellipse", ctypes.c_uint16),
        ("overlap_process_option", ctypes.c_int),  # enum AVHDRPlusOverlapProcessOption
        ("maxscl", _AVRational * 3),
        ("average_maxrgb", _AVRational),
        ("num_distribution_maxrgb_percentiles", ctypes.c_uint8),
        ("distribution_maxrgb", _AVHDRPlusPercentile * 15),
        ("fraction_bright_pixels", _AVRational),
        ("tone_mapping_flag", ctypes.c_uint8),
        ("knee_point_x", _AVRational),
        ("knee_point_y", _AVRational),
        ("num_bezier_curve_anchors", ctypes.c_uint8),
        ("bezier_curve_anchors", _AVRational * 15),
        ("color_saturation_mapping_flag", ctypes.c_uint8),
        ("color_saturation_weight", _AVRational),
    ]


class _AVDynamicHDRPlus(ctypes.Structure):
    """``AVDynamicHDRPlus`` (libavutil/hdr_dynamic_metadata.h)."""

    _fields_ = [
        ("itu_t_t35_country_code", ctypes.c_uint8),
        ("application_version", ctypes.c_uint8),
        ("num_windows", ctypes.c_uint8),
        ("params", _AVHDRPlusColorTransformParams * 3),
        ("targeted_system_display_maximum_luminance", _AVRational),
        ("targeted_system_display_actual_peak_luminance_flag", ctypes.c_uint8),
        ("num_rows_targeted_system_display_actual_peak_luminance", ctypes.c_uint8),
        ("num_cols_targeted_system_display_actual_peak_luminance", ctypes.c_uint8),
        ("targeted_system_display_actual_peak_luminance", (_AVRational * 25) * 25),
        ("mastering_display_actual_peak_luminance_flag", ctypes.c_uint8),
        ("num_rows_mastering_display_actual_peak_luminance", ctypes.c_uint8),
        ("num_cols_mastering_display_actual_peak_luminance", ctypes.c_uint8),
        ("mastering_display_actual_peak_luminance", (_AVRational * 25) * 25),
    ]


# The sizes of FFmpeg 8 (libavutil 60). A mismatch means the mirror above is wrong for the
# libavutil this runs on, and every value read through it would be garbage: fail loudly.
assert ctypes.sizeof(_AVMasteringDisplayMetadata) == 88, ctypes.sizeof(_AVMasteringDisplayMetadata)
assert ctypes.sizeof(_AVContentLightMetadata) == 8, ctypes.sizeof(_AVContentLightMetadata)
assert ctypes.sizeof(_AVDynamicHDRPlus) == 11304, ctypes.sizeof(_AVDynamicHDRPlus)

#: ST 2094-40 linearised RGB values (maxscl, average_maxrgb, percentiles) are normalised so
#: that 1.0 is 10000 cd/m² (the PQ peak); FFmpeg stores them as N/100000, so N is in
#: units of 0.1 cd/m². (libplacebo and mpv convert with ``10000 * av_q2d(...)`` too.)
HDR10PLUS_LINEAR_PEAK_NITS = 10000.0

#: x265 ``master-display`` units: chromaticity in 0.00002, luminance in 0.0001 cd/m².
X265_CHROMATICITY_UNIT = 0.00002
X265_LUMINANCE_UNIT_NITS = 0.0001

#: SMPTE ST 2086 (and H.265 D.3.28) ranges of the mastering display luminance, cd/m².
ST2086_MAX_LUMINANCE_RANGE_NITS = (5.0, 10000.0)
ST2086_MIN_LUMINANCE_RANGE_NITS = (0.0001, 5.0)


#: MaxCLL above this multiple of the mastering display's peak is called suspicious.
CLL_OVER_MASTERING_FACTOR = 2.0


def _q2d(r: _AVRational) -> float:
    """``av_q2d`` that does not divide by zero: 0/0 (unset) is 0, N/0 is NaN."""
    if r.den == 0:
        return 0.0 if r.num == 0 else math.nan
    return r.num / r.den


def _struct_from(raw: bytes, cls: type[ctypes.Structure], what: str) -> Any:
    raw = bytes(raw)
    size = ctypes.sizeof(cls)
    # FFmpeg says these sizes are not ABI: a later libavutil may append fields, so a longer
    # buffer is read by its known prefix; a shorter one cannot be what we think it is.
    if len(raw) < size:
        raise MetadataError(f"{what}: side data is {len(raw)} bytes, expected at least {size}")
    return cls.from_buffer_copy(raw[:size])


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


XY = tuple[float, float]

# ---------------------------------------------------------------------------------------
# SMPTE ST 2086 mastering display colour volume
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MasteringDisplay:
    """Mastering display colour volume, SMPTE ST 2086.

    =======================  =================================  =========================
    field                    unit / domain                      carried as (HEVC SEI)
    =======================  =================================  =========================
    ``red``, ``green``,      CIE 1931 (x, y), each in [0, 1]    integers in 0.00002
    ``blue``
    ``white_point``          CIE 1931 (x, y)                    integers in 0.00002
    ``min_luminance_nits``   cd/m² (ST 2086: 0.0001 to 5)       integer in 0.0001 cd/m²
    ``max_luminance_nits``   cd/m² (ST 2086: 5 to 10000)        integer in 0.0001 cd/m²
    ``has_primaries``        primaries and white point present  FFmpeg's flag
    ``has_luminance``        both luminances present            FFmpeg's flag
    =======================  =================================  =========================

    The primaries are named by colour, never by position: the HEVC SEI and x265 write them
    G, B, R, FFmpeg stores them R, G, B. Build common displays with :meth:`from_primaries`.
    """

    red: XY
    green: XY
    blue: XY
    white_point: XY
    min_luminance_nits: float
    max_luminance_nits: float
    has_primaries: bool = True
    has_luminance: bool = True

    @classmethod
    def from_primaries(
        cls,
        primaries: str = "bt2020",
        *,
        max_luminance_nits: float = 1000.0,
        min_luminance_nits: float = 0.0001,
    ) -> "MasteringDisplay":
        """A display with named primaries (see :mod:`hdrvideo.color.primaries`): ``bt2020``,
        ``p3d65`` (the usual HDR10 grading display), ``bt709``, ``dci-p3``..."""
        from hdrvideo.color.primaries import get_primaries  # torch import only when asked

        p = get_primaries(primaries)
        return cls(
            red=tuple(p.red),
            green=tuple(p.green),
            blue=tuple(p.blue),
            white_point=tuple(p.white),
            min_luminance_nits=float(min_luminance_nits),
            max_luminance_nits=float(max_luminance_nits),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (lists for the (x, y) pairs, cd/m² for luminance)."""
        return {
            "red": _jsonable(self.red),
            "green": _jsonable(self.green),
            "blue": _jsonable(self.blue),
            "white_point": _jsonable(self.white_point),
            "min_luminance_nits": _jsonable(self.min_luminance_nits),
            "max_luminance_nits": _jsonable(self.max_luminance_nits),
            "has_primaries": self.has_primaries,
            "has_luminance": self.has_luminance,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MasteringDisplay":
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                red=_xy(d["red"]),
                green=_xy(d["green"]),
                blue=_xy(d["blue"]),
                white_point=_xy(d["white_point"]),
                min_luminance_nits=float(d["min_luminance_nits"]),
                max_luminance_nits=float(d["max_luminance_nits"]),
                has_primaries=bool(d.get("has_primaries", True)),
                has_luminance=bool(d.get("has_luminance", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MetadataError(f"bad mastering display dict: {exc}") from None

    @classmethod
    def from_x265_string(cls, text: str) -> "MasteringDisplay":
        """See the module function :func:`from_x265_string`."""
        return from_x265_string(text)

    @classmethod
    def from_svtav1_string(cls, text: str) -> "MasteringDisplay":
        """See the module function :func:`from_svtav1_string`."""
        return from_svtav1_string(text)

    def to_x265_string(self) -> str:
        """See :func:`x265_master_display`."""
        return x265_master_display(self)


def _xy(value: Any) -> XY:
    x, y = value
    return (float(x), float(y))


def parse_mastering_display(raw: bytes) -> MasteringDisplay:
    """Read FFmpeg's ``AV_FRAME_DATA_MASTERING_DISPLAY_METADATA`` payload.

    Args:
        raw: ``bytes(side_data)``, the ``AVMasteringDisplayMetadata`` struct (88 bytes).

    Returns:
        The :class:`MasteringDisplay`, values converted from FFmpeg's rationals (whatever
        their denominators: 50000 and 10000 from HEVC/MP4/Matroska, 65536, 256 and 16384
        from AV1) to floats. Fields FFmpeg marks absent read as 0.

    Raises:
        MetadataError: the buffer is shorter than the struct.
    """
    s = _struct_from(raw, _AVMasteringDisplayMetadata, "mastering display")
    prim = [(_q2d(s.display_primaries[i][0]), _q2d(s.display_primaries[i][1])) for i in range(3)]
    return MasteringDisplay(
        red=prim[0],
        green=prim[1],
        blue=prim[2],
        white_point=(_q2d(s.white_point[0]), _q2d(s.white_point[1])),
        min_luminance_nits=_q2d(s.min_luminance),
        max_luminance_nits=_q2d(s.max_luminance),
        has_primaries=bool(s.has_primaries),
        has_luminance=bool(s.has_luminance),
    )


# ---------------------------------------------------------------------------------------
# CTA-861.3 content light level
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentLightLevel:
    """Content light level, CTA-861.3 (also H.265 D.3.35, AV1 ``metadata_hdr_cll``).

    ====================  ==============================================================
    field                 meaning (integers, cd/m², 0 to 65535; 0 means "unknown")
    ====================  ==============================================================
    ``max_cll_nits``      MaxCLL: the brightest pixel's max(R, G, B) over the whole stream
    ``max_fall_nits``     MaxFALL: the highest frame-average of max(R, G, B)
    ====================  ==============================================================
    """

    max_cll_nits: int
    max_fall_nits: int

    def to_dict(self) -> dict[str, Any]:
        return {"max_cll_nits": int(self.max_cll_nits), "max_fall_nits": int(self.max_fall_nits)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ContentLightLevel":
        try:
            return cls(int(d["max_cll_nits"]), int(d["max_fall_nits"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MetadataError(f"bad content light level dict: {exc}") from None


def parse_content_light_level(raw: bytes) -> ContentLightLevel:
    """Read FFmpeg's ``AV_FRAME_DATA_CONTENT_LIGHT_LEVEL`` payload (``AVContentLightMetadata``,
    8 bytes: ``unsigned MaxCLL, MaxFALL`` in cd/m²)."""
    s = _struct_from(raw, _AVContentLightMetadata, "content light level")
    return ContentLightLevel(max_cll_nits=int(s.MaxCLL), max_fall_nits=int(s.MaxFALL))


# ---------------------------------------------------------------------------------------
# SMPTE ST 2094-40 (HDR10+) dynamic metadata
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HDR10PlusEllipticalSelector:
    """Geometry of a processing window other than the first (ST 2094-40 windows 2 and 3).

    Values as FFmpeg stores them: corners are the bitstream's pixel coordinates
    (``av_dynamic_hdr_plus_from_t35`` keeps them absolute, denominator 1), the ellipse in
    pixels, ``rotation_angle_degrees`` 0 to 180, ``overlap_process_option`` 0 = weighted
    averaging, 1 = layering.
    """

    window_upper_left_corner: XY
    window_lower_right_corner: XY
    center_of_ellipse: tuple[int, int]
    rotation_angle_degrees: int
    semimajor_axis_internal_ellipse: int
    semimajor_axis_external_ellipse: int
    semiminor_axis_external_ellipse: int
    overlap_process_option: int

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class HDR10PlusWindow:
    """Colour transform parameters of one processing window (ST 2094-40, CTA-861-G Annex S).

    =================================  ==============================  =====================
    field                              unit / domain                   bitstream code value
    =================================  ==============================  =====================
    ``maxscl_nits``                    (R, G, B) maxima, cd/m²         N (0.1 cd/m²), 17 bit
    ``average_maxrgb_nits``            mean of max(R,G,B), cd/m²       N (0.1 cd/m²), 17 bit
    ``distribution_maxrgb_nits``       ((percentage 0-100, cd/m²),..)  7 bit, 17 bit
    ``fraction_bright_pixels``         0 to 1                          N/1000, 10 bit
    ``tone_mapping_flag``              bezier curve present            1 bit
    ``knee_point_x``, ``_y``           0 to 1 (of the curve's range)   N/4095, 12 bit
    ``bezier_curve_anchors``           each 0 to 1                     N/1023, 10 bit
    ``color_saturation_mapping_flag``  0 in this version of the spec   1 bit
    ``color_saturation_weight``        gain 0 to 63/8 (1 when absent)  N/8, 6 bit
    ``selector``                       geometry (None for window 1)
    =================================  ==============================  =====================

    Linearised values are relative to 10000 cd/m² in the standard (1.0 = 10000 cd/m²,
    multiples of 0.00001); here they are in cd/m². hdr10plus_tool's JSON holds the code
    values (``MaxScl``, ``AverageRGB``, ``DistributionValues``: N = nits × 10;
    ``KneePointX/Y``: x × 4095; ``Anchors``: a × 1023).

    HDR10+ streams (9-entry layout 1, 5, 10, 25, 50, 75, 90, 95, 99 %) use two entries for
    something else than a percentile, and they are passed through unchanged here: the 5 %
    entry is reserved (libplacebo observes that it tracks the scene's brightest pixel)
    and the 10 % entry is a small count-like value that the HDMI HDR10+ VSIF carries
    unscaled, unlike the others (so its "cd/m²" here is not a luminance).
    """

    maxscl_nits: tuple[float, float, float]
    average_maxrgb_nits: float
    distribution_maxrgb_nits: tuple[tuple[int, float], ...]
    fraction_bright_pixels: float
    tone_mapping_flag: bool
    knee_point_x: float
    knee_point_y: float
    bezier_curve_anchors: tuple[float, ...]
    color_saturation_mapping_flag: bool
    color_saturation_weight: float
    selector: HDR10PlusEllipticalSelector | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: _jsonable(getattr(self, k)) for k in self.__dataclass_fields__ if k != "selector"}
        d["selector"] = self.selector.to_dict() if self.selector is not None else None
        return d


@dataclass(frozen=True)
class HDR10PlusMetadata:
    """SMPTE ST 2094-40 dynamic metadata for one frame (HDR10+, ``AVDynamicHDRPlus``).

    Attributes:
        itu_t_t35_country_code: 0xB5 (USA) in HDR10+ streams (FFmpeg's HEVC/AV1 decoders
            leave it 0 after they have checked it).
        application_version: 0 or 1 (HDR10+ writes 1).
        num_windows: 1 to 3 processing windows; ``windows`` holds that many.
        targeted_system_display_maximum_luminance_nits: the peak of the display the
            metadata was made for, cd/m² (27-bit integer; 0 = not given). FFmpeg stores it
            as N/1 although its header's comment says "0.0001 cd/m²": the code reads the
            bitstream's whole cd/m² (``luminance_den = 1``), and ffprobe prints ``400/1``.
        targeted_system_display_actual_peak_luminance: rows of normalised peaks (each 0
            to 1 in multiples of 1/15), or ``None`` when its flag is 0 (always, in this
            version of the standard).
        mastering_display_actual_peak_luminance: same shape and rule, for the mastering
            display.
        windows: one :class:`HDR10PlusWindow` per processing window.
    """

    itu_t_t35_country_code: int
    application_version: int
    num_windows: int
    targeted_system_display_maximum_luminance_nits: float
    windows: tuple[HDR10PlusWindow, ...]
    targeted_system_display_actual_peak_luminance: tuple[tuple[float, ...], ...] | None = None
    mastering_display_actual_peak_luminance: tuple[tuple[float, ...], ...] | None = None

    @property
    def targeted_system_display_actual_peak_luminance_flag(self) -> bool:
        return self.targeted_system_display_actual_peak_luminance is not None

    @property
    def mastering_display_actual_peak_luminance_flag(self) -> bool:
        return self.mastering_display_actual_peak_luminance is not None

    @property
    def scene_peak_nits(self) -> float:
        """max(maxscl) of the first window: the scene's brightest component, cd/m²."""
        return max(self.windows[0].maxscl_nits) if self.windows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "itu_t_t35_country_code": self.itu_t_t35_country_code,
            "application_version": self.application_version,
            "num_windows": self.num_windows,
            "targeted_system_display_maximum_luminance_nits": _jsonable(
                self.targeted_system_display_maximum_luminance_nits
            ),
            "targeted_system_display_actual_peak_luminance": _jsonable(
                self.targeted_system_display_actual_peak_luminance
            ),
            "mastering_display_actual_peak_luminance": _jsonable(
                self.mastering_display_actual_peak_luminance
            ),
            "windows": [w.to_dict() for w in self.windows],
        }


def _peak_luminance_array(flag: int, rows: int, cols: int, arr: Any) -> tuple[tuple[float, ...], ...] | None:
    if not flag:
        return None
    rows, cols = min(int(rows), 25), min(int(cols), 25)
    return tuple(tuple(_q2d(arr[i][j]) for j in range(cols)) for i in range(rows))


def _window(p: _AVHDRPlusColorTransformParams, index: int) -> HDR10PlusWindow:
    n_pct = min(int(p.num_distribution_maxrgb_percentiles), 15)
    n_anchors = min(int(p.num_bezier_curve_anchors), 15) if p.tone_mapping_flag else 0
    selector = None
    if index > 0:
        selector = HDR10PlusEllipticalSelector(
            window_upper_left_corner=(_q2d(p.window_upper_left_corner_x), _q2d(p.window_upper_left_corner_y)),
            window_lower_right_corner=(_q2d(p.window_lower_right_corner_x), _q2d(p.window_lower_right_corner_y)),
            center_of_ellipse=(int(p.center_of_ellipse_x), int(p.center_of_ellipse_y)),
            rotation_angle_degrees=int(p.rotation_angle),
            semimajor_axis_internal_ellipse=int(p.semimajor_axis_internal_ellipse),
            semimajor_axis_external_ellipse=int(p.semimajor_axis_external_ellipse),
            semiminor_axis_external_ellipse=int(p.semiminor_axis_external_ellipse),
            overlap_process_option=int(p.overlap_process_option),
        )
    peak = HDR10PLUS_LINEAR_PEAK_NITS
    return HDR10PlusWindow(
        maxscl_nits=tuple(peak * _q2d(p.maxscl[i]) for i in range(3)),
        average_maxrgb_nits=peak * _q2d(p.average_maxrgb),
        distribution_maxrgb_nits=tuple(
            (int(p.distribution_maxrgb[i].percentage), peak * _q2d(p.distribution_maxrgb[i].percentile))
            for i in range(n_pct)
        ),
        fraction_bright_pixels=_q2d(p.fraction_bright_pixels),
        tone_mapping_flag=bool(p.tone_mapping_flag),
        knee_point_x=_q2d(p.knee_point_x) if p.tone_mapping_flag else 0.0,
        knee_point_y=_q2d(p.knee_point_y) if p.tone_mapping_flag else 0.0,
        bezier_curve_anchors=tuple(_q2d(p.bezier_curve_anchors[i]) for i in range(n_anchors)),
        color_saturation_mapping_flag=bool(p.color_saturation_mapping_flag),
        # ST 2094-40: "The default value shall be 1" when the weight is not transmitted.
        color_saturation_weight=_q2d(p.color_saturation_weight) if p.color_saturation_mapping_flag else 1.0,
        selector=selector,
    )


def parse_hdr10plus(raw: bytes) -> HDR10PlusMetadata:
    """Read FFmpeg's ``AV_FRAME_DATA_DYNAMIC_HDR_PLUS`` payload (``AVDynamicHDRPlus``,
    11304 bytes in libavutil 60) into :class:`HDR10PlusMetadata` (units: see there).

    Raises:
        MetadataError: the buffer is too short, or ``num_windows`` is not 1 to 3.
    """
    s = _struct_from(raw, _AVDynamicHDRPlus, "HDR10+ metadata")
    n = int(s.num_windows)
    if not 1 <= n <= 3:
        raise MetadataError(f"HDR10+ metadata: num_windows is {n}, ST 2094-40 allows 1 to 3")
    return HDR10PlusMetadata(
        itu_t_t35_country_code=int(s.itu_t_t35_country_code),
        application_version=int(s.application_version),
        num_windows=n,
        targeted_system_display_maximum_luminance_nits=_q2d(s.targeted_system_display_maximum_luminance),
        windows=tuple(_window(s.params[w], w) for w in range(n)),
        targeted_system_display_actual_peak_luminance=_peak_luminance_array(
            s.targeted_system_display_actual_peak_luminance_flag,
            s.num_rows_targeted_system_display_actual_peak_luminance,
            s.num_cols_targeted_system_display_actual_peak_luminance,
            s.targeted_system_display_actual_peak_luminance,
        ),
        mastering_display_actual_peak_luminance=_peak_luminance_array(
            s.mastering_display_actual_peak_luminance_flag,
            s.num_rows_mastering_display_actual_peak_luminance,
            s.num_cols_mastering_display_actual_peak_luminance,
            s.mastering_display_actual_peak_luminance,
        ),
    )


# ---------------------------------------------------------------------------------------
# Frame side data
# ---------------------------------------------------------------------------------------

_MASTERING = "MASTERING_DISPLAY_METADATA"  # AV_FRAME_DATA_MASTERING_DISPLAY_METADATA = 11
_CLL = "CONTENT_LIGHT_LEVEL"  # AV_FRAME_DATA_CONTENT_LIGHT_LEVEL = 14
_HDR10PLUS = "DYNAMIC_HDR_PLUS"  # AV_FRAME_DATA_DYNAMIC_HDR_PLUS = 17
_DOVI = ("DOVI_RPU_BUFFER", "DOVI_METADATA")  # 23, 24
_BY_VALUE = {11: _MASTERING, 14: _CLL, 17: _HDR10PLUS, 23: _DOVI[0], 24: _DOVI[1]}


def _type_name(sd: Any) -> str | None:
    t = sd.type
    name = getattr(t, "name", None)
    if isinstance(name, str):
        return name
    try:
        return _BY_VALUE.get(int(getattr(t, "value", t)))
    except (TypeError, ValueError):
        return None


_SIDE_DATA_READS = 0
#: Full collections happen every this many side-data reads (see below).
_COLLECT_EVERY = 16


def _collect_side_data_cycles() -> None:
    """Free frames kept alive by PyAV's side-data reference cycle.

    In PyAV 18, reading ``frame.side_data`` links the frame and its side-data container in
    a reference cycle that only a full collection frees (measured: ``gc.collect(1)`` does
    not), and large native buffers never trigger one: reading every frame's side data grew
    a 240-frame 1080p decode by ~3 MB per frame. A full collection costs ~50 ms with torch
    loaded, so readers call this door only for streams whose metadata changes per frame
    (HDR10+, Dolby Vision; see ``VideoReader.side_data_for``), and it collects every
    ``_COLLECT_EVERY`` reads: at most that many frames wait.
    """
    global _SIDE_DATA_READS
    _SIDE_DATA_READS += 1
    if _SIDE_DATA_READS % _COLLECT_EVERY == 0:
        gc.collect()


def frame_side_data(frame: "av.VideoFrame") -> dict[str, Any]:
    """The HDR metadata a decoded PyAV frame carries, parsed.

    Keys, present only when the frame has that side data:

    - ``"mastering_display"``: :class:`MasteringDisplay`
    - ``"content_light_level"``: :class:`ContentLightLevel`
    - ``"hdr10plus"``: :class:`HDR10PlusMetadata`
    - ``"dolby_vision"``: ``True`` (an RPU or parsed Dolby Vision metadata is attached;
      its contents are not interpreted here)

    Container-level metadata (MP4 ``mdcv``/``clli``, Matroska ``Colour``) and in-band SEI /
    metadata OBUs both arrive here: FFmpeg 8 attaches the former to decoded frames.
    """
    out: dict[str, Any] = {}
    _collect_side_data_cycles()
    try:
        entries = list(frame.side_data)
    except ValueError:
        # PyAV 18 builds an enum for every entry and raises on a type it does not know
        # (e.g. type 31 on AVIF stills), which hides the whole list. Report it, not fail.
        return {"side_data_unreadable": True}
    for sd in entries:
        name = _type_name(sd)
        if name == _MASTERING:
            out["mastering_display"] = parse_mastering_display(bytes(sd))
        elif name == _CLL:
            out["content_light_level"] = parse_content_light_level(bytes(sd))
        elif name == _HDR10PLUS:
            out["hdr10plus"] = parse_hdr10plus(bytes(sd))
        elif name in _DOVI:
            out["dolby_vision"] = True
    return out


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _cross(o: XY, a: XY, b: XY) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _fmt_xy(p: XY) -> str:
    return f"({p[0]:.4f}, {p[1]:.4f})"


def _primaries_problems(md: MasteringDisplay) -> list[str]:
    problems: list[str] = []
    named = {"red": md.red, "green": md.green, "blue": md.blue, "white point": md.white_point}
    bad = False
    for name, (x, y) in named.items():
        if not (math.isfinite(x) and math.isfinite(y)):
            problems.append(f"{name} chromaticity {(x, y)} is not a number")
            bad = True
        elif not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            problems.append(f"{name} chromaticity {_fmt_xy((x, y))} is outside [0, 1]")
            bad = True
        elif x + y > 1.0:
            problems.append(f"{name} chromaticity {_fmt_xy((x, y))} has x + y > 1, which no colour has")
            bad = True
    if bad:
        return problems
    r, g, b, w = md.red, md.green, md.blue, md.white_point
    area = _cross(r, g, b) / 2.0
    if abs(area) < 1e-4:  # BT.709's gamut is 0.112 in xy; 1e-4 is a sliver
        problems.append(
            f"primaries red {_fmt_xy(r)}, green {_fmt_xy(g)}, blue {_fmt_xy(b)} do not form a triangle"
        )
        return problems
    signs = [_cross(r, g, w), _cross(g, b, w), _cross(b, r, w)]
    if not (all(s >= 0 for s in signs) or all(s <= 0 for s in signs)):
        problems.append(f"white point {_fmt_xy(w)} lies outside the triangle of the primaries")
    # Which colour is each primary, judged by where it sits: red has the largest x, green
    # the largest y, blue is the remaining one (lowest y in every real gamut).
    pts = {"red": r, "green": g, "blue": b}
    looks_red = max(pts, key=lambda k: pts[k][0])
    looks_green = max(pts, key=lambda k: pts[k][1])
    if looks_red != looks_green:
        looks_blue = ({"red", "green", "blue"} - {looks_red, looks_green}).pop()
        looks = {looks_red: "red", looks_green: "green", looks_blue: "blue"}
        if any(label != looks[label] for label in pts):
            desc = ", ".join(
                f"the one labelled {label} {_fmt_xy(pts[label])} looks {looks[label]}"
                for label in ("red", "green", "blue")
                if looks[label] != label
            )
            msg = f"primaries appear permuted: {desc}"
            if looks == {"red": "blue", "green": "red", "blue": "green"}:
                msg += (
                    " (what a writer gives that stored R, G, B where the HEVC SEI and"
                    " ISO/IEC 23001-8 mdcv expect G, B, R)"
                )
            problems.append(msg)
    return problems


def validate_mastering_display(md: MasteringDisplay) -> list[str]:
    """Problems with a mastering display, as sentences (empty list: nothing found).

    Checks (SMPTE ST 2086; H.265 D.3.28 gives the same ranges):

    - both parts present (``has_primaries`` / ``has_luminance``). FFmpeg 8's HEVC decoder
      clears a flag when the SEI's values leave H.265's ranges but keeps the values, so
      when a flag is false and values are there they are still checked, to say why;
    - chromaticities finite, in [0, 1] and with x + y <= 1;
    - primaries form a triangle that contains the white point, and each primary sits
      where its colour does (red largest x, green largest y) -- a permutation is the usual
      mark of G, B, R / R, G, B confusion in a writer;
    - max luminance in (0, 10000] cd/m² (PQ cannot exceed 10000) and not below ST 2086's
      5 cd/m² floor (a value written in cd/m² where 0.0001 cd/m² is expected lands there);
    - min luminance below max, and not above ST 2086's 5 cd/m² ceiling. A min of 0, which
      many files carry (FFmpeg accepts it too), is accepted.
    """
    problems: list[str] = []
    prim_values = (*md.red, *md.green, *md.blue, *md.white_point)
    if not md.has_primaries:
        if any(v != 0 for v in prim_values):
            problems.append(
                "mastering display primaries are flagged absent (has_primaries is false) although "
                "values are present; a decoder clears the flag when they are out of range"
            )
            problems += _primaries_problems(md)
        else:
            problems.append("mastering display has no primaries (has_primaries is false)")
    else:
        problems += _primaries_problems(md)
    lo, hi = md.min_luminance_nits, md.max_luminance_nits
    if not md.has_luminance:
        if lo == 0 and hi == 0:
            problems.append("mastering display has no luminance (has_luminance is false)")
            return problems
        problems.append(
            f"mastering display luminance is flagged absent (has_luminance is false) although it "
            f"reads min {lo:g}, max {hi:g} cd/m²; a decoder clears the flag when they are out of range"
        )
    if not (math.isfinite(lo) and math.isfinite(hi)):
        problems.append(f"mastering luminance min {lo}, max {hi} is not a number")
        return problems
    if not 0.0 < hi <= PQ_PEAK_NITS:
        problems.append(f"max luminance {hi:g} cd/m² is outside (0, 10000]")
    elif hi < ST2086_MAX_LUMINANCE_RANGE_NITS[0]:
        problems.append(
            f"max luminance {hi:g} cd/m² is below ST 2086's 5 cd/m² floor, implausible for an HDR "
            f"mastering display (the code value read as whole cd/m² instead of 0.0001 cd/m² units "
            f"would give {hi * 10000:g} cd/m²: a writer's unit mistake looks like this)"
        )
    if lo < 0:
        problems.append(f"min luminance {lo:g} cd/m² is negative")
    if lo >= hi:
        problems.append(f"min luminance {lo:g} cd/m² is not below max luminance {hi:g} cd/m²")
    elif lo > ST2086_MIN_LUMINANCE_RANGE_NITS[1]:
        problems.append(f"min luminance {lo:g} cd/m² is above ST 2086's 5 cd/m² ceiling for a display's black")
    return problems


def validate_content_light_level(cll: ContentLightLevel, md: MasteringDisplay | None = None) -> list[str]:
    """Problems with MaxCLL/MaxFALL, as sentences (empty list: nothing found).

    A value of 0 means "unknown" in CTA-861.3 (and H.265 D.3.35): it is reported as such,
    in a sentence that says so, not as an error. Impossible: MaxFALL above MaxCLL (a frame
    average cannot exceed the brightest pixel), either above 10000 cd/m² (PQ's peak).
    Suspicious: MaxCLL more than :data:`CLL_OVER_MASTERING_FACTOR` times the mastering
    display's peak (content the grading display could not have shown).
    """
    problems: list[str] = []
    cll_v, fall_v = int(cll.max_cll_nits), int(cll.max_fall_nits)
    if cll_v < 0 or fall_v < 0:
        problems.append(f"MaxCLL {cll_v} / MaxFALL {fall_v} cd/m² is negative")
        return problems
    if cll_v == 0 and fall_v == 0:
        problems.append("MaxCLL and MaxFALL are 0, which CTA-861.3 defines as unknown (not an error)")
        return problems
    if cll_v == 0:
        problems.append("MaxCLL is 0, which CTA-861.3 defines as unknown (not an error)")
    if fall_v == 0:
        problems.append("MaxFALL is 0, which CTA-861.3 defines as unknown (not an error)")
    if cll_v > PQ_PEAK_NITS:
        problems.append(f"MaxCLL {cll_v} cd/m² is above 10000 cd/m², which PQ cannot encode")
    if fall_v > PQ_PEAK_NITS:
        problems.append(f"MaxFALL {fall_v} cd/m² is above 10000 cd/m², which PQ cannot encode")
    if cll_v and fall_v and fall_v > cll_v:
        problems.append(
            f"MaxFALL {fall_v} cd/m² is above MaxCLL {cll_v} cd/m²: a frame's average cannot exceed "
            "its brightest pixel"
        )
    if md is not None and md.has_luminance and cll_v and md.max_luminance_nits > 0:
        if cll_v > CLL_OVER_MASTERING_FACTOR * md.max_luminance_nits:
            problems.append(
                f"MaxCLL {cll_v} cd/m² is far above the mastering display's peak "
                f"{md.max_luminance_nits:g} cd/m² (more than {CLL_OVER_MASTERING_FACTOR:g}x)"
            )
    return problems


#: Distribution entries that HDR10+ does not use as luminance percentiles (see HDR10PlusWindow).
_HDR10PLUS_SPECIAL_PERCENTAGES = (5, 10)


def validate_hdr10plus(meta: HDR10PlusMetadata) -> list[str]:
    """Problems with one frame's HDR10+ metadata, as sentences (empty list: nothing found).

    Checks ranges from ST 2094-40 (linear values within 10000 cd/m², fraction and knee
    point in [0, 1], anchors in [0, 1], at most 15 percentiles/anchors), percentages in
    0-100 rising, and percentile values non-decreasing with percentage (the 5 % and 10 %
    entries, which HDR10+ uses for other things -- see :class:`HDR10PlusWindow` -- are
    left out of that check), and the average within the maxima.
    """
    problems: list[str] = []
    if meta.application_version > 1:
        problems.append(f"application_version {meta.application_version} is newer than ST 2094-40 defines")
    for w, win in enumerate(meta.windows, start=1):
        tag = f"HDR10+ window {w}"
        for value, name in [*((v, f"maxscl[{i}]") for i, v in enumerate(win.maxscl_nits)),
                            (win.average_maxrgb_nits, "average_maxrgb")]:
            if not 0.0 <= value <= PQ_PEAK_NITS:
                problems.append(f"{tag}: {name} {value:g} cd/m² is outside [0, 10000]")
        if win.average_maxrgb_nits > max(win.maxscl_nits) > 0:
            problems.append(
                f"{tag}: average_maxrgb {win.average_maxrgb_nits:g} cd/m² is above the largest maxscl "
                f"{max(win.maxscl_nits):g} cd/m²"
            )
        pct = [p for p, _ in win.distribution_maxrgb_nits]
        if any(not 0 <= p <= 100 for p in pct):
            problems.append(f"{tag}: distribution percentages {pct} are not all in 0..100")
        if any(b <= a for a, b in zip(pct, pct[1:])):
            problems.append(f"{tag}: distribution percentages {pct} are not rising")
        ordered = [(p, v) for p, v in win.distribution_maxrgb_nits if p not in _HDR10PLUS_SPECIAL_PERCENTAGES]
        for (p0, v0), (p1, v1) in zip(ordered, ordered[1:]):
            if v1 < v0:
                problems.append(
                    f"{tag}: the {p1} % maxRGB percentile {v1:g} cd/m² is below the {p0} % one {v0:g} cd/m²"
                )
        if not 0.0 <= win.fraction_bright_pixels <= 1.0:
            problems.append(f"{tag}: fraction_bright_pixels {win.fraction_bright_pixels:g} is outside [0, 1]")
        if win.tone_mapping_flag:
            for name, v in (("knee_point_x", win.knee_point_x), ("knee_point_y", win.knee_point_y)):
                if not 0.0 <= v <= 1.0:
                    problems.append(f"{tag}: {name} {v:g} is outside [0, 1]")
            if any(not 0.0 <= a <= 1.0 for a in win.bezier_curve_anchors):
                problems.append(f"{tag}: bezier_curve_anchors {list(win.bezier_curve_anchors)} leave [0, 1]")
    return problems


# ---------------------------------------------------------------------------------------
# Encoder parameter strings
# ---------------------------------------------------------------------------------------


def _code(value: float, unit: float, bits: int, what: str) -> int:
    if not math.isfinite(value):
        raise MetadataError(f"{what} {value!r} is not a number")
    code = round(value / unit)
    if not 0 <= code < (1 << bits):
        raise MetadataError(f"{what} {value!r} does not fit the encoder's {bits}-bit field")
    return int(code)


def _require_complete(md: MasteringDisplay, encoder: str) -> None:
    if not (md.has_primaries and md.has_luminance):
        raise MetadataError(
            f"{encoder} needs both primaries and luminance of the mastering display; this one has "
            f"has_primaries={md.has_primaries}, has_luminance={md.has_luminance}"
        )


def x265_master_display(md: MasteringDisplay) -> str:
    """x265's ``master-display`` value: ``G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)``.

    ============  ======================================  ==================
    part          unit                                    x265 field
    ============  ======================================  ==================
    chromaticity  0.00002 (i.e. x × 50000), rounded       ``%hu`` (16 bit)
    luminance     0.0001 cd/m² (i.e. nits × 10000)        ``%u`` (32 bit)
    ============  ======================================  ==================

    Order is G, B, R as in the HEVC SEI (x265 ``doc/reST/cli.rst``, ``--master-display``).

    Raises:
        MetadataError: a part is missing, not finite, or does not fit x265's fields.
    """
    _require_complete(md, "x265 master-display")

    def xy(p: XY, name: str) -> str:
        cx = _code(p[0], X265_CHROMATICITY_UNIT, 16, f"{name} x")
        cy = _code(p[1], X265_CHROMATICITY_UNIT, 16, f"{name} y")
        return f"({cx},{cy})"

    lmax = _code(md.max_luminance_nits, X265_LUMINANCE_UNIT_NITS, 32, "max luminance")
    lmin = _code(md.min_luminance_nits, X265_LUMINANCE_UNIT_NITS, 32, "min luminance")
    return (
        f"G{xy(md.green, 'green')}B{xy(md.blue, 'blue')}R{xy(md.red, 'red')}"
        f"WP{xy(md.white_point, 'white point')}L({lmax},{lmin})"
    )


def _cll_pair(cll: ContentLightLevel) -> str:
    a = _code(float(cll.max_cll_nits), 1.0, 16, "MaxCLL")
    b = _code(float(cll.max_fall_nits), 1.0, 16, "MaxFALL")
    return f"{a},{b}"


def x265_params(
    md: MasteringDisplay | None = None,
    cll: ContentLightLevel | None = None,
    *,
    repeat_headers: bool = True,
    hdr10_opt: bool = False,
) -> str:
    """The ``x265-params`` string that makes libx265 write HDR10 static metadata.

    ``hdr10=1:hdr10-opt=0:repeat-headers=1:master-display=...:max-cll=MaxCLL,MaxFALL``

    - ``hdr10=1`` forces the SEIs (x265 turns it on by itself with master-display or
      max-cll; explicit, it also lets a 0,0 light level -- "unknown" -- be written);
    - ``hdr10-opt`` is x265's HDR10 QP tuning, a quality choice, off unless asked;
    - ``repeat-headers=1`` repeats VPS/SPS/PPS and the SEIs at every keyframe, so a cut or
      a stream joined mid-way still carries the metadata.

    Returns ``""`` when both ``md`` and ``cll`` are None. Items are joined with ``:`` (the
    separator FFmpeg's ``x265-params`` parser uses), so they can be appended to other
    options with one more ``:``.
    """
    if md is None and cll is None:
        return ""
    items = ["hdr10=1", f"hdr10-opt={int(bool(hdr10_opt))}"]
    if repeat_headers:
        items.append("repeat-headers=1")
    if md is not None:
        items.append(f"master-display={x265_master_display(md)}")
    if cll is not None:
        items.append(f"max-cll={_cll_pair(cll)}")
    return ":".join(items)


def _num(v: float, what: str, digits: int = 6) -> str:
    if not math.isfinite(v) or v < 0:
        raise MetadataError(f"{what} {v!r} must be a finite non-negative number")
    text = f"{v:.{digits}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def svtav1_mastering_display(md: MasteringDisplay) -> str:
    """SVT-AV1's ``mastering-display`` value: ``G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)``.

    Unlike x265, SVT-AV1 takes plain numbers (SVT-AV1 ``Docs/Parameters.md``, A.2):
    chromaticities as CIE 1931 x, y in [0, 1], luminance in cd/m². Written with 6
    decimals, finer than what AV1 keeps (chromaticity 1/65536, max 1/256 cd/m², min
    1/16384 cd/m²).
    """
    _require_complete(md, "SVT-AV1 mastering-display")

    def xy(p: XY, name: str) -> str:
        return f"({_num(p[0], name + ' x')},{_num(p[1], name + ' y')})"

    return (
        f"G{xy(md.green, 'green')}B{xy(md.blue, 'blue')}R{xy(md.red, 'red')}"
        f"WP{xy(md.white_point, 'white point')}"
        f"L({_num(md.max_luminance_nits, 'max luminance')},{_num(md.min_luminance_nits, 'min luminance')})"
    )


def svtav1_params(md: MasteringDisplay | None = None, cll: ContentLightLevel | None = None) -> str:
    """The ``svtav1-params`` string that makes libsvtav1 write AV1 HDR metadata OBUs.

    ``mastering-display=G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min):content-light=MaxCLL,MaxFALL``
    (``:``-separated, as FFmpeg's ``svtav1-params`` parser expects). ``""`` when both are
    None.
    """
    items = []
    if md is not None:
        items.append(f"mastering-display={svtav1_mastering_display(md)}")
    if cll is not None:
        items.append(f"content-light={_cll_pair(cll)}")
    return ":".join(items)


_NUMBER = r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*"
_GROUP = re.compile(r"\s*(G|B|R|WP|L)\s*\(" + _NUMBER + "," + _NUMBER + r"\)", re.IGNORECASE)


def _parse_groups(text: str, integers: bool, fmt: str) -> dict[str, tuple[float, float]]:
    if not isinstance(text, str):
        raise MetadataError(f"master display string must be text, not {type(text).__name__}")
    groups: dict[str, tuple[float, float]] = {}
    pos = 0
    stripped = text.strip()
    while pos < len(stripped):
        m = _GROUP.match(stripped, pos)
        if not m:
            raise MetadataError(f"bad master display {text!r} at {stripped[pos:]!r}; expected {fmt}")
        key = m.group(1).upper()
        if key in groups:
            raise MetadataError(f"bad master display {text!r}: {key}(...) given twice")
        a, b = m.group(2), m.group(3)
        if integers and ("." in a or "." in b):
            raise MetadataError(
                f"bad master display {text!r}: x265 takes integers (chromaticity in 0.00002, luminance "
                "in 0.0001 cd/m²); for decimal values use the SVT-AV1 form"
            )
        groups[key] = (float(a), float(b))
        pos = m.end()
    missing = [k for k in ("G", "B", "R", "WP", "L") if k not in groups]
    if missing:
        raise MetadataError(f"bad master display {text!r}: missing {', '.join(missing)}; expected {fmt}")
    return groups


def from_x265_string(text: str) -> MasteringDisplay:
    """Parse x265's ``G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)`` (integers: chromaticity in
    0.00002, luminance in 0.0001 cd/m²) into a :class:`MasteringDisplay`.

    Whitespace is allowed and the groups may come in any order; each must appear once.

    Raises:
        MetadataError: the text does not have that form.
    """
    fmt = "G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min) in integers"
    g = _parse_groups(text, True, fmt)
    u = X265_CHROMATICITY_UNIT

    def xy(key: str) -> XY:
        return (g[key][0] * u, g[key][1] * u)

    return MasteringDisplay(
        red=xy("R"),
        green=xy("G"),
        blue=xy("B"),
        white_point=xy("WP"),
        max_luminance_nits=g["L"][0] * X265_LUMINANCE_UNIT_NITS,
        min_luminance_nits=g["L"][1] * X265_LUMINANCE_UNIT_NITS,
    )


def from_svtav1_string(text: str) -> MasteringDisplay:
    """Parse SVT-AV1's ``G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)`` (CIE x, y and cd/m² as plain
    numbers) into a :class:`MasteringDisplay`.

    Raises:
        MetadataError: the text does not have that form.
    """
    g = _parse_groups(text, False, "G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min) with x, y in [0, 1] and cd/m²")
    return MasteringDisplay(
        red=g["R"],
        green=g["G"],
        blue=g["B"],
        white_point=g["WP"],
        max_luminance_nits=g["L"][0],
        min_luminance_nits=g["L"][1],
    )


def parse_max_cll(text: str) -> ContentLightLevel:
    """Parse ``"MaxCLL,MaxFALL"`` (x265 ``max-cll``, SVT-AV1 ``content-light``), cd/m²."""
    m = re.fullmatch(r"\s*([0-9]+)\s*,\s*([0-9]+)\s*", text if isinstance(text, str) else "")
    if not m:
        raise MetadataError(f"bad content light level {text!r}; expected MaxCLL,MaxFALL as integers in cd/m²")
    a, b = int(m.group(1)), int(m.group(2))
    if a > 65535 or b > 65535:
        raise MetadataError(f"content light level {text!r} does not fit 16 bits (0..65535 cd/m²)")
    return ContentLightLevel(max_cll_nits=a, max_fall_nits=b)
