"""The native full-resolution step of ``tonemap=curve=net`` (``native/tmnet_apply.cpp``,
:func:`hdrvideo.ops.tmnet.apply_grid_native`) against the torch reference :func:`apply_grid`.

Tolerance (float32; the kernel evaluates log2 and pow with its own polynomials, torch with its
vectorised library): ``|native - apply_grid| <= 1e-4 |apply_grid| + 1e-6 peak`` cd/m² per
component, and under 0.01 of an 8-bit BT.1886 code value after display encoding.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from hdrvideo.errors import HDRVideoWarning, InvalidInputError, UnsupportedError
from hdrvideo.ops import tmnet
from hdrvideo.ops.tmnet import (
    GRID_BINS,
    GRID_SIZE,
    TMNetOperator,
    apply_grid,
    apply_grid_native,
    log_average_nits,
    low_resolution,
    native_available,
)

needs_native = pytest.mark.skipif(not native_available(), reason="hdrvideo._native lacks tmnet_apply (not built)")


def _grid(seed: int, shape: tuple[int, int, int] = (GRID_BINS, *GRID_SIZE)) -> torch.Tensor:
    """A random grid, monotone in the intensity axis like the network's, ``(1, D, GH, GW)``."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, *shape, generator=g).cumsum(dim=1) / shape[0]


def _frame(seed: int, h: int, w: int) -> torch.Tensor:
    """Log-uniform cd/m² over 2^-14 .. 2^14 with random hues, ``(3, H, W)`` float32."""
    g = torch.Generator().manual_seed(seed)
    return (2.0 ** (torch.rand(3, h, w, generator=g) * 28.0 - 14.0)).float()


def _code(x: torch.Tensor, peak: float) -> torch.Tensor:
    return 255.0 * (x.double() / peak).clamp(0.0, 1.0) ** (1.0 / 2.4)


def _check(x: torch.Tensor, grid: torch.Tensor, anchor: float, peak: float = 100.0, **kw) -> torch.Tensor:
    a = torch.tensor([anchor])
    ref = apply_grid(x[None], grid, a, peak_nits=peak)[0]
    out = apply_grid_native(x, grid, a, peak_nits=peak, **kw)
    assert out.shape == x.shape and out.dtype == torch.float32
    diff = (out.double() - ref.double()).abs()
    bound = 1e-4 * ref.double().abs() + 1e-6 * peak
    worst = float((diff - bound).max())
    assert worst <= 0.0, f"max |native - apply_grid| over the bound by {worst:.3g} (max diff {float(diff.max()):.3g})"
    assert float((_code(out, peak) - _code(ref, peak)).abs().max()) < 0.01
    assert float(out.min()) >= 0.0 and float(out.max()) <= peak
    return out


@needs_native
@pytest.mark.parametrize("seed, h, w, anchor, peak", [(0, 37, 53, 18.0, 100.0), (1, 64, 96, 0.5, 203.0),
                                                       (2, 21, 200, 900.0, 100.0)])
def test_random_frames_match_apply_grid(seed, h, w, anchor, peak):
    _check(_frame(seed, h, w), _grid(seed), anchor, peak)


@needs_native
@pytest.mark.parametrize("w", [1, 2, 7, 8, 9, 15, 16, 17, 31])
@pytest.mark.parametrize("h", [1, 2, 3])
def test_odd_sizes_and_simd_tails(h, w):
    # widths below, at and across the 8-pixel AVX2 step (the rest runs in the scalar tail);
    # h or w of 1 puts every pixel on a grid node (align_corners=True, weight 0).
    x, grid = _frame(h * 100 + w, h, w), _grid(w, (5, 3, 2))
    out = _check(x, grid, 10.0)
    assert torch.equal(_check(x, grid, 10.0, simd=False), out)


@needs_native
def test_scalar_and_avx2_and_thread_counts_agree():
    x, grid = _frame(3, 50, 77), _grid(3)
    a = torch.tensor([30.0])
    one = apply_grid_native(x, grid, a, threads=1)
    assert torch.equal(one, apply_grid_native(x, grid, a, threads=2))  # rows are independent
    # the scalar code evaluates the same float32 operations as the AVX2 code
    assert torch.equal(apply_grid_native(x, grid, a, threads=1, simd=False), one)


@needs_native
def test_edge_values_as_apply_grid():
    # zeros, NaN, +-inf, negatives, tiny and huge values, values above the peak, pure primaries
    values = torch.tensor([0.0, float("nan"), float("inf"), -float("inf"), -5.0, 1e-30, 1e-9, 1e-3, 0.5,
                           99.9, 100.0, 150.0, 1e4, 1e6, 3e38, 3.4028e38])
    n = values.numel()
    r = values.view(n, 1, 1).expand(n, n, n).reshape(-1)
    g = values.view(1, n, 1).expand(n, n, n).reshape(-1)
    b = values.view(1, 1, n).expand(n, n, n).reshape(-1)
    x = torch.stack([r, g, b]).reshape(3, n * n, n).contiguous()
    out = _check(x, _grid(5), 20.0)
    assert torch.isfinite(out).all()
    zeros = torch.zeros(3, 4, 19)
    _check(zeros, _grid(6), 1e-4)
    # a grid with code values outside [0, 1] is clamped, as apply_grid clamps v
    _check(_frame(7, 9, 33), _grid(7) * 3.0 - 1.0, 5.0)


@needs_native
@pytest.mark.filterwarnings("ignore:.*NaN or infinity")
def test_real_exr_crops(shared_data):
    from hdrvideo.io.images import read_image

    for name, crop in (("ScanLines_Desk.exr", (slice(300, 420), slice(200, 391))),
                       ("TestImages_BrightRingsNanInf.exr", (slice(None), slice(None)))):
        x = read_image(shared_data / "exr" / name).data[:, crop[0], crop[1]].contiguous().float()
        anchor = float(log_average_nits(low_resolution(x))[0])
        _check(x, _grid(11), anchor)
        _check(x, _grid(12), anchor, 100.0)


@needs_native
def test_operator_native_matches_eager_with_network(shared_data):
    from hdrvideo.io.images import read_image

    x = read_image(shared_data / "exr" / "ScanLines_Desk.exr").data[:, :256, :301].contiguous().float()
    native = TMNetOperator(backend="torch", jit="native")
    eager = TMNetOperator(backend="torch", jit="off")
    for _ in range(2):  # the second frame runs on the smoothed grid
        a, b = native(x), eager(x)
        diff = (a.double() - b.double()).abs()
        assert float((diff - 1e-4 * b.double().abs() - 1e-4).max()) <= 0.0
        assert float((_code(a, 100.0) - _code(b, 100.0)).abs().max()) < 0.01


@needs_native
def test_dispatch(monkeypatch):
    calls = []
    real = tmnet.apply_grid_native

    def spy(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(tmnet, "apply_grid_native", spy)
    x = _frame(8, 16, 24).clamp(max=500.0)
    TMNetOperator(backend="torch")(x)  # jit=auto: native for a CPU float32 frame, desat 1
    assert len(calls) == 1
    TMNetOperator(backend="torch", jit="off")(x)  # off: pure torch
    TMNetOperator(backend="torch", desat=0.8)(x)  # desat != 1: torch
    TMNetOperator(backend="torch")(x.double())  # float64 frames are computed in float32 (native)
    assert len(calls) == 2
    with pytest.warns(HDRVideoWarning, match="jit=native"):
        TMNetOperator(backend="torch", jit="native", desat=0.8)(x)
    assert len(calls) == 2


@needs_native
def test_rejects_bad_input():
    grid = _grid(9)
    with pytest.raises(InvalidInputError):
        apply_grid_native(torch.zeros(3, 4, 4, dtype=torch.float64), grid, 1.0)
    with pytest.raises(InvalidInputError):
        apply_grid_native(torch.zeros(2, 3, 4, 4), grid, 1.0)
    with pytest.raises(InvalidInputError):
        apply_grid_native(torch.zeros(3, 4, 4), torch.zeros(1, 1, 4, 4), 1.0)


def test_falls_back_without_kernel(monkeypatch):
    monkeypatch.setattr(tmnet, "native_available", lambda: False)
    monkeypatch.setattr(tmnet, "_native_kernel", lambda: None)
    x = _frame(10, 12, 20).clamp(max=500.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = TMNetOperator(backend="torch")(x)  # auto: quietly the torch path
    assert torch.equal(auto, TMNetOperator(backend="torch", jit="off")(x))
    with pytest.raises(UnsupportedError):
        apply_grid_native(x, _grid(10), 1.0)


def _torch_low_resolution(monkeypatch, x, size=(256, 256)):
    with monkeypatch.context() as m:
        m.setattr(tmnet, "_native_kernel", lambda: None)
        return low_resolution(x, size)


@needs_native
@pytest.mark.parametrize("h, w, size", [(270, 480, (256, 256)), (37, 53, (256, 256)), (300, 301, (256, 256)),
                                        (64, 1001, (16, 16)), (5, 7, (3, 2))])
def test_low_resolution_native_is_bit_identical(monkeypatch, h, w, size):
    x = _frame(h + w, h, w)
    x[0, 1, 2], x[1, 3 % h, 4], x[2, -1, -1], x[0, -1, 0] = float("nan"), float("inf"), -float("inf"), -3.0
    native = low_resolution(x, size)
    assert torch.equal(native, _torch_low_resolution(monkeypatch, x, size))
    batch = torch.stack([x, x.flip(-1)])
    assert torch.equal(low_resolution(batch, size), _torch_low_resolution(monkeypatch, batch, size))
    # the scalar code (no AVX2) gives the same numbers
    out = torch.empty(3, *size)
    tmnet._native_kernel().tmnet_low_resolution(x.numpy(), out.numpy(), 1, False)
    assert torch.equal(out, native[0])


def test_low_resolution_clean_frame_fast_path(monkeypatch):
    # the torch path skips the full-resolution sanitising pass for a clean frame: same numbers
    x = _frame(20, 90, 130)
    expected = torch.nn.functional.interpolate(
        torch.nan_to_num(x[None], nan=0.0, posinf=1e4, neginf=0.0).clamp(min=0.0), size=(16, 16), mode="area")
    assert torch.equal(_torch_low_resolution(monkeypatch, x, (16, 16)), expected)
    if native_available():
        assert torch.equal(low_resolution(x, (16, 16)), expected)
