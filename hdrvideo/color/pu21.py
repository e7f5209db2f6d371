"""PU21 perceptually uniform encoding of absolute luminance (Mantiuk & Azimi 2021).

``V = p7 * (((p1 + p2 Y^p4) / (1 + p3 Y^p4))^p5 - p6)`` maps luminance ``Y`` in cd/m² to
values that SDR quality metrics (PSNR, SSIM, ...) can be run on: 100 cd/m² maps to about
256, as an 8-bit SDR image's white would.

Reference: R. K. Mantiuk and M. Azimi, "PU21: A novel perceptually uniform encoding for
adapting existing quality metrics for HDR", Picture Coding Symposium (PCS) 2021, and the
reference implementation gfxdisp/pu21 ``matlab/pu21_encoder.m`` (parameters "updated on
06/02/2020"), whose constants are copied below digit for digit.

Parameter sets (:data:`PU21_PARAMETERS`):

- ``banding``: fitted to contrast sensitivity (banding visibility);
- ``banding_glare`` (recommended, default): as ``banding`` with disability glare modelled;
- ``peaks``: fitted to the peaks of the sensitivity;
- ``peaks_glare``: as ``peaks`` with glare.

Element-wise, any shape/device/floating dtype, differentiable.
"""

from __future__ import annotations

import torch

from hdrvideo.color._safe import choose, pow0, promote_half

__all__ = ["PU21_L_MAX", "PU21_L_MIN", "PU21_PARAMETERS", "pu21_decode", "pu21_encode"]

#: Valid luminance range of the encoding, cd/m² (``L_min``, ``L_max`` in pu21_encoder.m).
PU21_L_MIN = 0.005
PU21_L_MAX = 10000.0

#: ``[p1, ..., p7]`` per parameter set, exactly as in gfxdisp/pu21 ``pu21_encoder.m``.
PU21_PARAMETERS: dict[str, tuple[float, ...]] = {
    "banding": (1.070275272, 0.4088273932, 0.153224308, 0.2520326168, 1.063512885, 1.14115047, 521.4527484),
    "banding_glare": (0.353487901, 0.3734658629, 8.277049286e-05, 0.9062562627, 0.09150303166, 0.9099517204, 596.3148142),
    "peaks": (1.043882782, 0.6459495343, 0.3194584211, 0.374025247, 1.114783422, 1.095360363, 384.9217577),
    "peaks_glare": (816.885024, 1479.463946, 0.001253215609, 0.9329636822, 0.06746643971, 1.573435413, 419.6006374),
}


def _parameters(parameters: str) -> tuple[float, ...]:
    return PU21_PARAMETERS[choose("PU21 parameters", parameters, PU21_PARAMETERS)]


@promote_half
def pu21_encode(Y: torch.Tensor, parameters: str = "banding_glare") -> torch.Tensor:
    """PU21 encoding: absolute luminance -> perceptually uniform value.

    ``V = max(p7 * (((p1 + p2 Y^p4) / (1 + p3 Y^p4))^p5 - p6), 0)``
    (pu21_encoder.m ``encode``).

    ============  =====================================  =====================
    Domain        ``Y``: luminance (or radiance)          cd/m², 0.005-10000
    Range         ``V``: PU21 value                       ~0 to ~600 (set-dependent)
    ============  =====================================  =====================

    Values outside [0.005, 10000] cd/m² are clamped to that range first (the reference
    implementation clamps too, with a warning), so darker pixels all encode as ``V(0.005)``
    and brighter as ``V(10000)`` and their gradient is 0. For ``banding_glare``,
    ``V(100) ~ 256.38`` and ``V(10000) ~ 595.39``.

    Args:
        Y: luminance in absolute units (cd/m²), any shape/dtype/device.
        parameters: one of :data:`PU21_PARAMETERS`.
    """
    p1, p2, p3, p4, p5, p6, p7 = _parameters(parameters)
    Yp4 = Y.clamp(PU21_L_MIN, PU21_L_MAX).pow(p4)
    return (p7 * (((p1 + p2 * Yp4) / (1 + p3 * Yp4)).pow(p5) - p6)).clamp(min=0)


@promote_half
def pu21_decode(V: torch.Tensor, parameters: str = "banding_glare") -> torch.Tensor:
    """PU21 decoding: perceptually uniform value -> absolute luminance (cd/m²).

    ``V_p = max(V / p7 + p6, 0)^(1/p5)``, ``Y = (max(V_p - p1, 0) / (p2 - p3 V_p))^(1/p4)``
    (pu21_encoder.m ``decode``).

    ============  =====================================  =====================
    Domain        ``V``: PU21 value                       ~0 to ~600 (set-dependent)
    Range         ``Y``: luminance                        cd/m², 0.005-10000
    ============  =====================================  =====================

    The output is not clamped: values beyond ``V(0.005)`` / ``V(10000)`` decode to
    luminance outside [0.005, 10000] as the formula gives it. The denominator is kept
    positive, so values past the pole of the formula (far above ``V(10000)``) give very
    large luminance (possibly ``inf`` in float32), never NaN.
    """
    p1, p2, p3, p4, p5, p6, p7 = _parameters(parameters)
    V_p = pow0(V / p7 + p6, 1 / p5)
    denominator = (p2 - p3 * V_p).clamp(min=torch.finfo(V_p.dtype).eps * p2)
    return pow0((V_p - p1).clamp(min=0) / denominator, 1 / p4)
