"""Deterministic triangular (TPDF) dither noise from an integer hash.

Noise of sample ``index`` (its position in the frame: Y' plane first, then Cb, then Cr)
is ``u1 - u2`` in (-1, 1) code values, ``u1``/``u2`` the low and high 16 bits of
``lowbias32(index ^ key)`` / 65536, ``key = lowbias32(seed)``: independent of threads,
tiling and backend, so the same picture and seed give the same bytes everywhere (the
writer's torch path, ``native/convert_yuv.cpp`` and the fused kernel
``native/tonemap_yuv.cpp`` all draw it this way).

The hash is Chris Wellons' "lowbias32" (public domain).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["MASK32", "lowbias32", "quantise", "tpdf_noise"]

MASK32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``x * c mod 2^32`` for int64 tensors holding uint32 values, without int64 overflow."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & MASK32


def lowbias32(x: Any) -> Any:
    """Chris Wellons' lowbias32 hash on Python ints or int64 tensors of uint32 values."""
    if isinstance(x, torch.Tensor):
        x = x ^ (x >> 16)
        x = _mul32(x, 0x7FEB352D)
        x = x ^ (x >> 15)
        x = _mul32(x, 0x846CA68B)
        return x ^ (x >> 16)
    x = int(x) & MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


def tpdf_noise(key: int, index: torch.Tensor) -> torch.Tensor:
    """Triangular noise in (-1, 1) code values, float32, for int64 sample indices ``index``."""
    h = lowbias32((index & MASK32) ^ key)
    u1 = (h & 0xFFFF).to(torch.float32) * (1.0 / 65536.0)
    u2 = (h >> 16).to(torch.float32) * (1.0 / 65536.0)
    return u1 - u2


def quantise(codes: torch.Tensor, top: float, *, key: int | None = None, index0: int = 0) -> torch.Tensor:
    """Float code values ``(h, w)`` -> int32 codes: optional TPDF noise (``key`` not None;
    samples numbered row by row from ``index0``), clamp to [0, top], round half up."""
    q = codes.to(torch.float32)
    if key is not None:
        rows, cols = q.shape
        index = (
            torch.arange(rows, device=q.device, dtype=torch.int64)[:, None] * cols
            + torch.arange(cols, device=q.device, dtype=torch.int64)[None, :]
            + index0
        )
        q = q + tpdf_noise(key, index)
    return (q.clamp(0.0, top) + 0.5).to(torch.int32)
