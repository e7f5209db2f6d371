"""Y'CbCr (non-constant luminance) and the quantisation of video signals to code values.

Functions
---------
- :func:`rgb_to_ycbcr` / :func:`ycbcr_to_rgb`: R'G'B' (0-1) <-> Y' (0-1), Cb, Cr
  (-0.5..0.5), with the ``Kr``/``Kb`` of :data:`YCBCR_WEIGHTS`.
- :func:`ycbcr_to_codes` / :func:`codes_to_ycbcr`: normalised Y'CbCr <-> code values.
- :func:`rgb_to_codes` / :func:`codes_to_rgb`: R'G'B' <-> code values (``matrix="rgb"``
  video, e.g. ``gbrp10le``), quantised like Y'.

Equations: ``Y' = Kr R' + (1 - Kr - Kb) G' + Kb B'``, ``Cb = (B' - Y') / (2 (1 - Kb))``,
``Cr = (R' - Y') / (2 (1 - Kr))`` (ITU-R BT.709-6 Part 1 items 3.2-3.3, BT.2020-2 Table 4,
BT.601-7 section 2.5.1/2.5.2; BT.2100-2 Table 6 for BT.2020 non-constant luminance).

Quantisation, ITU-R BT.2100-2 Table 9 (BT.709-6 item 4.6 and BT.2020-2 Table 5 for the
narrow range), ``n`` the bit depth:

======================  ===================================  ================================
range                   Y' (and R', G', B')                  Cb, Cr
======================  ===================================  ================================
``limited`` (narrow)    ``(219 Y' + 16) * 2^(n-8)``          ``(224 C + 128) * 2^(n-8)``
``full``                ``(2^n - 1) Y'``                     ``(2^n - 1) C + 2^(n-1)``
======================  ===================================  ================================

Code values are returned as floats and NOT rounded or clipped: rounding, dither and
clipping belong to the writer. Integer code tensors are accepted by the decoding
functions (converted to float32). Shapes ``(*, 3, H, W)`` where the channels differ
(Y'CbCr); the R'G'B' code functions are element-wise. Any device and floating dtype.
"""

from __future__ import annotations

import numbers

import torch

from hdrvideo.color._safe import as_float, check_channels, choose
from hdrvideo.color.primaries import apply_matrix
from hdrvideo.errors import InvalidInputError

__all__ = [
    "RANGES",
    "YCBCR_WEIGHTS",
    "code_scales",
    "codes_to_rgb",
    "codes_to_ycbcr",
    "rgb_to_codes",
    "rgb_to_ycbcr",
    "ycbcr_matrix",
    "ycbcr_to_codes",
    "ycbcr_to_rgb",
]

#: ``(Kr, Kb)`` of each matrix: BT.709-6, BT.2020-2 (non-constant luminance), BT.601-7.
YCBCR_WEIGHTS: dict[str, tuple[float, float]] = {
    "bt709": (0.2126, 0.0722),
    "bt2020nc": (0.2627, 0.0593),
    "bt601": (0.299, 0.114),
}

#: Quantisation ranges.
RANGES = ("limited", "full")


def ycbcr_matrix(matrix: str = "bt2020nc") -> torch.Tensor:
    """The float64 ``(3, 3)`` matrix ``M`` with ``[Y', Cb, Cr] = M @ [R', G', B']``."""
    Kr, Kb = YCBCR_WEIGHTS[choose("Y'CbCr matrix", matrix, YCBCR_WEIGHTS)]
    Kg = 1 - Kr - Kb
    return torch.tensor(
        [
            [Kr, Kg, Kb],
            [-Kr / (2 * (1 - Kb)), -Kg / (2 * (1 - Kb)), 0.5],
            [0.5, -Kg / (2 * (1 - Kr)), -Kb / (2 * (1 - Kr))],
        ],
        dtype=torch.float64,
    )


def _ycbcr_matrix_inverse(matrix: str) -> torch.Tensor:
    """Closed-form inverse: ``R' = Y' + 2(1-Kr) Cr``, ``B' = Y' + 2(1-Kb) Cb``, ``G'`` from Y'."""
    Kr, Kb = YCBCR_WEIGHTS[choose("Y'CbCr matrix", matrix, YCBCR_WEIGHTS)]
    Kg = 1 - Kr - Kb
    return torch.tensor(
        [
            [1.0, 0.0, 2 * (1 - Kr)],
            [1.0, -2 * Kb * (1 - Kb) / Kg, -2 * Kr * (1 - Kr) / Kg],
            [1.0, 2 * (1 - Kb), 0.0],
        ],
        dtype=torch.float64,
    )


def rgb_to_ycbcr(x: torch.Tensor, matrix: str = "bt2020nc") -> torch.Tensor:
    """Non-linear R'G'B' -> Y'CbCr (non-constant luminance).

    ============  ================================================  ================
    Domain        ``x``: R'G'B' signal, ``(*, 3, H, W)``             0-1
    Range         Y', Cb, Cr, same shape                             0-1, -0.5..0.5
    ============  ================================================  ================

    Args:
        x: R'G'B', any floating dtype/device.
        matrix: one of :data:`YCBCR_WEIGHTS` (``bt709``, ``bt2020nc``, ``bt601``).
    """
    check_channels(x, "x")
    return apply_matrix(x, ycbcr_matrix(matrix))


def ycbcr_to_rgb(x: torch.Tensor, matrix: str = "bt2020nc") -> torch.Tensor:
    """Y'CbCr -> non-linear R'G'B' (inverse of :func:`rgb_to_ycbcr`).

    ============  ================================================  ================
    Domain        Y', Cb, Cr, ``(*, 3, H, W)``                       0-1, -0.5..0.5
    Range         R'G'B', same shape                                 0-1
    ============  ================================================  ================
    """
    check_channels(x, "x")
    return apply_matrix(x, _ycbcr_matrix_inverse(matrix))


def _check_bits_range(bits: int, range: str) -> int:
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 8 <= bits <= 16:
        raise InvalidInputError(f"bits must be an integer from 8 to 16, got {bits!r}")
    choose("range", range, RANGES)
    return int(bits)


def code_scales(bits: int, range: str) -> tuple[float, float, float, float]:
    """``(Y' scale, Y' offset, C scale, C offset)`` of ``code = value * scale + offset``
    (ITU-R BT.2100-2 Table 9), for ``bits`` 8-16 and ``range`` ``"limited"`` or ``"full"``."""
    bits = _check_bits_range(bits, range)
    if range == "limited":
        k = 2 ** (bits - 8)
        return 219.0 * k, 16.0 * k, 224.0 * k, 128.0 * k
    top = float(2**bits - 1)
    return top, 0.0, top, float(2 ** (bits - 1))


def _ycbcr_scale_offset(bits: int, range: str, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``code = scale * value + offset``, shaped ``(3, 1, 1)``."""
    ys, yo, cs, co = code_scales(bits, range)
    kw = {"dtype": like.dtype, "device": like.device}
    return torch.tensor([ys, cs, cs], **kw).view(3, 1, 1), torch.tensor([yo, co, co], **kw).view(3, 1, 1)


def _rgb_scale_offset(bits: int, range: str) -> tuple[float, float]:
    bits = _check_bits_range(bits, range)
    if range == "limited":
        k = 2 ** (bits - 8)
        return 219.0 * k, 16.0 * k
    return float(2**bits - 1), 0.0


def ycbcr_to_codes(x: torch.Tensor, bits: int = 10, range: str = "limited") -> torch.Tensor:
    """Normalised Y'CbCr -> code values (float, not rounded), BT.2100-2 Table 9.

    ============  ================================================  ==================
    Domain        Y', Cb, Cr, ``(*, 3, H, W)``                       0-1, -0.5..0.5
    Range         code values D_Y', D_Cb, D_Cr, same shape           0 .. 2^bits - 1
    ============  ================================================  ==================

    Args:
        x: normalised Y'CbCr.
        bits: bit depth ``n``, 8 to 16.
        range: ``"limited"`` (narrow, 10-bit Y' 64-940, C 64-960) or ``"full"``.
    """
    check_channels(x, "x")
    scale, offset = _ycbcr_scale_offset(bits, range, x)
    return x * scale + offset


def codes_to_ycbcr(codes: torch.Tensor, bits: int = 10, range: str = "limited") -> torch.Tensor:
    """Code values -> normalised Y'CbCr (inverse of :func:`ycbcr_to_codes`).

    ============  ================================================  ==================
    Domain        D_Y', D_Cb, D_Cr, ``(*, 3, H, W)``, int or float   0 .. 2^bits - 1
    Range         Y', Cb, Cr, same shape (float)                     0-1, -0.5..0.5
    ============  ================================================  ==================

    Integer tensors become float32. Out-of-range codes (e.g. super-whites) give values
    outside 0-1 and are kept.
    """
    codes = as_float(codes)
    check_channels(codes, "codes")
    scale, offset = _ycbcr_scale_offset(bits, range, codes)
    return (codes - offset) / scale


def rgb_to_codes(x: torch.Tensor, bits: int = 10, range: str = "limited") -> torch.Tensor:
    """R'G'B' (0-1) -> code values (float, not rounded), quantised like Y'.

    limited: ``(219 E' + 16) * 2^(n-8)``; full: ``(2^n - 1) E'`` (BT.2100-2 Table 9).
    Element-wise (any shape).
    """
    scale, offset = _rgb_scale_offset(bits, range)
    return x * scale + offset


def codes_to_rgb(codes: torch.Tensor, bits: int = 10, range: str = "limited") -> torch.Tensor:
    """Code values -> R'G'B' (inverse of :func:`rgb_to_codes`); integers become float32."""
    codes = as_float(codes)
    scale, offset = _rgb_scale_offset(bits, range)
    return (codes - offset) / scale
