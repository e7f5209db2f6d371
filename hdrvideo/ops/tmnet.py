"""The real-time tone-mapping network as an operator: ``tmnet`` (and ``tonemap=curve=net``).

Bilateral-grid design after HDRNet (Gharbi et al., "Deep Bilateral Learning for Real-Time
Image Enhancement", SIGGRAPH 2017), in its one-channel "curve grid" variant:

1. **Low resolution** (:func:`network_input`): the frame is area-averaged to 256 x 256
   (aspect not kept, as HDRNet) and each linear component is log-encoded relative to the
   frame's *anchor*, its log-average luminance (Reinhard et al. 2002, eq. 1):
   ``e = clamp((log2(c) - log2(anchor)) / 24 + 1/2, 0, 1)``, 24 stops around it. In the
   operator the anchor is the temporally smoothed log-average (step 3), so the encoding
   itself does not flicker.
2. **Network** (:class:`hdrvideo.nn.tmnet.TMNet`, run by an engine: torch, ONNX Runtime or
   TensorRT) predicts a grid ``(D, GH, GW) = (24, 16, 16)``: for each spatial cell and each
   input-intensity bin (24 nodes over 24 stops, relative to the anchor), the *output* display code
   value ``v`` in [0, 1]. Monotone in the intensity axis by construction (cumulative sums of
   non-negative increments). Untrained, it predicts Reinhard et al. 2002's global operator
   (key 0.18) everywhere; training makes it local and content-dependent.
3. **Temporal smoothing** (this operator): the anchor and the grid are filtered over time
   with libplacebo's IIR coefficient ``1 - exp(-1 / smoothing)`` and reset at scene cuts with
   the scene logic (and thresholds, in 1 % PQ units) of
   :class:`hdrvideo.ops.stats.TemporalStatistics`, measured on the low-resolution frame (the
   anchor *is* that tracker's smoothed ``logavg_nits``).
4. **Full resolution** (:func:`apply_grid`): the guide is the pixel's log-encoded BT.2020
   luminance ``g`` (same encoding and anchor as step 1); the grid is sliced trilinearly at
   ``(x, y, g)`` (:func:`slice_grid`, gathers on the grid interpolated along x: no
   full-resolution grid is ever built); the output luminance is
   ``L' = peak * v^2.4`` (``v`` is a BT.1886 code value, ``L_B = 0``), colour is carried by
   ratio with Mantiuk's saturation exponent, ``C' = (C / Y)^s L'`` (as ``tonemap``'s
   ``desat``), and components above the peak move toward the grey of their luminance
   (``fit_toward_grey``, as ``tonemap``).

**Why the one-channel curve grid** rather than HDRNet's 12 affine coefficients: tone mapping
here acts on one intensity and carries chroma by ratio (as the ``tonemap`` operator), so
only one output per bin is needed; a curve grid can be made monotone (no tone reversals, a
law the tests check), and slicing one channel costs one quarter of a 3x4 affine grid's
gathers, which is what the 1080p speed budget allows on two CPU cores.

Engines run only step 2; steps 1, 3, 4 stay on the CPU/device of the frame, so every backend
gives the same pictures up to the network's output tolerance.

**Full-resolution speed** (option ``jit``): step 4 is ~25 passes over memory in eager torch
(the whole operator: 164 ms per 1080p frame on 2 threads, 13 ms of it the native step: speed
table in ``hdrvideo/nn/weights/tmnet.md``). ``jit=auto`` (default) runs it, for a float32 CPU frame
with ``desat=1``, in the native kernel ``native/tmnet_apply.cpp`` (:func:`apply_grid_native`:
one pass per row, AVX2, OpenMP rows; the same numbers as :func:`apply_grid` within float32
rounding, see its docstring), else compiles it with ``torch.compile`` for frames of at least
1 Mpx; ``jit=native`` asks for the kernel (falling back as ``auto`` where it cannot run),
``jit=on`` for ``torch.compile``, and ``jit=off`` runs pure eager torch (the reference).
:func:`apply_grid` stays the differentiable reference that training uses. Step 1's area
average (:func:`low_resolution`) also runs natively on the CPU when the module is built, to
the bit the same as its torch path.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType
from typing import Any, Callable, ClassVar

import torch
import torch.nn.functional as F

from hdrvideo.engines.base import BACKEND_CHOICES
from hdrvideo.errors import HDRVideoWarning, InvalidInputError, UnsupportedError
from hdrvideo.frame import Frame
from hdrvideo.native import native_module
from hdrvideo.ops.base import Operator, Option, register
from hdrvideo.ops.stats import TemporalStatistics, iir_coefficient, measure_statistics
from hdrvideo.ops.tonemap import DITHER_OPTION, TARGET_OPTIONS, DisplayTarget

__all__ = [
    "GRID_BINS",
    "GRID_SIZE",
    "INPUT_SIZE",
    "SPAN_STOPS",
    "TMNetOperator",
    "apply_grid",
    "apply_grid_native",
    "log_average_nits",
    "log_encode",
    "low_resolution",
    "native_available",
    "network_input",
    "slice_grid",
    "slice_grid_reference",
]

#: Network input size (H, W): HDRNet's 256 x 256 low-resolution stream.
INPUT_SIZE = (256, 256)
#: Grid: intensity bins D and spatial cells (GH, GW).
GRID_BINS = 24
GRID_SIZE = (16, 16)
#: Log encoding span, stops, centred on the frame's log-average luminance: 2^-12 to 2^12 times
#: the anchor, about one stop per bin.
SPAN_STOPS = 24.0
#: Offset of the log-average, cd/m² (as :data:`hdrvideo.ops.stats.LOG_OFFSET_NITS`).
LOG_OFFSET_NITS = 1e-4
#: Exponent of the output code value (BT.1886, ``L = L_W v^2.4`` with ``L_B = 0``).
OUTPUT_GAMMA = 2.4
#: BT.2020 luminance weights (ITU-R BT.2020 Table 4, ``Y = 0.2627 R + 0.6780 G + 0.0593 B``).
BT2020_Y = (0.2627, 0.6780, 0.0593)
#: Frames of at least this many pixels are compiled with ``jit=auto``.
JIT_MIN_PIXELS = 1_000_000
#: ``tonemap`` options that are not curve parameters (see :meth:`TMNetOperator.from_tonemap`).
_TONEMAP_GENERIC = frozenset({"curve", "target", "peak_nits", "white_nits", "black_nits", "source_peak",
                              "source_peak_nits", "intensity", "desat", "dither", "param", "backend"})
JIT_MODES = ("auto", "native", "on", "off")


def log_encode(v: torch.Tensor, anchor_nits: torch.Tensor | float) -> torch.Tensor:
    """``clamp((log2(v) - log2(anchor)) / SPAN_STOPS + 1/2, 0, 1)``: cd/m² ``v`` relative to the
    frame's anchor (its log-average luminance), 24 stops around it. ``anchor_nits`` is a float
    or a tensor broadcastable to ``v`` (``(N, 1, 1, 1)`` for a batch)."""
    anchor = torch.as_tensor(anchor_nits, dtype=v.dtype, device=v.device)
    v = v.clamp(min=1e-8)
    return ((torch.log2(v) - torch.log2(anchor)) * (1.0 / SPAN_STOPS) + 0.5).clamp(0.0, 1.0)


def low_resolution(x: torch.Tensor, size: tuple[int, int] = INPUT_SIZE) -> torch.Tensor:
    """Area average of linear light to ``size``: ``(3, H, W)``/``(N, 3, H, W)`` -> ``(N, 3, 256, 256)``
    float32 cd/m² (NaN -> 0, +inf -> 10000, negatives -> 0).

    ``F.interpolate(mode="area")`` of the sanitised frame; on the CPU, when ``hdrvideo._native``
    is built, the same numbers to the bit in one native pass (~3 ms instead of ~10 ms at
    1080p on one thread)."""
    b = (x.unsqueeze(0) if x.dim() == 3 else x).float()
    native = _native_kernel() if b.device.type == "cpu" and not b.requires_grad else None
    if (native is not None and b.dim() == 4 and b.shape[1] == 3 and b.numel() > 0
            and tuple(b.shape[-2:]) != tuple(size)):
        # One pass per frame in native/tmnet_apply.cpp: sanitising and area average, summed in
        # ATen's order (bit-identical to the torch path below; tests/test_tmnet_native.py).
        out = torch.empty(b.shape[0], 3, *size, dtype=torch.float32)
        for i in range(b.shape[0]):
            native.tmnet_low_resolution(b[i].contiguous().numpy(), out[i].numpy(), torch.get_num_threads())
        return out
    if tuple(b.shape[-2:]) != tuple(size):
        # Fast path, the same numbers: a frame with no NaN and no negative component (amin is
        # NaN if any) whose average is finite (so it had no +inf) needs no sanitising pass at
        # full resolution; the average of the sanitised frame is then the same average.
        if bool(b.amin() >= 0.0):
            low = F.interpolate(b, size=size, mode="area")
            if bool(torch.isfinite(low).all()):
                return low
        b = torch.nan_to_num(b, nan=0.0, posinf=1e4, neginf=0.0).clamp(min=0.0)
        return F.interpolate(b, size=size, mode="area")
    return torch.nan_to_num(b, nan=0.0, posinf=1e4, neginf=0.0).clamp(min=0.0)


def log_average_nits(low: torch.Tensor) -> torch.Tensor:
    """The anchor: ``exp(mean(log(Y + 1e-4)))`` of BT.2020 luminance (Reinhard et al. 2002,
    eq. 1, the ``logavg_nits`` of :func:`hdrvideo.ops.stats.measure_statistics`) of each
    picture of ``(N, 3, h, w)``, as ``(N,)`` cd/m²."""
    y = _luminance(low).clamp(0.0, 1e4)
    return torch.exp(torch.log(y + LOG_OFFSET_NITS).mean(dim=(-3, -2, -1)))


def network_input(
    x: torch.Tensor, anchor_nits: torch.Tensor | None = None, size: tuple[int, int] = INPUT_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's input from working-space frames, and the anchor it is relative to.

    ============  ===========================================  ==========================
    Domain        ``x``: ``(3, H, W)`` or ``(N, 3, H, W)``       linear BT.2020, cd/m²
    Range         ``(N, 3, 256, 256)`` float32                   log-encoded, [0, 1]
                  anchor ``(N,)``                                cd/m²
    ============  ===========================================  ==========================

    :func:`low_resolution`, then :func:`log_encode` of each component relative to
    ``anchor_nits`` (default: each picture's own :func:`log_average_nits`).
    """
    low = low_resolution(x, size)
    anchor = log_average_nits(low) if anchor_nits is None else torch.as_tensor(anchor_nits, dtype=torch.float32)
    anchor = anchor.reshape(-1).expand(low.shape[0]).to(low.device)
    return log_encode(low, anchor.view(-1, 1, 1, 1)), anchor


def _luminance(x: torch.Tensor) -> torch.Tensor:
    r, g, b = BT2020_Y
    return r * x[..., 0:1, :, :] + g * x[..., 1:2, :, :] + b * x[..., 2:3, :, :]


def slice_grid_reference(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Trilinear slicing by ``F.grid_sample`` (the slow reference of :func:`slice_grid`).

    ``grid`` ``(N, D, GH, GW)``, ``guide`` ``(N, 1, H, W)`` in [0, 1] -> ``(N, 1, H, W)``.
    Node ``(i, j, k)`` sits at pixel row ``i (H - 1) / (GH - 1)``, column ``j (W - 1) / (GW - 1)``
    and guide value ``k / (D - 1)`` (``align_corners=True``).
    """
    n, _, h, w = guide.shape
    ys = torch.linspace(-1.0, 1.0, h, dtype=guide.dtype, device=guide.device).view(1, h, 1).expand(n, h, w)
    xs = torch.linspace(-1.0, 1.0, w, dtype=guide.dtype, device=guide.device).view(1, 1, w).expand(n, h, w)
    zs = guide[:, 0] * 2.0 - 1.0
    coords = torch.stack([xs, ys, zs], dim=-1).unsqueeze(1)  # (N, 1, H, W, 3): (x, y, z)
    out = F.grid_sample(grid.unsqueeze(1).to(guide.dtype), coords, mode="bilinear", align_corners=True)
    return out[:, :, 0]


def _axis(n_out: int, n_nodes: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Left node index (int64) and weight of the right node for ``n_out`` samples over
    ``n_nodes`` nodes with ``align_corners=True``."""
    if n_out == 1:
        pos = torch.zeros(1, device=device, dtype=torch.float64)
    else:
        pos = torch.arange(n_out, device=device, dtype=torch.float64) * ((n_nodes - 1) / (n_out - 1))
    i0 = pos.floor().clamp(max=n_nodes - 2)
    return i0.long(), pos - i0


def slice_grid(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Trilinear slicing of a curve grid at every pixel, with gathers (the fast path).

    ============  ============================================  =====================
    ``grid``      ``(N, D, GH, GW)``, D >= 2, GH >= 2, GW >= 2   code value ``v``
    ``guide``     ``(N, 1, H, W)``                               [0, 1] (log-encoded)
    Range         ``(N, 1, H, W)``                               code value ``v``
    ============  ============================================  =====================

    The grid is first interpolated along x to the full width (``(N, GH, D, W)``: small),
    then each pixel gathers four values (two rows x two intensity bins) and blends them:
    the same numbers as :func:`slice_grid_reference` (within float32 rounding) without
    building a full-resolution grid. Differentiable in ``grid``.
    """
    n, d, gh, gw = grid.shape
    _, _, h, w = guide.shape
    dev = guide.device
    grid = grid.to(guide.dtype)
    c0, cw = _axis(w, gw, dev)
    cw = cw.to(guide.dtype)
    rows = grid[..., c0] + cw * (grid[..., c0 + 1] - grid[..., c0])  # (N, D, GH, W)
    table = rows.permute(0, 2, 1, 3).reshape(n, gh * d * w)  # (N, GH, D, W) flattened
    r0, rw = _axis(h, gh, dev)
    z = guide[:, 0].clamp(0.0, 1.0) * (d - 1)
    k0 = z.floor().clamp(max=d - 2)
    kw = z - k0
    index = (r0.view(1, h, 1) * d + k0.long()) * w + torch.arange(w, device=dev).view(1, 1, w)
    flat = index.reshape(n, -1)
    v00 = torch.gather(table, 1, flat).view(n, h, w)
    v01 = torch.gather(table, 1, flat + w).view(n, h, w)
    v10 = torch.gather(table, 1, flat + d * w).view(n, h, w)
    v11 = torch.gather(table, 1, flat + d * w + w).view(n, h, w)
    top = v00 + kw * (v01 - v00)
    bottom = v10 + kw * (v11 - v10)
    rw = rw.view(1, h, 1).to(guide.dtype)
    return (top + rw * (bottom - top)).unsqueeze(1)


def _carry_colour(x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, peak_nits: float, desat: float) -> torch.Tensor:
    """``C' = (C / Y)^s L'``, ``L' = peak v^2.4``, then toward grey into [0, peak]."""
    tiny = 1e-12
    l_out = peak_nits * v.clamp(0.0, 1.0).pow(OUTPUT_GAMMA)
    ys = y.clamp(min=tiny)
    if desat == 1.0:
        # C' = r C with r = L' / Y: the luminance of C' is L' itself, so the move toward grey
        # (fit_toward_grey of hdrvideo.ops.gamut with lo = 0, hi = peak) is
        # grey + t (r C - grey) = (t r) C + (1 - t) L', one pass over the three components.
        ratio = l_out / ys
        top = x.amax(dim=-3, keepdim=True) * ratio
        t = ((peak_nits - l_out) / (top - l_out).clamp(min=tiny)).clamp(0.0, 1.0)
        t = torch.where(top > peak_nits, t, torch.ones_like(t))
        out = torch.addcmul(l_out * (1.0 - t), x, t * ratio)
        out = torch.where(y > tiny, out, l_out)
        return out.clamp(0.0, peak_nits)
    out = (x / ys).clamp(min=0.0).pow(desat) * l_out
    out = torch.where(y > tiny, out, l_out.expand_as(x))
    # toward the grey of the (new) luminance until the largest component is the peak
    # (fit_toward_grey of hdrvideo.ops.gamut with lo = 0, hi = peak; inlined to be fusable).
    grey = _luminance(out).clamp(0.0, peak_nits)
    top = out.amax(dim=-3, keepdim=True)
    t = torch.where(top > peak_nits, (peak_nits - grey) / (top - grey).clamp(min=tiny), torch.ones_like(top))
    out = grey + t.clamp(0.0, 1.0) * (out - grey)
    return out.clamp(0.0, peak_nits)


def apply_grid(
    x: torch.Tensor, grid: torch.Tensor, anchor_nits: torch.Tensor, *, peak_nits: float = 100.0, desat: float = 1.0
) -> torch.Tensor:
    """Tone-map full-resolution frames with a predicted curve grid (steps 4 of the module).

    ============  ============================================  ======================
    ``x``         ``(N, 3, H, W)`` linear BT.2020                cd/m²
    ``grid``      ``(N, D, GH, GW)``                             code value in [0, 1]
    ``anchor``    ``(N,)``: the guide's anchor (log-average)     cd/m²
    Range         ``(N, 3, H, W)``, every component in [0, peak]  cd/m²
    ============  ============================================  ======================

    Differentiable in ``grid`` (training uses it).
    """
    x = torch.nan_to_num(x, nan=0.0, posinf=1e4, neginf=0.0).clamp(min=0.0)
    y = _luminance(x)
    v = slice_grid(grid, log_encode(y, anchor_nits.reshape(-1, 1, 1, 1).to(y.dtype)))
    return _carry_colour(x, y, v, float(peak_nits), float(desat))


def _native_kernel() -> ModuleType | None:
    """``hdrvideo._native`` when it is built with ``tmnet_apply`` and ``tmnet_low_resolution``
    (``native/tmnet_apply.cpp``), else ``None`` (the torch paths run)."""
    return native_module("tmnet_apply", "tmnet_low_resolution")


def native_available() -> bool:
    """Whether the native full-resolution kernel (``native/tmnet_apply.cpp``) is built."""
    return _native_kernel() is not None


@functools.lru_cache(maxsize=8)
def _native_axes(h: int, w: int, gh: int, gw: int) -> tuple[Any, Any, Any, Any]:
    """Column and row nodes/weights of :func:`slice_grid` (``_axis``) as the kernel's arrays:
    int32 left nodes, float32 weights (cast from float64 as :func:`slice_grid` casts them)."""
    cpu = torch.device("cpu")
    c0, cw = _axis(w, gw, cpu)
    r0, rw = _axis(h, gh, cpu)
    arrays = tuple(t.numpy() for t in (c0.to(torch.int32), cw.to(torch.float32), r0.to(torch.int32),
                                       rw.to(torch.float32)))
    for a in arrays:
        a.setflags(write=False)  # cached: shared by every call
    return arrays  # type: ignore[return-value]


def apply_grid_native(
    x: torch.Tensor, grid: torch.Tensor, anchor_nits: torch.Tensor | float, *, peak_nits: float = 100.0,
    threads: int | None = None, simd: bool = True,
) -> torch.Tensor:
    """:func:`apply_grid` with ``desat = 1`` in the native kernel (one pass per row, AVX2 where
    the CPU has it and ``simd``, rows across ``threads`` OpenMP threads, default
    ``torch.get_num_threads()``; every thread count gives the same pictures to the bit, and the
    scalar code the same operations as the AVX2 code).

    ============  ============================================  ======================
    ``x``         ``(3, H, W)`` or ``(1, 3, H, W)`` float32 CPU  linear BT.2020, cd/m²
    ``grid``      ``(D, GH, GW)`` or ``(1, D, GH, GW)``          code value in [0, 1]
    ``anchor``    the guide's anchor, one value                  cd/m²
    Range         ``x``'s shape, every component in [0, peak]    cd/m²
    ============  ============================================  ======================

    The same float32 operations in the same order as :func:`apply_grid`, except ``log2`` and
    ``pow`` (polynomials in the kernel, vectorised library calls in torch): outputs agree
    within ``1e-4 |out| + 1e-6 peak`` (``tests/test_tmnet_native.py``), well under 0.01 of an
    8-bit code. NaN/inf components are sanitised as :func:`apply_grid` does. Not
    differentiable (inference only). Raises :class:`~hdrvideo.errors.UnsupportedError` if the
    kernel is not built, :class:`~hdrvideo.errors.InvalidInputError` for other shapes/dtypes.
    """
    native = _native_kernel()
    if native is None:
        raise UnsupportedError("tmnet: the native kernel is not built (pip install . builds hdrvideo._native)")
    frame = x[0] if x.dim() == 4 and x.shape[0] == 1 else x
    g = grid[0] if grid.dim() == 4 and grid.shape[0] == 1 else grid
    if frame.dim() != 3 or frame.shape[0] != 3 or frame.dtype != torch.float32 or frame.device.type != "cpu":
        raise InvalidInputError(f"apply_grid_native expects a float32 CPU (3, H, W) frame, got "
                                f"{tuple(x.shape)} {x.dtype} on {x.device}")
    if g.dim() != 3 or min(g.shape) < 2:
        raise InvalidInputError(f"apply_grid_native expects a (D, GH, GW) grid with every size >= 2, got "
                                f"{tuple(grid.shape)}")
    _, h, w = frame.shape
    if min(h, w) < 1:
        raise InvalidInputError(f"apply_grid_native: empty frame {tuple(frame.shape)}")
    frame = frame.detach().contiguous()
    c0, cw, r0, rw = _native_axes(h, w, g.shape[1], g.shape[2])
    log2_anchor = float(torch.log2(torch.as_tensor(anchor_nits, dtype=torch.float32).reshape(-1)[0]))
    out = torch.empty_like(frame)
    native.tmnet_apply(frame.numpy(), g.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy(),
                       c0, cw, r0, rw, out.numpy(), log2_anchor, float(peak_nits),
                       int(threads if threads is not None else torch.get_num_threads()), bool(simd))
    return out.reshape(x.shape)


_COMPILED: dict[tuple[Any, ...], Callable[..., torch.Tensor]] = {}


def _compiled_apply() -> Callable[..., torch.Tensor]:
    key = ("apply_grid",)
    fn = _COMPILED.get(key)
    if fn is None:
        fn = torch.compile(apply_grid, dynamic=False)
        _COMPILED[key] = fn
    return fn


@register
class TMNetOperator(DisplayTarget, Operator):
    """``tmnet``: the bilateral-grid tone-mapping network (see the module); also reached as
    ``tonemap=curve=net``.

    Space: working space in and out (BT.2020 linear cd/m², every component in [0, peak]);
    SDR target only (the network was trained for a 100 cd/m² display; ``peak_nits`` rescales
    its output). Temporal: the smoothed grid and the scene-cut tracker are the state.
    Deterministic: the same frames in the same order give the same pictures.
    """

    name: ClassVar[str] = "tmnet"
    description: ClassVar[str] = "real-time tone-mapping network (bilateral curve grid, HDRNet-style), SDR"
    temporal: ClassVar[bool] = True
    options: ClassVar[tuple[Option, ...]] = (
        Option("backend", str, "auto", "network engine: auto | torch | onnxruntime | tensorrt", choices=BACKEND_CHOICES),
        *TARGET_OPTIONS,
        Option("desat", float, 1.0, "saturation exponent s of C' = (C/Y)^s L' (Mantiuk 2009), in (0, 1]",
               minimum=0.0, maximum=1.0),
        Option("smoothing", float, 20.0, "temporal IIR period of the grid, frames (0 = off)",
               minimum=0.0, maximum=10000.0),
        Option("scene_low", float, 1.0, "scene-cut window start, 1 % PQ units (libplacebo)", minimum=0.0),
        Option("scene_high", float, 3.0, "scene-cut window end (hard reset), 1 % PQ units", minimum=0.0),
        Option("jit", str, "auto", "full-resolution step: auto (native kernel on CPU float32 with desat=1, "
               "else torch.compile for frames >= 1 Mpx) | native | on (torch.compile) | off (eager torch)",
               choices=JIT_MODES),
        DITHER_OPTION,
    )

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        if self.target != "sdr":
            raise InvalidInputError(f"{self.name}: the network maps to SDR only (target=sdr), got target={self.target}")
        if not self.desat > 0.0:
            raise InvalidInputError(f"{self.name}: desat must be in (0, 1], got {self.desat}")
        self.resolve_target_levels()
        self.coefficient = iir_coefficient(self.smoothing)
        self.tracker = TemporalStatistics(
            period_frames=self.smoothing, scene_low=self.scene_low, scene_high=self.scene_high,
            minimum_peak_nits=0.0, grid_step=1,
        )
        self._engine: Any = None
        self._grid: torch.Tensor | None = None
        self._jit_failed = False
        self._native_warned = False
        #: Scene-cut reset weight of the last frame (1 = the grid was reset), for inspection.
        self.last_reset_weight: float | None = None

    @classmethod
    def from_tonemap(cls, op: Any) -> TMNetOperator:
        """The operator behind ``tonemap=curve=net``: ``op``'s target levels, ``desat``,
        ``dither`` and ``backend`` (default auto); the other options keep their defaults
        (smoothing 20 frames).

        The network adapts to each frame itself, so ``source_peak``/``source_peak_nits``
        and ``black_nits`` are not used; curve parameters and a non-default ``intensity`` are
        an error.
        """
        given = [name for name in ("param", *(o.name for o in op.options if o.name not in _TONEMAP_GENERIC))
                 if getattr(op, name, None) is not None]
        if given:
            raise InvalidInputError(f"tonemap: curve net takes no curve parameter (got {', '.join(given)})")
        default_intensity = next(o.default for o in op.options if o.name == "intensity")
        if op.intensity != default_intensity:
            # The network maps luminance and carries colour by ratio itself; a maxrgb/luminance
            # intensity would also make the chain look fusable to hdrvideo.ops.fused.
            raise InvalidInputError(f"tonemap: curve net chooses its own intensity; remove intensity={op.intensity}")
        return cls(target=op.target, peak_nits=op.peak_nits, white_nits=op.white_nits,
                   desat=op.desat, dither=op.dither, backend=op.backend or "auto")

    # -- network -----------------------------------------------------------------------------
    @property
    def engine(self) -> Any:
        """The engine running the network (built on first use)."""
        if self._engine is None:
            from hdrvideo.engines import load_engine
            import hdrvideo.nn.tmnet  # noqa: F401  (registers "tmnet")

            self._engine = load_engine("tmnet", backend=self.backend)
        return self._engine

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame ``(1, 3, H, W)``: update the temporal state and return the smoothed grid
        ``(1, D, GH, GW)`` and the (smoothed) anchor ``(1,)`` cd/m²."""
        low = low_resolution(x)
        stats = measure_statistics(low[0].cpu(), grid_step=1, percentile=100.0)
        smoothed = self.tracker.update(stats)
        # The grid follows the statistics: the same IIR step, reset by the same weight.
        w = 1.0 if self._grid is None else float(self.tracker.last_reset_weight)
        anchor = torch.tensor([smoothed.logavg_nits], dtype=torch.float32)
        features, _ = network_input(low, anchor)
        grid = self.engine(features.to(x.device) if x.device.type != "cpu" else features)[0]
        grid = grid.to(device=x.device, dtype=torch.float32)
        if w >= 1.0 or self._grid is None:
            new = grid.clone()
        else:
            new = self._grid.to(x.device) + self.coefficient * (grid - self._grid.to(x.device))
            if w > 0.0:
                new = new * (1.0 - w) + grid * w
        self._grid = new
        self.last_reset_weight = w
        return new.unsqueeze(0), anchor.to(x.device)

    # -- processing ----------------------------------------------------------------------------
    def _native_applies(self, x: torch.Tensor) -> bool:
        """Whether this frame's full-resolution step runs in the native kernel."""
        if self.jit not in ("auto", "native"):
            return False
        fits = x.device.type == "cpu" and x.dtype == torch.float32 and float(self.desat) == 1.0
        if fits and native_available():
            return True
        if self.jit == "native" and not self._native_warned:
            self._native_warned = True
            why = "it is not built" if fits else "it needs a float32 CPU frame and desat=1"
            warnings.warn(f"tmnet: jit=native: the native kernel cannot run ({why}); using jit=auto's torch path",
                          HDRVideoWarning, stacklevel=3)
        return False

    def _apply(self, x: torch.Tensor, grid: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        if self._native_applies(x):
            return apply_grid_native(x, grid, anchor, peak_nits=float(self.peak_nits))
        use_jit = self.jit == "on" or (self.jit in ("auto", "native") and x.shape[-1] * x.shape[-2] >= JIT_MIN_PIXELS)
        if use_jit and not self._jit_failed:
            try:
                return _compiled_apply()(x, grid, anchor, peak_nits=float(self.peak_nits), desat=float(self.desat))
            except Exception as error:  # no compiler, unsupported platform: run eagerly
                self._jit_failed = True
                warnings.warn(f"tmnet: torch.compile failed ({type(error).__name__}); running eagerly",
                              HDRVideoWarning, stacklevel=2)
        return apply_grid(x, grid, anchor, peak_nits=float(self.peak_nits), desat=float(self.desat))

    def process(self, x: torch.Tensor, frame: Frame | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidInputError(f"{self.name} expects (3, H, W) or (N, 3, H, W), got {shape}")
        if min(x.shape[-2:]) < 2:
            raise InvalidInputError(f"{self.name}: frames must be at least 2x2, got {tuple(x.shape[-2:])}")
        batch = x.unsqueeze(0) if x.dim() == 3 else x
        dtype = batch.dtype
        work = batch if dtype == torch.float32 else batch.float()
        outputs: list[torch.Tensor] = []
        for i in range(work.shape[0]):
            # Frame by frame, network included: a batched convolution may round differently
            # from a single-frame one, and a frame's picture must not depend on its batch.
            grid, anchor = self.predict(work[i : i + 1])
            outputs.append(self._apply(work[i : i + 1], grid, anchor))
        out = (outputs[0] if len(outputs) == 1 else torch.cat(outputs)).to(dtype)
        return out[0] if x.dim() == 3 else out

    # -- temporal state --------------------------------------------------------------------------
    def reset(self) -> None:
        self.tracker.reset()
        self._grid = None
        self.last_reset_weight = None

    def state_dict(self) -> dict[str, Any]:
        """JSON-friendly: the smoothed grid (nested lists of float32 values, exact) and the
        tracker's state."""
        return {
            "grid": None if self._grid is None else self._grid.detach().cpu().tolist(),
            "tracker": self.tracker.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or set(state) != {"grid", "tracker"}:
            raise InvalidInputError(f"{self.name}: state must have keys grid, tracker; got {sorted(state) if isinstance(state, dict) else state!r}")
        self.tracker.load_state_dict(state["tracker"])
        if state["grid"] is None:
            self._grid = None
        else:
            grid = torch.tensor(state["grid"], dtype=torch.float32)
            if grid.shape != (GRID_BINS, *GRID_SIZE):
                raise InvalidInputError(f"{self.name}: state grid has shape {tuple(grid.shape)}, expected "
                                        f"{(GRID_BINS, *GRID_SIZE)}")
            self._grid = grid
