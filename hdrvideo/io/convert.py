"""Coded pictures <-> the working space (linear BT.2020, cd/m²).

Decoding a picture (:func:`frame_to_working`)::

    integer planes (Y'CbCr or G'B'R', 8-16 bit, limited or full range)
      -> normalised Y'CbCr (Y' 0-1, Cb/Cr -0.5..0.5)      ITU-R BT.2100-2 Table 9 (quantisation)
      -> chroma upsampled to 4:4:4 (bilinear, sited as coded: "left" for 4:2:0 per H.273)
      -> non-linear R'G'B'                                  BT.709 / BT.2020 NCL / BT.601 matrix
      -> display light in cd/m² through the EOTF           PQ (ST 2084), HLG (BT.2100 incl. OOTF),
                                                            BT.1886 / sRGB / gamma scaled to peak
      -> BT.2020 primaries                                  RP 177 matrices

Encoding (:func:`working_to_frame`) runs the same steps backwards: primaries, negative
light clipped (gamut mapping is an operator's job, not the writer's), inverse EOTF, clip to
the signal range, matrix, chroma down-sampled with the filter that matches the siting,
quantised with optional triangular dither, packed into an :class:`av.VideoFrame`.
"""

from __future__ import annotations

import numpy as np
import torch
import av

from hdrvideo.color.primaries import convert_primaries
from hdrvideo.color.transfer import decode_transfer, encode_transfer
from hdrvideo.color.ycbcr import (
    codes_to_rgb,
    codes_to_ycbcr,
    rgb_to_codes,
    rgb_to_ycbcr,
    ycbcr_to_codes,
    ycbcr_to_rgb,
)
from hdrvideo.errors import InvalidInputError, UnsupportedError
from hdrvideo.io.chroma import downsample_chroma, upsample_chroma
from hdrvideo.io import native_convert
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.dither import lowbias32, quantise

#: Planar formats read and written directly: name -> (family, bits, log2 chroma w, log2 chroma h).
#: family "yuv" has planes Y, Cb, Cr; "gbr" has planes G, B, R; "gray" has Y only.
PIXEL_FORMATS: dict[str, tuple[str, int, int, int]] = {
    "yuv420p": ("yuv", 8, 1, 1),
    "yuvj420p": ("yuv", 8, 1, 1),
    "yuv422p": ("yuv", 8, 1, 0),
    "yuv444p": ("yuv", 8, 0, 0),
    "yuv420p10le": ("yuv", 10, 1, 1),
    "yuv422p10le": ("yuv", 10, 1, 0),
    "yuv444p10le": ("yuv", 10, 0, 0),
    "yuv420p12le": ("yuv", 12, 1, 1),
    "yuv422p12le": ("yuv", 12, 1, 0),
    "yuv444p12le": ("yuv", 12, 0, 0),
    "yuv444p16le": ("yuv", 16, 0, 0),
    "gbrp": ("gbr", 8, 0, 0),
    "gbrp10le": ("gbr", 10, 0, 0),
    "gbrp12le": ("gbr", 12, 0, 0),
    "gbrp16le": ("gbr", 16, 0, 0),
    "gray": ("gray", 8, 0, 0),
    "gray10le": ("gray", 10, 0, 0),
    "gray12le": ("gray", 12, 0, 0),
    "gray16le": ("gray", 16, 0, 0),
}


def pixel_format_info(pix_fmt: str) -> tuple[str, int, int, int]:
    """``(family, bits, log2_chroma_w, log2_chroma_h)`` of a planar format we handle."""
    try:
        return PIXEL_FORMATS[pix_fmt]
    except KeyError:
        raise UnsupportedError(
            f"pixel format {pix_fmt} is not handled directly; valid: {', '.join(PIXEL_FORMATS)}"
        ) from None


def fallback_pixel_format(pix_fmt: str) -> str:
    """A directly handled format that ``pix_fmt`` converts to without colour change.

    Semi-planar (nv12, p010), packed (rgb48, yuyv) and hardware download formats are
    reformatted by FFmpeg's swscale to the nearest planar format first.
    """
    descriptor = av.VideoFormat(pix_fmt)
    bits = max(c.bits for c in descriptor.components)
    if descriptor.is_rgb:
        return "gbrp" if bits <= 8 else ("gbrp10le" if bits <= 10 else ("gbrp12le" if bits <= 12 else "gbrp16le"))
    if len(descriptor.components) == 1:
        return "gray" if bits <= 8 else "gray16le"
    depth = "" if bits <= 8 else ("10le" if bits <= 10 else ("12le" if bits <= 12 else "16le"))
    sub = (descriptor.components[1].width, descriptor.components[1].height)
    full = (descriptor.components[0].width, descriptor.components[0].height)
    if bits > 12:
        return "yuv444p16le"
    if sub[0] < full[0] and sub[1] < full[1]:
        return f"yuv420p{depth}"
    if sub[0] < full[0]:
        return f"yuv422p{depth}"
    return f"yuv444p{depth}"


# -- planes <-> numpy ----------------------------------------------------------------------
def frame_planes(vf: av.VideoFrame) -> list[np.ndarray]:
    """The frame's planes as integer arrays ``(h, w)`` (strides removed, no copy where possible)."""
    _, bits, _, _ = pixel_format_info(vf.format.name)
    dtype = np.uint8 if bits == 8 else np.dtype("<u2")
    arrays = []
    for plane in vf.planes:
        itemsize = dtype.itemsize if isinstance(dtype, np.dtype) else 1
        row = plane.line_size // itemsize
        buffer = np.frombuffer(plane, dtype=dtype)
        arrays.append(buffer.reshape(-1, row)[: plane.height, : plane.width])
    return arrays


def planes_to_frame(planes: list[np.ndarray], pix_fmt: str) -> av.VideoFrame:
    """Pack integer planes ``(h, w)`` into a new :class:`av.VideoFrame` of ``pix_fmt``."""
    height, width = planes[0].shape
    vf = av.VideoFrame(width, height, pix_fmt)
    for plane, array in zip(vf.planes, planes):
        itemsize = array.dtype.itemsize
        row = plane.line_size // itemsize
        padded = np.zeros((plane.height, row), dtype=array.dtype)
        padded[:, : array.shape[1]] = array
        plane.update(padded.tobytes())
    return vf


# -- decode --------------------------------------------------------------------------------
def frame_to_working(
    vf: av.VideoFrame,
    spec: ColorSpec,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Decode an :class:`av.VideoFrame` to the working space.

    Args:
        vf: a decoded frame in any pixel format FFmpeg can convert to a planar one.
        spec: what the code values mean (from the stream or an override).
        device, dtype: where the result lives.

    Returns:
        ``(3, H, W)`` tensor, linear light, BT.2020 primaries, cd/m².
    """
    if vf.format.name not in PIXEL_FORMATS:
        vf = vf.reformat(format=fallback_pixel_format(vf.format.name))
    family, bits, sub_w, sub_h = pixel_format_info(vf.format.name)
    if family == "yuv" and native_convert.decode_supported(spec, device, dtype):
        return native_convert.planes_to_linear(frame_planes(vf), spec, bits)
    planes = [torch.from_numpy(np.ascontiguousarray(p).astype(np.float32)) for p in frame_planes(vf)]
    planes = [p.to(device=device, dtype=dtype) for p in planes]
    height, width = planes[0].shape
    if family == "gray":
        luma = planes[0][None]
        ycbcr = codes_to_ycbcr(torch.cat([luma, torch.full_like(luma, 2 ** (bits - 1)).expand(2, -1, -1)]),
                               bits=bits, range=spec.range)
        nonlinear = ycbcr[:1].expand(3, -1, -1)
    elif family == "gbr":
        nonlinear = codes_to_rgb(torch.stack([planes[2], planes[0], planes[1]]), bits=bits, range=spec.range)
    else:
        codes = torch.cat([planes[0][None], upsample_chroma(torch.stack(planes[1:]), height, width, sub_w, sub_h)])
        ycbcr = codes_to_ycbcr(codes, bits=bits, range=spec.range)
        if spec.matrix in ("rgb", "ictcp", "bt2020c"):
            raise UnsupportedError(f"matrix {spec.matrix} with Y'CbCr planes is not supported yet")
        nonlinear = ycbcr_to_rgb(ycbcr, matrix=spec.matrix)
    # Footroom/headroom codes (below 64 / above 940 at 10 bits, limited range) and matrix
    # overshoot give signals outside 0-1 that no EOTF defines: clip, as displays do.
    light = decode_transfer(nonlinear.clamp(0, 1), spec.transfer, peak_nits=spec.peak_nits)
    return convert_primaries(light, spec.primaries, "bt2020")


# -- encode --------------------------------------------------------------------------------
def pix_fmt_for(spec: ColorSpec, codec: str) -> str:
    """The planar pixel format to encode ``spec`` with ``codec`` (4:2:0 except RGB)."""
    depth = {8: "", 10: "10le", 12: "12le", 16: "16le"}[spec.bit_depth]
    if spec.matrix == "rgb":
        return f"gbrp{depth}"
    if spec.bit_depth == 16:
        return "yuv444p16le"
    return f"yuv420p{depth}"


def working_to_signal(x: torch.Tensor, spec: ColorSpec) -> torch.Tensor:
    """Working space -> the non-linear R'G'B' signal of ``spec`` (0-1), before any matrix.

    Converts BT.2020 to the output primaries, clips negative light (gamut mapping is an
    operator's job), applies the inverse EOTF and clips to the signal range.

    Args:
        x: ``(3, H, W)`` (or ``(*, 3, H, W)``) linear BT.2020 light in cd/m².

    Returns:
        float tensor of the same shape, R'G'B' in 0-1.
    """
    if x.dim() < 3 or x.shape[-3] != 3:
        raise InvalidInputError(f"expected a (3, H, W) frame, got shape {tuple(x.shape)}")
    work = x.to(torch.float32) if x.dtype != torch.float64 else x
    light = convert_primaries(work, "bt2020", spec.primaries).clamp(min=0)
    return encode_transfer(light, spec.transfer, peak_nits=spec.peak_nits).clamp(0, 1)


def quantize_signal(signal: torch.Tensor, bits: int, range: str) -> torch.Tensor:
    """Round an R'G'B' (or Y') signal 0-1 to the code grid of ``bits``/``range`` and back.

    The light this represents is what a decoder of 4:4:4 output shows; the writer measures
    MaxCLL/MaxFALL on it (CTA-861.3: per-pixel light of the R'G'B' picture).
    """
    codes = (rgb_to_codes(signal, bits=bits, range=range) + 0.5).floor()  # half up, as the writer rounds
    return codes_to_rgb(codes, bits=bits, range=range)


def _check_even_size(x: torch.Tensor, pix_fmt: str) -> tuple[str, int, int, int]:
    """:func:`pixel_format_info` of ``pix_fmt``, after checking that the ``(3, H, W)`` frame's
    size is even where the format subsamples chroma."""
    family, bits, sub_w, sub_h = pixel_format_info(pix_fmt)
    height, width = int(x.shape[-2]), int(x.shape[-1])
    if (sub_w and width % 2) or (sub_h and height % 2):
        raise InvalidInputError(f"{width}x{height}: {pix_fmt} needs an even width and height")
    return family, bits, sub_w, sub_h


def signal_to_frame(
    signal: torch.Tensor,
    spec: ColorSpec,
    *,
    pix_fmt: str,
    dither: bool = False,
    seed: int = 0,
) -> av.VideoFrame:
    """Quantise an R'G'B' signal ``(3, H, W)`` (0-1, from :func:`working_to_signal`) into a frame.

    Y'CbCr matrix, chroma down-sampled with the filter that matches the siting, optional
    triangular (TPDF) dither of ±1 code seeded by ``seed`` (deterministic), packed planes.

    Raises:
        InvalidInputError: wrong shape, or odd size with chroma subsampling.
    """
    if signal.dim() != 3 or signal.shape[0] != 3:
        raise InvalidInputError(f"expected a (3, H, W) frame, got shape {tuple(signal.shape)}")
    family, bits, sub_w, sub_h = _check_even_size(signal, pix_fmt)
    top = 2**bits - 1
    if family == "gbr":
        codes = rgb_to_codes(signal, bits=bits, range=spec.range)
        planes_t = [codes[1], codes[2], codes[0]]
    elif family == "gray":
        luma = rgb_to_ycbcr(signal, matrix=spec.matrix)[:1]
        planes_t = [ycbcr_to_codes(torch.cat([luma, torch.zeros_like(luma).expand(2, -1, -1)]),
                                   bits=bits, range=spec.range)[0]]
    else:
        ycbcr = rgb_to_ycbcr(signal, matrix=spec.matrix)
        chroma = downsample_chroma(ycbcr[1:], sub_w, sub_h)
        luma_codes = ycbcr_to_codes(torch.cat([ycbcr[:1], torch.zeros_like(ycbcr[1:])]), bits=bits, range=spec.range)[0]
        chroma_codes = ycbcr_to_codes(
            torch.cat([torch.zeros_like(chroma[:1]), chroma]), bits=bits, range=spec.range
        )[1:]
        planes_t = [luma_codes, chroma_codes[0], chroma_codes[1]]
    key = lowbias32(seed) if dither else None
    planes, index0 = [], 0
    for plane in planes_t:
        codes = quantise(plane.detach().to("cpu", torch.float32), top, key=key, index0=index0)
        planes.append(codes.numpy().astype(np.uint8 if bits == 8 else np.uint16))
        index0 += plane.numel()
    return _tagged_frame(planes, spec, pix_fmt)


def _tagged_frame(planes: list[np.ndarray], spec: ColorSpec, pix_fmt: str) -> av.VideoFrame:
    """Pack code planes into a frame of ``pix_fmt`` tagged with ``spec``'s H.273 code points."""
    vf = planes_to_frame(planes, pix_fmt)
    codes = spec.codes
    vf.color_range = codes["color_range"]
    vf.colorspace = codes["colorspace"]
    vf.color_primaries = codes["color_primaries"]
    vf.color_trc = codes["color_trc"]
    return vf


def working_to_frame(
    x: torch.Tensor,
    spec: ColorSpec,
    *,
    pix_fmt: str,
    dither: bool = False,
    seed: int = 0,
) -> av.VideoFrame:
    """Encode a working-space picture into a quantised :class:`av.VideoFrame`.

    :func:`working_to_signal` then :func:`signal_to_frame`, or in one native pass
    (:mod:`hdrvideo.io.native_convert`) for planar Y'CbCr with a per-component transfer from a
    float32 CPU tensor: the same codes up to its table error.

    Args:
        x: ``(3, H, W)`` linear BT.2020 light in cd/m², any device/float dtype.
        spec: the output signal (primaries, transfer, matrix, range, peak).
        pix_fmt: a planar format from :data:`PIXEL_FORMATS` whose bit depth matches ``spec``.
        dither: add triangular (TPDF) noise of ±1 code before rounding; use when going to
            8 bits to avoid banding. Seeded by ``seed`` so the output is deterministic.

    Raises:
        InvalidInputError: wrong shape, or odd size with chroma subsampling.
    """
    if x.dim() != 3 or x.shape[0] != 3:
        raise InvalidInputError(f"expected a (3, H, W) frame, got shape {tuple(x.shape)}")
    family, bits, sub_w, sub_h = _check_even_size(x, pix_fmt)
    if native_convert.encode_supported(x, spec, family):
        planes = native_convert.linear_to_planes(x, spec, bits, sub_w, sub_h, dither=dither, seed=seed)
        return _tagged_frame(planes, spec, pix_fmt)
    return signal_to_frame(working_to_signal(x, spec), spec, pix_fmt=pix_fmt, dither=dither, seed=seed)
