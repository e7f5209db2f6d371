"""SMPTE ST 2084:2014 perceptual quantiser (PQ), also ITU-R BT.2100-2 Table 4.

Functions
---------
- :func:`eotf_ST2084`: non-linear signal ``N`` (0-1) -> displayed luminance ``C`` (cd/m²).
- :func:`eotf_inverse_ST2084`: luminance ``C`` (cd/m²) -> signal ``N`` (0-1).

Both act element-wise, so any shape works, on any device and floating dtype, and both
are differentiable with finite gradients everywhere (see "Domain" notes on each).

Reference: SMPTE ST 2084:2014 "High Dynamic Range Electro-Optical Transfer Function of
Mastering Reference Displays", equations 5.1 (EOTF) and 5.2 (inverse EOTF); ITU-R
BT.2100-2 (07/2018) Table 4.
"""

from __future__ import annotations

import torch

from hdrvideo.color._safe import check_positive, pow0, promote_half

__all__ = ["PQ_PEAK_NITS", "eotf_ST2084", "eotf_inverse_ST2084"]

#: Luminance of PQ signal 1.0, cd/m² (``L_p`` of SMPTE ST 2084): the largest light PQ encodes.
PQ_PEAK_NITS = 10000.0

#: Constants of SMPTE ST 2084 section 5.3, written as the standard writes them.
m1 = 2610 / 16384  # = 0.1593017578125
m2 = 2523 / 4096 * 128  # = 78.84375
c1 = 3424 / 4096  # = 0.8359375 = c3 - c2 + 1
c2 = 2413 / 4096 * 32  # = 18.8515625
c3 = 2392 / 4096 * 32  # = 18.6875


@promote_half
def eotf_ST2084(N: torch.Tensor, L_p: float = 10000.0) -> torch.Tensor:
    """SMPTE ST 2084 EOTF: PQ signal -> displayed luminance.

    ``C = L_p * (max(N^(1/m2) - c1, 0) / (c2 - c3 * N^(1/m2)))^(1/m1)`` (ST 2084 eq. 5.1).

    ============  =====================================  ==============
    Domain        ``N``: non-linear PQ signal             0-1
    Range         ``C``: displayed luminance              cd/m², 0-L_p
    ============  =====================================  ==============

    Args:
        N: tensor of any shape, any floating dtype/device.
        L_p: luminance of signal 1.0 in cd/m² (10000 in the standard; other values only
            for fitting or relative use).

    Returns:
        ``C`` with the shape, dtype and device of ``N``.

    Notes:
        Negative signals are treated as 0. Above 1 the curve is continued monotonically
        (the denominator is held at its value for ``N = 1``, ``c2 - c3``) instead of
        reaching the pole of the formula near ``N ~ 1.96``; values in [0, 1] are exact.
    """
    L_p = check_positive(L_p, "L_p")
    # Signals up to c1^m2 (~7.3e-7) all mean 0 cd/m²; clamping there first keeps the steep
    # N^(1/m2) away from 0, so its gradient stays finite in float32.
    Np = N.clamp(min=c1**m2).pow(1 / m2)
    numerator = (Np - c1).clamp(min=0)
    denominator = (c2 - c3 * Np).clamp(min=c2 - c3)
    return L_p * (numerator / denominator).pow(1 / m1)


@promote_half
def eotf_inverse_ST2084(C: torch.Tensor, L_p: float = 10000.0) -> torch.Tensor:
    """SMPTE ST 2084 inverse EOTF: displayed luminance -> PQ signal.

    ``N = ((c1 + c2 * Y^m1) / (1 + c3 * Y^m1))^m2`` with ``Y = C / L_p`` (ST 2084 eq. 5.2).

    ============  =====================================  ==============
    Domain        ``C``: displayed luminance              cd/m², 0-L_p
    Range         ``N``: non-linear PQ signal             0-1
    ============  =====================================  ==============

    Reference values: 0 cd/m² -> 7.309559e-07 (``c1^m2``), 100 -> 0.508078421517399,
    1000 -> 0.751827096247041, 10000 -> 1.

    Args:
        C: tensor of any shape, any floating dtype/device.
        L_p: luminance of signal 1.0 in cd/m².

    Returns:
        ``N`` with the shape, dtype and device of ``C``.

    Notes:
        Negative luminance is treated as 0. Above ``L_p`` the result exceeds 1 and tends to
        ``(c2 / c3)^m2 ~ 1.96``; it is not clipped (clipping to the signal range is the
        caller's decision). The slope at ``C = 0`` is infinite; its gradient there is
        reported as 0 so that training never sees ``inf``/``NaN``.
    """
    L_p = check_positive(L_p, "L_p")
    Ym1 = pow0(C / L_p, m1)
    return ((c1 + c2 * Ym1) / (1 + c3 * Ym1)).pow(m2)
