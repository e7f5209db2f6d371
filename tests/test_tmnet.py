"""TMNet (bilateral curve grid) and its operator: shapes, slicing against slow references,
laws, ``tonemap=curve=net`` through the API, determinism, temporal state, shipped weights,
torch vs ONNX Runtime."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest
import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.nn.tmnet import RECIPE_VERSION, WEIGHTS_PATH, TMNet, build_tmnet
from hdrvideo.ops.base import parse_chain
from hdrvideo.ops.tmnet import (
    GRID_BINS,
    GRID_SIZE,
    INPUT_SIZE,
    TMNetOperator,
    apply_grid,
    log_encode,
    network_input,
    slice_grid,
    slice_grid_reference,
)
from hdrvideo.quality.tmqi import sdr_display_encode

CARD = WEIGHTS_PATH.with_suffix(".md")


def _frames(n: int = 6, h: int = 36, w: int = 64, cut_at: int | None = None) -> torch.Tensor:
    """A small HDR pan (a bright blob moving over a gradient), optionally with a hard cut."""
    ys = torch.linspace(0, 1, h).view(h, 1)
    out = []
    for i in range(n):
        xs = torch.linspace(0, 1, w).view(1, w) + 0.02 * i
        lum = 5.0 + 300.0 * xs.clamp(0, 1) * ys + 3000.0 * torch.exp(-((xs - 0.6) ** 2 + (ys - 0.3) ** 2) / 0.01)
        if cut_at is not None and i >= cut_at:
            lum = lum * 0.01 + 0.05
        rgb = torch.stack([lum * 1.1, lum, lum * 0.8]).clamp(max=9000)
        out.append(rgb)
    return torch.stack(out)


# --------------------------------------------------------------------------- network
def test_network_shapes_dtypes_and_monotone_grid():
    net = TMNet().eval()
    x = torch.rand(2, 3, *INPUT_SIZE)
    with torch.no_grad():
        grid = net(x)
    assert grid.shape == (2, GRID_BINS, *GRID_SIZE) and grid.dtype == torch.float32
    assert (grid >= 0).all()
    assert (grid.diff(dim=1) >= 0).all()  # monotone along the intensity axis


def test_untrained_network_is_reinhard_2002():
    net = TMNet().eval()
    with torch.no_grad():
        grid = net(torch.rand(1, 3, *INPUT_SIZE))
    # bin k holds Y / Y_avg = 2^((k / 23 - 1/2) 24); Reinhard: L = 0.18 Y / Y_avg, L / (1 + L)
    rel = torch.exp2((torch.arange(GRID_BINS, dtype=torch.float64) / (GRID_BINS - 1) - 0.5) * 24)
    L = 0.18 * rel
    expected = (L / (1 + L)) ** (1 / 2.4)
    torch.testing.assert_close(grid[0].mean(dim=(1, 2)).double(), expected, atol=0.01, rtol=0)


def test_network_input_is_log_encoded_relative_to_the_log_average():
    x = torch.full((3, 512, 512), 2.0**4)
    x[:, :256] = 2.0**6
    f, anchor = network_input(x)
    assert f.shape == (1, 3, *INPUT_SIZE) and anchor.shape == (1,)
    # log-average of luminance (R = G = B: Y = value) is 2^5 (offset 1e-4 cd/m² aside)
    assert float(anchor) == pytest.approx(32.0, rel=1e-4)
    torch.testing.assert_close(f[0, :, 200], torch.full_like(f[0, :, 200], 0.5 - 1 / 24), atol=1e-5, rtol=0)
    torch.testing.assert_close(f[0, :, 10], torch.full_like(f[0, :, 10], 0.5 + 1 / 24), atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- slicing
def _slow_slice(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Per-pixel trilinear interpolation written out with Python loops."""
    n, d, gh, gw = grid.shape
    _, _, h, w = guide.shape
    out = torch.zeros(n, 1, h, w, dtype=torch.float64)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y = i * (gh - 1) / (h - 1)
                x = j * (gw - 1) / (w - 1)
                z = float(guide[b, 0, i, j]) * (d - 1)
                total = 0.0
                for yy in range(gh):
                    for xx in range(gw):
                        for zz in range(d):
                            wgt = max(0.0, 1 - abs(y - yy)) * max(0.0, 1 - abs(x - xx)) * max(0.0, 1 - abs(z - zz))
                            total += wgt * float(grid[b, zz, yy, xx])
                out[b, 0, i, j] = total
    return out


def test_slice_grid_equals_slow_reference():
    g = torch.Generator().manual_seed(0)
    grid = torch.rand(2, 5, 3, 4, generator=g, dtype=torch.float64)
    guide = torch.rand(2, 1, 7, 9, generator=g, dtype=torch.float64)
    guide[0, 0, 0, 0], guide[0, 0, 1, 1] = 0.0, 1.0  # both ends of the intensity axis
    fast = slice_grid(grid, guide)
    torch.testing.assert_close(fast, _slow_slice(grid, guide), atol=1e-12, rtol=0)
    torch.testing.assert_close(fast, slice_grid_reference(grid, guide), atol=1e-12, rtol=0)


def test_slice_grid_gradient_reaches_the_grid():
    grid = torch.rand(1, GRID_BINS, *GRID_SIZE, requires_grad=True)
    guide = torch.rand(1, 1, 20, 30)
    slice_grid(grid, guide).sum().backward()
    assert torch.isfinite(grid.grad).all() and grid.grad.sum() > 0


# --------------------------------------------------------------------------- laws
def test_apply_grid_output_within_zero_and_peak():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 40, 50, generator=g) ** 4 * 5000
    x[0, 0, :5] = 0.0  # black and saturated colours
    x[1, 1, :5] = 9000.0
    grid = torch.rand(2, GRID_BINS, *GRID_SIZE, generator=g).cumsum(1) / 6  # reaches above 1
    for peak in (100.0, 250.0):
        out = apply_grid(x, grid, torch.tensor([20.0, 300.0]), peak_nits=peak, desat=0.8)
        assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= peak * (1 + 1e-6)


def test_monotone_in_input_intensity_for_a_constant_monotone_grid():
    curve = torch.linspace(0.0, 1.0, GRID_BINS) ** 0.8  # monotone
    grid = curve.view(1, GRID_BINS, 1, 1).expand(1, GRID_BINS, *GRID_SIZE).contiguous()
    lum = torch.logspace(-4, 4, 400).view(1, 1, 20, 20)  # grey ramp, cd/m²
    anchor = torch.tensor([1.0])
    out = apply_grid(lum.expand(1, 3, 20, 20), grid, anchor, peak_nits=100.0)
    y = out[0, 1].reshape(-1)
    # monotone up to float32 rounding (one ulp of the value: 7.6e-6 at the 100 cd/m² peak)
    assert (y.diff() >= -torch.finfo(torch.float32).eps * y[1:]).all()
    # and the grey is mapped exactly through the curve: L' = peak * v(g)^2.4
    v = torch.from_numpy(__import__("numpy").interp(log_encode(lum, 1.0).reshape(-1).numpy(),
                                                     torch.linspace(0, 1, GRID_BINS).numpy(), curve.numpy()))
    torch.testing.assert_close(y.double(), 100.0 * v.clamp(0, 1) ** 2.4, atol=2e-3, rtol=1e-4)


# --------------------------------------------------------------------------- shipped weights
def test_shipped_weights_load_and_hash_as_the_card_says():
    from hdrvideo.nn.training import load_weights, weights_sha256

    assert WEIGHTS_PATH.is_file() and CARD.is_file()
    card = CARD.read_text(encoding="utf-8")
    m = re.search(r"sha256[^0-9a-f]*([0-9a-f]{64})", card)
    assert m, "the model card states the weights' SHA-256"
    assert weights_sha256(WEIGHTS_PATH) == m.group(1)
    meta = load_weights(TMNet(), WEIGHTS_PATH)
    assert meta["recipe"] == RECIPE_VERSION
    assert f"steps: {meta['steps']}" in card
    assert WEIGHTS_PATH.stat().st_size < 1_000_000
    net = build_tmnet()
    assert not net.training


# --------------------------------------------------------------------------- operator
def _op(**kw) -> TMNetOperator:
    kw.setdefault("backend", "torch")
    kw.setdefault("jit", "off")
    return TMNetOperator(**kw)


def test_operator_is_deterministic_and_within_peak():
    frames = _frames()
    a = _op()(frames)
    b = _op()(frames)
    assert torch.equal(a, b)
    assert a.shape == frames.shape and a.min() >= 0 and a.max() <= 100.0 + 1e-4
    c = _op()
    one_by_one = torch.stack([c(f) for f in frames])
    assert torch.equal(one_by_one, a)  # a batch goes through the state frame by frame


def test_state_round_trip_gives_identical_continuation():
    frames = _frames(8)
    full = _op()(frames)
    first = _op()
    first(frames[:3])
    state = json.loads(json.dumps(first.state_dict()))
    second = _op()
    second.load_state_dict(state)
    torch.testing.assert_close(second(frames[3:]), full[3:], atol=0, rtol=0)
    second.reset()
    assert second.state_dict()["grid"] is None


def test_scene_cut_resets_the_smoothed_grid():
    frames = _frames(8, cut_at=5)
    op = _op()
    weights = []
    for f in frames:
        op(f)
        weights.append(op.last_reset_weight)
    assert weights[0] == 1.0 and weights[5] == 1.0
    assert all(w < 1.0 for w in weights[1:5])
    # smoothing=0: every frame's own grid
    still = _op(smoothing=0.0)
    still(frames[:2])
    assert still.last_reset_weight == 1.0


def test_tonemap_curve_net_delegates_and_rejects_curve_parameters():
    op = parse_chain("tonemap=curve=net")[0]
    assert op.net is not None and op.output_target().kind == "sdr" and op.output_target().peak_nits == 100.0
    with pytest.raises(InvalidInputError):
        parse_chain("tonemap=curve=net:contrast=0.5")
    with pytest.raises(InvalidInputError):  # would also look fusable (hdrvideo.ops.fused) otherwise
        parse_chain("tonemap=curve=net:intensity=maxrgb")
    with pytest.raises(InvalidInputError):
        parse_chain("tmnet=target=hdr10")
    with pytest.raises(InvalidInputError):
        _op()(torch.rand(4, 8, 8))


def test_tonemap_curve_net_through_the_api(hdr10_clip, tmp_path, monkeypatch):
    import hdrvideo as hv
    from hdrvideo.io.video_reader import VideoReader

    monkeypatch.setenv("HDRVIDEO_CACHE", str(tmp_path / "cache"))
    outs = []
    for k in range(2):
        out = tmp_path / f"net{k}.mkv"
        report = hv.transcode(hdr10_clip, out, "tonemap=curve=net", codec="ffv1")
        assert not report.fused
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]  # deterministic, whatever backend "auto" picked
    with VideoReader(tmp_path / "net0.mkv") as reader:
        frames = list(reader)
        assert reader.info.spec.primaries == "bt709"
    assert len(frames) == 6


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_torch_and_onnxruntime_give_the_same_pictures(tmp_path):
    frames = _frames(3)
    pictures = {}
    for backend in ("torch", "onnxruntime"):
        from hdrvideo.engines import load_engine

        op = _op(backend=backend)
        op._engine = load_engine("tmnet", backend=backend, cache_dir=tmp_path)
        pictures[backend] = sdr_display_encode(op(frames)) * 255.0
    diff = (pictures["torch"] - pictures["onnxruntime"]).abs().max()
    assert diff < 0.05  # 8-bit code values, before rounding


def test_tonemap_backend_option_reaches_the_network_and_only_there():
    assert parse_chain("tonemap=curve=net:backend=onnxruntime")[0].net.backend == "onnxruntime"
    assert parse_chain("tonemap=curve=net")[0].net.backend == "auto"
    with pytest.raises(InvalidInputError, match="curve=net only"):
        parse_chain("tonemap=curve=bt2390:backend=torch")
    with pytest.raises(InvalidInputError):
        parse_chain("tonemap=curve=net:backend=cuda")


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_cli_curve_net_torch_and_onnxruntime_write_the_same_pictures(hdr10_clip, tmp_path, monkeypatch):
    """The issue's command, once per backend: the decoded 8-bit pictures agree to a code
    value or two (the networks differ by ~1e-4 of a code; rounding can flip a code)."""
    import numpy as np
    from hdrvideo.cli import main
    from hdrvideo.io.video_reader import VideoReader

    monkeypatch.setenv("HDRVIDEO_CACHE", str(tmp_path / "cache"))
    planes = {}
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / f"{backend}.mkv"
        assert main(["-nostats", "-i", str(hdr10_clip), "-vf", f"tonemap=curve=net:backend={backend}",
                     "-c:v", "ffv1", str(out)]) == 0
        with VideoReader(out) as reader:
            planes[backend] = np.stack([f.data.numpy() for f in reader])
    assert planes["torch"].shape == planes["onnxruntime"].shape and planes["torch"].shape[0] == 6
    assert np.abs(planes["torch"] - planes["onnxruntime"]).max() < 2.5  # cd/m², SDR white 100
    assert np.mean(planes["torch"] != planes["onnxruntime"]) < 0.01
