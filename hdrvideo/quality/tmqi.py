"""TMQI: the Tone-Mapped image Quality Index of Yeganeh & Wang (IEEE TIP 22(2), 2013), in torch.

A full-reference metric of a tone-mapped (LDR) picture against its HDR source::

    Q = a S^alpha + (1 - a) N^beta          a = 0.8012, alpha = 0.3046, beta = 0.7088

``S`` (structural fidelity) compares local structure of the HDR and LDR luminance over five
scales with an SSIM-like index whose contrast term first maps each local standard deviation
through a psychometric (Gaussian cumulative) function centred on a visibility threshold from
the Mannos-Sakrison contrast sensitivity function; ``N`` (statistical naturalness) is the
likelihood of the LDR's global mean and mean block contrast under the Gaussian and Beta
distributions the authors fitted to 3000 natural 8-bit images.

**Reference.** The authors' MATLAB ``TMQI.m`` (Version 1.0, 2012, H. Yeganeh and Z. Wang),
followed step by step; every constant below is as that file writes it:

=====================================  ===========================================================
step                                   ``TMQI.m``
=====================================  ===========================================================
RGB -> Y                               ``RGBtoYxy``: ``Y = 0.2126 R + 0.7152 G + 0.0722 B`` (second
                                       row of its ``M``), applied to HDR radiance and to the LDR's
                                       display-encoded 0-255 values alike
HDR range                              ``L_hdr = round((2^32 - 1) / (lmax - lmin)) * (L_hdr - lmin)``
window                                 ``fspecial('gaussian', 11, 1.5)``, normalised
scales                                 ``level = 5``, ``weight = [0.0448 0.2856 0.3001 0.2363 0.1333]``
                                       ``f = 32``, halved before each scale (16, 8, 4, 2, 1 cycles/deg)
down-sampling                          ``imfilter(ones(2)/4, 'symmetric', 'same')`` then ``(1:2:end)``
local statistics                       ``filter2(window, ., 'valid')``; ``sigma = sqrt(max(0, var))``
CSF (Mannos & Sakrison 1974)           ``CSF = 100 * 2.6 * (0.0192 + 0.114 f) exp(-(0.114 f)^1.1)``
threshold                              ``u = 128 / (1.4 CSF)``, spread ``u / 3``, ``sigma' = normcdf``
local S                                ``((2 s1' s2' + C1) / (s1'^2 + s2'^2 + C1)) ((s12 + C2) / (s1 s2 + C2))``,
                                       ``C1 = 0.01``, ``C2 = 10``; ``S = prod(mean(s_map)^weight)``
naturalness: brightness                ``normpdf(mean(L_ldr), 115.94, 27.99) / normpdf(115.94, ...)``
naturalness: contrast                  ``std`` of each 11x11 block (``blkproc``, zero-padded partial
                                       blocks; MATLAB ``std``: N - 1), ``mean2`` over the picture
                                       (partial blocks weigh by their pixels), ``/ 64.29``;
                                       ``betapdf(., 4.4, 10.1) / betapdf(mode, 4.4, 10.1)``,
                                       mode ``(4.4 - 1) / (4.4 + 10.1 - 2)``
=====================================  ===========================================================

**Scale invariance.** ``Q`` does not depend on the HDR's absolute scale: the HDR luminance is
normalised to [0, 2^32 - 1] by its own minimum and maximum, so multiplying the HDR by ``k``
changes only the rounding of the normalising factor (a relative change below 1e-6 for any
HDR whose range is under 4000 times its unit; measured in ``tests/test_quality_tmqi.py``).

**Our inputs.** The HDR is working-space ``(*, 3, H, W)`` linear BT.2020 cd/m²; its
luminance is taken with BT.2020 weights (:func:`hdrvideo.color.luminance.luminance`): the
same physical ``Y`` the reference's BT.709 row computes from BT.709 radiance. The LDR is the
display-encoded picture ``(*, 3, H, W)`` in [0, 1] (BT.709 R'G'B' as an SDR file carries it),
scaled to 0-255 and optionally quantised to 8 bits as the reference reads an 8-bit file.
:func:`sdr_display_encode` makes that picture from a working-space tone-mapped output the way
the SDR writer does (BT.2020 -> BT.709, clip, BT.1886 inverse EOTF, black 0).

**Differentiability.** Everything is differentiable in the LDR (training objective of
:mod:`hdrvideo.nn.tmnet`): the quantisation is a straight-through rounding, ``sqrt`` is
guarded at 0, the HDR normaliser is a constant. Negative ``s_local`` (anti-correlated
structure) makes the reference's ``S`` undefined (a negative base to a fractional power);
here it gives NaN as in the reference unless ``clamp_s=True`` (the loss variant), which
clamps ``s_local`` at 1e-6.

**Precision.** The HDR luminance spans 0..4.3e9 after normalisation and the variance is
``E[x^2] - E[x]^2`` as in the reference, which needs float64 (the default ``dtype``, also
for :func:`tmqi_loss`): in float32 the HDR variances cancel catastrophically and ``Q`` moved
by up to 0.39 (NaN for a clipped picture) on ``royal_esplanade_1k.hdr`` (measured).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from hdrvideo.color.luminance import luminance
from hdrvideo.color.primaries import convert_primaries
from hdrvideo.color.sdr import eotf_inverse_BT1886
from hdrvideo.errors import InvalidInputError
from hdrvideo.quality.ssim import MSSSIM_WEIGHTS, filter_valid, gaussian_window

__all__ = [
    "TMQI_A",
    "TMQI_ALPHA",
    "TMQI_BETA",
    "TMQIResult",
    "gaussian_window",
    "sdr_display_encode",
    "statistical_naturalness",
    "structural_fidelity",
    "tmqi",
    "tmqi_loss",
]

# --- constants, as TMQI.m writes them ---------------------------------------------------------
#: Weight of the structural fidelity in Q (``a = 0.8012``).
TMQI_A = 0.8012
#: Exponent of S (``Alpha = 0.3046``).
TMQI_ALPHA = 0.3046
#: Exponent of N (``Beta = 0.7088``).
TMQI_BETA = 0.7088
#: Number of scales (``level = 5``) and their weights (``weight``: the MS-SSIM exponents of
#: Wang et al. 2003).
LEVELS = 5
SCALE_WEIGHTS = MSSSIM_WEIGHTS
#: Spatial frequency before the first halving (``f = 32``), cycles per degree.
START_FREQUENCY = 32.0
#: Constants of the local structural fidelity (``C1 = 0.01; C2 = 10``).
C1 = 0.01
C2 = 10.0
#: Gaussian window (``fspecial('gaussian', 11, 1.5)``).
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
#: HDR luminance normalisation target (``2^32 - 1``).
HDR_RANGE = 2.0**32 - 1.0
#: Luminance weights of ``RGBtoYxy`` (second row of its ``M``); used for the LDR's R'G'B'.
Y_WEIGHTS = (0.2126, 0.7152, 0.0722)
#: Naturalness: brightness Gaussian (``muhat = 115.94; sigmahat = 27.99``).
BRIGHTNESS_MU = 115.94
BRIGHTNESS_SIGMA = 27.99
#: Naturalness: contrast Beta (``phat = [4.4, 10.1]``), normaliser ``64.29``, block 11x11.
CONTRAST_A = 4.4
CONTRAST_B = 10.1
CONTRAST_SCALE = 64.29
BLOCK = 11


class TMQIResult(NamedTuple):
    """``Q``, ``S``, ``N`` (each ``(N,)`` for a batch, or 0-d for one picture) and the five
    per-scale structural fidelities ``s_local`` (``(N, 5)`` or ``(5,)``)."""

    Q: torch.Tensor
    S: torch.Tensor
    N: torch.Tensor
    s_local: torch.Tensor


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """``imfilter(x, ones(2)/4, 'symmetric', 'same')`` then ``x(1:2:end, 1:2:end)``.

    MATLAB puts the centre of an even 2x2 kernel at its first element, so output (i, j) is the
    mean of (i..i+1, j..j+1), the row/column past the end mirrored (= repeated); keeping the
    odd (1-based) rows and columns gives the 2x2 block means, ``ceil(H/2) x ceil(W/2)``.
    """
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return F.avg_pool2d(x, 2)


def _normcdf(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf((x - mu) / (sigma * math.sqrt(2.0))))


def _safe_sqrt(v: torch.Tensor) -> torch.Tensor:
    """``sqrt(max(0, v))`` with a zero (not infinite) gradient at 0."""
    pos = v > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, v, torch.ones_like(v))), torch.zeros_like(v))


def mannos_csf(f: float) -> float:
    """Mannos & Sakrison CSF as ``TMQI.m`` scales it: ``100 * 2.6 (0.0192 + 0.114 f) exp(-(0.114 f)^1.1)``."""
    return 100.0 * 2.6 * (0.0192 + 0.114 * f) * math.exp(-((0.114 * f) ** 1.1))


def structural_fidelity(
    L_hdr: torch.Tensor, L_ldr: torch.Tensor, *, h_scale: float | torch.Tensor = 1.0, clamp_s: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``StructuralFidelity`` of ``TMQI.m``: ``S`` ``(N,)`` and ``s_local`` ``(N, 5)``.

    Args:
        L_hdr: ``(N, 1, H, W)`` normalised HDR luminance divided by ``h_scale`` (so that
            ``L_hdr * h_scale`` spans [0, 2^32 - 1]).
        L_ldr: ``(N, 1, H, W)`` LDR luminance, 0-255.
        h_scale: the HDR's scale factor (a float, or an ``(N,)`` tensor).
        clamp_s: clamp ``s_local`` at 1e-6 (loss variant) instead of letting a negative
            value make ``S`` NaN as in the reference.
    """
    g = gaussian_window(dtype=L_ldr.dtype).to(L_ldr.device)
    scale = h_scale if isinstance(h_scale, torch.Tensor) else torch.full((L_hdr.shape[0],), float(h_scale))
    scale = scale.to(L_ldr.dtype).to(L_ldr.device).view(-1, 1, 1, 1)
    f = START_FREQUENCY
    locals_ = []
    h, l = L_hdr, L_ldr
    for level in range(LEVELS):
        f = f / 2.0
        if min(h.shape[-2:]) < WINDOW_SIZE:
            raise InvalidInputError(
                f"tmqi: scale {level + 1} is {tuple(h.shape[-2:])}, smaller than the 11x11 window; "
                f"pictures need at least {WINDOW_SIZE * 2 ** (LEVELS - 1) - 2 ** (LEVELS - 1) + 1} pixels a side"
            )
        locals_.append(_s_local_batched(h, l, g, f, scale))
        if level + 1 < LEVELS:
            h, l = _downsample(h), _downsample(l)
    s_local = torch.stack(locals_, dim=-1)
    if clamp_s:
        s_local = s_local.clamp(min=1e-6)
    weights = torch.tensor(SCALE_WEIGHTS, dtype=s_local.dtype, device=s_local.device)
    S = torch.prod(s_local**weights, dim=-1)
    return S, s_local


def _s_local_batched(h: torch.Tensor, l: torch.Tensor, g: torch.Tensor, f: float, scale: torch.Tensor) -> torch.Tensor:
    mu1 = filter_valid(h, g)
    mu2 = filter_valid(l, g)
    var1 = (filter_valid(h * h, g) - mu1 * mu1) * (scale * scale)
    var2 = filter_valid(l * l, g) - mu2 * mu2
    cov = (filter_valid(h * l, g) - mu1 * mu2) * scale
    s1 = _safe_sqrt(var1)
    s2 = _safe_sqrt(var2)
    u = 128.0 / (1.4 * mannos_csf(f))
    s1p = _normcdf(s1, u, u / 3.0)
    s2p = _normcdf(s2, u, u / 3.0)
    smap = ((2.0 * s1p * s2p + C1) / (s1p * s1p + s2p * s2p + C1)) * ((cov + C2) / (s1 * s2 + C2))
    return smap.mean(dim=(-3, -2, -1))


def statistical_naturalness(L_ldr: torch.Tensor) -> torch.Tensor:
    """``StatisticalNaturalness`` of ``TMQI.m`` for ``(N, 1, H, W)`` LDR luminance in 0-255: ``(N,)``.

    ``pb = exp(-(u - 115.94)^2 / (2 27.99^2))`` (the Gaussian pdf over its value at the mode) of
    the global mean ``u``; ``pc = betapdf(sig / 64.29, 4.4, 10.1) / betapdf(mode, 4.4, 10.1)``
    of ``sig``, the ``mean2`` of ``I1 = blkproc(L, [11 11], @(x) std(x(:)) * ones(size(x)))``:
    each 11x11 block filled with its standard deviation (MATLAB's ``std``: n - 1; ``blkproc``
    pads partial blocks with zeros), ``I1`` the picture's size, so a partial block weighs by
    its pixels inside the picture (as the Python port in ``TMQI.py`` of the "HDR video
    evaluation" code trims it; MATLAB itself was not available to check). ``N = pb pc`` in [0, 1].
    """
    u = L_ldr.mean(dim=(-3, -2, -1))
    h, w = L_ldr.shape[-2:]
    ph, pw = (-h) % BLOCK, (-w) % BLOCK
    padded = F.pad(L_ldr, (0, pw, 0, ph)) if (ph or pw) else L_ldr
    blocks = F.unfold(padded, kernel_size=BLOCK, stride=BLOCK)  # (N, 121, nblocks)
    block_std = blocks.std(dim=1, unbiased=True)  # (N, nblocks)
    if ph or pw:
        # I1 (each block filled with its std) is trimmed to H x W before mean2: a partial
        # block weighs by the number of its pixels inside the picture.
        inside = F.pad(torch.ones(1, 1, h, w, dtype=L_ldr.dtype, device=L_ldr.device), (0, pw, 0, ph))
        counts = F.unfold(inside, kernel_size=BLOCK, stride=BLOCK).sum(dim=1)  # (1, nblocks)
        sig = (block_std * counts).sum(dim=-1) / float(h * w)
    else:
        sig = block_std.mean(dim=-1)
    # Beta pdf ratio: the normaliser B(a, b) cancels; zero outside [0, 1] (betapdf).
    x = sig / CONTRAST_SCALE
    mode = (CONTRAST_A - 1.0) / (CONTRAST_A + CONTRAST_B - 2.0)
    inside = (x > 0) & (x < 1)
    xs = torch.where(inside, x, torch.full_like(x, mode))
    log_ratio = (CONTRAST_A - 1.0) * (torch.log(xs) - math.log(mode)) + (CONTRAST_B - 1.0) * (
        torch.log1p(-xs) - math.log1p(-mode)
    )
    pc = torch.where(inside, torch.exp(log_ratio), torch.zeros_like(x))
    pb = torch.exp(-((u - BRIGHTNESS_MU) ** 2) / (2.0 * BRIGHTNESS_SIGMA**2))
    return pb * pc


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round half away from zero (MATLAB ``round``) forward, identity backward."""
    r = torch.sign(x) * torch.floor(x.abs() + 0.5)
    return x + (r - x).detach()


def _as_batch(x: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(f"tmqi: {name} must be (3, H, W) or (N, 3, H, W), got {shape}")
    return (x.unsqueeze(0), True) if x.dim() == 3 else (x, False)


def tmqi(
    hdr: torch.Tensor,
    ldr: torch.Tensor,
    *,
    quantize: bool = True,
    primaries: str = "bt2020",
    dtype: torch.dtype = torch.float64,
    clamp_s: bool = False,
) -> TMQIResult:
    """TMQI ``Q``, ``S``, ``N`` of a display-encoded LDR picture against its HDR source.

    ============  ===========================================================  ==============
    ``hdr``       linear RGB, ``(3, H, W)`` or ``(N, 3, H, W)``, any scale      cd/m² (or any)
    ``ldr``       display-encoded R'G'B' in [0, 1], same shape                 code value 0-1
    result        :class:`TMQIResult`: ``Q``, ``S``, ``N`` in [0, 1] (0-d or ``(N,)``),
                  ``s_local`` ``(5,)`` / ``(N, 5)``
    ============  ===========================================================  ==============

    Args:
        quantize: round the LDR to 8-bit codes (0-255) first, as the reference reads an 8-bit
            file (straight-through: the gradient passes as if unrounded).
        primaries: primaries of ``hdr`` for its luminance (default ``bt2020``, the working
            space; ``bt709`` uses the reference's own rounded row 0.2126, 0.7152, 0.0722).
        dtype: computing dtype (keep float64: see the module's note on precision).
        clamp_s: loss variant, see :func:`structural_fidelity`.

    Pictures need at least 161 pixels on each side (five scales of an 11x11 window).
    """
    hdr_b, single = _as_batch(hdr, "hdr")
    ldr_b, _ = _as_batch(ldr, "ldr")
    if hdr_b.shape != ldr_b.shape:
        raise InvalidInputError(f"tmqi: hdr {tuple(hdr.shape)} and ldr {tuple(ldr.shape)} differ in shape")
    hdr_b = hdr_b.to(dtype)
    ldr_b = ldr_b.to(dtype)
    w = torch.tensor(Y_WEIGHTS, dtype=dtype, device=hdr_b.device).view(1, 3, 1, 1)
    if primaries == "bt709":  # TMQI.m's own rounded row (0.2126, 0.7152, 0.0722)
        y_hdr = (hdr_b * w).sum(dim=-3, keepdim=True)
    else:
        y_hdr = luminance(hdr_b, primaries)  # (N, 1, H, W)
    lmin = y_hdr.amin(dim=(-3, -2, -1), keepdim=True).detach()
    lmax = y_hdr.amax(dim=(-3, -2, -1), keepdim=True).detach()
    span = (lmax - lmin).clamp(min=torch.finfo(dtype).tiny)
    # round((2^32 - 1) / (lmax - lmin)) * (L - lmin) = h_scale * (L - lmin) / span, with
    # h_scale = round(HDR_RANGE / span) * span (computed in float64 whatever ``dtype``).
    span64 = span.double().view(-1)
    h_scale = torch.round(HDR_RANGE / span64) * span64
    h_scale = torch.where(h_scale > 0, h_scale, torch.full_like(h_scale, HDR_RANGE))
    L_hdr = (y_hdr - lmin) / span
    codes = ldr_b * 255.0
    if quantize:
        codes = _round_ste(codes.clamp(0.0, 255.0))
    L_ldr = (codes * w).sum(dim=-3, keepdim=True)
    S, s_local = structural_fidelity(L_hdr, L_ldr, h_scale=h_scale, clamp_s=clamp_s)
    N = statistical_naturalness(L_ldr)
    Q = TMQI_A * S**TMQI_ALPHA + (1.0 - TMQI_A) * N**TMQI_BETA
    if single:
        return TMQIResult(Q[0], S[0], N[0], s_local[0])
    return TMQIResult(Q, S, N, s_local)


def tmqi_loss(hdr: torch.Tensor, ldr: torch.Tensor, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``1 - mean(Q)`` for training (float64, see the precision note), straight-through quantisation, ``s_local`` clamped
    (so it never gives NaN). Shapes as :func:`tmqi` (batched)."""
    result = tmqi(hdr, ldr, quantize=True, dtype=dtype, clamp_s=True)
    return 1.0 - result.Q.mean()


def sdr_display_encode(x: torch.Tensor, peak_nits: float = 100.0, *, primaries: str = "bt709") -> torch.Tensor:
    """Working-space output of an SDR tone mapper -> the display-encoded picture an SDR file holds.

    ``(*, 3, H, W)`` linear BT.2020 cd/m² -> ``(*, 3, H, W)`` R'G'B' in [0, 1]: primaries
    converted to ``primaries`` (BT.709 by default), clipped to [0, ``peak_nits``], BT.1886
    inverse EOTF with ``L_W = peak_nits``, ``L_B = 0`` (what the SDR writer does, without its
    8-bit quantisation, which :func:`tmqi` applies). Differentiable.
    """
    rgb = convert_primaries(x, "bt2020", primaries) if primaries != "bt2020" else x
    rgb = rgb.clamp(0.0, float(peak_nits))
    return eotf_inverse_BT1886(rgb, L_B=0.0, L_W=float(peak_nits)).clamp(0.0, 1.0)
