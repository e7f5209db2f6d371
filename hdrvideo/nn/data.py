"""Training data for the project's networks: real HDR images, SDR photos, patches, SDR inputs.

Every HDR picture here is a torch float32 ``(3, H, W)`` tensor in the working space (linear
BT.2020, absolute cd/m²) unless a docstring says otherwise; SDR pictures are display-referred
sRGB-encoded code values in [0, 1].

Sources (all available offline):

- :func:`real_hdr_images`: the natural scene-referred HDR images of the shared data folder
  (``../shared/data`` beside the repository, or ``$HDRVIDEO_SHARED_DATA``), split into
  ``train`` and ``val`` (:data:`VALIDATION_IMAGES`, never used for training);
- :func:`sdr_images`: colour photographs that ship inside scikit-image;
- :mod:`hdrvideo.nn.procedural`: procedural HDR scenes and sequences, unlimited.

:class:`HDRPatchDataset` mixes real crops and procedural scenes, deterministically per
``(seed, index)`` so that a training run (and its resumption) sees the same batches.
:func:`make_sdr` turns an HDR patch into the SDR picture a camera would have taken
(Eilertsen et al. 2017, HDRCNN data preparation), the input of inverse tone mapping and of
the SDR side of the quality network.

scikit-image is an optional dependency (extra ``train``): it is imported only inside the
functions that need it, which raise :class:`hdrvideo.errors.UnsupportedError` naming
``pip install hdrvideo[train]`` when it is missing.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from hdrvideo.color.luminance import luminance
from hdrvideo.errors import InputNotFoundError, InvalidInputError, UnsupportedError

__all__ = [
    "HDRImage",
    "HDRPatchDataset",
    "NATURAL_IMAGES",
    "SCENE_ANCHOR_FRACTION",
    "SCENE_ANCHOR_PERCENTILE",
    "SDR_IMAGE_NAMES",
    "VALIDATION_IMAGES",
    "augment",
    "best_exposure",
    "camera_response",
    "make_sdr",
    "master_to_display",
    "random_crop",
    "real_hdr_images",
    "require_train_extra",
    "sdr_images",
    "shared_data_root",
    "skimage_picture",
]

# --------------------------------------------------------------------------- real HDR images

#: The natural (photographed or rendered-scene) HDR images of the shared data folder, by stem,
#: with their path relative to it. Synthetic test charts are left out on purpose:
#: ``TestImages_*`` (ramps, rings, half-float value tables), ``DisplayWindow_t09`` (a data-window
#: test), ``imagers_rgbr4x4`` / ``imagers_scale`` / ``imagers_old-rle`` (decoder tests), and
#: ``TestImages_stripes``.
NATURAL_IMAGES: dict[str, str] = {
    "Chromaticities_XYZ": "exr/Chromaticities_XYZ.exr",  # outdoor, foliage and a flower; 6.5 stops
    "LuminanceChroma_Flowers": "exr/LuminanceChroma_Flowers.exr",  # outdoor, daylight flowers; 5.8 stops
    "MultiResolution_Bonita": "exr/MultiResolution_Bonita.exr",  # outdoor, sun over the sea; 13.0 stops
    "MultiResolution_StageEnvLatLong": "exr/MultiResolution_StageEnvLatLong.exr",  # indoor stage panorama; 15.7
    "MultiView_Fog": "exr/MultiView_Fog.exr",  # outdoor night, fog and a lamp; 11.9 stops
    "ScanLines_Desk": "exr/ScanLines_Desk.exr",  # indoor, stained-glass window over a desk; 15.5 stops
    "ScanLines_MtTamWest": "exr/ScanLines_MtTamWest.exr",  # outdoor landscape; 10.7 stops
    "ScanLines_StillLife": "exr/ScanLines_StillLife.exr",  # indoor, dark, oil lamps; 18.5 stops
    "ScanLines_Tree": "exr/ScanLines_Tree.exr",  # outdoor, tree against the sky; 13.4 stops
    "Tiles_GoldenGate": "exr/Tiles_GoldenGate.exr",  # outdoor, dusk over the bay; 8.3 stops
    "imagers_image1": "radiance/imagers_image1.hdr",  # outdoor, rocks and water (128x85); 7.6 stops
    "quarry_01_1k": "radiance/quarry_01_1k.hdr",  # outdoor daylight panorama with the sun; 6.9 stops
    "royal_esplanade_1k": "radiance/royal_esplanade_1k.hdr",  # outdoor city panorama, sun; 12.2 stops
}

#: Held-out images, never used for training (4 of the 13 natural ones), chosen for variety:
#: ``ScanLines_Desk`` (indoor, very high range: a window over a dark desk), ``MultiView_Fog``
#: (outdoor night, a lamp in fog), ``Tiles_GoldenGate`` (outdoor dusk, moderate range) and
#: ``quarry_01_1k`` (outdoor daylight with the sun, low range below the sun). The last two
#: are also the sources of the bundled HDR10 sample clip (``scripts/make_sample.py``), so
#: a network measured on that clip is measured on content it did not train on.
#: (Stops: log2(P99.9 / P1) of luminance, from ``../shared/data/MANIFEST.md``.)
VALIDATION_IMAGES: tuple[str, ...] = ("ScanLines_Desk", "MultiView_Fog", "Tiles_GoldenGate", "quarry_01_1k")

#: The scene-referred scale rule of :meth:`HDRImage.load`: the ``SCENE_ANCHOR_PERCENTILE``-th
#: percentile of luminance is placed at ``SCENE_ANCHOR_FRACTION * peak_nits`` (500 cd/m² for
#: a 1000 cd/m² grade), so the top 1 % of pixels (sky, sun, lamps, speculars) is what
#: reaches the roll-off of :func:`master_to_display`. The files' own absolute levels are
#: arbitrary (their median luminance spans 0.1 to 140 in file units), hence a rule.
SCENE_ANCHOR_PERCENTILE = 99.0
SCENE_ANCHOR_FRACTION = 0.5

#: The knee of the grading roll-off, as a fraction of the peak (600 of 1000 cd/m²).
KNEE_FRACTION = 0.6


def require_train_extra(module: str) -> Any:
    """Import and return an optional module of the ``train`` extra, or raise a clear error.

    Raises:
        UnsupportedError: the module is not installed; the message names
            ``pip install hdrvideo[train]``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnsupportedError(
            f"{module} is needed for training data; install it with: pip install hdrvideo[train]"
        ) from exc


def shared_data_root() -> Path:
    """The shared HDR data folder: ``$HDRVIDEO_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("HDRVIDEO_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def master_to_display(x: torch.Tensor, peak_nits: float = 1000.0, knee_nits: float = 600.0) -> torch.Tensor:
    """Grade for a ``peak_nits`` mastering display: identity below the knee, a smooth
    roll-off (tanh) above it that approaches the peak, per channel (cd/m² in and out).

    ``y = x`` for ``x <= knee``; ``y = knee + (peak - knee) * tanh((x - knee) / (peak - knee))``
    above, so the curve and its slope are continuous at the knee and ``y < peak`` always.
    Real HDR10 masters keep their content within the mastering display's range, so MaxCLL
    stays at or below its peak, as the ST 2086 metadata says.

    Args:
        x: linear light, any shape, cd/m².
        peak_nits: mastering display peak, cd/m².
        knee_nits: start of the roll-off, cd/m² (below ``peak_nits``).

    Returns:
        Same shape, cd/m², in ``[0, peak_nits]`` (below the peak in exact arithmetic; float32
        ``tanh`` reaches 1 far above it); negative input is clamped to 0.
    """
    if not 0 < knee_nits < peak_nits:
        raise InvalidInputError(f"need 0 < knee_nits < peak_nits, got knee {knee_nits} and peak {peak_nits}")
    room = peak_nits - knee_nits
    rolled = knee_nits + room * torch.tanh((x - knee_nits) / room)
    return torch.where(x > knee_nits, rolled, x).clamp(0, peak_nits)


@functools.lru_cache(maxsize=16)
def _read_clean(path: Path) -> tuple[torch.Tensor, float]:
    """``path`` read in BT.2020 (file units), NaN/Inf/negatives set to 0, and the luminance
    percentile of the scale rule. Cached (the natural images take ~150 MB in all)."""
    from hdrvideo.io.images import read_image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN/Inf counts: cleaned below
        x = read_image(path, white_nits=1.0).data.float()  # BT.2020 linear, file units
    x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).clamp(min=0).contiguous()
    y = luminance(x).flatten()
    stride = max(1, y.numel() // 1_000_000)  # torch.quantile's input limit; images here are ~1 Mpixel
    anchor = torch.quantile(y[::stride], SCENE_ANCHOR_PERCENTILE / 100).item()
    if not anchor > 0:
        raise InvalidInputError(f"{path}: black image (luminance percentile {SCENE_ANCHOR_PERCENTILE} is 0)")
    return x, anchor


def _scene_scale(anchor: float, peak_nits: float) -> float:
    """The factor of the scale rule: file units -> cd/m²."""
    return SCENE_ANCHOR_FRACTION * peak_nits / anchor


@dataclass(frozen=True)
class HDRImage:
    """One real HDR image of the shared data folder.

    Attributes:
        name: the file stem (a key of :data:`NATURAL_IMAGES`).
        path: the file.
    """

    name: str
    path: Path

    def load_scene(self, peak_nits: float = 1000.0) -> torch.Tensor:
        """The scene-referred picture before grading, ``(3, H, W)`` float32 cd/m², BT.2020.

        Read with :func:`hdrvideo.io.images.read_image` (which converts to BT.2020 primaries),
        NaN/Inf and negative values set to 0, then scaled so that the 99th percentile of
        luminance lands at ``0.5 * peak_nits`` (:data:`SCENE_ANCHOR_PERCENTILE`,
        :data:`SCENE_ANCHOR_FRACTION`). Highlights may exceed ``peak_nits``. The file read is
        cached in memory (LRU), so any peak is cheap; the tensor returned is new.
        """
        x, anchor = _read_clean(self.path)
        return x * _scene_scale(anchor, float(peak_nits))

    def load(self, peak_nits: float = 1000.0) -> torch.Tensor:
        """The picture graded for a ``peak_nits`` display, ``(3, H, W)`` float32 cd/m², BT.2020.

        :meth:`load_scene` followed by :func:`master_to_display` with the knee at
        ``0.6 * peak_nits``: values in ``[0, peak_nits]``. The file read is cached in memory
        (LRU); the tensor returned is new.
        """
        return master_to_display(self.load_scene(peak_nits), peak_nits, KNEE_FRACTION * peak_nits)


def real_hdr_images(split: str = "train", root: Path | None = None) -> list[HDRImage]:
    """The natural HDR images of the shared data folder, for ``split``.

    Args:
        split: ``"train"`` (all natural images but :data:`VALIDATION_IMAGES`), ``"val"``
            (:data:`VALIDATION_IMAGES`) or ``"all"``.
        root: the data folder (default :func:`shared_data_root`).

    Returns:
        The images of the split that are present on disk, in :data:`NATURAL_IMAGES` order.

    Raises:
        InvalidInputError: unknown split.
        InputNotFoundError: the folder, or every image of the split, is missing.
    """
    if split not in ("train", "val", "all"):
        raise InvalidInputError(f"unknown split {split!r}; valid: train, val, all")
    root = Path(root) if root is not None else shared_data_root()
    if not root.is_dir():
        raise InputNotFoundError(f"{root}: HDR data folder not found (set HDRVIDEO_SHARED_DATA)")
    names = [
        n
        for n in NATURAL_IMAGES
        if split == "all" or (split == "val") == (n in VALIDATION_IMAGES)
    ]
    images = [HDRImage(n, root / NATURAL_IMAGES[n]) for n in names if (root / NATURAL_IMAGES[n]).is_file()]
    if not images:
        raise InputNotFoundError(f"{root}: none of the {split!r} HDR images is present")
    return images


# --------------------------------------------------------------------------- SDR photographs

#: The natural colour photographs of ``skimage.data`` (shipped inside the wheel: no download).
SDR_IMAGE_NAMES: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")


def skimage_picture(name: str) -> "numpy.ndarray":  # noqa: F821
    """A picture of ``skimage.data`` by name (``motorcycle``: the left view of ``stereo_motorcycle``)."""
    data = require_train_extra("skimage.data")
    if name == "motorcycle":
        return data.stereo_motorcycle()[0]
    return getattr(data, name)()


@functools.lru_cache(maxsize=1)
def _sdr_images() -> tuple[tuple[str, torch.Tensor], ...]:
    out = []
    for name in SDR_IMAGE_NAMES:
        array = skimage_picture(name)
        t = torch.from_numpy(array[..., :3].copy()).permute(2, 0, 1).float() / 255.0
        out.append((name, t.contiguous()))
    return tuple(out)


def sdr_images() -> list[tuple[str, torch.Tensor]]:
    """Natural colour photographs that ship with scikit-image, as ``(name, picture)`` pairs.

    Pictures are ``(3, H, W)`` float32, display-referred sRGB-encoded values in [0, 1]
    (8-bit codes / 255). Names: :data:`SDR_IMAGE_NAMES`. Cached; copies are returned.
    """
    return [(name, t.clone()) for name, t in _sdr_images()]


# --------------------------------------------------------------------------- crops and augmentation


def _pair(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise InvalidInputError(f"crop size must be positive, got {size}")
    return h, w


def random_crop(x: torch.Tensor, size: int | tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """A random ``size`` crop of ``x`` ``(*, 3, H, W)`` (the same window for every leading index).

    A picture smaller than the crop in either dimension is first upsampled (bilinear, aspect
    kept) just enough to hold it. Returns a contiguous ``(*, 3, h, w)`` tensor.
    """
    h, w = _pair(size)
    H, W = x.shape[-2:]
    if H < h or W < w:
        scale = max(h / H, w / W)
        lead = x.shape[:-3]
        y = x.reshape(-1, *x.shape[-3:])
        new = (max(h, math.ceil(H * scale)), max(w, math.ceil(W * scale)))
        y = F.interpolate(y, size=new, mode="bilinear", align_corners=False)
        x = y.reshape(*lead, *y.shape[-3:])
        H, W = new
    top = int(torch.randint(0, H - h + 1, (1,), generator=generator))
    left = int(torch.randint(0, W - w + 1, (1,), generator=generator))
    return x[..., top : top + h, left : left + w].contiguous()


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    hflip: bool = True,
    vflip: bool = False,
    permute_channels: bool = True,
) -> torch.Tensor:
    """Random flips and an RGB channel permutation, the same for the whole tensor.

    Args:
        x: ``(*, 3, H, W)``: a picture, a batch, or an input/target pair stacked on a leading
            dimension (they get the same transform).
        generator: the random source.
        hflip: flip left-right with probability 1/2.
        vflip: flip upside down with probability 1/2 (off by default: skies stay on top).
        permute_channels: apply one of the 6 permutations of R, G, B, uniformly.

    Returns:
        A new tensor, same shape.
    """
    if x.dim() < 3 or x.shape[-3] != 3:
        raise InvalidInputError(f"expected a (*, 3, H, W) tensor, got shape {tuple(x.shape)}")
    draws = torch.rand(2, generator=generator)
    perm = torch.randperm(3, generator=generator)
    if hflip and draws[0] < 0.5:
        x = x.flip(-1)
    if vflip and draws[1] < 0.5:
        x = x.flip(-2)
    if permute_channels:
        x = x.index_select(-3, perm.to(x.device))
    return x.contiguous()


# --------------------------------------------------------------------------- SDR from HDR (HDRCNN)

#: The well-exposed band of :func:`best_exposure`: a pixel is well exposed when its scaled
#: luminance, clipped to [0, 1], lies in [0.05, 0.95] (as the task defines HDRCNN's exposure choice).
WELL_EXPOSED = (0.05, 0.95)


def best_exposure(hdr: torch.Tensor) -> float:
    """The scale factor that maximises the number of well-exposed pixels of ``hdr``.

    Eilertsen et al., "HDR image reconstruction from a single exposure using deep CNNs",
    ACM TOG 36(6) 2017 (HDRCNN), simulate the camera's exposure when making SDR inputs from
    HDR training images; here the exposure ``s`` is the one that puts the most pixels'
    luminance ``s * Y`` inside :data:`WELL_EXPOSED` = [0.05, 0.95]. That band is a window of
    fixed width ``log(0.95 / 0.05)`` in log luminance, so the optimum is found exactly by
    sliding the window over the sorted log luminances (``searchsorted``), on at most 65 536
    pixels taken with a regular stride. Ties go to the brightest exposure.

    Args:
        hdr: ``(3, H, W)`` linear light (any unit; cd/m² here).

    Returns:
        ``s`` such that ``s * hdr`` is the relative exposure to feed :func:`camera_response`
        (1.0 saturates). 1.0 for an all-black picture.
    """
    if hdr.dim() != 3 or hdr.shape[0] != 3:
        raise InvalidInputError(f"expected a (3, H, W) picture, got shape {tuple(hdr.shape)}")
    y = luminance(hdr.detach().float()).flatten()
    stride = max(1, y.numel() // 65536)
    y = y[::stride]
    y = y[y > 0]
    if y.numel() == 0:
        return 1.0
    logs = torch.sort(torch.log(y.double())).values
    lo, hi = WELL_EXPOSED
    width = math.log(hi / lo)
    # Window [logs[i], logs[i] + width]: count = (#values <= logs[i] + width) - i.
    ends = torch.searchsorted(logs, logs + width, right=True)
    counts = ends - torch.arange(logs.numel())
    best = int(torch.nonzero(counts == counts.max()).min())  # darkest start = brightest exposure
    return float(lo / math.exp(float(logs[best])))


#: Eilertsen et al. 2017 (HDRCNN), camera curve augmentation: the sigmoid
#: ``f(H) = (1 + sigma) H^n / (H^n + sigma)`` fitted to the DoRF database of real camera
#: response functions, with ``n ~ N(0.9, 0.1)`` clipped to [0.2, 2.5] and
#: ``sigma ~ N(0.6, 0.1)`` clipped to [0, 5] (constants as the task states them from the paper).
CRF_SIGMOID_N = (0.9, 0.1, 0.2, 2.5)  # mean, std, min, max
CRF_SIGMOID_SIGMA = (0.6, 0.1, 0.0, 5.0)


def _draw(generator: torch.Generator | None, mean: float, std: float, low: float, high: float) -> float:
    if generator is None:
        return mean
    return float(min(max(mean + std * float(torch.randn(1, generator=generator)), low), high))


def camera_response(
    x: torch.Tensor, kind: str = "sigmoid", generator: torch.Generator | None = None, **params: float
) -> torch.Tensor:
    """A camera response curve: linear relative exposure -> display-referred value in [0, 1].

    ``kind="sigmoid"``: Eilertsen et al. 2017 (HDRCNN) ``f(H) = (1 + sigma) H^n / (H^n + sigma)``;
    ``n`` and ``sigma`` come from ``params`` when given, else are drawn from ``generator``
    (:data:`CRF_SIGMOID_N`, :data:`CRF_SIGMOID_SIGMA`), else are the means 0.9 and 0.6.
    ``f(1) = 1``: an exposure of 1 saturates. ``kind="gamma22"``: ``f(H) = H^(1/2.2)``.

    ============  ==============================================  ========
    Domain        ``x``: relative exposure, any shape               [0, inf)
    Range         display-referred value, clipped                    [0, 1]
    ============  ==============================================  ========

    Differentiable (``H^n`` is guarded at 0).
    """
    h = x.clamp(min=0)
    if kind == "sigmoid":
        n = float(params["n"]) if "n" in params else _draw(generator, *CRF_SIGMOID_N)
        sigma = float(params["sigma"]) if "sigma" in params else _draw(generator, *CRF_SIGMOID_SIGMA)
        if n <= 0 or sigma < 0:
            raise InvalidInputError(f"sigmoid camera curve needs n > 0 and sigma >= 0, got n={n}, sigma={sigma}")
        hn = torch.where(h > 0, h.clamp(min=torch.finfo(h.dtype).tiny).pow(n), torch.zeros_like(h))
        if sigma == 0:
            y = torch.where(h > 0, torch.ones_like(h), torch.zeros_like(h))
        else:
            y = (1 + sigma) * hn / (hn + sigma)
    elif kind == "gamma22":
        y = torch.where(h > 0, h.clamp(min=torch.finfo(h.dtype).tiny).pow(1 / 2.2), torch.zeros_like(h))
    else:
        raise InvalidInputError(f"unknown camera response {kind!r}; valid: sigmoid, gamma22")
    return y.clamp(0, 1)


def make_sdr(hdr: torch.Tensor, generator: torch.Generator, *, bits: int = 8) -> torch.Tensor:
    """The SDR picture a camera would have taken of ``hdr`` (HDRCNN-style input).

    Per picture: scale by :func:`best_exposure`, apply a random sigmoid
    :func:`camera_response` (``n``, ``sigma`` drawn from ``generator``), quantise to
    ``bits`` (8: ``round(255 v) / 255``).

    Args:
        hdr: ``(3, H, W)`` or ``(N, 3, H, W)`` linear BT.2020 cd/m².
        generator: random source of the camera curves.

    Returns:
        Same shape, float32 display-referred values in [0, 1] (no gradient).
    """
    if hdr.dim() == 4:
        return torch.stack([make_sdr(h, generator, bits=bits) for h in hdr])
    if hdr.dim() != 3 or hdr.shape[0] != 3:
        raise InvalidInputError(f"expected (3, H, W) or (N, 3, H, W), got shape {tuple(hdr.shape)}")
    with torch.no_grad():
        s = best_exposure(hdr)
        v = camera_response(hdr.float() * s, "sigmoid", generator)
        levels = 2**bits - 1
        return torch.round(v * levels) / levels


# --------------------------------------------------------------------------- the patch dataset


def _mix_seed(seed: int, index: int) -> int:
    """A 63-bit seed for ``(seed, index)`` (splitmix64 finaliser): neighbours are unrelated."""
    z = (int(seed) * 0x9E3779B97F4A7C15 + int(index) + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFF


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator))


def sample_view(
    image: torch.Tensor,
    center_xy: tuple[float, float],
    out_size: tuple[int, int],
    scale: float,
    rotation_deg: float = 0.0,
) -> torch.Tensor:
    """Resample a ``(h, w)`` view of ``image`` ``(C, H, W)`` centred on ``center_xy``.

    Continuous pixel coordinates: pixel ``i`` covers ``[i, i + 1)``, its centre is ``i + 1/2``.
    The centre of output pixel ``(u, v)`` reads the source at
    ``center + scale * R (u + 1/2 - w/2, v + 1/2 - h/2)`` (bilinear, borders reflected):
    ``scale`` source pixels per output pixel and a ``rotation_deg`` rotation; with
    ``scale=1``, no rotation and an integer-plus-``w/2`` centre it copies pixels exactly.
    A camera move between two frames is two views with nearby centres and scales.
    """
    h, w = out_size
    C, H, W = image.shape
    ys = torch.arange(h, dtype=torch.float32) - h / 2 + 0.5
    xs = torch.arange(w, dtype=torch.float32) - w / 2 + 0.5
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    a = math.radians(rotation_deg)
    sx = center_xy[0] + scale * (math.cos(a) * gx - math.sin(a) * gy)
    sy = center_xy[1] + scale * (math.sin(a) * gx + math.cos(a) * gy)
    grid = torch.stack([2 * sx / W - 1, 2 * sy / H - 1], dim=-1)[None]
    out = F.grid_sample(image[None], grid.to(image.dtype), mode="bilinear", padding_mode="reflection", align_corners=False)
    return out[0]


class HDRPatchDataset(torch.utils.data.Dataset):
    """HDR training patches, real and procedural, deterministic per ``(seed, index)``.

    Each item draws from its own generator seeded by ``(seed, index)``: with probability
    ``procedural_fraction`` a :func:`~hdrvideo.nn.procedural.procedural_scene` (already
    graded for ``peak_nits``), else a view of a real image of ``split``
    (:func:`real_hdr_images`): a random image, a random centre, a random zoom (1 to 1.5
    source pixels per output pixel, bilinear), an exposure change of
    ``2 ** U(exposure_range_stops)`` on the scene-referred values, then
    :func:`master_to_display` for ``peak_nits`` (knee at 0.6 of it). Finally :func:`augment`
    (left-right flip, RGB permutation), the same for both frames of a pair.

    Args:
        size: patch side ``S`` in pixels.
        split: ``"train"``, ``"val"`` or ``"all"`` (real images; see :data:`VALIDATION_IMAGES`).
        procedural_fraction: share of procedural items, 0-1 (1: no real image is read).
        length: ``len(dataset)``: items are generated, so any length works.
        seed: the dataset's seed.
        pairs: also return the next frame (``"hdr_next"``) under small camera motion.
        peak_nits: grading peak, cd/m².
        exposure_range_stops: ``(low, high)`` exposure change of real images, in stops.
        motion_px: largest camera translation between the two frames of a pair, output pixels
            (plus a zoom of at most 1 % and a rotation of at most 0.5 degree).

    Items are dicts: ``"hdr"``: ``(3, S, S)`` float32 cd/m² in ``[0, peak_nits]``;
    ``"hdr_next"`` (with ``pairs``): the same scene one frame later; ``"source"``:
    ``"real:<name>"`` or ``"procedural"``. The default collate function batches them
    (``"source"`` becomes a list). Measured speed: see the README's training-kit section.
    """

    def __init__(
        self,
        size: int = 256,
        split: str = "train",
        procedural_fraction: float = 0.5,
        length: int = 10000,
        seed: int = 0,
        pairs: bool = False,
        peak_nits: float = 1000.0,
        exposure_range_stops: tuple[float, float] = (-2, 2),
        *,
        motion_px: float = 2.0,
    ) -> None:
        if size < 8:
            raise InvalidInputError(f"patch size must be at least 8, got {size}")
        if not 0.0 <= procedural_fraction <= 1.0:
            raise InvalidInputError(f"procedural_fraction must be in [0, 1], got {procedural_fraction}")
        if length < 1:
            raise InvalidInputError(f"length must be positive, got {length}")
        if peak_nits <= 0:
            raise InvalidInputError(f"peak_nits must be positive, got {peak_nits}")
        self.size = int(size)
        self.split = split
        self.procedural_fraction = float(procedural_fraction)
        self.length = int(length)
        self.seed = int(seed)
        self.pairs = bool(pairs)
        self.peak_nits = float(peak_nits)
        self.exposure_range_stops = (float(exposure_range_stops[0]), float(exposure_range_stops[1]))
        self.motion_px = float(motion_px)
        self.images = real_hdr_images(split) if procedural_fraction < 1.0 else []

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        g = torch.Generator().manual_seed(_mix_seed(self.seed, index))
        if float(torch.rand(1, generator=g)) < self.procedural_fraction:
            item = self._procedural(g)
        else:
            item = self._real(g)
        frames = torch.stack([item["hdr"], item["hdr_next"]]) if self.pairs else item["hdr"]
        frames = augment(frames, g)
        out: dict[str, Any] = {"hdr": frames[0] if self.pairs else frames, "source": item["source"]}
        if self.pairs:
            out["hdr_next"] = frames[1]
        return out

    def _procedural(self, g: torch.Generator) -> dict[str, Any]:
        from hdrvideo.nn.procedural import procedural_scene, procedural_sequence

        scene_seed = int(torch.randint(0, 2**62, (1,), generator=g))
        S = self.size
        if self.pairs:
            seq = procedural_sequence(scene_seed, S, S, 2, motion_px=self.motion_px, peak_nits=self.peak_nits)
            return {"hdr": seq[0], "hdr_next": seq[1], "source": "procedural"}
        return {"hdr": procedural_scene(scene_seed, S, S, peak_nits=self.peak_nits), "source": "procedural"}

    def _real(self, g: torch.Generator) -> dict[str, Any]:
        image = self.images[int(torch.randint(0, len(self.images), (1,), generator=g))]
        scene, anchor = _read_clean(image.path)  # file units; scaled after sampling (linear)
        S = self.size
        _, H, W = scene.shape
        # Zoom: 1-1.5 source pixels per output pixel, less when the picture is small
        # (then it is upsampled, as random_crop does).
        fit = min(H, W) / (S + 2 * self.motion_px + 2)
        scale = min(_uniform(g, 1.0, 1.5), fit) if fit >= 1 else fit
        half = scale * (S / 2 + self.motion_px + 1)
        cx = _uniform(g, half, max(half, W - half))
        cy = _uniform(g, half, max(half, H - half))
        exposure = _scene_scale(anchor, self.peak_nits) * 2.0 ** _uniform(g, *self.exposure_range_stops)
        views = [sample_view(scene, (cx, cy), (S, S), scale)]
        if self.pairs:
            angle = _uniform(g, 0, 2 * math.pi)
            shift = _uniform(g, 0, self.motion_px) * scale
            zoom = 2.0 ** _uniform(g, -0.0144, 0.0144)  # at most 1 % (2^0.0144 = 1.01)
            rotation = _uniform(g, -0.5, 0.5)
            views.append(
                sample_view(
                    scene, (cx + shift * math.cos(angle), cy + shift * math.sin(angle)), (S, S), scale * zoom, rotation
                )
            )
        graded = [master_to_display(v * exposure, self.peak_nits, KNEE_FRACTION * self.peak_nits) for v in views]
        out: dict[str, Any] = {"hdr": graded[0], "source": f"real:{image.name}"}
        if self.pairs:
            out["hdr_next"] = graded[1]
        return out

