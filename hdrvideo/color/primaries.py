"""RGB colour spaces by their primaries, and RGB <-> XYZ <-> RGB matrices.

Primaries and white points as the standards give them (CIE 1931 xy):

- ``bt709``: ITU-R BT.709-6 Table "Item 1.3/1.4"; also sRGB (IEC 61966-2-1).
- ``bt2020``: ITU-R BT.2020-2 Table 3 (and BT.2100).
- ``p3d65``: SMPTE EG 432-1 (Display P3 primaries, D65 white).
- ``dci-p3``: SMPTE RP 431-2 (DCI white, x=0.314, y=0.351).
- ``bt601-625`` / ``bt601-525``: ITU-R BT.601-7 (EBU / SMPTE 170M primaries).
- ``xyz``: CIE XYZ itself (identity), with the D65 white of the working space.

The normalised primary matrix follows SMPTE RP 177-1993. Matrices are computed in float64
and cast to the tensor's dtype when applied; the white of source and destination must match
(no chromatic adaptation, as in video practice) unless ``adapt="bradford"`` is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hdrvideo.errors import InvalidInputError

D65 = (0.3127, 0.3290)


@dataclass(frozen=True)
class Primaries:
    """CIE 1931 xy chromaticities of red, green, blue and the white point."""

    red: tuple[float, float]
    green: tuple[float, float]
    blue: tuple[float, float]
    white: tuple[float, float]


PRIMARIES: dict[str, Primaries] = {
    "bt709": Primaries((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), D65),
    "bt2020": Primaries((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), D65),
    "p3d65": Primaries((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), D65),
    "dci-p3": Primaries((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.314, 0.351)),
    "bt601-625": Primaries((0.640, 0.330), (0.290, 0.600), (0.150, 0.060), D65),
    "bt601-525": Primaries((0.630, 0.340), (0.310, 0.595), (0.155, 0.070), D65),
}

#: Bradford cone response matrix (Lam 1985), for white-point adaptation.
_BRADFORD = torch.tensor(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]],
    dtype=torch.float64,
)


def get_primaries(spec: str | Primaries) -> Primaries:
    """Look up primaries by name (see module docstring) or pass a :class:`Primaries` through."""
    if isinstance(spec, Primaries):
        return spec
    try:
        return PRIMARIES[spec]
    except KeyError:
        valid = ", ".join(sorted([*PRIMARIES, "xyz"]))
        raise InvalidInputError(f"unknown primaries {spec!r}; valid: {valid}") from None


def _xy_to_XYZ(xy: tuple[float, float]) -> torch.Tensor:
    x, y = xy
    return torch.tensor([x / y, 1.0, (1.0 - x - y) / y], dtype=torch.float64)


def rgb_to_xyz_matrix(spec: str | Primaries) -> torch.Tensor:
    """Normalised primary matrix (SMPTE RP 177): linear RGB -> CIE XYZ, Y of white = 1.

    Returns a float64 ``(3, 3)`` tensor ``M`` with ``XYZ = M @ RGB``. ``"xyz"`` gives the
    identity.
    """
    if spec == "xyz":
        return torch.eye(3, dtype=torch.float64)
    p = get_primaries(spec)
    P = torch.stack([_xy_to_XYZ(p.red), _xy_to_XYZ(p.green), _xy_to_XYZ(p.blue)], dim=1)
    scale = torch.linalg.solve(P, _xy_to_XYZ(p.white))
    return P * scale


def _white_of(spec: str | Primaries) -> tuple[float, float]:
    return D65 if spec == "xyz" else get_primaries(spec).white


def chromatic_adaptation_matrix(src_white: tuple[float, float], dst_white: tuple[float, float]) -> torch.Tensor:
    """Bradford von Kries adaptation matrix, XYZ(src white) -> XYZ(dst white), float64 ``(3, 3)``."""
    src = _BRADFORD @ _xy_to_XYZ(src_white)
    dst = _BRADFORD @ _xy_to_XYZ(dst_white)
    return torch.linalg.solve(_BRADFORD, torch.diag(dst / src) @ _BRADFORD)


def rgb_to_rgb_matrix(
    src: str | Primaries, dst: str | Primaries, *, adapt: str | None = None
) -> torch.Tensor:
    """Matrix from linear RGB in ``src`` primaries to linear RGB in ``dst`` primaries.

    Args:
        src, dst: names from :data:`PRIMARIES`, ``"xyz"``, or :class:`Primaries`.
        adapt: ``None`` (video practice: no adaptation; whites are mapped as coded) or
            ``"bradford"`` to adapt between different white points.

    Returns:
        float64 ``(3, 3)`` tensor ``M`` with ``rgb_dst = M @ rgb_src``.
    """
    m = torch.linalg.solve(rgb_to_xyz_matrix(dst), torch.eye(3, dtype=torch.float64))
    if adapt == "bradford":
        m = m @ chromatic_adaptation_matrix(_white_of(src), _white_of(dst))
    elif adapt is not None:
        raise InvalidInputError(f"unknown adaptation {adapt!r}; valid: bradford")
    return m @ rgb_to_xyz_matrix(src)


def apply_matrix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a ``(3, 3)`` colour matrix to ``x`` of shape ``(*, 3, H, W)``.

    The matrix is cast to ``x``'s dtype and device; differentiable in ``x``.
    """
    if x.dim() < 3 or x.shape[-3] != 3:
        raise InvalidInputError(f"expected a (*, 3, H, W) tensor, got shape {tuple(x.shape)}")
    m = matrix.to(dtype=x.dtype, device=x.device)
    # A matmul over the flattened pixels: einsum takes a slow path (about 40x in float64).
    return torch.matmul(m, x.reshape(*x.shape[:-2], -1)).reshape(x.shape)


def convert_primaries(
    x: torch.Tensor, src: str | Primaries, dst: str | Primaries, *, adapt: str | None = None
) -> torch.Tensor:
    """Convert linear RGB ``(*, 3, H, W)`` from ``src`` to ``dst`` primaries (units kept)."""
    if src == dst:
        return x
    return apply_matrix(x, rgb_to_rgb_matrix(src, dst, adapt=adapt))
