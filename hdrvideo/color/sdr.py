"""SDR transfer functions: sRGB (IEC 61966-2-1), BT.1886, BT.709 OETF, pure gamma.

Functions
---------
- :func:`eotf_sRGB` / :func:`eotf_inverse_sRGB`: IEC 61966-2-1:1999 section 4.2, relative.
- :func:`eotf_BT1886` / :func:`eotf_inverse_BT1886`: ITU-R BT.1886 Annex 1, in cd/m².
- :func:`oetf_BT709` / :func:`oetf_inverse_BT709`: ITU-R BT.709-6 Part 1 item 1.2.
- :func:`gamma_encode` / :func:`gamma_decode`: pure power law, sign-preserving.

All are element-wise (any shape), on any device and floating dtype, and differentiable
with finite gradients (the infinite slopes of power laws at 0 are reported as 0).
"""

from __future__ import annotations

import torch

from hdrvideo.color._safe import check_positive, pow0, promote_half, spow
from hdrvideo.errors import InvalidInputError

__all__ = [
    "eotf_BT1886",
    "eotf_inverse_BT1886",
    "eotf_inverse_sRGB",
    "eotf_sRGB",
    "gamma_decode",
    "gamma_encode",
    "oetf_BT709",
    "oetf_inverse_BT709",
]


@promote_half
def eotf_inverse_sRGB(L: torch.Tensor) -> torch.Tensor:
    """sRGB inverse EOTF (encoding): linear -> non-linear, IEC 61966-2-1:1999 eq. (5)/(6).

    ``V = 12.92 L`` for ``L <= 0.0031308``, ``1.055 L^(1/2.4) - 0.055`` above.

    ============  ======================================  =====
    Domain        ``L``: relative linear light              0-1
    Range         ``V``: non-linear sRGB signal             0-1
    ============  ======================================  =====

    Negative ``L`` follows the linear segment (as colour-science does). The thresholds are
    the standard's (0.0031308 here, 0.04045 in :func:`eotf_sRGB`); they do not meet exactly,
    so a decode/encode round trip near the knee is exact to ~3e-8 only.
    """
    high = 1.055 * pow0(L, 1 / 2.4) - 0.055
    return torch.where(L <= 0.0031308, 12.92 * L, high)


@promote_half
def eotf_sRGB(V: torch.Tensor) -> torch.Tensor:
    """sRGB EOTF (decoding): non-linear -> linear, IEC 61966-2-1:1999 eq. (3)/(4).

    ``L = V / 12.92`` for ``V <= 0.04045``, ``((V + 0.055) / 1.055)^2.4`` above.

    ============  ======================================  =====
    Domain        ``V``: non-linear sRGB signal             0-1
    Range         ``L``: relative linear light              0-1
    ============  ======================================  =====
    """
    high = pow0((V + 0.055) / 1.055, 2.4)
    return torch.where(V <= 0.04045, V / 12.92, high)


def _bt1886_constants(L_B: float, L_W: float) -> tuple[float, float]:
    L_W = check_positive(L_W, "L_W")
    L_B = float(L_B)
    if not 0 <= L_B < L_W:
        raise InvalidInputError(f"L_B must satisfy 0 <= L_B < L_W (L_W={L_W}), got {L_B!r}")
    gamma = 2.40
    a = (L_W ** (1 / gamma) - L_B ** (1 / gamma)) ** gamma
    b = L_B ** (1 / gamma) / (L_W ** (1 / gamma) - L_B ** (1 / gamma))
    return a, b


@promote_half
def eotf_BT1886(V: torch.Tensor, L_B: float = 0.0, L_W: float = 100.0) -> torch.Tensor:
    """ITU-R BT.1886 reference EOTF (Annex 1): ``L = a * max(V + b, 0)^2.4``.

    ``a = (L_W^(1/2.4) - L_B^(1/2.4))^2.4``, ``b = L_B^(1/2.4) / (L_W^(1/2.4) - L_B^(1/2.4))``.

    ============  ==========================================  ==============
    Domain        ``V``: non-linear video signal               0-1
    Range         ``L``: screen luminance                      cd/m², L_B-L_W
    ============  ==========================================  ==============

    Args:
        V: signal tensor, any shape/dtype/device.
        L_B: screen luminance for black, cd/m² (``0 <= L_B < L_W``).
        L_W: screen luminance for white, cd/m².
    """
    a, b = _bt1886_constants(L_B, L_W)
    return a * pow0(V + b, 2.40)


@promote_half
def eotf_inverse_BT1886(L: torch.Tensor, L_B: float = 0.0, L_W: float = 100.0) -> torch.Tensor:
    """Inverse of :func:`eotf_BT1886`: ``V = (L / a)^(1/2.4) - b`` (ITU-R BT.1886 Annex 1).

    ============  ==========================================  ==============
    Domain        ``L``: screen luminance                      cd/m², L_B-L_W
    Range         ``V``: non-linear video signal               0-1
    ============  ==========================================  ==============

    Light below 0 is treated as 0 (so it maps to ``-b``, the signal of no light).
    """
    a, b = _bt1886_constants(L_B, L_W)
    return pow0(L / a, 1 / 2.40) - b


@promote_half
def oetf_BT709(L: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.709-6 OETF: ``V = 4.500 L`` for ``L < 0.018``, ``1.099 L^0.45 - 0.099`` above.

    ============  ==========================================  =====
    Domain        ``L``: scene linear light, normalised        0-1
    Range         ``V``: non-linear signal                     0-1
    ============  ==========================================  =====

    Constants as BT.709-6 Part 1 item 1.2 writes them (1.099, 0.099, 0.018, 4.500). With
    these rounded values the two pieces do not meet: at ``L = 0.018`` the signal jumps from
    0.0810 to 0.0813 (as in colour-science), so signals in that gap never occur.
    """
    high = 1.099 * pow0(L, 0.45) - 0.099
    return torch.where(L < 0.018, 4.500 * L, high)


@promote_half
def oetf_inverse_BT709(V: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`oetf_BT709`: ``L = V / 4.5`` below the knee, else
    ``((V + 0.099) / 1.099)^(1/0.45)``.

    ============  ==========================================  =====
    Domain        ``V``: non-linear signal                     0-1
    Range         ``L``: scene linear light, normalised        0-1
    ============  ==========================================  =====

    The knee is ``oetf_BT709(0.018) = 1.099 * 0.018^0.45 - 0.099`` (~0.0813), as in
    colour-science, so ``oetf_inverse_BT709(oetf_BT709(L)) == L`` everywhere; signals in
    the gap 0.0810-0.0813 (which the OETF never produces) decode linearly.
    """
    knee = 1.099 * 0.018**0.45 - 0.099
    high = pow0((V + 0.099) / 1.099, 1 / 0.45)
    return torch.where(V < knee, V / 4.500, high)


@promote_half
def gamma_encode(x: torch.Tensor, gamma: float) -> torch.Tensor:
    """Pure power-law encoding ``V = sign(x) * |x|^(1/gamma)``.

    ============  ==============================  =====
    Domain        ``x``: relative linear light     0-1
    Range         ``V``: non-linear signal         0-1
    ============  ==============================  =====

    Used for BT.470 ``gamma22`` / ``gamma28`` and similar. Sign-preserving for negatives.
    """
    gamma = check_positive(gamma, "gamma")
    return spow(x, 1 / gamma)


@promote_half
def gamma_decode(V: torch.Tensor, gamma: float) -> torch.Tensor:
    """Pure power-law decoding ``x = sign(V) * |V|^gamma`` (inverse of :func:`gamma_encode`).

    ============  ==============================  =====
    Domain        ``V``: non-linear signal         0-1
    Range         ``x``: relative linear light     0-1
    ============  ==============================  =====
    """
    gamma = check_positive(gamma, "gamma")
    return spow(V, gamma)
