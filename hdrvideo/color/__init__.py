"""Colour science for HDR video: pure, differentiable torch functions (no files, no frames).

One module per standard, functions named as the standard (and colour-science) names them:

- :mod:`~hdrvideo.color.pq`: SMPTE ST 2084 (PQ);
- :mod:`~hdrvideo.color.hlg`: ITU-R BT.2100-2 HLG (OETF, OOTF, EOTF, system gamma);
- :mod:`~hdrvideo.color.sdr`: sRGB, BT.1886, BT.709 OETF, pure gamma;
- :mod:`~hdrvideo.color.mulaw`: mu-law compression (Kalantari & Ramamoorthi 2017);
- :mod:`~hdrvideo.color.pu21`: PU21 perceptually uniform encoding (Mantiuk & Azimi 2021);
- :mod:`~hdrvideo.color.primaries`: primaries and RGB/XYZ matrices (SMPTE RP 177);
- :mod:`~hdrvideo.color.ycbcr`: Y'CbCr and code-value quantisation (BT.709/2020/601/2100);
- :mod:`~hdrvideo.color.ictcp`: ICtCp (BT.2100-2, PQ and HLG);
- :mod:`~hdrvideo.color.luminance`: luminance of linear RGB for any primaries;
- :mod:`~hdrvideo.color.transfer`: the ``transfer="pq"`` registry used by readers/writers.

Conventions: tensors of shape ``(*, 3, H, W)`` where the channels interact (``(*, 1, H, W)``
for luminance), element-wise functions accept any shape; any device; float32/float64 are
computed in their own precision, float16/bfloat16 are computed in float32 and returned in
their own dtype. Every function is differentiable with finite gradients (powers and logs
are guarded). Bad arguments raise :class:`hdrvideo.errors.InvalidInputError`, whose message
lists the valid names.
"""

from hdrvideo.color.hlg import (
    eotf_BT2100_HLG,
    eotf_inverse_BT2100_HLG,
    gamma_function_BT2100_HLG,
    oetf_BT2100_HLG,
    oetf_inverse_BT2100_HLG,
    ootf_BT2100_HLG,
    ootf_inverse_BT2100_HLG,
)
from hdrvideo.color.ictcp import ictcp_to_rgb, rgb_to_ictcp
from hdrvideo.color.luminance import luminance, luminance_weights
from hdrvideo.color.mulaw import mu_law_decode, mu_law_encode
from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.color.primaries import (
    PRIMARIES,
    Primaries,
    apply_matrix,
    convert_primaries,
    get_primaries,
    rgb_to_rgb_matrix,
    rgb_to_xyz_matrix,
)
from hdrvideo.color.pu21 import PU21_PARAMETERS, pu21_decode, pu21_encode
from hdrvideo.color.sdr import (
    eotf_BT1886,
    eotf_inverse_BT1886,
    eotf_inverse_sRGB,
    eotf_sRGB,
    gamma_decode,
    gamma_encode,
    oetf_BT709,
    oetf_inverse_BT709,
)
from hdrvideo.color.transfer import TRANSFERS, decode_transfer, encode_transfer
from hdrvideo.color.ycbcr import (
    YCBCR_WEIGHTS,
    codes_to_rgb,
    codes_to_ycbcr,
    rgb_to_codes,
    rgb_to_ycbcr,
    ycbcr_to_codes,
    ycbcr_to_rgb,
)

__all__ = [
    "PRIMARIES",
    "PU21_PARAMETERS",
    "TRANSFERS",
    "YCBCR_WEIGHTS",
    "Primaries",
    "apply_matrix",
    "codes_to_rgb",
    "codes_to_ycbcr",
    "convert_primaries",
    "decode_transfer",
    "encode_transfer",
    "eotf_BT1886",
    "eotf_BT2100_HLG",
    "eotf_ST2084",
    "eotf_inverse_BT1886",
    "eotf_inverse_BT2100_HLG",
    "eotf_inverse_ST2084",
    "eotf_inverse_sRGB",
    "eotf_sRGB",
    "gamma_decode",
    "gamma_encode",
    "gamma_function_BT2100_HLG",
    "get_primaries",
    "ictcp_to_rgb",
    "luminance",
    "luminance_weights",
    "mu_law_decode",
    "mu_law_encode",
    "oetf_BT2100_HLG",
    "oetf_BT709",
    "oetf_inverse_BT2100_HLG",
    "oetf_inverse_BT709",
    "ootf_BT2100_HLG",
    "ootf_inverse_BT2100_HLG",
    "pu21_decode",
    "pu21_encode",
    "rgb_to_codes",
    "rgb_to_ictcp",
    "rgb_to_rgb_matrix",
    "rgb_to_xyz_matrix",
    "rgb_to_ycbcr",
    "ycbcr_to_codes",
    "ycbcr_to_rgb",
]
