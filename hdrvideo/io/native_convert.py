"""Y'CbCr planes <-> the working space in one native pass (``hdrvideo._native``).

The fast path of :func:`hdrvideo.io.convert.frame_to_working` and
:func:`hdrvideo.io.convert.working_to_frame` for what most video is: planar Y'CbCr (8-16
bit, 4:2:0, 4:2:2 or 4:4:4, limited or full range, BT.2020 NCL / BT.709 / BT.601 matrix)
with a transfer function that acts on each component alone (PQ, BT.1886, sRGB, gamma,
linear) and, for decoding, HLG (the inverse OETF per component, then the OOTF's luminance
factor from a table), float32 on the CPU. ``native/convert_yuv.cpp`` does the whole chain per row (chroma
sited and interpolated as :func:`~hdrvideo.io.chroma.upsample_chroma`, the matrix, the
transfer, the primaries) where torch makes a dozen full-frame passes; HLG encoding (whose
inverse OOTF mixes the components), other pixel formats, float64 and GPU tensors take the
torch path.

**Exactness.** The transfer function is a table with linear interpolation between nodes
(:data:`DECODE_TABLE_SIZE` intervals on the signal for decoding; :data:`ENCODE_TABLE_SIZE`
on the fourth root of the relative light for encoding, where the inverse EOTFs are smooth).
Everything else is float32 arithmetic in the torch path's order, except that the kernel
multiplies by reciprocals where torch divides (a few ulps). Measured against the exact
float64 functions on 2 million points over their whole range: decoding within 3.6e-5
relative above 0.01 cd/m² for PQ (5.4e-5 BT.1886, 8.5e-5 gamma 2.2; the float32 torch path
itself is off by up to 6e-5 on PQ; HLG on a 1000 cd/m² display 4e-4, from the square law of
its inverse OETF near black in saturated colours, where a 10-bit code step is several per
cent; a random 1080p frame decodes in 15 ms against 242 ms in torch); encoding within 1e-6 of full signal for every transfer
(PQ 3.9e-7, BT.1886 1.8e-7, sRGB 2.8e-7, gamma 2.2 1.5e-7, gamma 2.8 9.0e-7; a 10-bit code
is 1.1e-3). Codes then match the torch path's except where a value sits that close to a
rounding boundary: one code in about 0.05 % of samples on random frames
(tests/test_io_native_convert.py).

**Dither and rounding** are those of :mod:`hdrvideo.io.dither` (TPDF noise hashed from the
sample index, round half up), as the torch path: the two paths give the same bytes up to the
table error above.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from hdrvideo.color.hlg import WEIGHTS_BT2100_HLG, gamma_function_BT2100_HLG, oetf_inverse_BT2100_HLG
from hdrvideo.color.lut import node_table
from hdrvideo.color.pq import PQ_PEAK_NITS
from hdrvideo.color.primaries import rgb_to_rgb_matrix
from hdrvideo.color.transfer import decode_transfer, encode_transfer
from hdrvideo.color.ycbcr import YCBCR_WEIGHTS, _ycbcr_matrix_inverse, code_scales, ycbcr_matrix
from hdrvideo.io.chroma import linear_positions
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.native import native_module
from hdrvideo.io.dither import lowbias32

__all__ = [
    "DECODE_TABLE_SIZE",
    "ENCODE_TABLE_SIZE",
    "PER_COMPONENT_TRANSFERS",
    "decode_supported",
    "decode_table",
    "encode_supported",
    "encode_table",
    "linear_to_planes",
    "native_convert_available",
    "planes_to_linear",
]

#: Intervals of the decoding (EOTF) and encoding (inverse EOTF) tables.
DECODE_TABLE_SIZE = 4096
ENCODE_TABLE_SIZE = 4096

#: Transfers the native path handles, with the root of the relative light that indexes the
#: encoding table: the fourth root makes every inverse EOTF smooth at black (the square root
#: left gamma 2.8 off by 3e-4 of full signal in the first interval; measured).
PER_COMPONENT_TRANSFERS: dict[str, int] = {
    "pq": 4, "bt1886": 4, "srgb": 4, "gamma22": 4, "gamma28": 4, "linear": 1,
}

_NONE = np.zeros((0, 2), np.float32)  # no OOTF table


def _module() -> Any:
    return native_module("yuv_to_linear", "linear_to_yuv")


def native_convert_available() -> bool:
    """Whether ``hdrvideo._native`` is built with ``yuv_to_linear`` and ``linear_to_yuv``."""
    return _module() is not None


def _channels(values: torch.Tensor) -> torch.Tensor:
    return values.view(1, 1, -1).expand(3, 1, -1)  # the (3, H, W) shape the transfers take


@functools.lru_cache(maxsize=16)
def decode_table(transfer: str, peak_nits: float, size: int = DECODE_TABLE_SIZE) -> np.ndarray:
    """``(size, 2)`` float32 table (:mod:`hdrvideo.color.lut`): signal -> cd/m² (the fused kernel's
    EOTF table too, ``hdrvideo.ops.fused``). Read-only: callers share the cached array."""
    grid = torch.arange(size + 1, dtype=torch.float64) / size
    table = node_table(decode_transfer(_channels(grid), transfer, peak_nits=peak_nits)[0, 0]).numpy()
    table.flags.writeable = False
    return table


def _encode_range(transfer: str, peak_nits: float) -> float:
    return PQ_PEAK_NITS if transfer == "pq" else float(peak_nits)


@functools.lru_cache(maxsize=16)
def encode_table(transfer: str, peak_nits: float) -> np.ndarray:
    """``(ENCODE_TABLE_SIZE, 2)`` float32 table: ``(L / range)^(1/root)`` -> signal 0-1,
    ``range`` 10000 cd/m² for PQ, else ``peak_nits``; ``root`` from :data:`PER_COMPONENT_TRANSFERS`."""
    s = torch.arange(ENCODE_TABLE_SIZE + 1, dtype=torch.float64) / ENCODE_TABLE_SIZE
    light = _encode_range(transfer, peak_nits) * s ** PER_COMPONENT_TRANSFERS[transfer]
    return node_table(encode_transfer(_channels(light), transfer, peak_nits=peak_nits)[0, 0].clamp(0, 1)).numpy()


def _primaries(src: str, dst: str) -> np.ndarray:
    if src == dst:
        return np.zeros(0, np.float32)
    return rgb_to_rgb_matrix(src, dst).to(torch.float32).numpy().reshape(-1).copy()


@functools.lru_cache(maxsize=16)
def _chroma_positions(size: int, in_size: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``size`` luma positions reads ``in_size`` chroma samples: ``(size, 2)``
    int32 indices and ``(size,)`` float32 weights of the second (:func:`linear_positions`)."""
    if in_size == size:
        index = np.arange(size, dtype=np.int32)
        return np.stack([index, index], axis=1), np.zeros(size, np.float32)
    i0, i1, w1 = linear_positions(size, in_size, 2, offset, torch.device("cpu"))
    return torch.stack([i0, i1], dim=1).to(torch.int32).numpy(), w1.to(torch.float32).numpy()


def _spec_supported(spec: ColorSpec) -> bool:
    return spec.transfer in PER_COMPONENT_TRANSFERS and spec.matrix in YCBCR_WEIGHTS


def decode_supported(spec: ColorSpec, device: torch.device | str, dtype: torch.dtype) -> bool:
    """Whether :func:`planes_to_linear` serves a Y'CbCr frame of ``spec`` for ``device``/``dtype``
    (the per-component transfers and HLG)."""
    return (
        native_convert_available() and spec.matrix in YCBCR_WEIGHTS
        and (spec.transfer in PER_COMPONENT_TRANSFERS or spec.transfer == "hlg")
        and torch.device(device).type == "cpu" and dtype == torch.float32
    )


@functools.lru_cache(maxsize=8)
def hlg_tables(display_peak_nits: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HLG decoding as tables (ITU-R BT.2100-2 Table 5, ``L_B = 0``, as ``decode_transfer``):
    signal -> scene light (inverse OETF, ``(DECODE_TABLE_SIZE, 2)``), ``Ys^(1/4)`` ->
    ``Ys^(gamma - 1)`` (the OOTF's luminance factor, Ys floored at 1e-25 as the torch OOTF), and
    ``(w_r, w_g, w_b, alpha = L_W)``; gamma from ``gamma_function_BT2100_HLG(L_W)``."""
    grid = torch.arange(DECODE_TABLE_SIZE + 1, dtype=torch.float64) / DECODE_TABLE_SIZE
    gamma = gamma_function_BT2100_HLG(float(display_peak_nits))
    factor = (grid**4).clamp(min=1e-25) ** (gamma - 1.0)
    weights = [float(w) for w in WEIGHTS_BT2100_HLG] + [float(display_peak_nits)]
    return (node_table(oetf_inverse_BT2100_HLG(grid)).numpy(), node_table(factor).numpy(),
            np.asarray(weights, dtype=np.float32))


def planes_to_linear(
    planes: list[np.ndarray], spec: ColorSpec, bits: int, threads: int | None = None, simd: bool = True
) -> torch.Tensor:
    """Decode Y'CbCr code planes to the working space natively.

    Args:
        planes: Y' ``(H, W)``, Cb and Cr ``(h, w)`` (h = H or ceil(H/2), likewise w), uint8
            for 8 bits, uint16 otherwise; rows may be strided.
        spec: what the codes mean (:func:`decode_supported` must hold).
        bits: the code bit depth (8-16).
        threads: OpenMP threads (default: torch's intra-op thread count).
        simd: use the AVX2 version where the CPU has it (it gives the scalar version's floats).

    Returns:
        ``(3, H, W)`` float32, linear light, BT.2020 primaries, cd/m².
    """
    y, u, v = planes
    height, width = y.shape
    crow, crow_w = _chroma_positions(height, u.shape[0], 0.5)
    ccol, ccol_w = _chroma_positions(width, u.shape[1], 0.0)
    ys, yo, cs, co = code_scales(bits, spec.range)
    inverse = _ycbcr_matrix_inverse(spec.matrix)
    coefficients = np.array(
        [yo, 1.0 / ys, co, 1.0 / cs, inverse[0, 2], inverse[1, 1], inverse[1, 2], inverse[2, 1]], dtype=np.float32
    )
    out = np.empty((3, height, width), np.float32)
    if spec.transfer == "hlg":
        eotf, ootf, ootf_coefficients = hlg_tables(float(spec.peak_nits))
    else:
        eotf, ootf, ootf_coefficients = decode_table(spec.transfer, float(spec.peak_nits)), _NONE, _NONE
    _module().yuv_to_linear(
        y, u, v, crow, crow_w, ccol, ccol_w, eotf, coefficients, _primaries(spec.primaries, "bt2020"), out,
        torch.get_num_threads() if threads is None else int(threads), bool(simd), ootf, ootf_coefficients,
    )
    return torch.from_numpy(out)


def encode_supported(x: torch.Tensor, spec: ColorSpec, family: str) -> bool:
    """Whether :func:`linear_to_planes` serves ``x`` (float32 CPU) for a ``family`` ("yuv") format."""
    return (
        native_convert_available() and family == "yuv" and _spec_supported(spec)
        and x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 3 and x.shape[0] == 3
    )


def linear_to_planes(
    x: torch.Tensor, spec: ColorSpec, bits: int, sub_w: int, sub_h: int, *, dither: bool = False, seed: int = 0,
    threads: int | None = None, simd: bool = True,
) -> list[np.ndarray]:
    """Encode a working-space picture to Y'CbCr code planes natively.

    Args:
        x: ``(3, H, W)`` float32 CPU, linear BT.2020, cd/m² (:func:`encode_supported`).
        spec: the output signal; ``bits``/``sub_w``/``sub_h``: the pixel format's depth and
            log2 chroma subsampling (H, W even where subsampled).
        dither, seed: TPDF dither of :mod:`hdrvideo.io.dither`.
        threads, simd: as :func:`planes_to_linear` (the AVX2 version gives the scalar codes).

    Returns:
        ``[Y', Cb, Cr]`` contiguous uint8 (8 bits) or uint16 planes.
    """
    frame = np.ascontiguousarray(x.detach().numpy())
    height, width = frame.shape[1:]
    dtype = np.uint8 if bits == 8 else np.uint16
    ch, cw = height >> sub_h, width >> sub_w
    planes = [np.empty((height, width), dtype), np.empty((ch, cw), dtype), np.empty((ch, cw), dtype)]
    ys, yo, cs, co = code_scales(bits, spec.range)
    codes = np.array([ys, yo, cs, co, 2**bits - 1], dtype=np.float32)
    transfer, peak = spec.transfer, float(spec.peak_nits)
    _module().linear_to_yuv(
        frame, _primaries("bt2020", spec.primaries), encode_table(transfer, peak), PER_COMPONENT_TRANSFERS[transfer],
        1.0 / _encode_range(transfer, peak), ycbcr_matrix(spec.matrix).to(torch.float32).numpy().reshape(-1).copy(),
        codes, sub_w, sub_h, bool(dither), lowbias32(seed), *planes,
        torch.get_num_threads() if threads is None else int(threads), bool(simd),
    )
    return planes
