"""mu-law range compression, as used by HDR reconstruction losses.

``T(x) = log(1 + mu x) / log(1 + mu)`` compresses linear HDR values in 0-1 so that an
L1/L2 loss on ``T`` weights dark regions like a tone-mapped image would. Kalantari &
Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic Scenes", ACM TOG 36(4) 2017,
eq. (5), with ``mu = 5000``; used the same way by later exposure-merging networks.

Element-wise, any shape/device/floating dtype, differentiable.
"""

from __future__ import annotations

import math

import torch

from hdrvideo.color._safe import check_positive, promote_half

__all__ = ["mu_law_decode", "mu_law_encode"]


@promote_half
def mu_law_encode(x: torch.Tensor, mu: float = 5000.0) -> torch.Tensor:
    """``T = log(1 + mu x) / log(1 + mu)`` (Kalantari & Ramamoorthi 2017, eq. 5).

    ============  ===========================================  =====
    Domain        ``x``: linear HDR value, normalised           0-1
    Range         ``T``: compressed value                       0-1
    ============  ===========================================  =====

    Negative ``x`` is treated as 0 (the logarithm is undefined below ``-1/mu``).
    """
    mu = check_positive(mu, "mu")
    return torch.log1p(mu * x.clamp(min=0)) / math.log1p(mu)


@promote_half
def mu_law_decode(T: torch.Tensor, mu: float = 5000.0) -> torch.Tensor:
    """Inverse of :func:`mu_law_encode`: ``x = ((1 + mu)^T - 1) / mu``.

    ============  ===========================================  =====
    Domain        ``T``: compressed value                       0-1
    Range         ``x``: linear HDR value, normalised           0-1
    ============  ===========================================  =====
    """
    mu = check_positive(mu, "mu")
    return torch.expm1(T * math.log1p(mu)) / mu
