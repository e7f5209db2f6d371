"""ColorVideoVDP (Mantiuk et al., SIGGRAPH 2024) on working-space frames, when it is installed.

``cvvdp`` 0.5.7 (PyPI; module ``pycvvdp``) predicts quality in JOD (just-objectionable
differences, 10 = no visible difference, higher is better). It is optional: install it
beside a CPU torch without pulling a CUDA torch with::

    pip install --no-deps cvvdp==0.5.7 einops ffmpeg-python PyEXR
    # and torchvision matching your torch (cvvdp imports it for a Gaussian blur and an MLP)

Frames in the working space (linear BT.2020, cd/m²) are converted to linear BT.709 and given
to the display model ``standard_hdr_linear`` (absolute cd/m², BT.709-linear, 1500 cd/m²
peak, 10 lux); colours outside BT.709 are clipped to its gamut (cvvdp's linear displays are
BT.709).

In the project's environment ``import pycvvdp`` fails (``from torchvision.transforms import
GaussianBlur``; torchvision is deliberately not installed), so :func:`cvvdp_jod` raises
:class:`~hdrvideo.errors.UnsupportedError` naming the install command. Measured once with a
measurement-only stand-in for torchvision's ``GaussianBlur`` (outside this package, not
shipped), 1 CPU thread on the shared machine: identical 192x192 frames give 10.0 JOD,
Gaussian PQ noise at levels 0.2 / 0.8 9.91 / 9.50 JOD, blur 9.45 / 8.01 JOD, and one 192x192
pair takes 55 ms (PU21-MS-SSIM: 12 ms). cvvdp would be fast enough to score the nriqa
dataset (~9 minutes for its 10022 pairs); it is not the teacher because it does not import
here without torchvision (see :mod:`hdrvideo.nn.nriqa`).
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from hdrvideo.color.primaries import convert_primaries
from hdrvideo.errors import InvalidInputError, UnsupportedError

__all__ = ["INSTALL_HINT", "cvvdp_available", "cvvdp_jod"]

INSTALL_HINT = (
    "ColorVideoVDP is not importable: pip install --no-deps cvvdp==0.5.7 einops ffmpeg-python PyEXR, "
    "plus the torchvision build matching your torch"
)


def cvvdp_available() -> bool:
    """Whether ``pycvvdp`` imports here."""
    try:
        _module()
    except UnsupportedError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _module() -> Any:
    try:
        import pycvvdp
    except ImportError as error:  # absent, or torchvision missing
        raise UnsupportedError(f"{INSTALL_HINT} ({error})") from error
    return pycvvdp


@functools.lru_cache(maxsize=4)
def _metric(display: str, device: str) -> Any:
    return _module().cvvdp(display_name=display, device=torch.device(device))


def cvvdp_jod(
    test: torch.Tensor, reference: torch.Tensor, *, display: str = "standard_hdr_linear"
) -> torch.Tensor:
    """ColorVideoVDP JOD of images.

    Args:
        test, reference: ``(3, H, W)`` or ``(N, 3, H, W)`` linear BT.2020 cd/m².
        display: a cvvdp display model with linear (absolute) input.

    Returns:
        ``(N,)`` float32 JOD (10 = identical, higher is better).

    Raises:
        UnsupportedError: cvvdp is not importable (message names the install command).
        InvalidInputError: shapes differ or are not ``(N, 3, H, W)``.
    """
    if test.shape != reference.shape or test.dim() not in (3, 4) or test.shape[-3] != 3:
        raise InvalidInputError(f"expected equal (3, H, W)/(N, 3, H, W) shapes, got {tuple(test.shape)}, "
                                f"{tuple(reference.shape)}")
    if test.dim() == 3:
        test, reference = test[None], reference[None]
    metric = _metric(display, str(test.device))
    out = []
    for t, r in zip(test, reference):
        t709 = convert_primaries(t.float(), "bt2020", "bt709").clamp(min=0)
        r709 = convert_primaries(r.float(), "bt2020", "bt709").clamp(min=0)
        jod, _stats = metric.predict(t709, r709, dim_order="CHW")
        out.append(float(jod))
    return torch.tensor(out, dtype=torch.float32)
