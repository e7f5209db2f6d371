"""Classic no-reference quality baselines, BRISQUE and NIQE, on PU21-encoded HDR frames.

Both use the natural-scene-statistics features of Mittal, Moorthy & Bovik:

- **BRISQUE** ("No-reference image quality assessment in the spatial domain", IEEE TIP
  21(12), 2012): mean-subtracted contrast-normalised coefficients (MSCN, Gaussian window
  sigma 7/6, ``C = 1`` on a 0-255 scale), a generalised Gaussian fit of the MSCN (shape,
  variance) and asymmetric generalised Gaussian fits (shape, mean, left and right variances)
  of the products of horizontal, vertical and both diagonal neighbours: 18 features per
  scale, two scales (the second down-sampled by 2), 36 in all. The regressor (the paper uses
  an SVR on LIVE's DMOS) is a ridge regression fitted here on the project's training set
  against the same target as the network (:class:`Brisque`).
- **NIQE** ("Making a 'completely blind' image quality analyzer", IEEE SPL 20(3), 2013): the
  same 36 features on 96x96 patches; a multivariate Gaussian fitted on the sharpest patches
  of pristine images (those whose mean local deviation is above 0.75 x the image's largest);
  the quality of a picture is the distance between its own patches' Gaussian and the
  pristine one, ``sqrt((mu1 - mu2)^T ((S1 + S2) / 2)^+ (mu1 - mu2))`` (higher = worse)
  (:class:`Niqe`).

Input: the display-encoded frame, here the PU21 (``banding_glare``) luminance scaled to
0-255 by ``255 / PU(10000)`` (:func:`pu21_luma_255`), so that the fits see a perceptually
uniform signal on the scale the methods were designed for. numpy + scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from scipy.special import gamma as gamma_fn

from hdrvideo.color.luminance import luminance
from hdrvideo.color.pu21 import pu21_encode
from hdrvideo.errors import InvalidInputError

__all__ = ["Brisque", "Niqe", "brisque_features", "pu21_luma_255"]

_PU_10000 = float(pu21_encode(torch.tensor(10000.0, dtype=torch.float64)))
_GAMMAS = np.arange(0.2, 10.0, 0.001)
_R_GGD = gamma_fn(1 / _GAMMAS) * gamma_fn(3 / _GAMMAS) / gamma_fn(2 / _GAMMAS) ** 2
_R_AGGD = gamma_fn(2 / _GAMMAS) ** 2 / (gamma_fn(1 / _GAMMAS) * gamma_fn(3 / _GAMMAS))


def pu21_luma_255(x: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` or ``(N, 3, H, W)`` cd/m² -> ``(N, H, W)`` float64 PU21 luminance on 0-255."""
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != 3:
        raise InvalidInputError(f"expected (3, H, W) or (N, 3, H, W) frames, got {tuple(x.shape)}")
    return (pu21_encode(luminance(x.double()))[:, 0] * (255.0 / _PU_10000)).cpu().numpy()


def _mscn(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = gaussian_filter(image, 7 / 6, truncate=3.0)
    sigma = np.sqrt(np.abs(gaussian_filter(image * image, 7 / 6, truncate=3.0) - mu * mu))
    return (image - mu) / (sigma + 1.0), sigma


def _ggd(x: np.ndarray) -> tuple[float, float]:
    sigma_sq = float(np.mean(x * x))
    e_abs = float(np.mean(np.abs(x)))
    rho = sigma_sq / max(e_abs * e_abs, 1e-12)
    return float(_GAMMAS[np.argmin(np.abs(rho - _R_GGD))]), sigma_sq


def _aggd(x: np.ndarray) -> tuple[float, float, float, float]:
    left, right = x[x < 0], x[x > 0]
    sl = np.sqrt(np.mean(left * left)) if left.size else 1e-6
    sr = np.sqrt(np.mean(right * right)) if right.size else 1e-6
    g_hat = sl / max(sr, 1e-12)
    r_hat = float(np.mean(np.abs(x))) ** 2 / max(float(np.mean(x * x)), 1e-12)
    R = r_hat * (g_hat**3 + 1) * (g_hat + 1) / (g_hat**2 + 1) ** 2
    alpha = float(_GAMMAS[np.argmin((_R_AGGD - R) ** 2)])
    mean = (sr - sl) * gamma_fn(2 / alpha) / gamma_fn(1 / alpha) * np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
    return alpha, float(mean), float(sl * sl), float(sr * sr)


def _scale_features(image: np.ndarray) -> list[float]:
    m, _ = _mscn(image)
    feats = list(_ggd(m))
    for shifted in (m[:, 1:] * m[:, :-1], m[1:, :] * m[:-1, :], m[1:, 1:] * m[:-1, :-1], m[1:, :-1] * m[:-1, 1:]):
        feats += list(_aggd(shifted.ravel()))
    return feats


def _downsample(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    return image[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def brisque_features(luma: np.ndarray) -> np.ndarray:
    """The 36 BRISQUE features of one ``(H, W)`` picture on a 0-255 scale (H, W >= 16)."""
    if luma.ndim != 2 or min(luma.shape) < 16:
        raise InvalidInputError(f"expected an (H, W) picture of at least 16x16, got {luma.shape}")
    return np.array(_scale_features(luma) + _scale_features(_downsample(luma)), dtype=np.float64)


@dataclass
class Brisque:
    """BRISQUE features + ridge regression (closed form, standardised features).

    ``fit(frames, targets)`` then ``predict(frames)``; frames ``(N, 3, H, W)`` cd/m².
    """

    ridge: float = 1.0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(36))
    std: np.ndarray = field(default_factory=lambda: np.ones(36))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(37))

    @staticmethod
    def features(frames: torch.Tensor) -> np.ndarray:
        return np.stack([brisque_features(y) for y in pu21_luma_255(frames)])

    def fit_features(self, feats: np.ndarray, targets: np.ndarray) -> "Brisque":
        self.mean, self.std = feats.mean(0), feats.std(0) + 1e-9
        X = np.hstack([(feats - self.mean) / self.std, np.ones((len(feats), 1))])
        reg = self.ridge * np.eye(X.shape[1])
        reg[-1, -1] = 0.0
        self.weights = np.linalg.solve(X.T @ X + reg, X.T @ np.asarray(targets, np.float64))
        return self

    def predict_features(self, feats: np.ndarray) -> np.ndarray:
        X = np.hstack([(feats - self.mean) / self.std, np.ones((len(feats), 1))])
        return X @ self.weights

    def fit(self, frames: torch.Tensor, targets: np.ndarray) -> "Brisque":
        return self.fit_features(self.features(frames), targets)

    def predict(self, frames: torch.Tensor) -> np.ndarray:
        return self.predict_features(self.features(frames))


@dataclass
class Niqe:
    """NIQE: a multivariate Gaussian of pristine 96x96 patch features; ``score`` = distance
    (higher = worse). ``fit(pristine_frames)`` then ``score(frames)``."""

    patch: int = 96
    sharpness_fraction: float = 0.75
    mu: np.ndarray | None = None
    cov: np.ndarray | None = None

    def _patch_features(self, luma: np.ndarray, select: bool) -> np.ndarray:
        p = self.patch
        if min(luma.shape) < p:
            raise InvalidInputError(f"NIQE needs pictures of at least {p}x{p}, got {luma.shape}")
        _, sigma = _mscn(luma)
        tiles, sharp = [], []
        for t in range(0, luma.shape[0] - p + 1, p):
            for l in range(0, luma.shape[1] - p + 1, p):
                tiles.append(luma[t : t + p, l : l + p])
                sharp.append(float(sigma[t : t + p, l : l + p].mean()))
        keep = [i for i, s in enumerate(sharp) if not select or s >= self.sharpness_fraction * max(sharp)]
        return np.stack([brisque_features(tiles[i]) for i in keep])

    def fit(self, pristine: torch.Tensor) -> "Niqe":
        feats = np.concatenate([self._patch_features(y, True) for y in pu21_luma_255(pristine)])
        self.mu, self.cov = feats.mean(0), np.cov(feats, rowvar=False)
        return self

    def score(self, frames: torch.Tensor) -> np.ndarray:
        if self.mu is None or self.cov is None:
            raise InvalidInputError("NIQE: fit() on pristine frames first")
        out = []
        for y in pu21_luma_255(frames):
            f = self._patch_features(y, False)
            mu2 = f.mean(0)
            cov2 = np.cov(f, rowvar=False) if len(f) > 1 else np.zeros_like(self.cov)
            d = self.mu - mu2
            out.append(float(np.sqrt(max(d @ np.linalg.pinv((self.cov + cov2) / 2) @ d, 0.0))))
        return np.array(out)
