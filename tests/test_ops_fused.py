"""The fused 4:2:0 tone-mapping hot path: tables, native == torch, agreement with the generic path.

Native comparisons skip cleanly when ``hdrvideo._native`` is not built; the torch path (the
reference) is always tested.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import zlib

import numpy as np
import pytest
import torch

from hdrvideo.color.pq import PQ_PEAK_NITS, eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.color.sdr import eotf_inverse_BT1886
from hdrvideo.errors import InvalidInputError, UnsupportedError
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.convert import frame_planes, frame_to_working, working_to_frame
from hdrvideo.io.native_convert import decode_table
from hdrvideo.ops import fused
from hdrvideo.ops.base import parse_chain
from hdrvideo.ops.stats import measure_statistics, subsample_grid
from tests.media import SHARED_DATA

REAL_CLIPS = {
    "sample": SHARED_DATA / "video" / "hdr10" / "sample_with_colr_mdcv_and_clli.mp4",  # 1920x1080
    "tos": SHARED_DATA / "video" / "hdr10plus" / "ToS-s01.h265",  # 1920x800, peak ~7300 cd/m²
}
SDR_SPEC = ColorSpec("bt709", "bt1886", "bt709", "limited", 8, 100.0, 100.0)
HDR10_SPEC = ColorSpec("bt2020", "pq", "bt2020nc", "limited", 10, 10000.0, 203.0)


@pytest.fixture(scope="module")
def native():
    return pytest.importorskip("hdrvideo._native")


def _first_frames(name: str, count: int = 1):
    av = pytest.importorskip("av")
    path = REAL_CLIPS[name]
    if not path.exists():
        pytest.skip(f"{path} not present")
    with av.open(str(path)) as container:
        return list(itertools.islice(container.decode(video=0), count))


@pytest.fixture(scope="module", params=sorted(REAL_CLIPS))
def real_frame(request):
    return _first_frames(request.param)[0]


def random_planes(height: int, width: int, seed: int = 0, low: int = 0, high: int = 1024):
    """Random 10-bit codes, including foot- and headroom (0-1023) by default."""
    rng = np.random.default_rng(seed)
    y = rng.integers(low, high, (height, width), dtype=np.uint16)
    u = rng.integers(low, high, (height // 2, width // 2), dtype=np.uint16)
    v = rng.integers(low, high, (height // 2, width // 2), dtype=np.uint16)
    return y, u, v


def gradient_planes(height: int = 64, width: int = 96):
    """Smooth gradients of luma and chroma over the whole legal range."""
    yy, xx = np.mgrid[0:height, 0:width]
    y = (64 + (940 - 64) * (xx + yy * width) / (height * width - 1)).round().astype(np.uint16)
    cy, cx = np.mgrid[0 : height // 2, 0 : width // 2]
    u = (64 + (960 - 64) * cx / max(width // 2 - 1, 1)).round().astype(np.uint16)
    v = (64 + (960 - 64) * cy / max(height // 2 - 1, 1)).round().astype(np.uint16)
    return y, u, v


def code_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int64) - b.astype(np.int64))


def bt2390_reference(L: float, src_peak: float, dst_peak: float) -> float:
    """ITU-R BT.2390-10 section 5.4.1 EETF (black levels 0), written out independently."""
    pq = lambda v: float(eotf_inverse_ST2084(torch.tensor(v, dtype=torch.float64)))  # noqa: E731
    lw = pq(src_peak)
    e1 = pq(L) / lw
    max_lum = pq(dst_peak) / lw
    ks = 1.5 * max_lum - 0.5
    if e1 < ks:
        e2 = e1
    else:
        t = (e1 - ks) / (1 - ks)
        e2 = (2 * t**3 - 3 * t**2 + 1) * ks + (t**3 - 2 * t**2 + t) * (1 - ks) + (-2 * t**3 + 3 * t**2) * max_lum
    return float(eotf_ST2084(torch.tensor(e2 * lw, dtype=torch.float64)))


CONFIGS = [  # target, intensity, gamut, chroma, dst peak
    ("sdr", "maxrgb", "clip", "bilinear", 100.0),
    ("sdr", "maxrgb", "desaturate", "block", 100.0),
    ("sdr", "luminance", "desaturate", "bilinear", 203.0),
    ("hdr10", "maxrgb", "clip", "bilinear", 600.0),
    ("hdr10", "luminance", "clip", "block", 1000.0),
]


def tables_for(target, intensity, gamut, chroma, dst, src=4000.0, curve="bt2390", **kw):
    return fused.build_tables(curve, src, dst, target, intensity=intensity, gamut=gamut, chroma=chroma, **kw)


# -- tables ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target,intensity,gamut,chroma,dst", CONFIGS)
def test_tables_shapes_and_monotone(target, intensity, gamut, chroma, dst):
    t = tables_for(target, intensity, gamut, chroma, dst)
    assert t.eotf.shape == (fused.EOTF_SIZE, 2) and t.eotf.dtype == torch.float32
    assert t.curve.shape == (fused.CURVE_SIZE, 2)
    assert t.oetf.shape == (fused.OETF_SIZE, 2)
    assert t.coefficients.shape == (len(fused.COEFFICIENTS),)
    for table in (t.eotf, t.oetf):
        nodes = torch.cat([table[:, 0], table[-1:, 0] + table[-1:, 1]])
        assert bool((nodes[1:] >= nodes[:-1]).all()), "transfer tables are monotone"
        assert bool((table[:, 1] >= 0).all())
    assert bool((t.curve_nits[1:] >= t.curve_nits[:-1]).all()), "the tone curve is monotone"
    assert bool((t.curve_input_nits[1:] > t.curve_input_nits[:-1]).all())
    # the gain table reproduces the curve at its nodes, and I * gain is monotone
    gain = torch.cat([t.curve[:, 0], t.curve[-1:, 0] + t.curve[-1:, 1]]).double()
    mapped = t.curve_input_nits * gain
    assert torch.allclose(mapped[1:], t.curve_nits[1:], rtol=1e-6, atol=1e-9)
    assert bool((mapped[1:] >= mapped[:-1] - 1e-4).all())
    # black to black, peak to peak
    assert float(t.curve_nits[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(t.curve_nits.max()) == pytest.approx(dst, rel=1e-6)
    assert float(t.eotf[0, 0]) == 0.0
    assert float(t.oetf[0, 0]) == pytest.approx(0.0, abs=1e-6)
    assert float(t.oetf[-1, 0] + t.oetf[-1, 1]) == pytest.approx(1.0 if target == "sdr" else float(eotf_inverse_ST2084(torch.tensor(dst, dtype=torch.float64))), abs=1e-6)


def _interp64(table: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    n = table.shape[0]
    p = x * n
    i = p.long().clamp(max=n - 1)
    f = p - i
    return table[:, 0].double()[i] + f * table[:, 1].double()[i]


def test_table_interpolation_error():
    """The interpolation error of each table, in output code values (documented in fused.py)."""
    x = torch.rand(400_000, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = torch.cat([x, torch.linspace(0, 1, 100_001, dtype=torch.float64)])
    # EOTF: error seen as a PQ code (10 bits, 876 codes over the signal range)
    approx = _interp64(torch.tensor(decode_table("pq", PQ_PEAK_NITS, fused.EOTF_SIZE)), x)
    err = (eotf_inverse_ST2084(approx.clamp(min=0)) - x).abs() * 876
    assert float(err.max()) < 0.06
    assert float(err[x > 0.01].max()) < 0.002
    # OETF: SDR in 8-bit codes, PQ in 10-bit codes
    sdr = _interp64(fused._oetf_table("sdr", 100.0, fused.OETF_SIZE), x)
    assert float(((sdr - eotf_inverse_BT1886(100 * x * x, L_W=100.0)).abs() * 219).max()) < 0.06
    pq = _interp64(fused._oetf_table("hdr10", 600.0, fused.OETF_SIZE), x)
    assert float(((pq - eotf_inverse_ST2084(600 * x**4)).abs() * 876).max()) < 0.01
    # curve: the mapped intensity, seen through the SDR output in 8-bit codes
    t = fused.build_tables("bt2390", 1000, 100)
    intensity = eotf_ST2084(x)
    from hdrvideo.ops.curves import CURVES

    exact = CURVES["bt2390"].map(intensity, src_peak_nits=1000.0, dst_peak_nits=100.0)
    approx = intensity * _interp64(t.curve, x)
    err = (eotf_inverse_BT1886(approx, L_W=100.0) - eotf_inverse_BT1886(exact, L_W=100.0)).abs() * 219
    assert float(err.max()) < 0.01


def test_table_lookup_formula():
    table = fused._table(torch.tensor([0.0, 1.0, 4.0, 9.0], dtype=torch.float64))
    x = torch.tensor([0.0, 1 / 6, 1 / 3, 0.5, 1.0], dtype=torch.float32)
    got = fused.table_lookup(table, x)
    assert got.tolist() == pytest.approx([0.0, 0.5, 1.0, 2.5, 9.0], abs=1e-6)


def test_build_tables_rejects_bad_arguments():
    with pytest.raises(InvalidInputError, match="target"):
        fused.build_tables("bt2390", 1000, 100, "hlg")
    with pytest.raises(InvalidInputError, match="intensity"):
        fused.build_tables("bt2390", 1000, 100, intensity="ictcp")
    with pytest.raises(InvalidInputError, match="curve"):
        fused.build_tables("nope", 1000, 100)
    with pytest.raises(InvalidInputError, match="peaks"):
        fused.build_tables("bt2390", 0, 100)
    with pytest.raises(UnsupportedError):
        fused.build_tables("bt2390", 1000, 100, in_bits=8)
    with pytest.raises(InvalidInputError, match="eotf_size"):
        fused.build_tables("bt2390", 1000, 100, eotf_size=1)


def test_every_curve_builds():
    from hdrvideo.ops.curves import CURVES

    for name in CURVES:
        t = fused.build_tables(name, 2000, 100)
        assert bool(torch.isfinite(t.curve).all()), name
        assert bool((t.curve_nits[1:] >= t.curve_nits[:-1] - 1e-9).all()), name


def test_lowbias32_tensor_matches_int():
    values = [0, 1, 2, 12345, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x9E3779B9]
    tensor = fused.lowbias32(torch.tensor(values, dtype=torch.int64))
    assert tensor.tolist() == [fused.lowbias32(v) for v in values]
    assert all(0 <= v <= 0xFFFFFFFF for v in tensor.tolist())


# -- native == torch -------------------------------------------------------------------------------------
@pytest.mark.parametrize("target,intensity,gamut,chroma,dst", CONFIGS)
@pytest.mark.parametrize("dither", fused.DITHERS)
def test_native_equals_torch_random(native, target, intensity, gamut, chroma, dst, dither):
    # 270 x 38: a full tile of 128 chroma columns plus 7, not a multiple of the SIMD width
    y, u, v = random_planes(38, 270, seed=zlib.crc32(f"{target}{intensity}{dither}".encode()))
    t = tables_for(target, intensity, gamut, chroma, dst)
    a = fused.tonemap_yuv420_native(y, u, v, t, dither=dither, seed=7)
    b = fused.tonemap_yuv420_torch(y, u, v, t, dither=dither, seed=7)
    c = fused.tonemap_yuv420_native(y, u, v, t, dither=dither, seed=7, simd=False)
    for p, q, r in zip(a, b, c):
        assert p.dtype == q.dtype == (np.uint8 if t.out_bits == 8 else np.uint16)
        assert int(code_diff(p, q).max()) <= 1
        assert float((p != q).mean()) < 1e-3
        assert np.array_equal(p, r), "the AVX2 and scalar kernels give the same bytes"


@pytest.mark.parametrize("height,width", [(2, 2), (2, 4), (4, 2), (6, 10), (2, 258), (4, 514)])
@pytest.mark.parametrize("chroma", fused.CHROMAS)
def test_native_equals_torch_edges(native, height, width, chroma):
    """Frames of one chroma row/column, and tiles of 128 chroma columns plus one."""
    y, u, v = random_planes(height, width, seed=height * 1000 + width)
    t = fused.build_tables("bt2390", 3000, 100, intensity="luminance", chroma=chroma)
    a = fused.tonemap_yuv420_native(y, u, v, t, dither="tpdf", seed=3)
    b = fused.tonemap_yuv420_torch(y, u, v, t, dither="tpdf", seed=3)
    c = fused.tonemap_yuv420_native(y, u, v, t, dither="tpdf", seed=3, simd=False)
    for p, q, r in zip(a, b, c):
        assert int(code_diff(p, q).max()) <= 1 and np.array_equal(p, r)


def test_native_equals_torch_real_frames(native, real_frame):
    planes = frame_planes(real_frame)
    for target, intensity, gamut, chroma, dst in CONFIGS[::2]:
        t = tables_for(target, intensity, gamut, chroma, dst, src=1500.0)
        a = fused.tonemap_yuv420_native(*planes, t, dither="tpdf", seed=3)
        b = fused.tonemap_yuv420_torch(*planes, t, dither="tpdf", seed=3)
        for p, q in zip(a, b):
            assert int(code_diff(p, q).max()) <= 1
            assert float((p != q).mean()) < 1e-4


def test_native_accepts_strided_planes_and_out(native, real_frame):
    planes = frame_planes(real_frame)  # views with the frame's line size as row stride
    t = fused.build_tables("bt2390", 1000, 100)
    ref = fused.tonemap_yuv420_native(*[np.ascontiguousarray(p) for p in planes], t)
    h, w = planes[0].shape
    big = [np.zeros((h, w + 32), np.uint8), np.zeros((h // 2, w // 2 + 16), np.uint8), np.zeros((h // 2, w // 2 + 16), np.uint8)]
    out = tuple(b[:, : p.shape[1]] for b, p in zip(big, ref))
    fused.tonemap_yuv420_native(*planes, t, out=out)
    for o, r, b in zip(out, ref, big):
        assert np.array_equal(o, r)
        assert not b[:, r.shape[1] :].any(), "nothing written past the row"


def test_threads_do_not_change_the_result(native):
    y, u, v = random_planes(64, 256, seed=5, low=64, high=941)
    t = fused.build_tables("bt2390", 2000, 100)
    one = fused.tonemap_yuv420_native(y, u, v, t, dither="tpdf", seed=1, threads=1)
    two = fused.tonemap_yuv420_native(y, u, v, t, dither="tpdf", seed=1, threads=2)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


# -- agreement with the generic path ----------------------------------------------------------------
def _generic(vf, chain: str, spec: ColorSpec, pix_fmt: str, src_peak: float):
    """frame_to_working -> tonemap (fixed source peak) [-> gamut] -> working_to_frame, as planes."""
    ops = parse_chain(chain)
    ops[0].source_peak_nits = src_peak
    x = frame_to_working(vf, ColorSpec())
    for op in ops:
        x = op.process(x)
    return frame_planes(working_to_frame(x, spec, pix_fmt=pix_fmt))


@pytest.mark.parametrize(
    "chain,target,gamut,spec,pix_fmt",
    [
        ("tonemap=curve=bt2390:intensity=maxrgb", "sdr", "clip", SDR_SPEC, "yuv420p"),
        ("tonemap=curve=bt2390:intensity=maxrgb,gamut=mode=desaturate", "sdr", "desaturate", SDR_SPEC, "yuv420p"),
        ("tonemap=curve=bt2390:intensity=luminance:target=hdr10:peak_nits=600", "hdr10", "clip",
         HDR10_SPEC, "yuv420p10le"),
    ],
)
def test_close_to_generic_path(real_frame, chain, target, gamut, spec, pix_fmt):
    """Tolerance: mean |dY| < 0.05 codes, 99.9th percentile <= 1, max <= 2; chroma likewise
    (bilinear chroma). The 2x2-block chroma of jellyfin's design: mean |dY| < 1.5, p99 < 8
    (it differs from the generic bilinear chroma at sharp colour edges)."""
    src = 1000.0
    ref = _generic(real_frame, chain, spec, pix_fmt, src)
    planes = frame_planes(real_frame)
    op = parse_chain(chain)[0]
    t = fused.build_tables("bt2390", src, op.peak_nits, target, intensity=op.intensity, gamut=gamut)
    got = fused.tonemap_yuv420_torch(*planes, t)
    for a, b in zip(got, ref):
        d = code_diff(a, b)
        assert d.mean() < 0.05 and np.percentile(d, 99.9) <= 1 and d.max() <= 2, (d.mean(), d.max())
    blocky = fused.tonemap_yuv420_torch(*planes, dataclasses.replace(t, chroma="block", _arrays={}))
    d = code_diff(blocky[0], ref[0])
    assert d.mean() < 1.5 and np.percentile(d, 99) < 8


# -- laws -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["torch", "native"])
def test_black_stays_black(backend):
    if backend == "native":
        pytest.importorskip("hdrvideo._native")
    y = np.full((4, 6), 64, np.uint16)
    u = np.full((2, 3), 512, np.uint16)
    for target, expected in (("sdr", (16, 128)), ("hdr10", (64, 512))):
        t = fused.build_tables("bt2390", 1000, 100 if target == "sdr" else 600, target)
        out = fused.tonemap_yuv420(y, u, u, t, backend=backend)
        assert (out[0] == expected[0]).all() and (out[1] == expected[1]).all() and (out[2] == expected[1]).all()


@pytest.mark.parametrize("backend", ["torch", "native"])
def test_grey_100_nits_follows_bt2390(backend):
    """A 100 cd/m² grey from a 1000 cd/m² source on a 100 cd/m² SDR display: BT.2390 puts it
    at about 74 cd/m² (in the knee, PQ 0.472), i.e. SDR code 16 + 219 (L/100)^(1/2.4) ~ 206."""
    if backend == "native":
        pytest.importorskip("hdrvideo._native")
    code = round(64 + 876 * float(eotf_inverse_ST2084(torch.tensor(100.0, dtype=torch.float64))))
    nits = float(eotf_ST2084(torch.tensor((code - 64) / 876, dtype=torch.float64)))
    expected_nits = bt2390_reference(nits, 1000.0, 100.0)
    assert 60 < expected_nits < 90
    expected = 16 + 219 * (expected_nits / 100.0) ** (1 / 2.4)
    y = np.full((4, 4), code, np.uint16)
    u = np.full((2, 2), 512, np.uint16)
    t = fused.build_tables("bt2390", 1000, 100)
    out = fused.tonemap_yuv420(y, u, u, t, backend=backend)
    assert abs(int(out[0][0, 0]) - expected) <= 1.0
    assert (out[1] == 128).all() and (out[2] == 128).all(), "grey stays grey"
    # the HDR10 target at the source peak leaves a 100 cd/m² grey where it was (below the knee)
    t = fused.build_tables("bt2390", 1000, 1000, "hdr10")
    out = fused.tonemap_yuv420(y, u, u, t, backend=backend)
    assert abs(int(out[0][0, 0]) - code) <= 1


def test_peak_maps_to_white():
    code = round(64 + 876 * float(eotf_inverse_ST2084(torch.tensor(1000.0, dtype=torch.float64))))
    y = np.full((2, 2), code, np.uint16)
    u = np.full((1, 1), 512, np.uint16)
    out = fused.tonemap_yuv420_torch(y, u, u, fused.build_tables("bt2390", 1000, 100))
    assert abs(int(out[0][0, 0]) - 235) <= 1


def test_gradient_output_is_monotone_in_luma():
    y = np.tile(np.arange(64, 941, dtype=np.uint16)[None, : 876], (2, 1))
    u = np.full((1, 438), 512, np.uint16)
    out = fused.tonemap_yuv420_torch(y, u, u, fused.build_tables("bt2390", 1000, 100))
    assert bool((np.diff(out[0][0].astype(int)) >= 0).all())


def test_out_of_gamut_colours_are_valid():
    """Saturated BT.2020 green: "desaturate" keeps its luminance, "clip" (the writer's way)
    adds light; both stay in range."""
    from hdrvideo.color.luminance import luminance
    from hdrvideo.color.sdr import eotf_BT1886
    from hdrvideo.color.ycbcr import codes_to_ycbcr, ycbcr_to_rgb
    from hdrvideo.ops.curves import CURVES

    # Y'CbCr codes of BT.2020 green at 500 cd/m² (R'G'B' = 0, PQ(500), 0)
    g = float(eotf_inverse_ST2084(torch.tensor(500.0, dtype=torch.float64)))
    kr, kb = 0.2627, 0.0593
    yv = (1 - kr - kb) * g
    cb, cr = (0 - yv) / (2 * (1 - kb)), (0 - yv) / (2 * (1 - kr))
    y = np.full((2, 2), round(64 + 876 * yv), np.uint16)
    u = np.full((1, 1), round(512 + 896 * cb), np.uint16)
    v = np.full((1, 1), round(512 + 896 * cr), np.uint16)
    # max(R, G, B) = G = 500 cd/m² is mapped by the curve; the luminance of pure green keeps it
    expected = (1 - kr - kb) * float(CURVES["bt2390"].map(torch.tensor(500.0, dtype=torch.float64),
                                                           src_peak_nits=1000.0, dst_peak_nits=100.0))
    lum = {}
    for gamut in fused.GAMUTS:
        t = fused.build_tables("bt2390", 1000, 100, gamut=gamut)
        out = fused.tonemap_yuv420_torch(y, u, v, t)
        assert 16 <= int(out[0][0, 0]) <= 235 and 16 <= int(out[1][0, 0]) <= 240
        codes = torch.tensor([float(out[0][0, 0]), float(out[1][0, 0]), float(out[2][0, 0])]).view(3, 1, 1)
        rgb = eotf_BT1886(ycbcr_to_rgb(codes_to_ycbcr(codes, bits=8), "bt709").clamp(0, 1), L_W=100.0)
        lum[gamut] = float(luminance(rgb, "bt709"))
    assert lum["desaturate"] == pytest.approx(expected, rel=0.05)
    assert lum["clip"] > lum["desaturate"] * 1.05


# -- determinism, dither --------------------------------------------------------------------------------
@pytest.mark.parametrize("dither", fused.DITHERS)
def test_deterministic(dither):
    y, u, v = gradient_planes()
    t = fused.build_tables("bt2390", 1000, 100)
    first = fused.tonemap_yuv420_torch(y, u, v, t, dither=dither, seed=11)
    again = fused.tonemap_yuv420_torch(y, u, v, t, dither=dither, seed=11)
    other = fused.tonemap_yuv420_torch(y, u, v, t, dither=dither, seed=12)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    same_as_other = all(np.array_equal(a, b) for a, b in zip(first, other))
    assert same_as_other == (dither != "tpdf"), "only TPDF noise depends on the seed"
    if fused.native_available():
        native = fused.tonemap_yuv420_native(y, u, v, t, dither=dither, seed=11)
        assert all(int(code_diff(a, b).max()) <= 1 for a, b in zip(first, native))


def test_dither_noise_is_bounded_and_centred():
    index = torch.arange(200_000, dtype=torch.int64)
    noise = fused._tpdf_noise(fused.lowbias32(3), index)
    assert float(noise.min()) > -1 and float(noise.max()) < 1
    assert abs(float(noise.mean())) < 0.01
    assert float(noise.std()) == pytest.approx(1 / math.sqrt(6), rel=0.02)  # triangular on (-1, 1)
    ordered = fused._ordered_noise(8, 8, torch.device("cpu"))
    assert sorted(ordered.flatten().tolist()) == pytest.approx([(2 * b + 1) / 128 - 0.5 for b in range(64)])


def test_dither_breaks_banding_on_average():
    """On a flat field between two codes, the mean output of TPDF and ordered dither lands
    between them (no dither: always the same code)."""
    level = 0.6 * 876 + 64
    y = np.full((32, 32), round(level), np.uint16)
    u = np.full((16, 16), 512, np.uint16)
    t = fused.build_tables("bt2390", 1000, 100)
    means = {d: fused.tonemap_yuv420_torch(y, u, u, t, dither=d, seed=1)[0].astype(float) for d in fused.DITHERS}
    assert means["none"].std() == 0
    for d in ("ordered", "tpdf"):
        assert means[d].std() > 0
        assert abs(means[d].mean() - means["none"].mean()) < 0.6


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["torch", "native"])
def test_odd_or_mismatched_sizes_are_rejected(backend):
    if backend == "native":
        pytest.importorskip("hdrvideo._native")
    t = fused.build_tables("bt2390", 1000, 100)
    y, u, v = random_planes(8, 8)
    with pytest.raises(InvalidInputError, match="even"):
        fused.tonemap_yuv420(y[:7], u, v, t, backend=backend)
    with pytest.raises(InvalidInputError, match="even"):
        fused.tonemap_yuv420(y[:, :7], u, v, t, backend=backend)
    with pytest.raises(InvalidInputError, match="expected shape"):
        fused.tonemap_yuv420(y, u[:3], v, t, backend=backend)
    with pytest.raises(InvalidInputError):
        fused.tonemap_yuv420(y.astype(np.float32), u, v, t, backend=backend)
    with pytest.raises(ValueError):  # InvalidInputError is also a ValueError
        fused.tonemap_yuv420(y, u, v, t, dither="blue", backend=backend)


def test_backend_selection(monkeypatch):
    y, u, v = random_planes(4, 4)
    t = fused.build_tables("bt2390", 1000, 100)
    with pytest.raises(InvalidInputError, match="backend"):
        fused.tonemap_yuv420(y, u, v, t, backend="gpu")
    monkeypatch.setattr(fused, "_native_module", lambda: None)
    assert not fused.native_available()
    with pytest.raises(UnsupportedError, match="not built"):
        fused.tonemap_yuv420_native(y, u, v, t)
    out = fused.tonemap_yuv420(y, u, v, t)  # auto falls back to torch
    assert out[0].shape == (4, 4)
    with pytest.raises(UnsupportedError):
        fused.FusedTonemapper(curve="bt2390", intensity="maxrgb", backend="native")


# -- the fast path as a chain -----------------------------------------------------------------------------
def test_supports():
    assert fused.supports("tonemap=curve=bt2390:intensity=maxrgb")
    assert fused.supports("tonemap=curve=spline:intensity=luminance:target=hdr10:peak_nits=600")
    assert fused.supports("tonemap=curve=bt2390:intensity=maxrgb,gamut=mode=desaturate")
    assert fused.supports("tonemap=curve=bt2390:intensity=maxrgb", ColorSpec(), SDR_SPEC)
    for chain, why in (
        ("tonemap=curve=bt2390", "intensity"),  # ictcp is not fused
        ("tonemap=curve=bt2390:intensity=maxrgb:target=hlg", "target"),
        ("tonemap=curve=bt2390:intensity=maxrgb:desat=0.8", "desat"),
        ("tonemap=curve=bt2390:intensity=maxrgb,gamut", "gamut"),  # perceptual
        ("gamut=mode=clip", "tonemap"),
        ("", "tonemap"),
    ):
        assert not fused.supports(chain)
        assert why in fused.unsupported_reason(chain)
    chain = "tonemap=curve=bt2390:intensity=maxrgb"
    assert not fused.supports(chain, ColorSpec(transfer="hlg", peak_nits=1000.0))
    assert not fused.supports(chain, ColorSpec(bit_depth=8))
    assert not fused.supports(chain, ColorSpec(), HDR10_SPEC)  # an SDR tone map written as HDR10
    assert not fused.supports(chain, ColorSpec(), SDR_SPEC.replace(peak_nits=203.0, white_nits=203.0))


def test_tonemapper_matches_generic_chain():
    """FusedTonemapper over a few frames == the generic chain (smoothed statistics, spline
    with avg_pq from the statistics, gamut desaturate), within 1 code."""
    frames = _first_frames("tos", 3)
    chain = "tonemap=curve=spline:intensity=maxrgb,gamut=mode=desaturate"
    generic = parse_chain(chain)
    ft = fused.FusedTonemapper.from_chain(chain)
    for vf in frames:
        x = frame_to_working(vf, ColorSpec())
        for op in generic:
            x = op.process(x)
        ref = frame_planes(working_to_frame(x, SDR_SPEC, pix_fmt="yuv420p"))
        out = ft.process(vf)
        assert out.format.name == "yuv420p" and (out.width, out.height) == (vf.width, vf.height)
        assert (out.color_primaries, out.color_trc, out.colorspace, out.color_range) == (1, 1, 1, 1)
        assert out.pts == vf.pts
        mapping = generic[0].last_mapping[0]
        assert ft.last_mapping["src_peak_nits"] == pytest.approx(mapping["src_peak_nits"], rel=1e-4)
        assert ft.last_mapping["params"]["avg_pq"] == pytest.approx(mapping["params"]["avg_pq"], abs=1e-5)
        for a, b in zip(frame_planes(out), ref):
            assert int(code_diff(a, b).max()) <= 1


def test_tonemapper_hdr10_output_and_state(real_frame):
    ft = fused.FusedTonemapper(curve="bt2390", intensity="maxrgb", target="hdr10", peak_nits=600.0)
    out = ft.process(real_frame)
    assert out.format.name == "yuv420p10le"
    assert (out.color_primaries, out.color_trc, out.colorspace, out.color_range) == (9, 16, 9, 1)
    assert ft.output_target().kind == "hdr10"
    state = json.loads(json.dumps(ft.state_dict()))
    second = frame_planes(ft.process(real_frame))
    resumed = fused.FusedTonemapper(curve="bt2390", intensity="maxrgb", target="hdr10", peak_nits=600.0)
    resumed.load_state_dict(state)
    for a, b in zip(second, frame_planes(resumed.process(real_frame))):
        assert np.array_equal(a, b)
    ft.reset()
    assert ft.frames == 0 and ft.operator.tracker.state is None
    with pytest.raises(InvalidInputError):
        ft.load_state_dict({"frames": 1})


def test_tonemapper_frame_exact_first_frame():
    """The first frame is mapped with its own statistics (floored at 203 cd/m²)."""
    vf = _first_frames("sample")[0]
    ft = fused.FusedTonemapper(curve="bt2390", intensity="maxrgb")
    ft.process(vf)
    measured = measure_statistics(frame_to_working(vf, ColorSpec()))
    assert ft.last_mapping["src_peak_nits"] == pytest.approx(max(measured.peak_nits, 203.0), rel=1e-3)


def test_tonemapper_backends_agree_and_dither_is_deterministic(native):
    vf = _first_frames("sample")[0]
    chain = "tonemap=curve=bt2390:intensity=maxrgb:dither=true"  # the writer's TPDF dither
    outs = [frame_planes(fused.FusedTonemapper.from_chain(chain, backend=b).process(vf)) for b in ("native", "torch", "native")]
    for a, b, c in zip(*outs):
        assert int(code_diff(a, b).max()) <= 1
        assert np.array_equal(a, c), "same input, same seed: same bytes"


def test_tonemapper_rejects_what_it_cannot_do():
    with pytest.raises(UnsupportedError, match="intensity"):
        fused.FusedTonemapper(curve="bt2390")  # ictcp
    with pytest.raises(InvalidInputError):
        fused.FusedTonemapper(parse_chain("tonemap=intensity=maxrgb")[0], curve="bt2390")
    av = pytest.importorskip("av")
    ft = fused.FusedTonemapper(curve="bt2390", intensity="maxrgb")
    with pytest.raises(UnsupportedError, match="yuv420p10le"):
        ft.process(av.VideoFrame(16, 16, "yuv420p"))


# -- statistics from the planes ----------------------------------------------------------------------
def test_sample_linear_matches_generic_conversion(real_frame):
    planes = frame_planes(real_frame)
    t = fused.build_tables("bt2390", 1000, 100)
    sub = fused.sample_linear(*planes, t, 4, backend="torch")
    ref = subsample_grid(frame_to_working(real_frame, ColorSpec()), 4)
    assert sub.shape == ref.shape
    assert float(((sub - ref).abs() / (ref.abs() + 1e-2)).max()) < 1e-3
    a, b = measure_statistics(sub, grid_step=1), measure_statistics(ref, grid_step=1)
    assert a.peak_pq == pytest.approx(b.peak_pq, abs=1e-5) and a.avg_pq == pytest.approx(b.avg_pq, abs=1e-5)
    if fused.native_available():
        assert torch.equal(fused.sample_linear(*planes, t, 4, backend="native"), sub)


def test_native_coefficient_layout(native):
    assert native.build_info()["n_coefficients"] == len(fused.COEFFICIENTS)


@pytest.mark.parametrize("source_peak", ["frame", "metadata"])
def test_tonemapper_source_peak_modes(source_peak):
    """``source_peak="frame"`` and ``"metadata"`` choose the peak as the generic operator does."""
    vf = _first_frames("sample")[0]
    side_data = {"content_light_level": {"max_cll_nits": 800.0}}
    chain = f"tonemap=curve=bt2390:intensity=maxrgb:source_peak={source_peak}"
    ft = fused.FusedTonemapper.from_chain(chain)
    ft.process(vf, side_data)
    generic = parse_chain(chain)[0]
    expected = generic.mapping_for(frame_to_working(vf, ColorSpec()), side_data)
    assert ft.last_mapping["src_peak_nits"] == pytest.approx(expected["src_peak_nits"], rel=1e-3)
    assert ft.last_mapping["source"] == expected["source"]
    if source_peak == "metadata":
        assert ft.last_mapping["src_peak_nits"] == 800.0 and ft.last_statistics is None
