"""Relative luminance of linear RGB, for any primaries.

``Y = M[1] . [R, G, B]`` where ``M`` is the normalised primary matrix of
:func:`hdrvideo.color.primaries.rgb_to_xyz_matrix` (SMPTE RP 177-1993): its second row
gives the luminance weights, e.g. BT.2020 ``(0.2627, 0.6780, 0.0593)`` and BT.709
``(0.2126, 0.7152, 0.0722)`` to four decimals.
"""

from __future__ import annotations

import torch

from hdrvideo.color._safe import check_channels
from hdrvideo.color.primaries import Primaries, rgb_to_xyz_matrix

__all__ = ["luminance", "luminance_weights"]


def luminance_weights(primaries: str | Primaries = "bt2020") -> torch.Tensor:
    """The float64 ``(3,)`` weights ``(Y_R, Y_G, Y_B)`` of ``primaries`` (sum 1)."""
    return rgb_to_xyz_matrix(primaries)[1]


def luminance(x: torch.Tensor, primaries: str | Primaries = "bt2020") -> torch.Tensor:
    """Luminance ``Y`` of linear RGB.

    ============  ==============================================  =====================
    Domain        ``x``: linear RGB, ``(*, 3, H, W)``              any unit (cd/m², 0-1)
    Range         ``Y``: luminance, ``(*, 1, H, W)``               the unit of ``x``
    ============  ==============================================  =====================

    Args:
        x: linear light, any floating dtype/device.
        primaries: a name of :data:`hdrvideo.color.primaries.PRIMARIES`, ``"xyz"`` (then
            ``Y`` is channel 1) or a :class:`~hdrvideo.color.primaries.Primaries`.
    """
    check_channels(x, "x")
    w = luminance_weights(primaries).to(dtype=x.dtype, device=x.device)
    return torch.einsum("c,...chw->...hw", w, x).unsqueeze(-3)
