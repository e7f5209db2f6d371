"""ITU-R BT.2100-2 Hybrid Log-Gamma (HLG): OETF, OOTF, EOTF and their inverses.

Functions
---------
- :func:`oetf_BT2100_HLG` / :func:`oetf_inverse_BT2100_HLG`: scene light ``E`` (0-1) <->
  signal ``E'`` (0-1), element-wise.
- :func:`gamma_function_BT2100_HLG`: system gamma for a display of peak ``L_W``.
- :func:`ootf_BT2100_HLG` / :func:`ootf_inverse_BT2100_HLG`: scene light RGB (0-1) <->
  display light RGB (cd/m²), ``(*, 3, H, W)``.
- :func:`eotf_BT2100_HLG` / :func:`eotf_inverse_BT2100_HLG`: signal R'G'B' (0-1) <->
  display light RGB (cd/m²), ``(*, 3, H, W)``.

The OOTF acts on the luminance ``Y_S = 0.2627 R_S + 0.6780 G_S + 0.0593 B_S`` of each
pixel (BT.2020 weights), so functions that contain it need the three channels together
in dimension ``-3``. Any device and floating dtype; differentiable with finite gradients.

Black level. BT.2100 has written the display black ``L_B`` in two ways:

- BT.2100-0/-1 put it in the OOTF as an offset: ``F_D = alpha * Y_S^(gamma-1) * E + beta``,
  ``alpha = L_W - L_B``, ``beta = L_B``. :func:`ootf_BT2100_HLG` implements this form, so
  with ``L_B = 0`` it is the BT.2100-2 OOTF (``alpha = L_W``) exactly.
- BT.2100-2 (07/2018) lifts the *signal* instead: ``F_D = OOTF[OETF^-1[max(0, (1 - beta)
  E' + beta)]]`` with ``beta = sqrt(3 * (L_B / L_W)^(1 / gamma))`` and an OOTF without
  offset. :func:`eotf_BT2100_HLG` implements this form (it calls the OOTF with ``L_B = 0``),
  which is what colour-science's default method ``"ITU-R BT.2100-2"`` does.

Reference: ITU-R BT.2100-2 (07/2018) Table 5; ITU-R BT.2390-x (extended system gamma).
Reference points: ``OETF(1/12) = 0.5``; signal 0.75 on a 1000 cd/m² display -> ~203 cd/m².
"""

from __future__ import annotations

import math

import torch

from hdrvideo.color._safe import check_channels, check_positive, choose, promote_half, spow
from hdrvideo.errors import InvalidInputError

__all__ = [
    "GAMMA_METHODS",
    "WEIGHTS_BT2100_HLG",
    "eotf_BT2100_HLG",
    "eotf_inverse_BT2100_HLG",
    "gamma_function_BT2100_HLG",
    "oetf_BT2100_HLG",
    "oetf_inverse_BT2100_HLG",
    "ootf_BT2100_HLG",
    "ootf_inverse_BT2100_HLG",
]

#: OETF constants, BT.2100-2 Table 5, written as the Recommendation writes them.
a = 0.17883277
b = 1 - 4 * a  # = 0.28466892
c = 0.5 - a * math.log(4 * a)  # = 0.55991073

#: Luminance weights of the HLG OOTF (BT.2020 / BT.2100 R, G, B), BT.2100-2 Table 5.
WEIGHTS_BT2100_HLG = (0.2627, 0.6780, 0.0593)

#: System gamma methods accepted by :func:`gamma_function_BT2100_HLG`.
GAMMA_METHODS = ("extended", "BT2100")

#: BT.2390 extended-range gamma: ``gamma = 1.2 * kappa ** log2(L_W / 1000)``.
kappa = 1.111

#: Smallest relative luminance |Y| fed to the OOTF's power laws. Below it the outputs are
#: < 1e-20 of peak either way; clamping keeps ``Y ** (p - 1)`` finite in float32 backward.
_Y_MIN = 1e-25


@promote_half
def oetf_BT2100_HLG(E: torch.Tensor) -> torch.Tensor:
    """HLG OETF: scene linear light -> non-linear signal (BT.2100-2 Table 5).

    ``E' = sqrt(3 E)`` for ``0 <= E <= 1/12``, ``a ln(12 E - b) + c`` above.

    ============  ====================================================  =====
    Domain        ``E``: scene linear light of a component, normalised   0-1
    Range         ``E'``: non-linear signal                              0-1
    ============  ====================================================  =====

    Element-wise (any shape). Negative ``E`` (outside the domain) gives the sign-mirrored
    square-root branch, as colour-science does, so the inverse round-trips it. The slope
    at 0 is infinite; its gradient there is reported as 0.
    """
    low = spow(3 * E, 0.5)
    high = a * torch.log(12 * E.clamp(min=1 / 12) - b) + c
    return torch.where(E <= 1 / 12, low, high)


@promote_half
def oetf_inverse_BT2100_HLG(E_p: torch.Tensor) -> torch.Tensor:
    """Inverse HLG OETF: non-linear signal -> scene linear light (BT.2100-2 Table 5).

    ``E = E'^2 / 3`` for ``0 <= E' <= 1/2``, ``(exp((E' - c) / a) + b) / 12`` above.

    ============  ====================================================  =====
    Domain        ``E'``: non-linear signal                              0-1
    Range         ``E``: scene linear light of a component, normalised   0-1
    ============  ====================================================  =====

    Element-wise (any shape). Negative signals give ``-E'^2 / 3`` (the mirror of
    :func:`oetf_BT2100_HLG`).
    """
    low = spow(E_p, 2.0) / 3
    high = (torch.exp((E_p.clamp(min=0.5) - c) / a) + b) / 12
    return torch.where(E_p <= 0.5, low, high)


def gamma_function_BT2100_HLG(L_W: float = 1000.0, method: str = "extended") -> float:
    """System gamma of the HLG OOTF for a display of nominal peak ``L_W`` cd/m².

    - ``"BT2100"``: ``gamma = 1.2 + 0.42 log10(L_W / 1000)`` (BT.2100-2 Table 5 note;
      intended for 400-2000 cd/m²).
    - ``"extended"`` (default): the BT.2100 formula inside 400-2000 cd/m², and the
      BT.2390 extended-range form ``gamma = 1.2 * 1.111 ** log2(L_W / 1000)`` outside it,
      where the logarithmic formula is not meant to be used.

    Both give 1.2 at 1000 cd/m².

    Args:
        L_W: nominal peak luminance of the display for achromatic pixels, cd/m² (> 0).
        method: one of :data:`GAMMA_METHODS`.

    Returns:
        ``gamma`` as a Python float.
    """
    L_W = check_positive(L_W, "L_W")
    choose("gamma method", method, GAMMA_METHODS)
    if method == "extended" and not 400 <= L_W <= 2000:
        return 1.2 * kappa ** math.log2(L_W / 1000)
    return 1.2 + 0.42 * math.log10(L_W / 1000)


def _black_and_gamma(L_W: float, L_B: float, gamma: float | None) -> tuple[float, float, float]:
    L_W = check_positive(L_W, "L_W")
    L_B = float(L_B)
    if not 0 <= L_B < L_W:
        raise InvalidInputError(f"L_B must satisfy 0 <= L_B < L_W (L_W={L_W}), got {L_B!r}")
    gamma = gamma_function_BT2100_HLG(L_W) if gamma is None else check_positive(gamma, "gamma")
    return L_W, L_B, gamma


def _luminance(x: torch.Tensor) -> torch.Tensor:
    r, g, b_ = WEIGHTS_BT2100_HLG
    return r * x[..., 0:1, :, :] + g * x[..., 1:2, :, :] + b_ * x[..., 2:3, :, :]


@promote_half
def ootf_BT2100_HLG(
    E: torch.Tensor, L_W: float = 1000.0, L_B: float = 0.0, gamma: float | None = None
) -> torch.Tensor:
    """HLG reference OOTF: scene linear RGB -> display linear RGB.

    ``F_D = alpha * Y_S^(gamma - 1) * E + beta`` with ``alpha = L_W - L_B``, ``beta = L_B``
    and ``Y_S = 0.2627 R_S + 0.6780 G_S + 0.0593 B_S`` (BT.2100-1 Table 5; with ``L_B = 0``
    identical to BT.2100-2 Table 5, ``alpha = L_W``).

    ============  ===============================================  ===========
    Domain        ``E``: scene linear light RGB, ``(*, 3, H, W)``   0-1
    Range         ``F_D``: display linear light RGB, same shape     cd/m², L_B-L_W
    ============  ===============================================  ===========

    Args:
        E: scene light, any floating dtype/device.
        L_W: nominal peak luminance of the display, cd/m².
        L_B: display luminance for black, cd/m² (``0 <= L_B < L_W``).
        gamma: system gamma; ``None`` uses :func:`gamma_function_BT2100_HLG` ``(L_W)``.

    Notes:
        ``|Y_S|`` is used (as colour-science does), so non-physical negative luminance
        does not give NaN; where ``Y_S = 0`` the result is ``beta``. ``|Y_S|`` is floored at
        1e-25 inside the power law so gradients stay finite (a change below 1e-20 of peak).
    """
    check_channels(E, "E")
    L_W, L_B, gamma = _black_and_gamma(L_W, L_B, gamma)
    alpha, beta = L_W - L_B, L_B
    if gamma == 1.0:
        return alpha * E + beta
    Y_S = _luminance(E).abs().clamp(min=_Y_MIN)
    return alpha * Y_S.pow(gamma - 1) * E + beta


@promote_half
def ootf_inverse_BT2100_HLG(
    F_D: torch.Tensor, L_W: float = 1000.0, L_B: float = 0.0, gamma: float | None = None
) -> torch.Tensor:
    """Inverse HLG reference OOTF: display linear RGB -> scene linear RGB.

    ``E = ((F_D - beta) / alpha) * ((Y_D - beta) / alpha)^((1 - gamma) / gamma)`` with
    ``Y_D`` the BT.2020 luminance of ``F_D`` (inverse of :func:`ootf_BT2100_HLG`).

    ============  ===============================================  ===========
    Domain        ``F_D``: display linear light RGB ``(*,3,H,W)``   cd/m², L_B-L_W
    Range         ``E``: scene linear light RGB, same shape         0-1
    ============  ===============================================  ===========

    Where ``Y_D = L_B`` the result is 0 (as in colour-science); the relative luminance is
    floored at 1e-25 inside the power law so gradients stay finite.
    """
    check_channels(F_D, "F_D")
    L_W, L_B, gamma = _black_and_gamma(L_W, L_B, gamma)
    alpha, beta = L_W - L_B, L_B
    if gamma == 1.0:
        return (F_D - beta) / alpha
    Y = ((_luminance(F_D) - beta) / alpha).abs().clamp(min=_Y_MIN)
    return (F_D - beta) / alpha * Y.pow((1 - gamma) / gamma)


def _signal_lift(L_W: float, L_B: float, gamma: float) -> float:
    """BT.2100-2 user black level lift ``beta = sqrt(3 * (L_B / L_W)^(1 / gamma))``."""
    return math.sqrt(3 * (L_B / L_W) ** (1 / gamma))


@promote_half
def eotf_BT2100_HLG(
    E_p: torch.Tensor, L_W: float = 1000.0, L_B: float = 0.0, gamma: float | None = None
) -> torch.Tensor:
    """HLG reference EOTF: non-linear signal R'G'B' -> display linear RGB (BT.2100-2).

    ``F_D = OOTF[OETF^-1[max(0, (1 - beta) E' + beta)]]`` with the signal black level lift
    ``beta = sqrt(3 * (L_B / L_W)^(1 / gamma))`` and the OOTF of :func:`ootf_BT2100_HLG`
    with ``alpha = L_W`` and no offset (BT.2100-2 Table 5).

    ============  ================================================  ==============
    Domain        ``E_p``: HLG signal R'G'B', ``(*, 3, H, W)``       0-1
    Range         ``F_D``: display linear light RGB, same shape      cd/m², L_B-L_W
    ============  ================================================  ==============

    Example: signal 0.75 (all channels) on a 1000 cd/m² display -> 203.15 cd/m²
    (BT.2408 HDR reference white, nominally 203).

    Args:
        E_p: HLG signal, any floating dtype/device.
        L_W: nominal peak luminance of the display, cd/m².
        L_B: display luminance for black, cd/m² (signal 0 -> ``L_B``).
        gamma: system gamma; ``None`` uses :func:`gamma_function_BT2100_HLG` ``(L_W)``.
    """
    check_channels(E_p, "E_p")
    L_W, L_B, gamma = _black_and_gamma(L_W, L_B, gamma)
    beta = _signal_lift(L_W, L_B, gamma)
    E = oetf_inverse_BT2100_HLG(((1 - beta) * E_p + beta).clamp(min=0))
    return ootf_BT2100_HLG(E, L_W, 0.0, gamma)


@promote_half
def eotf_inverse_BT2100_HLG(
    F_D: torch.Tensor, L_W: float = 1000.0, L_B: float = 0.0, gamma: float | None = None
) -> torch.Tensor:
    """Inverse HLG reference EOTF: display linear RGB -> non-linear signal R'G'B'.

    ``E' = (OETF[OOTF^-1[F_D]] - beta) / (1 - beta)``, the inverse of
    :func:`eotf_BT2100_HLG` (BT.2100-2 Table 5).

    ============  ================================================  ==============
    Domain        ``F_D``: display linear light RGB ``(*, 3, H, W)`` cd/m², L_B-L_W
    Range         ``E_p``: HLG signal R'G'B', same shape             0-1
    ============  ================================================  ==============

    Light below ``L_B`` gives signals below 0 and light above ``L_W`` signals above 1;
    neither is clipped (that is the caller's decision).
    """
    check_channels(F_D, "F_D")
    L_W, L_B, gamma = _black_and_gamma(L_W, L_B, gamma)
    beta = _signal_lift(L_W, L_B, gamma)
    E = ootf_inverse_BT2100_HLG(F_D, L_W, 0.0, gamma)
    return (oetf_BT2100_HLG(E) - beta) / (1 - beta)
