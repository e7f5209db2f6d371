"""The native Y'CbCr <-> working-space conversion against the torch path and float64.

The native path (hdrvideo/io/native_convert.py, native/convert_yuv.cpp) differs from the
torch path only by its transfer tables; these tests hold it to the exact float64 functions
as closely as the float32 torch path is held, and to the torch path's codes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hdrvideo.io import convert, native_convert
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.convert import frame_planes, frame_to_working, pixel_format_info, working_to_frame
from tests.media import planes_frame

pytestmark = pytest.mark.skipif(not native_convert.native_convert_available(), reason="hdrvideo._native not built")

HDR10 = ColorSpec.from_codes(color_primaries=9, color_trc=16, colorspace=9, color_range=1, bit_depth=10)
HDR10_12 = ColorSpec.from_codes(color_primaries=9, color_trc=16, colorspace=9, color_range=1, bit_depth=12)
SDR = ColorSpec.from_codes(color_primaries=1, color_trc=1, colorspace=1, color_range=1, bit_depth=8)
SRGB_FULL = ColorSpec.from_codes(color_primaries=1, color_trc=13, colorspace=1, color_range=2, bit_depth=8)
P3_PQ_601 = ColorSpec.from_codes(color_primaries=12, color_trc=16, colorspace=6, color_range=1, bit_depth=10)
HLG = ColorSpec.from_codes(color_primaries=9, color_trc=18, colorspace=9, color_range=1, bit_depth=10)
GAMMA28_625 = ColorSpec.from_codes(color_primaries=5, color_trc=5, colorspace=5, color_range=1, bit_depth=10)

CASES = [
    (HDR10, "yuv420p10le", 72, 128),
    (HDR10, "yuv422p10le", 36, 66),
    (HDR10, "yuv444p10le", 17, 23),
    (HDR10_12, "yuv420p12le", 40, 48),
    (SDR, "yuv420p", 30, 50),
    (SRGB_FULL, "yuv444p", 21, 19),
    (P3_PQ_601, "yuv420p10le", 24, 32),
    (GAMMA28_625, "yuv420p10le", 24, 32),
    (HLG, "yuv420p10le", 36, 64),
]


def random_frame(pix_fmt: str, height: int, width: int, seed: int = 0):
    """Every code value, legal or not (super-whites, out-of-gamut chroma), at random."""
    rng = np.random.default_rng(seed)
    _, bits, sub_w, sub_h = pixel_format_info(pix_fmt)
    dtype = np.uint8 if bits == 8 else np.uint16
    ch, cw = -(-height // (1 << sub_h)), -(-width // (1 << sub_w))
    shapes = [(height, width), (ch, cw), (ch, cw)]
    return planes_frame([rng.integers(0, 2**bits, s).astype(dtype) for s in shapes], pix_fmt)


@pytest.fixture
def torch_only(monkeypatch):
    """Route frame_to_working / working_to_frame through the torch path."""
    monkeypatch.setattr(native_convert, "decode_supported", lambda *a: False)
    monkeypatch.setattr(native_convert, "encode_supported", lambda *a: False)


def relative_error(x: torch.Tensor, exact: torch.Tensor, floor_nits: float) -> float:
    return float(((x.double() - exact).abs() / (exact.abs() + floor_nits)).max())


@pytest.mark.parametrize("spec,pix_fmt,height,width", CASES)
def test_decode_is_as_close_to_float64_as_the_torch_path(spec, pix_fmt, height, width, monkeypatch):
    vf = random_frame(pix_fmt, height, width)
    exact = frame_to_working(vf, spec, dtype=torch.float64)  # float64 always takes the torch path
    native = frame_to_working(vf, spec)
    assert native.dtype == torch.float32 and native.shape == (3, height, width)
    monkeypatch.setattr(native_convert, "decode_supported", lambda *a: False)
    torch32 = frame_to_working(vf, spec)
    floor = 1e-4 * spec.peak_nits  # near black both float32 paths lose relative precision alike
    bound = 1e-3
    assert relative_error(torch32, exact, floor) < bound  # the bound is one the reference path meets
    assert relative_error(native, exact, floor) < bound


def test_decode_pq_reference_levels():
    """Flat frames at the 10-bit narrow-range codes of BT.2100-2 / ST 2084 reference levels."""
    codes = {64: 0.0, 940: 10000.0, 509: 100.0}  # 509 -> PQ 0.5080 ~ 100 cd/m² (ITU-R BT.2408)
    for code, nits in codes.items():
        planes = [np.full((4, 4), code, np.uint16), np.full((2, 2), 512, np.uint16), np.full((2, 2), 512, np.uint16)]
        light = frame_to_working(planes_frame(planes, "yuv420p10le"), HDR10)
        exact = frame_to_working(planes_frame(planes, "yuv420p10le"), HDR10, dtype=torch.float64)
        assert torch.allclose(light.double(), exact, rtol=1e-4, atol=1e-6)
        assert float(exact.mean()) == pytest.approx(nits, rel=2e-3, abs=1e-6)


def differing(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[int, int, int]:
    """(largest code difference, samples that differ, samples) of two sets of planes."""
    diffs = [np.abs(x.astype(np.int64) - y.astype(np.int64)) for x, y in zip(a, b)]
    return max(int(d.max()) for d in diffs), sum(int((d > 0).sum()) for d in diffs), sum(d.size for d in diffs)


@pytest.mark.parametrize("spec,pix_fmt,height,width", [c for c in CASES if c[2] % 2 == 0 and c[3] % 2 == 0])
@pytest.mark.parametrize("dither", [False, True])
def test_encode_codes_match_the_torch_path(spec, pix_fmt, height, width, dither, monkeypatch):
    """Against the float64 torch path, the native codes are as good as the float32 torch path's."""
    light = frame_to_working(random_frame(pix_fmt, height, width, seed=1), spec, dtype=torch.float64)
    light[:, :2, :2] = torch.tensor([0.0, -5.0, 1e9, 0.0], dtype=torch.float64).view(1, 2, 2)
    exact = frame_planes(working_to_frame(light, spec, pix_fmt=pix_fmt, dither=dither, seed=5))
    guarded = light.float()
    if native_convert.encode_supported(guarded, spec, "yuv"):  # (HLG output is encoded in torch)
        guarded[:, 0, 0] = float("nan")  # the native path reads NaN as black, as the writer's nan_to_num does
    native = frame_planes(working_to_frame(guarded, spec, pix_fmt=pix_fmt, dither=dither, seed=5))
    monkeypatch.setattr(native_convert, "encode_supported", lambda *a: False)
    torch32 = frame_planes(working_to_frame(light.float(), spec, pix_fmt=pix_fmt, dither=dither, seed=5))
    largest, count, total = differing(native, torch32)
    assert largest <= 1  # one code at a rounding boundary
    native_off, torch_off = differing(native, exact)[1], differing(torch32, exact)[1]
    assert native_off <= torch_off + max(2, total // 200)


def test_encode_is_deterministic_and_dither_is_tpdf():
    light = torch.full((3, 64, 64), 50.0)  # mid-grey SDR: every code lands mid-step
    frames = [frame_planes(working_to_frame(light, SDR, pix_fmt="yuv420p", dither=True, seed=s)) for s in (3, 3, 4)]
    assert all(np.array_equal(a, b) for a, b in zip(frames[0], frames[1]))
    assert not np.array_equal(frames[0][0], frames[2][0])
    plain = frame_planes(working_to_frame(light, SDR, pix_fmt="yuv420p"))[0].astype(float)
    dithered = frames[0][0].astype(float)
    exact = float(convert.working_to_signal(light[:, :1, :1], SDR)[0, 0, 0]) * 219 + 16  # BT.709 narrow range
    assert np.unique(plain).size == 1 and abs(plain[0, 0] - exact) > 0.1  # rounding loses the fraction
    assert abs(dithered.mean() - exact) < 0.05  # zero-mean noise keeps it on average
    assert set(np.unique(dithered - plain)) <= {-1.0, 0.0, 1.0}


def test_round_trip_within_half_a_code(monkeypatch):
    vf = random_frame("yuv444p10le", 32, 32, seed=2)
    planes = frame_planes(vf)
    planes[1][:] = 512  # neutral chroma: the luma codes must survive decode + encode exactly
    planes[2][:] = 512
    planes[0][:] = np.clip(planes[0], 64, 940)
    vf = planes_frame(planes, "yuv444p10le")
    back = frame_planes(working_to_frame(frame_to_working(vf, HDR10), HDR10, pix_fmt="yuv444p10le"))
    assert np.array_equal(back[0], planes[0])


def test_unsupported_cases_take_the_torch_path():
    assert native_convert.decode_supported(HLG, "cpu", torch.float32)  # decoding: the OOTF from a table
    assert not native_convert.encode_supported(torch.zeros(3, 4, 4), HLG, "yuv")  # encoding HLG: torch
    assert not native_convert.decode_supported(HDR10, "cpu", torch.float64)
    assert not native_convert.decode_supported(HDR10, "meta", torch.float32)
    assert native_convert.decode_supported(HDR10, "cpu", torch.float32)
    x = torch.zeros(3, 4, 4)
    assert not native_convert.encode_supported(x, HDR10, "gray")
    assert not native_convert.encode_supported(x.double(), HDR10, "yuv")
    assert native_convert.encode_supported(x, HDR10, "yuv")


def test_native_module_rejects_bad_arguments():
    y = np.zeros((4, 4), np.uint16)
    u = np.zeros((2, 2), np.uint16)
    out = np.zeros((3, 4, 4), np.float32)
    crow, crow_w = native_convert._chroma_positions(4, 2, 0.5)
    ccol, ccol_w = native_convert._chroma_positions(4, 2, 0.0)
    table = native_convert.decode_table("pq", 10000.0)
    module = native_convert._module()
    good = dict(crow=crow, crow_w=crow_w, ccol=ccol, ccol_w=ccol_w, eotf=table, coefficients=np.zeros(8, np.float32),
                primaries=np.zeros(0, np.float32), out=out, ootf_table=np.zeros((0, 2), np.float32),
                ootf_coefficients=np.zeros(0, np.float32))
    module.yuv_to_linear(y, u, u, **good)
    with pytest.raises(ValueError, match="index out of range"):
        module.yuv_to_linear(y, u, u, **{**good, "crow": crow + 5})
    with pytest.raises(ValueError, match="mixed dtypes"):
        module.yuv_to_linear(y, u.astype(np.uint8), u, **good)
    with pytest.raises(ValueError, match="out"):
        module.yuv_to_linear(y, u, u, **{**good, "out": np.zeros((3, 4, 5), np.float32)})
    with pytest.raises(ValueError, match="ootf_coefficients"):
        module.yuv_to_linear(y, u, u, **{**good, "ootf_table": table})


def test_torch_path_still_matches_float64_on_its_own(torch_only):
    vf = random_frame("yuv420p10le", 16, 16, seed=3)
    assert relative_error(frame_to_working(vf, HDR10), frame_to_working(vf, HDR10, dtype=torch.float64), 1.0) < 1e-3
    assert convert.native_convert.decode_supported(HDR10, "cpu", torch.float32) is False


@pytest.mark.parametrize("spec,pix_fmt,height,width", [c for c in CASES if c[2] % 2 == 0 and c[3] % 2 == 0])
def test_avx2_and_scalar_versions_agree_exactly(spec, pix_fmt, height, width):
    vf = random_frame(pix_fmt, height, width, seed=4)
    _, bits, sub_w, sub_h = pixel_format_info(pix_fmt)
    planes = frame_planes(vf)
    vector = native_convert.planes_to_linear(planes, spec, bits)
    assert torch.equal(vector, native_convert.planes_to_linear(planes, spec, bits, simd=False))
    assert torch.equal(vector, native_convert.planes_to_linear(planes, spec, bits, threads=1))
    for dither in (False, True) if native_convert.encode_supported(vector, spec, "yuv") else ():
        coded = native_convert.linear_to_planes(vector, spec, bits, sub_w, sub_h, dither=dither, seed=9)
        scalar = native_convert.linear_to_planes(vector, spec, bits, sub_w, sub_h, dither=dither, seed=9, simd=False)
        assert all(np.array_equal(a, b) for a, b in zip(coded, scalar))
