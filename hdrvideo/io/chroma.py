"""Chroma up- and down-sampling of Y'CbCr 4:2:0 / 4:2:2 planes, sited as coded.

H.273 (and BT.2020/BT.709 video by default) sites 4:2:0 and 4:2:2 chroma on the even luma
columns ("left"); 4:2:0 chroma sits between the two luma rows it covers. The decoder
(:func:`upsample_chroma`) interpolates bilinearly at each luma position; the encoder
(:func:`downsample_chroma`) filters with the kernel that matches that siting. The native
conversion (:mod:`hdrvideo.io.native_convert`) and the fused kernel use the same indices
and weights (:func:`linear_positions`).
"""

from __future__ import annotations

import torch

__all__ = ["downsample_chroma", "linear_positions", "upsample_chroma"]


def linear_positions(
    out_size: int, in_size: int, factor: int, offset: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices and weights for linear interpolation of ``in_size`` samples to ``out_size``.

    Sample ``i`` of the subsampled plane sits at full-resolution position ``factor·i + offset``.
    Returns ``(i0, i1, w1)``, each ``(out_size,)``: output ``o`` is ``in[i0] (1 - w1) + in[i1] w1``.
    """
    x = torch.arange(out_size, device=device, dtype=torch.float32)
    s = ((x - offset) / factor).clamp(0, in_size - 1)
    i0 = s.floor().long()
    i1 = (i0 + 1).clamp(max=in_size - 1)
    w1 = s - i0
    return i0, i1, w1


def upsample_chroma(chroma: torch.Tensor, height: int, width: int, sub_w: int, sub_h: int) -> torch.Tensor:
    """Bilinear chroma up-sampling ``(2, h, w) -> (2, H, W)`` honouring chroma siting.

    4:2:0 and 4:2:2 chroma is co-sited with even luma columns ("left", the H.273 default for
    BT.2020/BT.709 video) and, for 4:2:0, centred between luma rows.
    """
    out = chroma
    if sub_w:
        i0, i1, w1 = linear_positions(width, chroma.shape[-1], 2, 0.0, chroma.device)
        w1 = w1.to(chroma.dtype)
        out = out[..., i0] * (1 - w1) + out[..., i1] * w1
    if sub_h:
        i0, i1, w1 = linear_positions(height, chroma.shape[-2], 2, 0.5, chroma.device)
        w1 = w1.to(chroma.dtype)[:, None]
        out = out[..., i0, :] * (1 - w1) + out[..., i1, :] * w1
    return out


def downsample_chroma(chroma: torch.Tensor, sub_w: int, sub_h: int) -> torch.Tensor:
    """Chroma down-sampling ``(2, H, W) -> (2, H/2, W/2)`` (or 4:2:2), sited as in :func:`upsample_chroma`.

    Horizontally a [1, 2, 1]/4 filter centred on even columns (left siting); vertically the
    mean of the two rows the sample sits between. H and W must be even where subsampled.
    """
    out = chroma
    if sub_w:
        padded = torch.cat([out[..., :1], out, out[..., -1:]], dim=-1)
        out = 0.25 * padded[..., 0:-2:2] + 0.5 * padded[..., 1:-1:2] + 0.25 * padded[..., 2::2]
    if sub_h:
        out = 0.5 * (out[..., 0::2, :] + out[..., 1::2, :])
    return out
