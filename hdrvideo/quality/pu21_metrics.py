"""PU21-PSNR, PU21-SSIM and PU21-MS-SSIM: SDR full-reference metrics run on PU21 values.

Follows the reference implementation gfxdisp/pu21 ``matlab/pu21_metric.m`` (Mantiuk &
Azimi, "PU21: A novel perceptually uniform encoding for adapting existing quality metrics
for HDR", PCS 2021):

- both images are **absolute** linear light (here: the working space, BT.2020, cd/m²) and
  are encoded with :func:`hdrvideo.color.pu21.pu21_encode` (``banding_glare``), which clamps
  luminance to 0.005-10000 cd/m² first, as the reference encoder does;
- **PSNR** runs on the three R, G, B channels, each PU21-encoded (``MET.PSNR.only_lum =
  false``), with the MSE taken over every channel and pixel of an image;
- **SSIM** and **MS-SSIM** run on luminance only (``only_lum = true``): ``Y`` of the linear
  RGB, then PU21. The reference uses BT.709 weights (its inputs are BT.709 RGB); the working
  space here is BT.2020, so the BT.2020 weights ``(0.2627, 0.6780, 0.0593)`` give the same
  physical luminance.

**Peak.** PU21-PSNR uses the reference implementation's fixed peak
:data:`PU21_PSNR_PEAK` ``= 256`` (``psnr(T, R, 256)``; PU21 maps 100 cd/m² to ~256, so an
SDR white is the peak), not ``PU(10000) ~ 595.39`` as ColorVideoVDP's ``pu-psnr`` does; the
two differ by a constant ``20 log10(595.39 / 256) = 7.33 dB``. Every table of this project
uses 256. SSIM and MS-SSIM use the same dynamic range ``L = 256`` (``'DynamicRange', 256``).
(Network *inputs*, a different matter, are normalised by ``PU(10000)``: see
:mod:`hdrvideo.nn.nriqa`.)

**SSIM** and **MS-SSIM** are those of :mod:`hdrvideo.quality.ssim` (Wang et al. 2004 and
2003: 11x11 Gaussian window, sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, five scales; tested
against scikit-image). The 11-tap window at the fifth scale of MS-SSIM needs a smaller side
of at least :data:`MSSSIM_MIN_SIDE` ``= 176`` pixels.

Shapes: ``test`` and ``reference`` are ``(3, H, W)`` or ``(N, 3, H, W)``; every function
returns ``(N,)`` float32 on the input's device. Computation is in float32, the SSIM moments
on signals centred on the reference's mean (agrees with scikit-image's float64 SSIM to 1e-5).
"""

from __future__ import annotations

import torch

from hdrvideo.color.luminance import luminance
from hdrvideo.color.pu21 import pu21_encode
from hdrvideo.errors import InvalidInputError
from hdrvideo.quality.ssim import MSSSIM_MIN_SIDE, msssim, ssim

__all__ = [
    "MSSSIM_MIN_SIDE",
    "PU21_PSNR_PEAK",
    "pu21_msssim",
    "pu21_psnr",
    "pu21_ssim",
]

#: Peak of PU21-PSNR and the dynamic range ``L`` of PU21-(MS-)SSIM, as in pu21_metric.m.
PU21_PSNR_PEAK: float = 256.0

def _batch_pair(test: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(test, torch.Tensor) or not isinstance(reference, torch.Tensor):
        raise InvalidInputError("test and reference must be torch tensors")
    if test.shape != reference.shape:
        raise InvalidInputError(
            f"test and reference differ in shape: {tuple(test.shape)} vs {tuple(reference.shape)}"
        )
    if test.dim() == 3:
        test, reference = test[None], reference[None]
    if test.dim() != 4 or test.shape[1] != 3:
        raise InvalidInputError(f"expected (3, H, W) or (N, 3, H, W) images, got {tuple(test.shape)}")
    return test.float(), reference.float()


def _pu_lum(x: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` cd/m² -> ``(N, 1, H, W)`` PU21 values of the luminance."""
    return pu21_encode(luminance(x))


def pu21_psnr(test: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """PU21-PSNR in dB with peak :data:`PU21_PSNR_PEAK` (256) over R, G, B PU21 values.

    ``10 log10(256^2 / MSE)``; identical images give ``+inf``.

    Args:
        test, reference: ``(3, H, W)`` or ``(N, 3, H, W)`` linear BT.2020 cd/m².

    Returns:
        ``(N,)`` float32, dB.
    """
    t, r = _batch_pair(test, reference)
    mse = (pu21_encode(t) - pu21_encode(r)).pow(2).flatten(1).mean(1)
    out = 10 * torch.log10(PU21_PSNR_PEAK**2 / mse)
    return out.to(torch.float32)


def pu21_ssim(test: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """PU21-SSIM: SSIM of the PU21-encoded luminance, dynamic range 256.

    Args:
        test, reference: ``(3, H, W)`` or ``(N, 3, H, W)`` linear BT.2020 cd/m², H, W >= 11.

    Returns:
        ``(N,)`` float32, 1 for identical images (higher is better).
    """
    t, r = _batch_pair(test, reference)
    return ssim(_pu_lum(t), _pu_lum(r), PU21_PSNR_PEAK).to(torch.float32)


def pu21_msssim(test: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """PU21-MS-SSIM: MS-SSIM of the PU21-encoded luminance, dynamic range 256.

    Args:
        test, reference: ``(3, H, W)`` or ``(N, 3, H, W)`` linear BT.2020 cd/m², H, W >= 176.

    Returns:
        ``(N,)`` float32 in [0, 1], 1 for identical images (higher is better).
    """
    t, r = _batch_pair(test, reference)
    return msssim(_pu_lum(t), _pu_lum(r), PU21_PSNR_PEAK).to(torch.float32)

