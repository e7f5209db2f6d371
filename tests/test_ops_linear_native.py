"""The native ``tonemap`` kernels on linear frames (ICtCp; max(R, G, B) and luminance) against the
torch function (float64) they replace."""

from __future__ import annotations

import pytest
import torch

from hdrvideo.io.images import read_image
from hdrvideo.ops import linear_native
from hdrvideo.ops.curves import get_curve
from hdrvideo.ops.tonemap import tonemap

pytestmark = pytest.mark.skipif(not linear_native.native_available(), reason="hdrvideo._native not built")

#: Stated bound (hdrvideo/ops/linear_native.py): of the target peak, per component, every intensity.
BOUND = 3e-3

IMAGES = ["exr/Tiles_GoldenGate.exr", "exr/ScanLines_Desk.exr", "exr/TestImages_WideColorGamut.exr",
          "exr/Chromaticities_XYZ.exr"]


def compare(x: torch.Tensor, curve: str, intensity: str = "ictcp", **kw) -> float:
    native = tonemap(x.float(), curve, intensity=intensity, **kw)  # float32 CPU: the native path
    reference = tonemap(x.double(), curve, intensity=intensity, **kw)
    assert native.dtype == torch.float32 and native.shape == x.shape
    assert bool(torch.isfinite(native).all())
    assert float(native.min()) >= 0.0 and float(native.max()) <= kw["dst_peak_nits"]
    return float((native.double() - reference).abs().max()) / kw["dst_peak_nits"]


@pytest.mark.parametrize("name", IMAGES)
@pytest.mark.parametrize("curve", ["bt2390", "spline", "hable", "reinhard", "clip"])
def test_real_images_within_the_stated_bound(shared_data, name, curve):
    x = read_image(shared_data / name).data.float().nan_to_num(0.0, 0.0, 0.0).clamp(0, 10000)
    x = x[:, ::2, ::2].contiguous()  # the bound holds per pixel; half the pixels keep the test quick
    src = float(min(max(float(x.amax()), 203.0), 10000.0))
    assert compare(x, curve, src_peak_nits=src, dst_peak_nits=100.0) < BOUND


@pytest.mark.parametrize("dst", [100.0, 600.0])
def test_saturated_and_extreme_colours(dst):
    """Primaries at every level (the chroma fit's bisection runs), black, and a lower-peak HDR target."""
    levels = torch.logspace(-3, 4, 64)
    colours = torch.eye(3).repeat(1, 2)  # R, G, B, R, G, B
    colours[:, 3:] += 0.05  # nearly pure
    x = (colours[:, :, None] * levels[None, None, :]).reshape(3, 6, 64).contiguous()
    assert compare(x, "bt2390", src_peak_nits=4000.0, dst_peak_nits=dst) < BOUND


def test_non_finite_and_out_of_range_light_is_guarded():
    x = torch.tensor([float("nan"), -3.0, 0.0, 20000.0]).view(1, 2, 2).expand(3, 2, 2).contiguous()
    out = tonemap(x, "bt2390", intensity="ictcp", src_peak_nits=1000.0, dst_peak_nits=100.0)
    assert bool(torch.isfinite(out).all()) and float(out.max()) <= 100.0
    assert float(out[:, 0, 0].abs().max()) < 1e-3  # NaN and negative light are black
    assert float(out[:, 1, 1].min()) > 99.0  # above 10000 cd/m²: the peak


def test_batches_and_the_fallbacks():
    x = torch.rand(2, 3, 8, 8) * 1000
    kw = dict(src_peak_nits=1000.0, dst_peak_nits=100.0)
    batch = tonemap(x, "bt2390", intensity="ictcp", **kw)
    assert torch.equal(batch[1], tonemap(x[1], "bt2390", intensity="ictcp", **kw))
    assert linear_native.applies(x, 1.0)
    assert not linear_native.applies(x, 0.8)  # desat < 1: the torch path
    assert not linear_native.applies(x.double(), 1.0)
    assert not linear_native.applies(x.requires_grad_(), 1.0)


def test_the_mapping_table_is_the_curve_in_pq_terms():
    from hdrvideo.color.lut import table_lookup
    from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084

    curve = get_curve("bt2390")
    kw = dict(src_peak_nits=1000.0, dst_peak_nits=100.0, src_black_nits=0.0, dst_black_nits=0.0,
              **curve.parse_params(None))
    table = torch.from_numpy(linear_native.mapping_table(curve, **kw))
    i = torch.linspace(0, 1, 1001, dtype=torch.float64)
    exact = eotf_inverse_ST2084(curve.map(eotf_ST2084(i), **kw))
    assert float((table_lookup(table, i.float()).double() - exact).abs().max()) < 1e-5


def test_avx2_and_scalar_versions_give_the_same_bytes(shared_data):
    x = read_image(shared_data / "exr/TestImages_WideColorGamut.exr").data.float().clamp(0, 10000).contiguous()
    x = torch.cat([x, torch.rand(3, 7, x.shape[-1]) * 3000], dim=1)  # saturated noise: the bisection runs
    curve = get_curve("bt2390")
    kw = dict(src_peak_nits=4000.0, dst_peak_nits=100.0, src_black_nits=0.0, dst_black_nits=0.0,
              **curve.parse_params(None))
    vector = linear_native.tonemap_ictcp(x, curve, **kw)
    scalar = linear_native.tonemap_ictcp(x, curve, simd=False, **kw)
    assert torch.equal(vector, scalar)
    assert torch.equal(linear_native.tonemap_ictcp(x, curve, threads=1, **kw), vector)


# -- max(R, G, B) and luminance: the gain kernel ---------------------------------------------------
@pytest.mark.parametrize("intensity", ["maxrgb", "luminance"])
@pytest.mark.parametrize("curve", ["bt2390", "spline", "hable", "reinhard", "clip", "bt2446a"])
def test_gain_kernel_on_real_images_within_the_stated_bound(shared_data, intensity, curve):
    # Measured on Tiles_GoldenGate (src 4000 cd/m²): 6e-7 to 3e-6 of the peak for smooth curves,
    # 6e-4 (maxrgb) and 1e-3 (luminance) at the corner of clip.
    x = read_image(shared_data / "exr/Tiles_GoldenGate.exr").data.float().nan_to_num(0.0, 0.0, 0.0)
    x = x.clamp(max=10000)[:, ::2, ::2].contiguous()  # negative components stay: the kernel keeps them
    for dst in (100.0, 600.0):
        assert compare(x, curve, intensity, src_peak_nits=4000.0, dst_peak_nits=dst) < BOUND


@pytest.mark.parametrize("intensity", ["maxrgb", "luminance"])
def test_gain_kernel_saturated_negative_and_black_light(intensity):
    levels = torch.logspace(-6, 4, 64)
    colours = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.5, -0.05], [0.2, 1.0, 1.0]]).T
    x = (colours[:, :, None] * levels[None, None, :]).contiguous()
    x[:, 0, 0] = 0.0  # black: curve(0) in every component
    for black in (0.0, 0.05):
        assert compare(x, "bt2390", intensity, src_peak_nits=1000.0, dst_peak_nits=100.0, dst_black_nits=black) < BOUND
    out = tonemap(x, "bt2390", intensity=intensity, src_peak_nits=1000.0, dst_peak_nits=100.0, dst_black_nits=0.05)
    assert torch.allclose(out[:, 0, 0], torch.full((3,), 0.05), rtol=1e-4)


def test_gain_kernel_guards_non_finite_light():
    x = torch.tensor([float("nan"), -3.0, 0.0, 20000.0]).view(1, 2, 2).expand(3, 2, 2).contiguous()
    for intensity in ("maxrgb", "luminance"):
        out = tonemap(x, "bt2390", intensity=intensity, src_peak_nits=1000.0, dst_peak_nits=100.0)
        assert bool(torch.isfinite(out).all()) and float(out.max()) <= 100.0
        assert float(out[:, 0, 0].abs().max()) < 1e-3  # NaN is black
        assert float(out[:, 1, 1].min()) > 99.0  # above 10000 cd/m²: the peak


def test_gain_kernel_batches_simd_and_threads(shared_data):
    x = read_image(shared_data / "exr/TestImages_WideColorGamut.exr").data.float().clamp(max=10000).contiguous()
    x = torch.cat([x, torch.rand(3, 7, x.shape[-1]) * 3000 - 10], dim=1)  # odd row count, some negatives
    curve = get_curve("hable")
    kw = dict(src_peak_nits=4000.0, dst_peak_nits=100.0, src_black_nits=0.0, dst_black_nits=0.0,
              **curve.parse_params(None))
    for intensity in ("maxrgb", "luminance"):
        vector = linear_native.tonemap_gain(x, curve, intensity=intensity, **kw)
        assert torch.equal(vector, linear_native.tonemap_gain(x, curve, intensity=intensity, simd=False, **kw))
        assert torch.equal(vector, linear_native.tonemap_gain(x, curve, intensity=intensity, threads=1, **kw))
        batch = linear_native.tonemap_gain(torch.stack([x, x.flip(1)]), curve, intensity=intensity, **kw)
        assert torch.equal(batch[0], vector)
    with pytest.raises(ValueError, match="maxrgb or luminance"):
        linear_native.tonemap_gain(x, curve, intensity="ictcp", **kw)
