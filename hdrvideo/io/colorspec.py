"""ColorSpec: how a stream's code values map to light, and its signalling in FFmpeg terms.

The names follow ITU-T H.273 (coding-independent code points), which FFmpeg, HEVC/AV1 VUI,
MP4 ``colr`` and Matroska ``Colour`` all use. :data:`PRIMARIES_CODES`,
:data:`TRANSFER_CODES` and :data:`MATRIX_CODES` map our names to H.273 code points (equal
to FFmpeg's ``AVColorPrimaries`` / ``AVColorTransferCharacteristic`` / ``AVColorSpace``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hdrvideo.errors import InvalidInputError

#: Our primaries name -> H.273 ColourPrimaries code point.
PRIMARIES_CODES: dict[str, int] = {
    "bt709": 1,
    "bt601-625": 5,  # BT.470 System B/G, EBU Tech 3213
    "bt601-525": 6,  # SMPTE 170M
    "bt2020": 9,
    "xyz": 10,  # SMPTE ST 428-1
    "dci-p3": 11,  # SMPTE RP 431-2 (DCI white)
    "p3d65": 12,  # SMPTE EG 432-1 (Display P3 primaries, D65)
}

#: Our transfer name -> H.273 TransferCharacteristics code point.
TRANSFER_CODES: dict[str, int] = {
    "bt1886": 1,  # signalled as BT.709; displayed with the BT.1886 EOTF
    "gamma22": 4,  # BT.470 System M
    "gamma28": 5,  # BT.470 System B/G
    "linear": 8,
    "srgb": 13,  # IEC 61966-2-1
    "pq": 16,  # SMPTE ST 2084
    "hlg": 18,  # ARIB STD-B67 / ITU-R BT.2100 HLG
}

#: Transfer code points that mean the same display as one of ours.
TRANSFER_ALIASES: dict[int, str] = {6: "bt1886", 14: "bt1886", 15: "bt1886"}

#: Our matrix name -> H.273 MatrixCoefficients code point.
MATRIX_CODES: dict[str, int] = {
    "rgb": 0,
    "bt709": 1,
    "bt601": 6,  # BT.601 / SMPTE 170M (5 is the same matrix)
    "bt2020nc": 9,
    "bt2020c": 10,
    "ictcp": 14,
}
MATRIX_ALIASES: dict[int, str] = {5: "bt601"}

#: H.273 VideoFullRangeFlag as FFmpeg's AVColorRange: 1 = limited ("tv"), 2 = full ("pc").
RANGE_CODES: dict[str, int] = {"limited": 1, "full": 2}

UNSPECIFIED = 2  # H.273 "unspecified" for primaries, transfer and matrix


def _name_for(code: int | None, table: dict[str, int], aliases: dict[int, str] | None = None) -> str | None:
    if code is None:
        return None
    for name, value in table.items():
        if value == int(code):
            return name
    if aliases and int(code) in aliases:
        return aliases[int(code)]
    return None


@dataclass(frozen=True)
class ColorSpec:
    """What a stream's code values mean.

    Attributes:
        primaries: ``bt709``, ``bt2020``, ``p3d65``, ``dci-p3``, ``bt601-525``,
            ``bt601-625`` or ``xyz`` (see :mod:`hdrvideo.color.primaries`).
        transfer: ``pq``, ``hlg``, ``srgb``, ``bt1886``, ``gamma22``, ``gamma28`` or ``linear``.
        matrix: ``bt709``, ``bt2020nc``, ``bt2020c``, ``bt601``, ``ictcp`` or ``rgb``.
        range: ``limited`` (narrow, "tv") or ``full`` ("pc").
        bit_depth: bits per sample of the coded picture (8, 10, 12, 16).
        peak_nits: nominal peak luminance in cd/m² of the display the signal is meant for:
            PQ: 10000 (absolute signal); HLG: the display peak used for the OOTF
            (BT.2100 nominal 1000); SDR: the luminance of code value 1.0.
        white_nits: reference (diffuse) white in cd/m²: 203 for PQ and HLG (ITU-R BT.2408),
            and for SDR the level its white enters the working space at (203 when the goal
            is HDR, 100 for SDR-to-SDR work).
        signalled: ``True`` when every field came from the stream's own signalling,
            ``False`` when something was guessed or overridden.
    """

    primaries: str = "bt2020"
    transfer: str = "pq"
    matrix: str = "bt2020nc"
    range: str = "limited"
    bit_depth: int = 10
    peak_nits: float = 10000.0
    white_nits: float = 203.0
    signalled: bool = True

    def __post_init__(self) -> None:
        checks = (
            ("primaries", self.primaries, PRIMARIES_CODES),
            ("transfer", self.transfer, TRANSFER_CODES),
            ("matrix", self.matrix, MATRIX_CODES),
            ("range", self.range, RANGE_CODES),
        )
        for field_name, value, table in checks:
            if value not in table:
                raise InvalidInputError(
                    f"unknown {field_name} {value!r}; valid: {', '.join(sorted(table))}"
                )
        if self.bit_depth not in (8, 10, 12, 16):
            raise InvalidInputError(f"unsupported bit depth {self.bit_depth}; valid: 8, 10, 12, 16")
        if not (self.peak_nits > 0 and self.white_nits > 0):
            raise InvalidInputError("peak_nits and white_nits must be positive (cd/m²)")

    @property
    def is_hdr(self) -> bool:
        return self.transfer in ("pq", "hlg")

    @property
    def hdr_format(self) -> str:
        """``HDR10`` (PQ), ``HLG`` or ``SDR``; HDR10+ and Dolby Vision are told by the reader."""
        return {"pq": "HDR10", "hlg": "HLG"}.get(self.transfer, "SDR")

    def replace(self, **changes: Any) -> "ColorSpec":
        """A copy with some fields changed (and ``signalled=False`` unless given)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        changes.setdefault("signalled", False)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # -- FFmpeg / H.273 code points ------------------------------------------------------
    @property
    def codes(self) -> dict[str, int]:
        """H.273 code points: ``color_primaries``, ``color_trc``, ``colorspace``, ``color_range``."""
        return {
            "color_primaries": PRIMARIES_CODES[self.primaries],
            "color_trc": TRANSFER_CODES[self.transfer],
            "colorspace": MATRIX_CODES[self.matrix],
            "color_range": RANGE_CODES[self.range],
        }

    @classmethod
    def from_codes(
        cls,
        *,
        color_primaries: int | None,
        color_trc: int | None,
        colorspace: int | None,
        color_range: int | None,
        bit_depth: int,
        is_rgb: bool = False,
        sdr_white_nits: float = 203.0,
        hlg_display_peak_nits: float = 1000.0,
    ) -> "ColorSpec":
        """Build from H.273 code points; unknown or unspecified ones are guessed.

        The guesses follow what players do: missing transfer with BT.2020 primaries stays
        SDR (bt1886) because nothing says PQ; missing primaries follow the matrix (BT.2020
        matrix -> BT.2020 primaries, else BT.709); missing range means limited for Y'CbCr
        and full for RGB. ``signalled`` is False when anything was guessed.
        """
        primaries = _name_for(color_primaries, PRIMARIES_CODES)
        transfer = _name_for(color_trc, TRANSFER_CODES, TRANSFER_ALIASES)
        matrix = "rgb" if is_rgb else _name_for(colorspace, MATRIX_CODES, MATRIX_ALIASES)
        range_ = {1: "limited", 2: "full"}.get(int(color_range or 0))
        signalled = None not in (primaries, transfer, matrix, range_)
        if matrix is None:
            matrix = "bt2020nc" if primaries == "bt2020" else "bt709"
        if primaries is None:
            primaries = "bt2020" if matrix in ("bt2020nc", "bt2020c", "ictcp") else "bt709"
        if transfer is None:
            transfer = "bt1886"
        if range_ is None:
            range_ = "full" if matrix == "rgb" else "limited"
        peak, white = {
            "pq": (10000.0, 203.0),
            "hlg": (float(hlg_display_peak_nits), 203.0),
        }.get(transfer, (float(sdr_white_nits), float(sdr_white_nits)))
        return cls(
            primaries=primaries,
            transfer=transfer,
            matrix=matrix,
            range=range_,
            bit_depth=bit_depth,
            peak_nits=peak,
            white_nits=white,
            signalled=signalled,
        )


def parse_override(text: str) -> dict[str, Any]:
    """Parse ``"primaries=bt2020:transfer=pq:range=limited"`` into ColorSpec field changes.

    Used by the CLI's ``--assume`` option for mis-tagged files.
    """
    allowed = {f.name for f in dataclasses.fields(ColorSpec)} - {"signalled"}
    changes: dict[str, Any] = {}
    for item in filter(None, text.split(":")):
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in allowed:
            raise InvalidInputError(
                f"bad colour override {item!r}; use key=value with keys {', '.join(sorted(allowed))}"
            )
        if key == "bit_depth":
            changes[key] = int(value)
        elif key in ("peak_nits", "white_nits"):
            changes[key] = float(value)
        else:
            changes[key] = value.strip()
    return changes
