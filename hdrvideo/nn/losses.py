"""Training losses: HDR reconstruction (mu-law, PU21), structure (SSIM), domain alignment
(Deep CORAL) and temporal stability (Eilertsen et al. 2019).

All are differentiable torch functions returning a scalar tensor (the mean over the batch)
unless stated; pictures are ``(N, 3, H, W)`` (``(N, C, H, W)`` works wherever channels do
not interact), any floating dtype and device.

=========================  ==================================  =====================================
loss                       inputs                              reference
=========================  ==================================  =====================================
:func:`mu_law_l1` / ``l2``  linear HDR, cd/m²                   Kalantari & Ramamoorthi 2017, eq. 5
:func:`pu21_l1`             linear HDR, cd/m²                   Mantiuk & Azimi 2021 (PU21)
:func:`ssim_loss`           display values in ``[0, range]``    Wang et al. 2004 (SSIM)
:func:`coral_loss`          features ``(N, d)``                 Sun & Saenko 2016 (Deep CORAL)
:func:`temporal_regularised_loss`  any image-to-image network   Eilertsen, Mantiuk, Unger 2019
=========================  ==================================  =====================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hdrvideo.color.mulaw import mu_law_encode
from hdrvideo.color.pu21 import pu21_encode
from hdrvideo.errors import InvalidInputError
from hdrvideo.quality.ssim import ssim

__all__ = [
    "RandomSimilarity",
    "coral_loss",
    "mu_law_l1",
    "mu_law_l2",
    "pu21_l1",
    "ssim",
    "ssim_loss",
    "temporal_regularised_loss",
]


def _check_same(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise InvalidInputError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")


# --------------------------------------------------------------------------- HDR reconstruction


def mu_law_l1(pred: torch.Tensor, target: torch.Tensor, mu: float = 5000.0, peak_nits: float = 10000.0) -> torch.Tensor:
    """Mean absolute error in the mu-law domain (Kalantari & Ramamoorthi 2017, eq. 5).

    ``mean |T(pred / peak) - T(target / peak)|`` with ``T(x) = log(1 + mu x) / log(1 + mu)``
    (:func:`hdrvideo.color.mu_law_encode`, negatives as 0), ``mu = 5000`` as in the paper.

    Args:
        pred, target: ``(N, 3, H, W)`` linear light, cd/m².
        mu: compression, as the paper writes it.
        peak_nits: the luminance mapped to ``x = 1`` (10000: the PQ ceiling).
    """
    _check_same(pred, target)
    return (mu_law_encode(pred / peak_nits, mu) - mu_law_encode(target / peak_nits, mu)).abs().mean()


def mu_law_l2(pred: torch.Tensor, target: torch.Tensor, mu: float = 5000.0, peak_nits: float = 10000.0) -> torch.Tensor:
    """Mean squared error in the mu-law domain (Kalantari & Ramamoorthi 2017 train with L2).

    As :func:`mu_law_l1` with the difference squared.
    """
    _check_same(pred, target)
    return (mu_law_encode(pred / peak_nits, mu) - mu_law_encode(target / peak_nits, mu)).square().mean()


def pu21_l1(pred: torch.Tensor, target: torch.Tensor, parameters: str = "banding_glare") -> torch.Tensor:
    """Mean absolute error of the PU21-encoded channels, normalised by ``PU21(10000)``.

    Each linear RGB channel (cd/m²) is PU21-encoded (Mantiuk & Azimi 2021,
    :func:`hdrvideo.color.pu21_encode`, as PU21 metrics encode colour images channel by
    channel) and divided by the code of 10000 cd/m² (595.39 for ``banding_glare``), so the
    loss is in [0, 1]. Values outside [0.005, 10000] cd/m² are clamped by PU21 (no
    gradient there).

    Args:
        pred, target: ``(N, 3, H, W)`` linear light, cd/m².
        parameters: PU21 parameter set (:data:`hdrvideo.color.PU21_PARAMETERS`).
    """
    _check_same(pred, target)
    scale = float(pu21_encode(torch.tensor(10000.0, dtype=torch.float64), parameters))
    return (pu21_encode(pred, parameters) - pu21_encode(target, parameters)).abs().mean() / scale


# --------------------------------------------------------------------------- SSIM

def ssim_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """``1 - mean(SSIM)`` over the batch (:func:`hdrvideo.quality.ssim.ssim`, Wang et al.
    2004, on ``(N, C, H, W)`` display values or a perceptual encoding such as
    ``pu21_encode(x) / pu21_encode(10000)`` with ``data_range=1``); 0 for identical pictures."""
    return 1 - ssim(pred, target, data_range=data_range, window_size=window_size, sigma=sigma).mean()


# --------------------------------------------------------------------------- Deep CORAL


def _covariance(features: torch.Tensor) -> torch.Tensor:
    n = features.shape[0]
    centred = features - features.mean(dim=0, keepdim=True)
    return centred.T @ centred / (n - 1)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL loss (Sun & Saenko, "Deep CORAL: Correlation Alignment for Deep Domain
    Adaptation", ECCV 2016 workshops, eq. 1-3).

    ``L = ||C_S - C_T||_F^2 / (4 d^2)``, ``C = (D^T D - (1^T D)^T (1^T D) / n) / (n - 1)``: the
    unbiased covariance of the ``d`` feature dimensions over the batch.

    Args:
        source, target: features ``(n_S, d)`` and ``(n_T, d)`` (batch sizes may differ, at
            least 2 each); ``(n, d, ...)`` feature maps are averaged over the trailing
            dimensions first (global average pooling).

    Returns:
        A scalar, 0 when the two covariances are equal.
    """
    if source.dim() < 2 or target.dim() < 2:
        raise InvalidInputError(f"expected (n, d) features, got {tuple(source.shape)} and {tuple(target.shape)}")
    if source.dim() > 2:
        source = source.flatten(2).mean(dim=2)
    if target.dim() > 2:
        target = target.flatten(2).mean(dim=2)
    if source.shape[1] != target.shape[1]:
        raise InvalidInputError(f"feature sizes differ: {source.shape[1]} vs {target.shape[1]}")
    if source.shape[0] < 2 or target.shape[0] < 2:
        raise InvalidInputError("CORAL needs at least 2 samples per domain to estimate a covariance")
    d = source.shape[1]
    diff = _covariance(source) - _covariance(target)
    return diff.square().sum() / (4 * d * d)


# --------------------------------------------------------------------------- temporal regularisation


@dataclass(frozen=True)
class RandomSimilarity:
    """A batch of small similarity transforms (shift, rotation, zoom) that stand in for the
    motion between two video frames (Eilertsen, Mantiuk & Unger, "Single-frame
    Regularization for Temporally Stable CNNs", CVPR 2019).

    Attributes (one row per picture of the batch):
        shift_px: ``(N, 2)`` translation ``(dx, dy)`` in pixels (content moves right/down).
        rotation_deg: ``(N,)`` rotation about the picture centre, degrees.
        zoom: ``(N,)`` magnification about the centre (>1 enlarges the content).

    The warp maps output pixel centre ``p`` to the source point
    ``c + R(-theta) (p - c - shift) / zoom`` (``c`` the picture centre) and samples it
    bilinearly with reflection padding; a whole-pixel shift therefore equals ``torch.roll``
    away from the borders, and the zero transform is the identity.
    """

    shift_px: torch.Tensor
    rotation_deg: torch.Tensor
    zoom: torch.Tensor

    @staticmethod
    def sample(
        generator: torch.Generator | None,
        batch: int,
        max_shift_px: float = 2.0,
        max_rotation_deg: float = 1.0,
        zoom: tuple[float, float] = (0.97, 1.03),
    ) -> RandomSimilarity:
        """Draw ``batch`` transforms: shift uniform in ``[-max_shift_px, max_shift_px]`` per
        axis, rotation uniform in ``[-max_rotation_deg, max_rotation_deg]``, zoom log-uniform
        in ``zoom``. The defaults are small motions of the size that appears between
        consecutive video frames."""
        if batch < 1:
            raise InvalidInputError(f"batch must be positive, got {batch}")
        if not 0 < zoom[0] <= zoom[1]:
            raise InvalidInputError(f"zoom range must satisfy 0 < low <= high, got {zoom}")
        u = torch.rand(batch, 4, generator=generator, dtype=torch.float64)
        shift = (2 * u[:, :2] - 1) * max_shift_px
        rotation = (2 * u[:, 2] - 1) * max_rotation_deg
        lo, hi = math.log(zoom[0]), math.log(zoom[1])
        z = torch.exp(lo + (hi - lo) * u[:, 3])
        return RandomSimilarity(shift, rotation, z)

    @staticmethod
    def identity(batch: int) -> RandomSimilarity:
        """``batch`` identity transforms."""
        return RandomSimilarity(
            torch.zeros(batch, 2, dtype=torch.float64), torch.zeros(batch, dtype=torch.float64), torch.ones(batch, dtype=torch.float64)
        )

    def grid(self, height: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """The ``(N, H, W, 2)`` sampling grid for :func:`torch.nn.functional.grid_sample` (``align_corners=False``)."""
        n = self.zoom.shape[0]
        ys = torch.arange(height, dtype=torch.float64) + 0.5 - height / 2
        xs = torch.arange(width, dtype=torch.float64) + 0.5 - width / 2
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        px = gx[None] - self.shift_px[:, 0, None, None]
        py = gy[None] - self.shift_px[:, 1, None, None]
        theta = torch.deg2rad(self.rotation_deg)[:, None, None]
        cos, sin = torch.cos(theta), torch.sin(theta)
        z = self.zoom[:, None, None]
        sx = (cos * px + sin * py) / z  # R(-theta) applied to (px, py)
        sy = (-sin * px + cos * py) / z
        grid = torch.stack([2 * sx / width, 2 * sy / height], dim=-1)
        assert grid.shape == (n, height, width, 2)
        return grid.to(dtype=dtype, device=device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Warp ``x`` ``(N, C, H, W)`` (``N`` = the number of transforms); differentiable in ``x``."""
        if x.dim() != 4 or x.shape[0] != self.zoom.shape[0]:
            raise InvalidInputError(
                f"expected (N, C, H, W) with N = {self.zoom.shape[0]} transforms, got shape {tuple(x.shape)}"
            )
        grid = self.grid(x.shape[-2], x.shape[-1], x.dtype, x.device)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def temporal_regularised_loss(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    target: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    alpha: float = 0.9,
    generator: torch.Generator | None = None,
    *,
    transform: RandomSimilarity | None = None,
    regulariser_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    return_terms: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reconstruction loss plus the transform-invariance regulariser of Eilertsen et al. 2019.

    ``L = alpha * loss_fn(f(x), target) + (1 - alpha) * || f(T(x)) - T(f(x)) ||^2``

    ``T`` is a random small similarity transform per picture (:class:`RandomSimilarity`:
    shifts up to 2 px, rotations up to 1 degree, zoom 0.97-1.03), standing in for the motion
    between frames: a temporally stable network commutes with it, so no video is needed.
    Of the paper's formulations this is the *transform-invariance* one (its *stability*
    one, ``||f(x) - f(T(x))||``, asks the output not to move at all, which is wrong for
    image-to-image networks whose content moves with the camera). The norm is the mean
    squared difference over pixels and channels (a squared L2 norm, averaged) unless
    ``regulariser_fn(f(T(x)), T(f(x)))`` is given (e.g. the same perceptual loss as the
    reconstruction when outputs are in cd/m²). The squared L2 norm follows our reading of
    the paper; the full text could not be consulted while writing this (only its abstract
    and introduction), so the norm and the transform ranges are not checked against it. Gradients flow through
    both terms and both network evaluations; ``alpha`` in [0.85, 0.95] is the useful range.

    Args:
        model: an image-to-image network returning a tensor of ``x``'s height and width.
        x: input batch ``(N, C, H, W)``.
        target: what ``model(x)`` should be (whatever ``loss_fn`` takes).
        loss_fn: the reconstruction loss ``loss_fn(pred, target) -> scalar``.
        alpha: weight of the reconstruction term, in [0, 1].
        generator: random source for ``T`` (ignored when ``transform`` is given).
        transform: a fixed transform (tests, or to share one across calls).
        regulariser_fn: the distance of the regulariser (default mean squared error).
        return_terms: also return the two terms (detached), for logging.

    Returns:
        The scalar loss, or ``(loss, reconstruction, regulariser)`` with ``return_terms``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise InvalidInputError(f"alpha must be in [0, 1], got {alpha}")
    if x.dim() != 4:
        raise InvalidInputError(f"expected an (N, C, H, W) batch, got shape {tuple(x.shape)}")
    T = transform if transform is not None else RandomSimilarity.sample(generator, x.shape[0])
    y = model(x)
    if y.dim() != 4 or y.shape[-2:] != x.shape[-2:]:
        raise InvalidInputError(
            f"the transform-invariance regulariser needs an output of the input's size {tuple(x.shape[-2:])}, "
            f"got {tuple(y.shape)}"
        )
    reconstruction = loss_fn(y, target)
    y_of_warped = model(T(x))
    warped_y = T(y)
    if regulariser_fn is None:
        regulariser = (y_of_warped - warped_y).square().mean()
    else:
        regulariser = regulariser_fn(y_of_warped, warped_y)
    loss = alpha * reconstruction + (1 - alpha) * regulariser
    if return_terms:
        return loss, reconstruction.detach(), regulariser.detach()
    return loss
