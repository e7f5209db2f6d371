"""SSIM and MS-SSIM on any display-referred or perceptually encoded values (one implementation
for the PU21 metrics, the training losses and TMQI's windows).

**SSIM** is Wang, Bovik, Sheikh & Simoncelli 2004 ("Image quality assessment: from error
visibility to structural similarity", IEEE TIP 13(4)): an 11x11 Gaussian window with sigma
1.5 (MATLAB's ``fspecial('gaussian', 11, 1.5)``, applied separably), ``K1 = 0.01``,
``K2 = 0.03``, ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2`` for the dynamic range ``L``, population
(biased) moments, "valid" filtering (no padding), and the mean of the SSIM map over its
positions and channels, as the reference ``ssim_index.m`` averages it. This is what
scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False)`` computes (tested through :mod:`hdrvideo.quality.pu21_metrics`).

**MS-SSIM** is Wang, Simoncelli & Bovik 2003 ("Multi-scale structural similarity for image
quality assessment", Asilomar): five scales, exponents :data:`MSSSIM_WEIGHTS`, 2x2 average
down-sampling between scales, contrast-structure terms at every scale and the luminance
term at the coarsest only. Negative contrast-structure means are clamped to 0 before the
fractional power (as pytorch-msssim does) so the result is never NaN.

Moments are taken of signals centred on a per-picture offset (the second picture's mean):
the same SSIM, but float32 keeps its precision (``E[x^2] - mu^2`` of raw PU21 values near
600 would lose about four digits). Everything is differentiable in both inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hdrvideo.errors import InvalidInputError

__all__ = [
    "MSSSIM_MIN_SIDE",
    "MSSSIM_WEIGHTS",
    "SSIM_K1",
    "SSIM_K2",
    "SSIM_SIGMA",
    "SSIM_WINDOW",
    "filter_valid",
    "gaussian_window",
    "msssim",
    "ssim",
    "ssim_terms",
]

#: Wang et al. 2004 constants: stabilisers and the Gaussian window (taps, sigma in pixels).
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5

#: Wang et al. 2003, Sec. 3.2: exponents of the five scales (finest first).
MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: Smallest side for 5 scales with the 11-tap window (four 2x2 poolings): ``11 * 2**4``.
MSSSIM_MIN_SIDE = SSIM_WINDOW * 2 ** (len(MSSSIM_WEIGHTS) - 1)


def gaussian_window(
    size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """1-D factor ``g`` of MATLAB's ``fspecial('gaussian', size, sigma)`` (``= g g^T``):
    ``(size,)`` taps centred on the middle one, summing to 1, computed in float64."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(r * r) / (2.0 * sigma * sigma))
    return (g / g.sum()).to(dtype)


def filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``filter2(g g^T, x, 'valid')`` of every channel of ``(N, C, H, W)``, separably:
    ``(N, C, H - k + 1, W - k + 1)`` for ``k`` taps."""
    c, k = x.shape[1], g.numel()
    g = g.to(dtype=x.dtype, device=x.device)
    x = F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def ssim_terms(
    x: torch.Tensor, y: torch.Tensor, data_range: float, *, window_size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term of ``(N, C, H, W)`` pictures, each ``(N,)``."""
    g = gaussian_window(window_size, sigma)
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    offset = y.detach().mean(dim=(1, 2, 3), keepdim=True)
    x, y = x - offset, y - offset
    mu_x, mu_y = filter_valid(x, g), filter_valid(y, g)
    sxx = filter_valid(x * x, g) - mu_x**2
    syy = filter_valid(y * y, g) - mu_y**2
    sxy = filter_valid(x * y, g) - mu_x * mu_y
    mu_x, mu_y = mu_x + offset, mu_y + offset
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (lum * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def _check_pair(x: torch.Tensor, y: torch.Tensor, min_side: int, what: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise InvalidInputError(f"{what}: both pictures must be torch tensors")
    if x.shape != y.shape:
        raise InvalidInputError(f"{what}: pictures differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.dim() != 4:
        raise InvalidInputError(f"{what}: expected (N, C, H, W), got shape {tuple(x.shape)}")
    if min(x.shape[-2:]) < min_side:
        raise InvalidInputError(
            f"{what} needs pictures of at least {min_side}x{min_side} pixels, got {x.shape[-2]}x{x.shape[-1]}"
        )


def ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, *, window_size: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
) -> torch.Tensor:
    """SSIM of ``(N, C, H, W)`` pictures with ``H, W >= window_size``: ``(N,)``, 1 for identical.

    ``data_range`` is ``L``: 1 for display values in [0, 1], 256 for PU21 values as in
    ``pu21_metric.m``."""
    _check_pair(x, y, window_size, "SSIM")
    return ssim_terms(x, y, data_range, window_size=window_size, sigma=sigma)[0]


def msssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """MS-SSIM of ``(N, C, H, W)`` pictures with ``H, W >= 176``: ``(N,)`` in [0, 1]."""
    _check_pair(x, y, MSSSIM_MIN_SIDE, "MS-SSIM (5 scales, 11-tap window)")
    weights = torch.tensor(MSSSIM_WEIGHTS, dtype=x.dtype, device=x.device)
    result = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
    for scale, w in enumerate(weights):
        s, cs = ssim_terms(x, y, data_range)
        term = s if scale == len(weights) - 1 else cs
        result = result * term.clamp(min=0) ** w
        if scale < len(weights) - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return result
