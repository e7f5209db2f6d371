"""Tests of hdrvideo.io.metadata: ST 2086, CTA-861.3 and ST 2094-40 (HDR10+) metadata.

Oracles: the system ``ffprobe`` (Debian FFmpeg 5.1, independent of the FFmpeg 8 inside
PyAV) and the hdr10plus_tool JSON exports that sit beside the HDR10+ test streams.
"""

from __future__ import annotations

import ctypes
import json
import math
import shutil
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdrvideo.errors import MetadataError
from hdrvideo.io import metadata as M
from hdrvideo.io.metadata import (
    ContentLightLevel,
    HDR10PlusMetadata,
    MasteringDisplay,
    frame_side_data,
    from_svtav1_string,
    from_x265_string,
    parse_content_light_level,
    parse_hdr10plus,
    parse_mastering_display,
    parse_max_cll,
    svtav1_mastering_display,
    svtav1_params,
    validate_content_light_level,
    validate_hdr10plus,
    validate_mastering_display,
    x265_master_display,
    x265_params,
)

av = pytest.importorskip("av")

DATA = Path("/work/shared/data/video")
FFPROBE = shutil.which("ffprobe")
needs_ffprobe = pytest.mark.skipif(FFPROBE is None, reason="ffprobe not installed")

P3_1000 = MasteringDisplay(
    red=(0.68, 0.32),
    green=(0.265, 0.69),
    blue=(0.15, 0.06),
    white_point=(0.3127, 0.329),
    min_luminance_nits=0.0001,
    max_luminance_nits=1000.0,
)


def _data(rel: str) -> Path:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"test material {rel} not present")
    return path


# ---------------------------------------------------------------------------------------
# helpers: ffprobe's default (key=value) output, which keeps repeated keys in order
# ---------------------------------------------------------------------------------------


Section = list[tuple[str, str]]


def _ffprobe_side_data(path: Path, n_frames: int) -> tuple[list[list[Section]], list[Section]]:
    """(per frame: list of side data sections as (key, value) lists, stream side data)."""
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-read_intervals", f"%+#{n_frames}",
         "-show_frames", "-show_streams", "-show_entries", "frame=side_data_list:stream=side_data_list",
         "-of", "default", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    frames: list[list[Section]] = []
    stream: list[Section] = []
    where = None
    current: list[tuple[str, str]] | None = None
    for line in out.splitlines():
        line = line.strip()
        if line == "[FRAME]":
            frames.append([])
            where = "frame"
        elif line == "[STREAM]":
            where = "stream"
        elif line == "[SIDE_DATA]":
            current = []
        elif line == "[/SIDE_DATA]":
            (frames[-1] if where == "frame" else stream).append(current)
            current = None
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current.append((key, value))
    return frames, stream


def _section(sections: list[list[tuple[str, str]]], kind: str) -> dict[str, str] | None:
    for sec in sections:
        if dict(sec).get("side_data_type") == kind:
            return dict(sec)
    return None


def _q(text: str) -> Fraction:
    num, _, den = text.partition("/")
    return Fraction(int(num), int(den or 1))


def _close(value: float, expected: Fraction, tol: float = 1e-12) -> bool:
    return abs(value - float(expected)) <= tol


def _assert_md_matches_ffprobe(md: MasteringDisplay, sec: dict[str, str]) -> None:
    pairs = {
        "red_x": md.red[0], "red_y": md.red[1],
        "green_x": md.green[0], "green_y": md.green[1],
        "blue_x": md.blue[0], "blue_y": md.blue[1],
        "white_point_x": md.white_point[0], "white_point_y": md.white_point[1],
        "min_luminance": md.min_luminance_nits, "max_luminance": md.max_luminance_nits,
    }
    for key, ours in pairs.items():
        assert _close(ours, _q(sec[key])), (key, ours, sec[key])


def _decoded(path: Path, n_frames: int | None = None) -> list[dict]:
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame_side_data(frame))
            if n_frames is not None and len(out) >= n_frames:
                break
    return out


# ---------------------------------------------------------------------------------------
# struct mirrors and parsers on synthetic buffers
# ---------------------------------------------------------------------------------------


def test_struct_sizes_match_ffmpeg8():
    assert ctypes.sizeof(M._AVMasteringDisplayMetadata) == 88
    assert ctypes.sizeof(M._AVContentLightMetadata) == 8
    assert ctypes.sizeof(M._AVDynamicHDRPlus) == 11304


def _mdcv_bytes(prims, white, lo, hi, has_p=1, has_l=1) -> bytes:
    vals = [v for p in prims for xy in p for v in xy] + [v for xy in white for v in xy]
    return struct.pack("=16i4i2i", *vals, *lo, *hi, has_p, has_l)


def test_parse_mastering_display_synthetic_rgb_order_and_rationals():
    raw = _mdcv_bytes(
        [((34000, 50000), (16000, 50000)), ((13250, 50000), (34500, 50000)), ((7500, 50000), (3000, 50000))],
        [(15635, 50000), (16450, 50000)], (1, 10000), (10000000, 10000),
    )
    assert len(raw) == 88
    md = parse_mastering_display(raw)
    assert md.red == (0.68, 0.32) and md.green == (0.265, 0.69) and md.blue == (0.15, 0.06)
    assert md.white_point == (0.3127, 0.329)
    assert md.min_luminance_nits == 0.0001 and md.max_luminance_nits == 1000.0
    assert md.has_primaries and md.has_luminance
    # a longer buffer (a future libavutil appending fields) reads by its prefix
    assert parse_mastering_display(raw + b"\x00" * 8) == md


def test_parse_mastering_display_unset_rationals_and_flags():
    raw = _mdcv_bytes([((0, 0), (0, 0))] * 3, [(0, 0), (0, 0)], (0, 0), (0, 0), 0, 0)
    md = parse_mastering_display(raw)
    assert md.red == (0.0, 0.0) and md.max_luminance_nits == 0.0
    assert not md.has_primaries and not md.has_luminance
    raw_bad = _mdcv_bytes([((1, 0), (0, 1))] * 3, [(0, 1), (0, 1)], (0, 1), (1, 1))
    assert math.isnan(parse_mastering_display(raw_bad).red[0])


@pytest.mark.parametrize("parser", [parse_mastering_display, parse_content_light_level, parse_hdr10plus])
def test_parsers_reject_short_buffers(parser):
    with pytest.raises(MetadataError):
        parser(b"\x00" * 7)
    with pytest.raises(ValueError):  # MetadataError is a ValueError too
        parser(b"")


def test_parse_content_light_level_synthetic():
    cll = parse_content_light_level(struct.pack("=2I", 1000, 400))
    assert cll == ContentLightLevel(max_cll_nits=1000, max_fall_nits=400)


def _hdr10plus_struct(num_windows=1) -> M._AVDynamicHDRPlus:
    s = M._AVDynamicHDRPlus()
    s.itu_t_t35_country_code = 0xB5
    s.application_version = 1
    s.num_windows = num_windows
    s.targeted_system_display_maximum_luminance.num, s.targeted_system_display_maximum_luminance.den = 400, 1
    p = s.params[0]
    for i, code in enumerate((17830, 16895, 14252)):
        p.maxscl[i].num, p.maxscl[i].den = code, 100000
    p.average_maxrgb.num, p.average_maxrgb.den = 1037, 100000
    pct = [1, 5, 10, 25, 50, 75, 90, 95, 99]
    vals = [3, 14024, 43, 56, 219, 1036, 2714, 4668, 14445]
    p.num_distribution_maxrgb_percentiles = 9
    for i, (a, b) in enumerate(zip(pct, vals)):
        p.distribution_maxrgb[i].percentage = a
        p.distribution_maxrgb[i].percentile.num, p.distribution_maxrgb[i].percentile.den = b, 100000
    p.fraction_bright_pixels.num, p.fraction_bright_pixels.den = 2, 1000
    p.tone_mapping_flag = 1
    p.knee_point_x.num, p.knee_point_x.den = 164, 4095
    p.knee_point_y.num, p.knee_point_y.den = 240, 4095
    p.num_bezier_curve_anchors = 3
    for i, a in enumerate((143, 298, 447)):
        p.bezier_curve_anchors[i].num, p.bezier_curve_anchors[i].den = a, 1023
    return s


def test_parse_hdr10plus_synthetic_units():
    meta = parse_hdr10plus(bytes(_hdr10plus_struct()))
    assert isinstance(meta, HDR10PlusMetadata)
    assert meta.itu_t_t35_country_code == 0xB5 and meta.application_version == 1 and meta.num_windows == 1
    assert meta.targeted_system_display_maximum_luminance_nits == 400.0
    assert meta.targeted_system_display_actual_peak_luminance is None
    assert not meta.mastering_display_actual_peak_luminance_flag
    w = meta.windows[0]
    assert w.maxscl_nits == pytest.approx((1783.0, 1689.5, 1425.2))  # code / 10 cd/m²
    assert meta.scene_peak_nits == pytest.approx(1783.0)
    assert w.average_maxrgb_nits == pytest.approx(103.7)
    assert [p for p, _ in w.distribution_maxrgb_nits] == [1, 5, 10, 25, 50, 75, 90, 95, 99]
    assert w.distribution_maxrgb_nits[-1][1] == pytest.approx(1444.5)
    assert w.fraction_bright_pixels == pytest.approx(0.002)
    assert w.tone_mapping_flag and w.knee_point_x == pytest.approx(164 / 4095)
    assert w.bezier_curve_anchors == pytest.approx((143 / 1023, 298 / 1023, 447 / 1023))
    assert not w.color_saturation_mapping_flag and w.color_saturation_weight == 1.0
    assert w.selector is None
    json.dumps(meta.to_dict())
    assert validate_hdr10plus(meta) == []


def test_parse_hdr10plus_windows_and_peak_arrays():
    s = _hdr10plus_struct(num_windows=2)
    s.params[1].window_lower_right_corner_x.num, s.params[1].window_lower_right_corner_x.den = 639, 1
    s.params[1].center_of_ellipse_x = 320
    s.params[1].rotation_angle = 45
    s.params[1].overlap_process_option = 1
    s.mastering_display_actual_peak_luminance_flag = 1
    s.num_rows_mastering_display_actual_peak_luminance = 2
    s.num_cols_mastering_display_actual_peak_luminance = 3
    s.mastering_display_actual_peak_luminance[1][2].num = 15
    s.mastering_display_actual_peak_luminance[1][2].den = 15
    meta = parse_hdr10plus(bytes(s))
    assert meta.num_windows == 2 and len(meta.windows) == 2
    sel = meta.windows[1].selector
    assert sel is not None and sel.window_lower_right_corner == (639.0, 0.0)
    assert sel.center_of_ellipse == (320, 0) and sel.rotation_angle_degrees == 45 and sel.overlap_process_option == 1
    assert meta.mastering_display_actual_peak_luminance == ((0.0, 0.0, 0.0), (0.0, 0.0, 1.0))
    json.dumps(meta.to_dict())
    s.num_windows = 0
    with pytest.raises(MetadataError, match="num_windows"):
        parse_hdr10plus(bytes(s))


def test_frame_without_side_data_gives_empty_dict():
    frame = av.VideoFrame(16, 16, "yuv420p")
    assert frame_side_data(frame) == {}


# ---------------------------------------------------------------------------------------
# real files against ffprobe
# ---------------------------------------------------------------------------------------

STATIC_FILES = [
    "hdr10/sample_with_colr_mdcv_and_clli.mp4",  # AV1 in MP4, mdcv/clli boxes
    "hdr10plus/hdr10-video-with-sdr-container.mp4",
    "hdr10plus/ToS-s01.h265",  # no CLL SEI
    "hdr10plus/ToS-s07.h265",
    "metadata_only/hdr10plus_regular.mkv",
    "metadata_only/dovi_p81_regular.mkv",
    "metadata_only/hdr10plus_single-frame.hevc",
]


@needs_ffprobe
@pytest.mark.parametrize("rel", STATIC_FILES)
def test_static_metadata_matches_ffprobe(rel):
    path = _data(rel)
    n = 3
    ours = _decoded(path, n)
    frames, stream = _ffprobe_side_data(path, n)
    assert ours, "no frame decoded"
    for i, sd in enumerate(ours):
        # ffprobe 5.1 reports MP4/Matroska container metadata at stream level; FFmpeg 8
        # (inside PyAV) puts it on the frames.
        sections = (frames[i] if i < len(frames) else []) + stream
        md_ref = _section(sections, "Mastering display metadata")
        cll_ref = _section(sections, "Content light level metadata")
        assert ("mastering_display" in sd) == (md_ref is not None)
        assert ("content_light_level" in sd) == (cll_ref is not None)
        if md_ref is not None:
            _assert_md_matches_ffprobe(sd["mastering_display"], md_ref)
        if cll_ref is not None:
            cll = sd["content_light_level"]
            assert cll.max_cll_nits == int(cll_ref["max_content"])
            assert cll.max_fall_nits == int(cll_ref["max_average"])


def _hdr10plus_pairs(meta: HDR10PlusMetadata) -> list[tuple[str, float]]:
    """Our values in ffprobe's print order, converted back to ffprobe's rationals' values."""
    w = meta.windows[0]
    out = [("num_windows", meta.num_windows),
           ("targeted_system_display_maximum_luminance", meta.targeted_system_display_maximum_luminance_nits)]
    out += [("maxscl", v / 10000) for v in w.maxscl_nits]
    out += [("average_maxrgb", w.average_maxrgb_nits / 10000)]
    out += [("num_distribution_maxrgb_percentiles", len(w.distribution_maxrgb_nits))]
    for p, v in w.distribution_maxrgb_nits:
        out += [("distribution_maxrgb_percentage", p), ("distribution_maxrgb_percentile", v / 10000)]
    out += [("fraction_bright_pixels", w.fraction_bright_pixels)]
    if w.tone_mapping_flag:
        out += [("knee_point_x", w.knee_point_x), ("knee_point_y", w.knee_point_y),
                ("num_bezier_curve_anchors", len(w.bezier_curve_anchors))]
        out += [("bezier_curve_anchors", a) for a in w.bezier_curve_anchors]
    return out


_FFPROBE_HDR10PLUS_KEYS = {
    "num_windows", "targeted_system_display_maximum_luminance", "maxscl", "average_maxrgb",
    "num_distribution_maxrgb_percentiles", "distribution_maxrgb_percentage", "distribution_maxrgb_percentile",
    "fraction_bright_pixels", "knee_point_x", "knee_point_y", "num_bezier_curve_anchors", "bezier_curve_anchors",
}


@needs_ffprobe
@pytest.mark.parametrize("rel,n", [("hdr10plus/hdr10-video-with-sdr-container.mp4", 3), ("hdr10plus/ToS-s01.h265", 6)])
def test_hdr10plus_matches_ffprobe_per_frame(rel, n):
    path = _data(rel)
    ours = _decoded(path, n)
    frames, _ = _ffprobe_side_data(path, n)
    assert len(ours) == n and len(frames) >= n
    distinct = set()
    for sd, sections in zip(ours, frames):
        ref = next(s for s in sections if dict(s)["side_data_type"].startswith("HDR Dynamic Metadata SMPTE2094-40"))
        ref_items = [(k, v) for k, v in ref if k in _FFPROBE_HDR10PLUS_KEYS]
        mine = _hdr10plus_pairs(sd["hdr10plus"])
        assert [k for k, _ in mine] == [k for k, _ in ref_items]
        for (key, value), (_, text) in zip(mine, ref_items):
            assert _close(value, _q(text), 1e-9), (key, value, text)
        assert sd["hdr10plus"].application_version == int(dict(ref)["application version"])
        distinct.add(sd["hdr10plus"].windows[0].maxscl_nits)
    assert distinct  # at least one frame compared


# ---------------------------------------------------------------------------------------
# HDR10+ against hdr10plus_tool's JSON exports (integer code values)
# ---------------------------------------------------------------------------------------


def _assert_scene_info_matches(meta: HDR10PlusMetadata, info: dict) -> None:
    w = meta.windows[0]
    lum = info["LuminanceParameters"]
    assert meta.num_windows == info["NumberOfWindows"]
    assert meta.targeted_system_display_maximum_luminance_nits == info["TargetedSystemDisplayMaximumLuminance"]
    assert [round(v * 10) for v in w.maxscl_nits] == lum["MaxScl"]  # 0.1 cd/m² code values
    assert round(w.average_maxrgb_nits * 10) == lum["AverageRGB"]
    dist = lum["LuminanceDistributions"]
    assert [p for p, _ in w.distribution_maxrgb_nits] == dist["DistributionIndex"]
    assert [round(v * 10) for _, v in w.distribution_maxrgb_nits] == dist["DistributionValues"]
    bezier = info.get("BezierCurveData")
    assert w.tone_mapping_flag == (bezier is not None)
    if bezier is not None:
        assert round(w.knee_point_x * 4095) == bezier["KneePointX"]
        assert round(w.knee_point_y * 4095) == bezier["KneePointY"]
        assert [round(a * 1023) for a in w.bezier_curve_anchors] == bezier["Anchors"]


def test_hdr10plus_regular_mkv_matches_json_every_frame():
    path = _data("metadata_only/hdr10plus_regular.mkv")
    scenes = json.loads(_data("metadata_only/hdr10plus_regular_metadata.json").read_text())["SceneInfo"]
    ours = _decoded(path)
    assert len(ours) == len(scenes) == 259
    by_index = {info["SequenceFrameIndex"]: info for info in scenes}
    for i, sd in enumerate(ours):
        _assert_scene_info_matches(sd["hdr10plus"], by_index[i])
    # the metadata changes at the scene cuts the tool reports (frames 0, 3, 6), so the
    # frame order is being checked, not only the values
    summary = json.loads(_data("metadata_only/hdr10plus_regular_metadata.json").read_text())["SceneInfoSummary"]
    maxscl = [sd["hdr10plus"].windows[0].maxscl_nits for sd in ours]
    changes = [0] + [i for i in range(1, len(maxscl)) if maxscl[i] != maxscl[i - 1]]
    assert changes == summary["SceneFirstFrameIndex"] == [0, 3, 6]


def test_hdr10plus_single_frame_matches_json():
    path = _data("metadata_only/hdr10plus_single-frame.hevc")
    info = json.loads(_data("metadata_only/hdr10plus_single-frame-metadata.json").read_text())["SceneInfo"][0]
    (sd,) = _decoded(path)
    _assert_scene_info_matches(sd["hdr10plus"], info)
    assert sd["hdr10plus"].windows[0].tone_mapping_flag  # profile B: has a bezier curve


def test_dolby_vision_flag():
    dovi = _decoded(_data("metadata_only/dovi_p81_regular.mkv"), 2)
    assert all(sd.get("dolby_vision") is True for sd in dovi)
    plus = _decoded(_data("metadata_only/hdr10plus_regular.mkv"), 2)
    assert all("dolby_vision" not in sd for sd in plus)


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bt2020", "p3d65", "bt709"])
def test_validate_good_displays(name):
    md = MasteringDisplay.from_primaries(name, max_luminance_nits=1000, min_luminance_nits=0.005)
    assert validate_mastering_display(md) == []
    assert validate_mastering_display(P3_1000) == []
    assert validate_mastering_display(MasteringDisplay.from_primaries(name, min_luminance_nits=0.0)) == []


def _replace(md: MasteringDisplay, **kw) -> MasteringDisplay:
    import dataclasses

    return dataclasses.replace(md, **kw)


@pytest.mark.parametrize(
    "changes,needle",
    [
        (dict(red=(1.2, 0.3)), "outside [0, 1]"),
        (dict(green=(0.6, 0.6)), "x + y > 1"),
        (dict(blue=(float("nan"), 0.06)), "not a number"),
        (dict(green=(0.68, 0.32)), "triangle"),  # two primaries at the same place
        (dict(white_point=(0.05, 0.05)), "outside the triangle"),
        (dict(red=(0.15, 0.06), blue=(0.68, 0.32)), "permuted"),
        (dict(max_luminance_nits=0.0), "outside (0, 10000]"),
        (dict(max_luminance_nits=12000.0), "outside (0, 10000]"),
        (dict(max_luminance_nits=0.1), "5 cd/m² floor"),
        (dict(min_luminance_nits=1000.0), "not below max"),
        (dict(min_luminance_nits=60.0), "5 cd/m² ceiling"),
        (dict(min_luminance_nits=-1.0), "negative"),
        (dict(has_luminance=False, min_luminance_nits=0.0, max_luminance_nits=0.0), "has no luminance"),
        (dict(has_primaries=False, red=(0, 0), green=(0, 0), blue=(0, 0), white_point=(0, 0)), "no primaries"),
    ],
)
def test_validate_malformed_displays(changes, needle):
    problems = validate_mastering_display(_replace(P3_1000, **changes))
    assert any(needle in p for p in problems), problems


def test_validate_permutation_hint_for_rgb_written_as_gbr():
    # what a writer gives that put R, G, B into the SEI's G, B, R slots
    md = _replace(P3_1000, red=P3_1000.blue, green=P3_1000.red, blue=P3_1000.green)
    (problem,) = validate_mastering_display(md)
    assert "permuted" in problem and "G, B, R" in problem


def test_malformed_real_file_is_flagged():
    """hdr10-video-with-sdr-container.mp4: primaries permuted, max luminance 0.1 cd/m²."""
    (sd,) = _decoded(_data("hdr10plus/hdr10-video-with-sdr-container.mp4"), 1)
    md = sd["mastering_display"]
    assert md.max_luminance_nits == pytest.approx(0.1) and not md.has_luminance
    problems = " | ".join(validate_mastering_display(md))
    assert "permuted" in problems and "5 cd/m² floor" in problems and "has_luminance is false" in problems
    with pytest.raises(MetadataError):
        x265_params(md)  # refuses to re-emit a display whose luminance is flagged absent


@pytest.mark.parametrize(
    "rel",
    ["hdr10/sample_with_colr_mdcv_and_clli.mp4", "hdr10plus/ToS-s07.h265", "metadata_only/hdr10plus_regular.mkv",
     "metadata_only/hdr10plus_single-frame.hevc"],
)
def test_well_formed_real_files_pass(rel):
    (sd,) = _decoded(_data(rel), 1)
    assert validate_mastering_display(sd["mastering_display"]) == []
    if "content_light_level" in sd:
        assert validate_content_light_level(sd["content_light_level"], sd["mastering_display"]) == []


def test_validate_content_light_level():
    assert validate_content_light_level(ContentLightLevel(1000, 400), P3_1000) == []
    (msg,) = validate_content_light_level(ContentLightLevel(0, 0))
    assert "unknown" in msg and "not an error" in msg
    assert any("MaxFALL is 0" in p and "unknown" in p for p in validate_content_light_level(ContentLightLevel(800, 0)))
    assert any("cannot exceed" in p for p in validate_content_light_level(ContentLightLevel(400, 1000)))
    assert any("10000" in p for p in validate_content_light_level(ContentLightLevel(12000, 400)))
    assert any("far above" in p for p in validate_content_light_level(ContentLightLevel(4000, 400), P3_1000))
    assert validate_content_light_level(ContentLightLevel(1100, 180), P3_1000) == []  # mild overshoot is normal


def test_validate_hdr10plus_flags_bad_values():
    s = _hdr10plus_struct()
    s.params[0].maxscl[0].num = 120000  # 12000 cd/m²
    s.params[0].distribution_maxrgb[8].percentile.num = 1  # 99 % below 95 %
    problems = validate_hdr10plus(parse_hdr10plus(bytes(s)))
    assert any("maxscl[0]" in p for p in problems)
    assert any("99 %" in p for p in problems)


# ---------------------------------------------------------------------------------------
# encoder strings
# ---------------------------------------------------------------------------------------


def test_x265_master_display_known_value():
    # x265 docs' D65-P3 1000-nit example, with the P3 green of SMPTE EG 432-1
    assert x265_master_display(P3_1000) == "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
    assert P3_1000.to_x265_string() == x265_master_display(P3_1000)


def test_x265_params_string():
    cll = ContentLightLevel(1000, 400)
    text = x265_params(P3_1000, cll)
    assert text == (
        "hdr10=1:hdr10-opt=0:repeat-headers=1:"
        "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"
    )
    assert x265_params() == ""
    assert x265_params(cll=ContentLightLevel(0, 0)) == "hdr10=1:hdr10-opt=0:repeat-headers=1:max-cll=0,0"
    assert "hdr10-opt=1" in x265_params(P3_1000, hdr10_opt=True)
    assert "repeat-headers" not in x265_params(P3_1000, repeat_headers=False)
    with pytest.raises(MetadataError):
        x265_params(P3_1000, ContentLightLevel(70000, 10))
    with pytest.raises(MetadataError):
        x265_master_display(_replace(P3_1000, red=(float("inf"), 0.3)))


def test_svtav1_params_string():
    text = svtav1_params(P3_1000, ContentLightLevel(1000, 400))
    assert text == (
        "mastering-display=G(0.265,0.69)B(0.15,0.06)R(0.68,0.32)WP(0.3127,0.329)L(1000.0,0.0001)"
        ":content-light=1000,400"
    )
    assert svtav1_params() == ""
    assert from_svtav1_string(svtav1_mastering_display(P3_1000)) == P3_1000


def test_from_x265_string_parses_and_orders():
    md = from_x265_string("G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)")
    assert md.red == pytest.approx((0.68, 0.32)) and md.green == pytest.approx((0.265, 0.69))
    assert md.blue == pytest.approx((0.15, 0.06)) and md.white_point == pytest.approx((0.3127, 0.329))
    assert md.max_luminance_nits == pytest.approx(1000.0) and md.min_luminance_nits == pytest.approx(0.0001)
    # whitespace and any group order
    same = MasteringDisplay.from_x265_string(
        " R(34000,16000) G(13250, 34500)B(7500,3000) WP(15635,16450) L(10000000,1) "
    )
    assert same == md


@pytest.mark.parametrize(
    "text",
    [
        "",
        "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)",  # no L
        "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)X(1,2)",
        "G(0.265,0.69)B(0.15,0.06)R(0.68,0.32)WP(0.3127,0.329)L(1000,0.0001)",  # SVT-AV1 form
        "G(13250,34500)G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)",
        "G(13250;34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)",
        "G(-1,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)",
    ],
)
def test_from_x265_string_rejects_malformed(text):
    with pytest.raises(MetadataError):
        from_x265_string(text)


def test_parse_max_cll():
    assert parse_max_cll("1000,400") == ContentLightLevel(1000, 400)
    assert parse_max_cll(" 0 , 0 ") == ContentLightLevel(0, 0)
    for bad in ("1000", "1000,400,1", "a,b", "70000,1", "-1,2"):
        with pytest.raises(MetadataError):
            parse_max_cll(bad)


_codes16 = st.integers(min_value=0, max_value=50000)


@settings(max_examples=200, deadline=None)
@given(
    chroma=st.lists(_codes16, min_size=8, max_size=8),
    lmax=st.integers(min_value=0, max_value=2**32 - 1),
    lmin=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_x265_string_round_trip_is_exact_on_codes(chroma, lmax, lmin):
    gx, gy, bx, by, rx, ry, wx, wy = chroma
    text = f"G({gx},{gy})B({bx},{by})R({rx},{ry})WP({wx},{wy})L({lmax},{lmin})"
    assert x265_master_display(from_x265_string(text)) == text


_unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    xy=st.lists(_unit, min_size=8, max_size=8),
    lmax=st.floats(min_value=0.0, max_value=10000.0),
    lmin=st.floats(min_value=0.0, max_value=5.0),
)
def test_float_round_trips_within_quantisation(xy, lmax, lmin):
    md = MasteringDisplay(
        red=(xy[0], xy[1]), green=(xy[2], xy[3]), blue=(xy[4], xy[5]), white_point=(xy[6], xy[7]),
        min_luminance_nits=lmin, max_luminance_nits=lmax,
    )
    back = from_x265_string(x265_master_display(md))
    xy_in = (*md.red, *md.green, *md.blue, *md.white_point)
    for a, b in zip(xy_in, (*back.red, *back.green, *back.blue, *back.white_point)):
        assert abs(a - b) <= 0.00001 + 1e-12  # half of x265's 0.00002 unit
    assert abs(back.max_luminance_nits - lmax) <= 0.00005 + 1e-9
    assert abs(back.min_luminance_nits - lmin) <= 0.00005 + 1e-9
    svt = from_svtav1_string(svtav1_mastering_display(md))
    svt_out = (*svt.red, *svt.green, *svt.blue, *svt.white_point, svt.max_luminance_nits, svt.min_luminance_nits)
    for a, b in zip((*xy_in, lmax, lmin), svt_out):
        assert abs(a - b) <= 5e-7 + 1e-9


def test_to_dict_round_trip_and_json():
    d = P3_1000.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert MasteringDisplay.from_dict(d) == P3_1000
    cll = ContentLightLevel(1000, 400)
    assert ContentLightLevel.from_dict(json.loads(json.dumps(cll.to_dict()))) == cll
    with pytest.raises(MetadataError):
        MasteringDisplay.from_dict({"red": [0.6, 0.3]})


# ---------------------------------------------------------------------------------------
# write with the encoders, read back with PyAV and ffprobe
# ---------------------------------------------------------------------------------------


def _encode(path: Path, codec: str, options: dict[str, str], n: int = 3) -> None:
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p10le"
        stream.codec_context.options = options
        for i in range(n):
            rgb = np.full((64, 64, 3), 40 * i + 20, np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p10le")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


WRITE_MD = MasteringDisplay(
    red=(0.708, 0.292), green=(0.17, 0.797), blue=(0.131, 0.046), white_point=(0.3127, 0.329),
    min_luminance_nits=0.005, max_luminance_nits=4000.0,
)
WRITE_CLL = ContentLightLevel(max_cll_nits=1234, max_fall_nits=321)


def _check_written(path: Path, tol_xy: float, tol_max: float, tol_min: float, n: int = 3) -> None:
    ours = _decoded(path)
    assert len(ours) == n
    for sd in ours:  # repeat-headers / per-keyframe OBUs: every frame carries it
        md, cll = sd["mastering_display"], sd["content_light_level"]
        for a, b in zip((*md.red, *md.green, *md.blue, *md.white_point),
                        (*WRITE_MD.red, *WRITE_MD.green, *WRITE_MD.blue, *WRITE_MD.white_point)):
            assert abs(a - b) <= tol_xy
        assert abs(md.max_luminance_nits - WRITE_MD.max_luminance_nits) <= tol_max
        assert abs(md.min_luminance_nits - WRITE_MD.min_luminance_nits) <= tol_min
        assert md.has_primaries and md.has_luminance
        assert cll == WRITE_CLL
        assert validate_mastering_display(md) == []
    if FFPROBE:
        frames, stream = _ffprobe_side_data(path, n)
        sections = frames[0] + stream
        md_ref = _section(sections, "Mastering display metadata")
        cll_ref = _section(sections, "Content light level metadata")
        assert md_ref is not None and cll_ref is not None
        _assert_md_matches_ffprobe(ours[0]["mastering_display"], md_ref)
        assert (int(cll_ref["max_content"]), int(cll_ref["max_average"])) == (1234, 321)


def test_libx265_round_trip(tmp_path):
    if "libx265" not in av.codecs_available:
        pytest.skip("PyAV has no libx265")
    path = tmp_path / "hdr10.mkv"
    _encode(path, "libx265", {"x265-params": x265_params(WRITE_MD, WRITE_CLL) + ":log-level=error"})
    # HEVC SEI quantisation: 0.00002 chromaticity, 0.0001 cd/m² -- these values are exact
    _check_written(path, tol_xy=1e-12, tol_max=1e-9, tol_min=1e-12)
    md = _decoded(path, 1)[0]["mastering_display"]
    assert x265_master_display(md) == x265_master_display(WRITE_MD)


def test_libsvtav1_round_trip(tmp_path):
    if "libsvtav1" not in av.codecs_available:
        pytest.skip("PyAV has no libsvtav1")
    path = tmp_path / "hdr10.mkv"
    _encode(path, "libsvtav1", {"svtav1-params": svtav1_params(WRITE_MD, WRITE_CLL), "preset": "12"})
    # AV1 metadata OBU quantisation: 1/65536, max 1/256 cd/m², min 1/16384 cd/m² (rounded)
    _check_written(path, tol_xy=0.5 / 65536 + 1e-12, tol_max=0.5 / 256, tol_min=0.5 / 16384)
