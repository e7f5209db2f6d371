"""Gamut mapping from the working space (BT.2020) into a smaller target gamut: the ``gamut`` operator.

Input and output are both in the working space (linear BT.2020, cd/m²): the output is a
BT.2020 tensor whose colours all lie inside the target gamut, i.e. whose components are
``>= 0`` once converted to the target primaries, so the writer's matrix to BT.709 or P3 no
longer has to clip. Three methods:

``clip``
    Convert to the target primaries, clamp negative components to 0, convert back. Cheap;
    shifts hue and luminance of out-of-gamut colours (a saturated BT.2020 green turns
    yellowish), leaves every in-gamut colour exactly as it was.
``desaturate``
    Move each out-of-gamut colour toward the grey of the same luminance ``Y`` along a
    straight line in linear light, ``c' = Y + t (c - Y)``, with the largest ``t`` in [0, 1]
    that brings every component to ``>= 0``. Luminance is kept exactly, the dominant
    wavelength (hue in the chromaticity diagram) too; in-gamut colours are untouched.
``perceptual`` (default)
    Soft chroma compression in ICtCp (BT.2100) at constant intensity ``I`` and hue angle
    ``atan2(Cp, Ct)``, in the manner of the ACES 1.3 reference gamut compression: for each
    pixel, the chroma ``C`` is measured relative to the target gamut's boundary at its
    ``(I, hue)`` (``d = C / C_target``); distances below ``knee`` (0.8) are left exactly as
    they are, distances between ``knee`` and the source (BT.2020) boundary
    ``lim = C_bt2020 / C_target`` are compressed by ACES's power curve (p = 1.2) so that
    ``lim`` lands exactly on the target boundary. Saturation gradients stay smooth (no flat
    clipped patches) and the ICtCp hue does not move; the luminance, which moving at
    constant ``I`` shifts slightly, is restored by scaling the colour (a scale keeps
    chromaticity and gamut membership), capped so that no component exceeds the pixel's
    former brightest one (measured: hue within 0.5°, luminance within 0.2 % on saturated
    test colours). The gamut boundaries are found once
    per target by bisection on a 129 x 256 ``(I, hue)`` grid and then read by bilinear
    interpolation; a final ``desaturate`` step absorbs the grid's interpolation error and
    any colour outside BT.2020 (those have no place on the compression curve).

Luminance is measured with the BT.2020 weights (the same ``Y`` for every D65 RGB space).
References: ITU-R BT.2100-2 Table 7 (ICtCp); ACES "Reference Gamut Compression" (S-2020-001
/ ACES 1.3, ``compress`` with power 1.2); libplacebo ``src/gamut_mapping.c`` (perceptual
soft-clip in IPT with a knee) for the idea of mapping at constant intensity and hue.
"""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import torch

from hdrvideo.color.ictcp import MATRIX_LMS_P_TO_ICTCP_PQ, MATRIX_RGB_TO_LMS, ictcp_to_rgb, rgb_to_ictcp
from hdrvideo.color.pq import eotf_ST2084
from hdrvideo.color.luminance import luminance
from hdrvideo.color.primaries import apply_matrix, rgb_to_rgb_matrix
from hdrvideo.errors import InvalidInputError
from hdrvideo.frame import Frame
from hdrvideo.ops.base import Operator, Option, register

__all__ = [
    "GAMUT_MODES",
    "GAMUT_TARGETS",
    "Gamut",
    "fit_toward_grey",
    "gamut_boundary",
    "gamut_clip",
    "gamut_desaturate",
    "gamut_perceptual",
    "map_gamut",
]

GAMUT_MODES = ("clip", "desaturate", "perceptual")
GAMUT_TARGETS = ("bt709", "p3d65", "bt2020")

#: Exponent of the ACES reference gamut compression curve.
ACES_POWER = 1.2
#: Size of the boundary tables: intensity samples over PQ [0, 1], hue samples over 2 pi.
BOUNDARY_I, BOUNDARY_HUE = 97, 192


def _check(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 3 or x.shape[-3] != 3:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidInputError(f"gamut mapping expects a (*, 3, H, W) tensor, got {shape}")


def _choose(name: str, value: str, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise InvalidInputError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def fit_toward_grey(
    rgb: torch.Tensor, grey: torch.Tensor, lo: float | None = 0.0, hi: float | None = None
) -> torch.Tensor:
    """Blend each pixel toward ``grey`` just enough that every component lies in ``[lo, hi]``.

    ``out = g + t (rgb - g)`` with the largest ``t`` in [0, 1] that satisfies the bounds, for
    ``g = clamp(grey, lo, hi)``. When ``grey`` is the pixel's luminance (in any RGB space with
    the same white) the luminance is kept and the hue does not move (the colour slides along
    the line to the white point); colours already inside are returned unchanged.

    ============  ==================================================  ===========
    ``rgb``       linear RGB, ``(*, 3, H, W)``                          any unit
    ``grey``      the achromatic target, ``(*, 1, H, W)``               same unit
    Range         same shape as ``rgb``, every component in [lo, hi]    same unit
    ============  ==================================================  ===========
    """
    g = grey
    if lo is not None:
        g = g.clamp(min=lo)
    if hi is not None:
        g = g.clamp(max=hi)
    t = torch.ones_like(g)
    tiny = torch.finfo(rgb.dtype).tiny
    if lo is not None:
        below = rgb < lo
        tc = torch.where(below, (g - lo) / (g - rgb).clamp(min=tiny), torch.ones_like(rgb))
        t = torch.minimum(t, tc.amin(dim=-3, keepdim=True))
    if hi is not None:
        above = rgb > hi
        tc = torch.where(above, (hi - g) / (rgb - g).clamp(min=tiny), torch.ones_like(rgb))
        t = torch.minimum(t, tc.amin(dim=-3, keepdim=True))
    t = t.clamp(0.0, 1.0)
    out = g + t * (rgb - g)
    if lo is not None or hi is not None:  # rounding of the blend may leave 1 ulp outside
        out = out.clamp(min=lo, max=hi)
    return out


@functools.lru_cache(maxsize=8)
def _matrices(target: str) -> tuple[torch.Tensor, torch.Tensor]:
    forward = rgb_to_rgb_matrix("bt2020", target)
    return forward, torch.linalg.inv(forward)


def gamut_clip(x: torch.Tensor, target: str = "bt709") -> torch.Tensor:
    """Clamp negative components in the target primaries (``(*, 3, H, W)`` BT.2020 cd/m² in and out)."""
    _check(x)
    _choose("gamut target", target, GAMUT_TARGETS)
    forward, inverse = _matrices(target)
    return apply_matrix(apply_matrix(x, forward).clamp(min=0.0), inverse)


def gamut_desaturate(x: torch.Tensor, target: str = "bt709") -> torch.Tensor:
    """Desaturate toward the equal-luminance grey just enough to be inside ``target``.

    ``(*, 3, H, W)`` linear BT.2020 cd/m² in and out. In-gamut pixels are returned exactly;
    luminance is kept (pixels of negative luminance become black).
    """
    _check(x)
    _choose("gamut target", target, GAMUT_TARGETS)
    forward, inverse = _matrices(target)
    t = apply_matrix(x, forward)
    outside = (t < 0).any(dim=-3, keepdim=True)
    if not bool(outside.any()):
        return x
    y = luminance(x, "bt2020")
    fitted = apply_matrix(fit_toward_grey(t, y, lo=0.0), inverse)
    return torch.where(outside, fitted, x)


_LMS_P_TO_ICTCP = MATRIX_LMS_P_TO_ICTCP_PQ
_ICTCP_TO_LMS_P = torch.linalg.inv(MATRIX_LMS_P_TO_ICTCP_PQ)
_LMS_TO_BT2020 = torch.linalg.inv(MATRIX_RGB_TO_LMS)


@functools.lru_cache(maxsize=8)
def _boundary_table(target: str) -> torch.Tensor:
    """``(BOUNDARY_I, BOUNDARY_HUE)`` float64: largest in-gamut ICtCp chroma per (I, hue).

    In-gamut means every component ``>= 0`` in ``target`` primaries and every cone signal
    ``L'M'S'`` at most 1 (within the PQ container, 10000 cd/m²). The in-gamut part of a ray
    of constant I and hue is not always one interval (the PQ curve bends the RGB cone), so
    the first exit is found by marching out from the grey axis in steps of 1/64 and then
    refined by 40 halvings: the boundary is that of the region connected to grey.
    """
    i = torch.linspace(0.0, 1.0, BOUNDARY_I, dtype=torch.float64)
    h = torch.arange(BOUNDARY_HUE, dtype=torch.float64) * (2 * math.pi / BOUNDARY_HUE)
    ii, hh = torch.meshgrid(i, h, indexing="ij")
    cos, sin = torch.cos(hh), torch.sin(hh)
    to_target = rgb_to_rgb_matrix("bt2020", target) @ _LMS_TO_BT2020

    def inside(c: torch.Tensor) -> torch.Tensor:
        lms_p = apply_matrix(torch.stack([ii, c * cos, c * sin], dim=0).unsqueeze(0), _ICTCP_TO_LMS_P)
        # Sign-mirrored EOTF: a negative cone signal is negative light, not black.
        lms = torch.sign(lms_p) * eotf_ST2084(lms_p.abs())
        rgb = apply_matrix(lms, to_target)[0]
        ok = (rgb >= -1e-12 * (1.0 + rgb.abs().amax(dim=0))).all(dim=0)
        return ok & (lms_p[0] <= 1.0).all(dim=0)

    step, steps = 1.0 / 64, 48  # chroma of BT.2020 stays below 0.5
    lo = torch.zeros_like(ii)
    hi = torch.full_like(ii, step * steps)
    found = torch.zeros_like(ii, dtype=torch.bool)
    for k in range(1, steps + 1):
        out = ~inside(torch.full_like(ii, k * step)) & ~found
        hi = torch.where(out, torch.full_like(ii, k * step), hi)
        lo = torch.where(out, torch.full_like(ii, (k - 1) * step), lo)
        found |= out
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        ok = inside(mid)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    return lo


def gamut_boundary(intensity: torch.Tensor, hue: torch.Tensor, target: str) -> torch.Tensor:
    """Largest in-gamut ICtCp chroma of ``target`` at each ``(I, hue)``, bilinear in the table.

    ``intensity``: ICtCp ``I`` (PQ, 0–1); ``hue``: ``atan2(Cp, Ct)`` in radians; same shapes.
    """
    _choose("gamut target", target, GAMUT_TARGETS)
    table = _boundary_table(target).to(device=intensity.device, dtype=intensity.dtype)
    fi = intensity.clamp(0.0, 1.0) * (BOUNDARY_I - 1)
    fh = torch.remainder(hue, 2 * math.pi) * (BOUNDARY_HUE / (2 * math.pi))
    i0 = fi.floor().clamp(max=BOUNDARY_I - 2)
    h0 = fh.floor()
    wi, wh = fi - i0, fh - h0
    i0 = i0.long()
    h0 = h0.long() % BOUNDARY_HUE
    h1 = (h0 + 1) % BOUNDARY_HUE
    flat = table.reshape(-1)

    def at(ii: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
        return flat[ii * BOUNDARY_HUE + hh]

    top = at(i0, h0) * (1 - wh) + at(i0, h1) * wh
    bottom = at(i0 + 1, h0) * (1 - wh) + at(i0 + 1, h1) * wh
    return top * (1 - wi) + bottom * wi


def _aces_compress(d: torch.Tensor, lim: torch.Tensor, knee: float, power: float = ACES_POWER) -> torch.Tensor:
    """ACES reference gamut compression curve: identity below ``knee``, ``lim -> 1``.

    ``s = (lim - knee) / (((1 - knee) / (lim - knee))^-p - 1)^(1/p)``,
    ``f(d) = knee + s x / (1 + x^p)^(1/p)``, ``x = (d - knee) / s``. Requires ``lim > 1``.
    """
    lim = lim.clamp(min=1.0 + 1e-6)
    s = (lim - knee) / (((1.0 - knee) / (lim - knee)).pow(-power) - 1.0).pow(1.0 / power)
    x = ((d - knee) / s).clamp(min=0.0)
    compressed = knee + s * x / (1.0 + x.pow(power)).pow(1.0 / power)
    return torch.where(d > knee, compressed, d)


def gamut_perceptual(x: torch.Tensor, target: str = "bt709", knee: float = 0.8) -> torch.Tensor:
    """Soft chroma compression at constant ICtCp intensity and hue (see the module docstring).

    ============  ===============================================  ================
    Domain        ``x``: linear BT.2020 RGB, ``(*, 3, H, W)``        cd/m²
    Range         same shape, inside ``target``                      cd/m²
    ============  ===============================================  ================

    Args:
        target: one of :data:`GAMUT_TARGETS`.
        knee: fraction of the distance to the target boundary below which colours are left
            untouched (0.5–0.99; ACES uses 0.8 for its most common channels).

    Pixels whose chroma is below ``knee`` of the boundary are returned bit-exactly.
    """
    _check(x)
    _choose("gamut target", target, GAMUT_TARGETS)
    knee = float(knee)
    if not 0.0 < knee < 1.0:
        raise InvalidInputError(f"knee must be in (0, 1), got {knee!r}")
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    # Colours outside BT.2020 itself (negative components) are first brought onto its boundary.
    y = luminance(work, "bt2020")
    src = torch.where((work < 0).any(dim=-3, keepdim=True), fit_toward_grey(work, y, lo=0.0), work)
    out = src
    if target != "bt2020":
        ictcp = rgb_to_ictcp(src)
        i, ct, cp = ictcp[..., 0, :, :], ictcp[..., 1, :, :], ictcp[..., 2, :, :]
        c = torch.sqrt(ct * ct + cp * cp)
        hue = torch.atan2(cp, ct)
        c_target = gamut_boundary(i, hue, target)
        c_source = gamut_boundary(i, hue, "bt2020")
        valid = (c > 1e-7) & (c_target > 1e-9)
        safe_t = torch.where(valid, c_target, torch.ones_like(c_target))
        d = torch.where(valid, c / safe_t, torch.zeros_like(c))
        lim = torch.maximum(c_source / safe_t, d)  # a colour can sit past the tabulated 2020 edge
        move = valid & (d > knee) & (lim > 1.0 + 1e-6)
        if bool(move.any()):
            d_new = _aces_compress(d, lim, knee)
            factor = torch.where(move, d_new / d.clamp(min=1e-12), torch.ones_like(d))
            mapped = ictcp_to_rgb(torch.stack([i, ct * factor, cp * factor], dim=-3))
            # Compression at constant I moves luminance Y a little (I is not Y); scale the
            # colour back to its Y (a scale keeps chromaticity and gamut membership), but
            # never above its original brightest component (a display peak stays a peak).
            y_new = luminance(mapped, "bt2020")
            gain = torch.where(y_new > 0, y / y_new.clamp(min=1e-30), torch.ones_like(y))
            top_old = src.amax(dim=-3, keepdim=True)
            top_new = mapped.amax(dim=-3, keepdim=True)
            gain = torch.minimum(gain, torch.where(top_new > 0, top_old / top_new.clamp(min=1e-30), gain))
            out = torch.where(move.unsqueeze(-3), mapped * gain, src)
    # Absorb interpolation error of the boundary table: luminance-keeping desaturation.
    out = gamut_desaturate(out, target)
    return out.to(x.dtype)


def map_gamut(x: torch.Tensor, mode: str = "perceptual", target: str = "bt709", knee: float = 0.8) -> torch.Tensor:
    """Dispatch to :func:`gamut_clip`, :func:`gamut_desaturate` or :func:`gamut_perceptual`."""
    _choose("gamut mode", mode, GAMUT_MODES)
    if mode == "clip":
        return gamut_clip(x, target)
    if mode == "desaturate":
        return gamut_desaturate(x, target)
    return gamut_perceptual(x, target, knee)


@register
class Gamut(Operator):
    """``gamut``: bring every colour inside a target gamut (working space in and out).

    Stateless. Put it after ``tonemap`` when writing SDR (BT.709) or P3 so that saturated
    BT.2020 colours are mapped rather than clipped by the writer's matrix.
    """

    name: ClassVar[str] = "gamut"
    description: ClassVar[str] = "map colours into a smaller gamut (clip, desaturate, perceptual ICtCp compression)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("mode", str, "perceptual", "clip | desaturate | perceptual (soft ICtCp chroma compression)",
               choices=GAMUT_MODES),
        Option("target", str, "bt709", "target gamut (output stays BT.2020-coded)", choices=GAMUT_TARGETS),
        Option("knee", float, 0.8, "perceptual: fraction of the boundary distance left untouched",
               minimum=0.5, maximum=0.99),
    )

    def process(self, x: torch.Tensor, frame: Frame | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidInputError(f"gamut expects (3, H, W) or (N, 3, H, W), got {shape}")
        return map_gamut(x, self.mode, self.target, self.knee)

