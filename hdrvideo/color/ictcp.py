"""ITU-R BT.2100-2 ICtCp, PQ and HLG variants.

``RGB (BT.2020, linear) -> LMS -> L'M'S' (PQ inverse EOTF or HLG OETF) -> ICtCp``,
ITU-R BT.2100-2 (07/2018) Table 7 and its equations for LMS:

- RGB -> LMS: ``[[1688, 2146, 262], [683, 2951, 462], [99, 309, 3688]] / 4096``;
- PQ:  ``I = (2048 L' + 2048 M') / 4096``, ``Ct = (6610 L' - 13613 M' + 7003 S') / 4096``,
  ``Cp = (17933 L' - 17390 M' - 543 S') / 4096``, with L'M'S' = PQ inverse EOTF of LMS
  in cd/m² (``L_p = 10000``);
- HLG: ``I`` as for PQ, ``Ct = (3625 L' - 7465 M' + 3840 S') / 4096``,
  ``Cp = (9500 L' - 9212 M' - 288 S') / 4096``, with L'M'S' = HLG OETF of scene-linear LMS
  (0-1).

Shapes ``(*, 3, H, W)``, any device and floating dtype, differentiable.
"""

from __future__ import annotations

import torch

from hdrvideo.color._safe import check_channels, choose, promote_half
from hdrvideo.color.hlg import oetf_BT2100_HLG, oetf_inverse_BT2100_HLG
from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.color.primaries import apply_matrix

__all__ = ["ICTCP_TRANSFERS", "ictcp_to_rgb", "rgb_to_ictcp"]

#: Variants accepted by :func:`rgb_to_ictcp` / :func:`ictcp_to_rgb`.
ICTCP_TRANSFERS = ("pq", "hlg")

#: BT.2100-2 Table 7, linear BT.2020 RGB -> LMS.
MATRIX_RGB_TO_LMS = torch.tensor(
    [[1688, 2146, 262], [683, 2951, 462], [99, 309, 3688]], dtype=torch.float64
) / 4096

#: BT.2100-2 Table 7, PQ L'M'S' -> ICtCp.
MATRIX_LMS_P_TO_ICTCP_PQ = torch.tensor(
    [[2048, 2048, 0], [6610, -13613, 7003], [17933, -17390, -543]], dtype=torch.float64
) / 4096

#: BT.2100-2 Table 7, HLG L'M'S' -> ICtCp.
MATRIX_LMS_P_TO_ICTCP_HLG = torch.tensor(
    [[2048, 2048, 0], [3625, -7465, 3840], [9500, -9212, -288]], dtype=torch.float64
) / 4096

_INVERSES = {
    "lms": torch.linalg.inv(MATRIX_RGB_TO_LMS),
    "pq": torch.linalg.inv(MATRIX_LMS_P_TO_ICTCP_PQ),
    "hlg": torch.linalg.inv(MATRIX_LMS_P_TO_ICTCP_HLG),
}


def _lms_p_to_ictcp(transfer: str) -> torch.Tensor:
    choose("ICtCp transfer", transfer, ICTCP_TRANSFERS)
    return MATRIX_LMS_P_TO_ICTCP_PQ if transfer == "pq" else MATRIX_LMS_P_TO_ICTCP_HLG


@promote_half
def rgb_to_ictcp(x: torch.Tensor, transfer: str = "pq") -> torch.Tensor:
    """Linear BT.2020 RGB -> ICtCp (BT.2100-2 Table 7).

    ============  ===============================================  ==========================
    Domain        ``x``: linear BT.2020 RGB, ``(*, 3, H, W)``       pq: cd/m² (0-10000);
                                                                    hlg: scene light 0-1
    Range         I, Ct, Cp, same shape                             I 0-1, Ct/Cp ~-0.5..0.5
    ============  ===============================================  ==========================

    Args:
        x: linear light RGB with BT.2020 primaries.
        transfer: ``"pq"`` (absolute display light, PQ with ``L_p = 10000``) or ``"hlg"``
            (relative scene light, HLG OETF, and the HLG matrix).
    """
    check_channels(x, "x")
    to_ictcp = _lms_p_to_ictcp(transfer)
    lms = apply_matrix(x, MATRIX_RGB_TO_LMS)
    lms_p = eotf_inverse_ST2084(lms, 10000.0) if transfer == "pq" else oetf_BT2100_HLG(lms)
    return apply_matrix(lms_p, to_ictcp)


@promote_half
def ictcp_to_rgb(x: torch.Tensor, transfer: str = "pq") -> torch.Tensor:
    """ICtCp -> linear BT.2020 RGB (inverse of :func:`rgb_to_ictcp`).

    ============  ===============================================  ==========================
    Domain        I, Ct, Cp, ``(*, 3, H, W)``                        I 0-1, Ct/Cp ~-0.5..0.5
    Range         linear BT.2020 RGB, same shape                    pq: cd/m²; hlg: 0-1
    ============  ===============================================  ==========================
    """
    check_channels(x, "x")
    choose("ICtCp transfer", transfer, ICTCP_TRANSFERS)
    lms_p = apply_matrix(x, _INVERSES[transfer])
    lms = eotf_ST2084(lms_p, 10000.0) if transfer == "pq" else oetf_inverse_BT2100_HLG(lms_p)
    return apply_matrix(lms, _INVERSES["lms"])
