"""Procedural HDR scenes and sequences: unlimited, varied training pictures in absolute cd/m².

A scene is composed in linear BT.709 (the primaries of the scikit-image textures), in
cd/m², then converted to BT.2020 and graded for a ``peak_nits`` display with
:func:`hdrvideo.nn.data.master_to_display` (knee at 0.6 of the peak):

- a **key**: the luminance of a white diffuse surface, log-uniform over 0.3-10 cd/m² at
  night (35 % of scenes) and 30-400 cd/m² by day, so scenes span night to daylight;
- a **sky** (unless the scene is indoor, 25 %): a zenith-to-horizon gradient, brighter
  than the key by day and far darker at night, with low-frequency cloud modulation;
- **surfaces**: a ground plane and 2-6 buildings/objects whose reflectance (2-90 %) is a
  texture cut from a scikit-image picture (grass, gravel, brick, camera, moon, astronaut,
  coffee, ...), sRGB-decoded to linear, randomly tinted;
- **illumination**: by day a direct component (sun, 70-90 %) plus ambient, with **shadows**
  where soft-edged occluders block the direct light (down to 3-30 % of it); at night and
  indoors the light of each lamp falls off as ``1 / (1 + d^2 / r^2)``;
- **emitters**: lamps (discs with a faint glow) far above the peak (1.5-30 x), lit windows at
  night (20-400 cd/m²), and by day a **sun** (20-200 x the peak, with a halo) when the
  sky shows; **specular highlights** (3-30 x the key) on surfaces. Every scene has at
  least one emitter or glint above twice the peak, so the graded picture reaches near
  the peak.

All randomness comes from one ``torch.Generator`` seeded with ``seed``: the same seed gives
the same bytes. scikit-image (extra ``train``) is needed for the textures.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from hdrvideo.color.primaries import convert_primaries
from hdrvideo.color.sdr import eotf_sRGB
from hdrvideo.errors import InvalidInputError
from hdrvideo.nn.data import KNEE_FRACTION, master_to_display, sample_view, skimage_picture

__all__ = ["TEXTURE_NAMES", "procedural_scene", "procedural_sequence"]

#: The scikit-image pictures used as reflectance textures (grey ones get a random tint).
TEXTURE_NAMES: tuple[str, ...] = (
    "grass", "gravel", "brick", "camera", "moon", "astronaut", "chelsea", "coffee", "rocket", "motorcycle",
)


@functools.lru_cache(maxsize=1)
def _textures() -> tuple[torch.Tensor, ...]:
    """Linear-light reflectance textures ``(3, h, w)`` in [0, 1] (sRGB decoded), cached."""
    out = []
    for name in TEXTURE_NAMES:
        a = torch.from_numpy(skimage_picture(name).copy()).float() / 255.0
        a = a[..., :3].permute(2, 0, 1) if a.dim() == 3 else a[None].expand(3, -1, -1)
        out.append(eotf_sRGB(a.contiguous()))
    return tuple(out)


def _u(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(1, generator=g))


def _logu(g: torch.Generator, low: float, high: float) -> float:
    return math.exp(_u(g, math.log(low), math.log(high)))


def _randint(g: torch.Generator, low: int, high: int) -> int:
    """Uniform integer in ``[low, high]``."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


def _texture(g: torch.Generator, h: int, w: int) -> torch.Tensor:
    """A random textured reflectance patch ``(3, h, w)``: 2-90 % reflectance, tinted."""
    textures = _textures()
    t = textures[_randint(g, 0, len(textures) - 1)]
    _, H, W = t.shape
    # A random window of 1/8 to all of the picture, resized to (h, w).
    frac = _u(g, 0.125, 1.0)
    ch, cw = max(2, int(H * frac)), max(2, int(W * frac))
    top, left = _randint(g, 0, H - ch), _randint(g, 0, W - cw)
    patch = t[:, top : top + ch, left : left + cw]
    patch = F.interpolate(patch[None], size=(h, w), mode="bilinear", align_corners=False, antialias=ch > h or cw > w)[0]
    tint = torch.tensor([_u(g, 0.6, 1.0), _u(g, 0.6, 1.0), _u(g, 0.6, 1.0)])
    albedo = _logu(g, 0.1, 1.0)
    return (patch * tint[:, None, None] * albedo).clamp(0.02, 0.9)


def _smooth_noise(g: torch.Generator, h: int, w: int, cells: int = 6) -> torch.Tensor:
    """Low-frequency noise ``(h, w)``, zero mean, unit-ish amplitude (bicubic upsampled grid)."""
    grid = torch.randn(1, 1, cells, cells, generator=g)
    return F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)[0, 0]


def _soft_box(yy: torch.Tensor, xx: torch.Tensor, y0: float, y1: float, x0: float, x1: float, soft: float) -> torch.Tensor:
    """A rectangle mask ``(h, w)`` in [0, 1] with edges blurred over ``soft`` pixels.

    ``yy`` is the ``(h, 1)`` row coordinate, ``xx`` the ``(1, w)`` column coordinate: the mask
    is separable, one outer product.
    """
    return (torch.sigmoid((yy - y0) / soft) * torch.sigmoid((y1 - yy) / soft)) * (
        torch.sigmoid((xx - x0) / soft) * torch.sigmoid((x1 - xx) / soft)
    )


def _blob(yy: torch.Tensor, xx: torch.Tensor, cy: float, cx: float, radius: float) -> torch.Tensor:
    """A Gaussian blob ``(h, w)`` of peak 1 and standard deviation ``radius`` pixels (separable)."""
    return torch.exp(-((yy - cy) ** 2) / (2 * radius**2)) * torch.exp(-((xx - cx) ** 2) / (2 * radius**2))


def _disc(yy: torch.Tensor, xx: torch.Tensor, cy: float, cx: float, radius: float) -> torch.Tensor:
    """An anti-aliased disc ``(h, w)`` in [0, 1]."""
    d = torch.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    return (radius + 0.5 - d).clamp(0, 1)


def _scene_bt709(g: torch.Generator, height: int, width: int, peak_nits: float) -> torch.Tensor:
    """The ungraded scene ``(3, H, W)``, linear BT.709, cd/m²."""
    H, W = height, width
    yy = torch.arange(H, dtype=torch.float32)[:, None]  # (H, 1): broadcasts
    xx = torch.arange(W, dtype=torch.float32)[None, :]  # (1, W)
    size = float(min(H, W))
    night = _u(g, 0, 1) < 0.35
    indoor = _u(g, 0, 1) < 0.25
    key = _logu(g, 0.3, 10.0) if night else _logu(g, 30.0, 400.0)
    daylight = torch.tensor([1.0, _u(g, 0.92, 1.0), _u(g, 0.85, 1.05)])
    tungsten = torch.tensor([1.0, _u(g, 0.6, 0.8), _u(g, 0.3, 0.5)])
    light_tint = tungsten if (night or indoor) else daylight

    # Sky (or a back wall indoors) above the horizon.
    horizon = 0.0 if indoor else _u(g, 0.25, 0.65) * H
    radiance = torch.zeros(3, H, W)
    if horizon > 0:
        level = key * (_u(g, 1.5, 5.0) if not night else _u(g, 0.02, 0.3))
        zenith = torch.tensor([0.25, 0.45, 1.0]) * level * _u(g, 0.2, 0.5)
        low = torch.tensor([1.0, 0.95, 0.9]) * level if not night else torch.tensor([0.3, 0.4, 1.0]) * level
        t = (yy / horizon).clamp(0, 1)
        clouds = (1 + 0.35 * _smooth_noise(g, H, W)).clamp(0.3, 2.0)
        sky = (zenith[:, None, None] * (1 - t) + low[:, None, None] * t) * clouds
        radiance = torch.where(yy < horizon, sky, radiance)

    # Illumination of surfaces (cd/m² of a white diffuse surface) and its shadows.
    lamps: list[tuple[float, float, float, float]] = []  # (y, x, radius px, luminance)
    n_lamps = _randint(g, 1, 5) if night else (_randint(g, 1, 3) if indoor else _randint(g, 0, 2))
    for _ in range(n_lamps):
        lamps.append((_u(g, 0, H * 0.8), _u(g, 0, W), max(1.0, size * _u(g, 0.005, 0.03)), peak_nits * _logu(g, 1.5, 30.0)))
    if night or indoor:
        illum = torch.full((H, W), key * _u(g, 0.02, 0.1))  # ambient
        for ly, lx, _r, _l in lamps:
            reach = size * _u(g, 0.1, 0.5)
            illum = illum + key * _u(g, 0.5, 3.0) / (1 + ((yy - ly) ** 2 + (xx - lx) ** 2) / reach**2)
    else:
        direct = _u(g, 0.7, 0.9)
        shadow = torch.ones(H, W)
        for _ in range(_randint(g, 1, 4)):  # occluders: soft boxes and blobs that block the sun
            depth = _u(g, 0.03, 0.3)
            if _u(g, 0, 1) < 0.5:
                y0, x0 = _u(g, horizon, H), _u(g, -0.2 * W, W)
                mask = _soft_box(yy, xx, y0, y0 + _u(g, 0.1, 0.5) * H, x0, x0 + _u(g, 0.1, 0.5) * W, _u(g, 1.0, 6.0))
            else:
                mask = _blob(yy, xx, _u(g, horizon, H), _u(g, 0, W), size * _u(g, 0.05, 0.25))
            shadow = shadow * (1 - (1 - depth) * mask)
        gradient = 1 + 0.3 * _smooth_noise(g, H, W, cells=3)
        illum = key * (direct * shadow + (1 - direct)) * gradient.clamp(0.4, 1.6)

    # Surfaces: the ground below the horizon and a few buildings/objects.
    reflectance = torch.zeros(3, H, W)
    coverage = torch.zeros(H, W)
    if horizon < H:
        top = int(horizon)
        ground = torch.zeros(3, H, W)
        ground[:, top:, :] = _texture(g, H - top, W)
        mask = torch.sigmoid((yy - horizon) / 1.0)
        reflectance = ground * mask
        coverage = mask
    emitters = torch.zeros(3, H, W)
    for _ in range(_randint(g, 2, 6)):
        x0 = _u(g, -0.1 * W, W)
        bw = _u(g, 0.08, 0.4) * W
        y0 = _u(g, 0.05 * H, max(0.1 * H, horizon + 0.3 * (H - horizon)))
        y1 = _u(g, max(y0 + 4, horizon), H * 1.05)
        box = _soft_box(yy, xx, y0, y1, x0, x0 + bw, 0.7)
        # The texture only where the box is (8 px past its edges the mask is below 1e-5).
        r0, r1 = max(0, math.floor(y0) - 8), min(H, math.ceil(y1) + 8)
        c0, c1 = max(0, math.floor(x0) - 8), min(W, math.ceil(x0 + bw) + 8)
        tex = torch.zeros(3, H, W)
        if r1 - r0 >= 2 and c1 - c0 >= 2:
            tex[:, r0:r1, c0:c1] = _texture(g, r1 - r0, c1 - c0)
        else:
            _texture(g, 2, 2)  # keep the random sequence of the scene
        reflectance = reflectance * (1 - box) + tex * box
        coverage = coverage * (1 - box) + box
        if _u(g, 0, 1) < 0.6:  # windows: a grid of small rectangles
            rows, cols = _randint(g, 2, 6), _randint(g, 2, 5)
            wh, ww = (y1 - y0) / rows, bw / cols
            lit_level = _logu(g, 20.0, 400.0) if night else 0.0
            lit, glass = torch.zeros(H, W), torch.zeros(H, W)
            for r in range(rows):
                for c in range(cols):
                    wy, wx = y0 + (r + 0.25) * wh, x0 + (c + 0.25) * ww
                    win = _soft_box(yy, xx, wy, wy + 0.5 * wh, wx, wx + 0.5 * ww, 0.6)
                    if night and _u(g, 0, 1) < 0.5:
                        lit.add_(win, alpha=lit_level * _u(g, 0.5, 1.5))
                    else:
                        glass.add_(win)
            emitters = emitters + (lit * box) * tungsten[:, None, None]
            reflectance = reflectance * (1 - 0.8 * (glass * box).clamp(max=1))  # dark glass
    surfaces = reflectance * illum * light_tint[:, None, None]
    radiance = radiance * (1 - coverage) + surfaces

    # Emitters: lamps with glow, the sun with its halo, specular glints.
    strongest = 0.0
    for ly, lx, lr, level in lamps:
        emitters = emitters + _disc(yy, xx, ly, lx, lr) * level * tungsten[:, None, None]
        emitters = emitters + _blob(yy, xx, ly, lx, lr * _u(g, 2.0, 5.0)) * level * _logu(g, 0.0005, 0.005) * tungsten[:, None, None]
        strongest = max(strongest, level)
    if not night and horizon > 4 and _u(g, 0, 1) < 0.6:
        sy, sx = _u(g, 0, horizon * 0.9), _u(g, 0, W)
        sr = max(1.5, size * _u(g, 0.01, 0.03))
        level = peak_nits * _logu(g, 20.0, 200.0)
        sun = torch.tensor([1.0, 0.97, 0.9])[:, None, None]
        emitters = emitters + _disc(yy, xx, sy, sx, sr) * level * sun
        emitters = emitters + _blob(yy, xx, sy, sx, size * _u(g, 0.02, 0.08)) * key * _u(g, 0.3, 1.5) * sun
        strongest = max(strongest, level)
    for i in range(_randint(g, 2, 10)):
        cy, cx = _u(g, horizon, H), _u(g, 0, W)
        level = key * _logu(g, 3.0, 30.0)
        if i == 0 and strongest < 2 * peak_nits:  # guarantee something above twice the peak
            level = max(level, peak_nits * _logu(g, 2.0, 10.0))
            strongest = level
        emitters = emitters + _blob(yy, xx, cy, cx, _u(g, 0.6, 2.5)) * level * light_tint[:, None, None]
    return (radiance + emitters).clamp(min=0)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) & 0x7FFFFFFFFFFFFFFF)


def procedural_scene(seed: int, height: int, width: int, *, peak_nits: float = 1000.0) -> torch.Tensor:
    """A procedural HDR scene graded for a ``peak_nits`` display (see the module docstring).

    Args:
        seed: the scene (same seed, same bytes).
        height, width: picture size in pixels (at least 8).
        peak_nits: grading peak, cd/m²: the result lies in ``[0, peak_nits]`` and its
            brightest pixels come close to it (float32 rounding may reach it).

    Returns:
        ``(3, height, width)`` float32, linear BT.2020, cd/m², finite and non-negative.
    """
    if height < 8 or width < 8:
        raise InvalidInputError(f"procedural scenes need at least 8x8 pixels, got {height}x{width}")
    if peak_nits <= 0:
        raise InvalidInputError(f"peak_nits must be positive, got {peak_nits}")
    scene = _scene_bt709(_generator(seed), int(height), int(width), float(peak_nits))
    x = convert_primaries(scene, "bt709", "bt2020").clamp(min=0)
    return master_to_display(x, peak_nits, KNEE_FRACTION * peak_nits).contiguous()


def procedural_sequence(
    seed: int,
    height: int,
    width: int,
    frames: int,
    *,
    motion_px: float = 2.0,
    cut_at: int | None = None,
    peak_nits: float = 1000.0,
) -> torch.Tensor:
    """A camera pan (and slow zoom) across a procedural scene, with an optional hard cut.

    Each shot is a :func:`procedural_scene` drawn larger than the frame (a margin covering
    the camera path), seen through a window that moves ``motion_px * U(0.5, 1)`` pixels per
    frame in a random direction and zooms by at most 0.7 % per frame (bilinear resampling,
    :func:`hdrvideo.nn.data.sample_view`). At ``cut_at`` a second, unrelated scene starts.

    Args:
        seed: the sequence (same seed, same bytes).
        height, width: frame size in pixels.
        frames: number of frames ``T`` (at least 1).
        motion_px: largest camera speed, pixels per frame (0: a still camera).
        cut_at: index of the first frame of the second shot, in ``[1, frames - 1]``, or None.
        peak_nits: grading peak, cd/m².

    Returns:
        ``(T, 3, height, width)`` float32, linear BT.2020, cd/m².
    """
    if frames < 1:
        raise InvalidInputError(f"frames must be at least 1, got {frames}")
    if motion_px < 0:
        raise InvalidInputError(f"motion_px must be non-negative, got {motion_px}")
    if cut_at is not None and not 1 <= cut_at <= frames - 1:
        raise InvalidInputError(f"cut_at must be in [1, {frames - 1}], got {cut_at}")
    shots = [(seed, frames)] if cut_at is None else [(seed, cut_at), (seed ^ 0x5DEECE66D, frames - cut_at)]
    out = [_shot(s, height, width, n, motion_px, peak_nits) for s, n in shots]
    return torch.cat(out).contiguous()


def _shot(seed: int, height: int, width: int, frames: int, motion_px: float, peak_nits: float) -> torch.Tensor:
    g = _generator(seed * 2 + 1)
    angle = _u(g, 0, 2 * math.pi)
    speed = motion_px * _u(g, 0.5, 1.0)
    zoom = 2.0 ** _u(g, -0.01, 0.01)  # per frame: at most 0.7 %
    half_travel = speed * (frames - 1) / 2
    half_zoom = zoom ** ((frames - 1) / 2)
    growth = max(half_zoom, 1 / half_zoom)
    margin = math.ceil(half_travel + 0.5 * max(height, width) * (growth - 1)) + 4
    canvas = procedural_scene(seed, height + 2 * margin, width + 2 * margin, peak_nits=peak_nits)
    cy, cx = canvas.shape[1] / 2, canvas.shape[2] / 2
    vx, vy = speed * math.cos(angle), speed * math.sin(angle)
    views = []
    for t in range(frames):
        k = t - (frames - 1) / 2
        views.append(sample_view(canvas, (cx + vx * k, cy + vy * k), (height, width), zoom**k))
    return torch.stack(views).clamp(0, peak_nits)  # bilinear rounding may pass the peak by 1 ulp
