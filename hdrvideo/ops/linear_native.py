"""The ``tonemap`` operator on float32 CPU frames in one native pass per row, for each intensity.

:func:`hdrvideo.ops.tonemap.tonemap` hands float32 CPU frames with ``desat=1`` to
:func:`tonemap_ictcp` (``intensity="ictcp"``, the default) or :func:`tonemap_gain`
(``"maxrgb"``, ``"luminance"``) when ``hdrvideo._native`` is built
(``native/tonemap_linear.cpp``); the torch function stays the reference and serves every
other case (float64, GPU tensors, ``desat < 1``).

**ICtCp.** The kernel follows the torch function step by step (ICtCp of BT.2100-2 Table 7,
the curve on ``I``, libplacebo's chroma factor, the chroma fit by bisection, the fit toward
grey) but reads three functions from tables (:mod:`hdrvideo.color.lut`): the PQ inverse EOTF
of LMS (at the fourth root of ``LMS / 10000``), the PQ EOTF, and the curve in PQ terms,
``I' = PQ^-1(curve(PQ(I)))``, tabulated over ``I`` in [0, 1] for every frame
(:data:`MAPPING_SIZE` intervals, the curve evaluated in float64 at the nodes: well under a
millisecond). Measured on the 18 OpenEXR images of ``../shared/data`` with seven curves and
targets of 100 and 600 cd/m² (252 cases) against the float64 torch function: the largest
difference per case is 1.6e-5 of the target peak in the median case and 2.2e-3 at worst
(at the kinks of ``clip`` and ``bt2446a``, where a table node straddles the corner); the
99.9th percentile stays under 5e-5. tests/test_ops_linear_native.py holds it to 3e-3 (an
8-bit SDR code near white is 4e-3 of the peak).

**max(R, G, B) and luminance.** The gain ``curve(level) / level`` is read from the fused
kernel's luminance table (:func:`hdrvideo.ops.fused.gain_table` over
:func:`~hdrvideo.ops.fused.curve_nodes` at ``10000 (k / n)^4`` cd/m², here with
:data:`MAPPING_SIZE` intervals) at the fourth root of ``level / 10000``, so one lookup per
pixel; the fit toward grey follows. Held to the same 3e-3 of the peak against the float64
torch function (tests; measured differences in the tests' cases are in their comments).

Non-finite input: NaN is black and light above 10000 cd/m² reads as 10000 cd/m² (PQ's range)
for the table index, whereas the torch function lets a NaN through to its output. The ICtCp
kernel also reads negative light as black; the gain kernel keeps negative components (as
the torch function does) for the fit toward grey.

Speed (2-core machine, ``benchmarks/bench_kernel.py``, 2 threads, per 1080p frame): ICtCp in
20-22 ms (AVX2, 8 pixels at a time, chosen at run time; 86 ms scalar) against 340-410 ms for the
float32 torch function; max(R, G, B) in 8.7 ms (24 ms scalar) against 145 ms. Whole 96-frame
1080p transcodes (``benchmarks/bench_generic.py``): ``-vf tonemap`` 10.9 s against 63.1 s with
the torch paths, ``intensity=maxrgb --no-fused`` 8.7 s against 39.5 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from hdrvideo.color.ictcp import _INVERSES, MATRIX_LMS_P_TO_ICTCP_PQ, MATRIX_RGB_TO_LMS
from hdrvideo.color.luminance import luminance_weights
from hdrvideo.color.lut import node_table
from hdrvideo.color.pq import PQ_PEAK_NITS, eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.errors import InvalidInputError
from hdrvideo.io.native_convert import decode_table, encode_table
from hdrvideo.native import native_module

__all__ = [
    "COEFFICIENTS",
    "GAIN_COEFFICIENTS",
    "MAPPING_SIZE",
    "applies",
    "gain_table",
    "mapping_table",
    "native_available",
    "tonemap_gain",
    "tonemap_ictcp",
]

#: Intervals of the per-frame tables (``I -> I'`` for ICtCp, the gain for max(R, G, B) and luminance).
MAPPING_SIZE = 4096
#: Halvings of the chroma-fit bisection (as the torch function's ``_fit_chroma_ictcp``).
ITERATIONS = 20
#: Layout of the kernel's coefficient vector (``Coefficient`` in native/tonemap_linear.cpp).
COEFFICIENTS = ("rgb_to_lms[9]", "lms_p_to_ictcp[9]", "ictcp_to_lms_p[9]", "lms_to_rgb[9]", "luma[3]", "peak",
                "slack")
#: Layout of :func:`tonemap_gain`'s coefficient vector (``GainCoefficient`` in the same file).
GAIN_COEFFICIENTS = ("luma[3]", "peak", "black_out")


def _module() -> Any:
    return native_module("tonemap_ictcp", "tonemap_gain")


def native_available() -> bool:
    """Whether ``hdrvideo._native`` is built with ``tonemap_ictcp`` and ``tonemap_gain``."""
    return _module() is not None


def applies(x: torch.Tensor, desat: float) -> bool:
    """Whether the kernels serve ``x``: float32 on the CPU, ``(3, H, W)`` or a batch, ``desat == 1``."""
    return (
        native_available() and float(desat) == 1.0 and x.dtype == torch.float32 and x.device.type == "cpu"
        and x.dim() >= 3 and x.shape[-3] == 3 and x.numel() > 0 and not x.requires_grad
    )


@functools.lru_cache(maxsize=8)
def _coefficients(peak_nits: float) -> np.ndarray:
    parts = [MATRIX_RGB_TO_LMS, MATRIX_LMS_P_TO_ICTCP_PQ, _INVERSES["pq"], _INVERSES["lms"]]
    flat = [float(v) for m in parts for v in m.reshape(-1).tolist()]
    flat += [float(w) for w in luminance_weights("bt2020").tolist()]
    flat += [float(peak_nits), 1e-6 * float(peak_nits)]  # the torch fit's slack
    return np.asarray(flat, dtype=np.float32)


def mapping_table(curve: Any, **kw: Any) -> np.ndarray:
    """``(MAPPING_SIZE, 2)`` float32 table of ``I -> PQ^-1(curve.map(PQ(I), **kw))`` (float64 nodes).

    Raises:
        InvalidInputError: the curve gave NaN or infinite light (a user's ``ToneCurve``).
    """
    i = torch.arange(MAPPING_SIZE + 1, dtype=torch.float64) / MAPPING_SIZE
    mapped = eotf_inverse_ST2084(curve.map(eotf_ST2084(i), **kw))
    if not bool(torch.isfinite(mapped).all()):
        raise InvalidInputError(f"tone curve {getattr(curve, 'name', curve)!r} gave non-finite light")
    return node_table(mapped).numpy()


def gain_table(curve: Any, **kw: Any) -> tuple[np.ndarray, float]:
    """The ``(MAPPING_SIZE, 2)`` float32 gain table of :func:`tonemap_gain` and ``curve(0)`` (cd/m²).

    Raises:
        InvalidInputError: the curve gave NaN or infinite light (a user's ``ToneCurve``).
    """
    from hdrvideo.ops import fused

    levels = ("src_peak_nits", "dst_peak_nits", "src_black_nits", "dst_black_nits")
    params = {k: v for k, v in kw.items() if k not in levels}
    nodes, mapped = fused.curve_nodes(curve, kw["src_peak_nits"], kw["dst_peak_nits"],
                                      src_black_nits=kw.get("src_black_nits", 0.0),
                                      dst_black_nits=kw.get("dst_black_nits", 0.0), params=params,
                                      intensity="luminance", size=MAPPING_SIZE)
    return fused.gain_table(nodes, mapped).numpy(), float(mapped[0])


def tonemap_gain(
    x: torch.Tensor, curve: Any, *, intensity: str, threads: int | None = None, simd: bool = True, **kw: Any
) -> torch.Tensor:
    """``tonemap(x, curve, intensity=intensity, desat=1, **kw)`` natively for ``"maxrgb"`` or ``"luminance"``.

    Args:
        x: ``(3, H, W)`` or ``(*, 3, H, W)`` float32 CPU, linear BT.2020, cd/m² (:func:`applies`).
        curve: a :class:`~hdrvideo.ops.curves.ToneCurve`; ``kw``: its range and parameters, as
            :func:`~hdrvideo.ops.tonemap.tonemap` passes them to ``curve.map``.
        intensity: ``"maxrgb"`` or ``"luminance"`` (BT.2020).
        threads: OpenMP threads (default: torch's intra-op thread count).
        simd: use the AVX2 version where the CPU has it (it gives the scalar version's bytes).

    Returns:
        float32 tensor shaped like ``x``, every component in ``[0, dst_peak_nits]``.
    """
    if intensity not in ("maxrgb", "luminance"):
        raise InvalidInputError(f"tonemap_gain: intensity must be maxrgb or luminance, got {intensity!r}")
    table, black_out = gain_table(curve, **kw)
    weights = [float(w) for w in luminance_weights("bt2020").tolist()]
    coefficients = np.asarray([*weights, float(kw["dst_peak_nits"]), black_out], dtype=np.float32)
    return _per_frame(x, threads, lambda f, o, n: _module().tonemap_gain(
        f, o, table, coefficients, intensity == "maxrgb", n, bool(simd)))


def _per_frame(x: torch.Tensor, threads: int | None, run: Any) -> torch.Tensor:
    """``run(frame, out, threads)`` on each ``(3, H, W)`` float32 array of ``x``; the result shaped like ``x``."""
    frames = x.detach().reshape(-1, 3, *x.shape[-2:])
    out = np.empty(tuple(frames.shape), np.float32)
    n = torch.get_num_threads() if threads is None else int(threads)
    for f, o in zip(frames, out):
        run(np.ascontiguousarray(f.numpy()), o, n)
    return torch.from_numpy(out).reshape(x.shape)


def tonemap_ictcp(
    x: torch.Tensor, curve: Any, *, threads: int | None = None, simd: bool = True, **kw: Any
) -> torch.Tensor:
    """``tonemap(x, curve, intensity="ictcp", desat=1, **kw)`` natively (see the module).

    Args:
        x: ``(3, H, W)`` or ``(*, 3, H, W)`` float32 CPU, linear BT.2020, cd/m² (:func:`applies`).
        curve: a :class:`~hdrvideo.ops.curves.ToneCurve`; ``kw``: its range
            (``src_peak_nits``, ``dst_peak_nits``, ``src_black_nits``, ``dst_black_nits``) and
            parameters, as :func:`~hdrvideo.ops.tonemap.tonemap` passes them to ``curve.map``.
        threads: OpenMP threads (default: torch's intra-op thread count).
        simd: use the AVX2 version where the CPU has it (it gives the scalar version's bytes).

    Returns:
        float32 tensor shaped like ``x``, every component in ``[0, dst_peak_nits]``.
    """
    table = mapping_table(curve, **kw)
    pq_in, pq_out = encode_table("pq", PQ_PEAK_NITS), decode_table("pq", PQ_PEAK_NITS)
    coefficients = _coefficients(float(kw["dst_peak_nits"]))
    return _per_frame(x, threads, lambda f, o, n: _module().tonemap_ictcp(
        f, o, pq_in, pq_out, table, coefficients, ITERATIONS, n, bool(simd)))
