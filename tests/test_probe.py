"""``hdrvideo probe`` against values read independently with ffprobe."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from hdrvideo.cli import main
from hdrvideo.io.probe import probe
from tests.media import encode_clip, ffprobe_json

CLIPS = [
    "hdr10/sample_with_colr_mdcv_and_clli.mp4",
    "hdr10/hdr10-av1.mp4",
    "hdr10plus/ToS-s01.h265",
    "hdr10plus/ToS-s07.h265",
    "hdr10plus/hdr10-video-with-sdr-container.mp4",
    "hlg/hlg10-color-test.mp4",
    "metadata_only/dovi_p81_regular.mkv",
    "metadata_only/hdr10plus_regular.hevc",
    "metadata_only/hdr10plus_regular.mkv",
    "metadata_only/hdr10plus_single-frame.hevc",
    "other/roadtrip-vp92-10bit.webm",
]
FF_PRIMARIES = {"bt2020": "bt2020", "bt709": "bt709"}
FF_TRANSFER = {"smpte2084": "pq", "arib-std-b67": "hlg", "bt709": "bt1886"}
FF_MATRIX = {"bt2020nc": "bt2020nc", "bt709": "bt709"}


def _rational(text: str) -> float:
    num, _, den = text.partition("/")
    return float(num) / float(den or 1)


@pytest.mark.needs_ffprobe
@pytest.mark.parametrize("name", CLIPS)
def test_probe_matches_ffprobe(shared_data, name):
    path = shared_data / "video" / name
    report = probe(path)
    ff = ffprobe_json("-select_streams", "v:0", "-count_packets", "-show_streams", str(path))["streams"][0]
    v, c = report["video"], report["color"]
    assert (v["width"], v["height"], v["pix_fmt"], v["codec"]) == (ff["width"], ff["height"], ff["pix_fmt"], ff["codec_name"])
    assert v["frame_count"] == int(ff["nb_read_packets"])
    assert v["chroma_subsampling"] == "4:2:0" and v["bit_depth"] == 10
    assert c["range"] == {"tv": "limited", "pc": "full"}[ff["color_range"]]
    if ff.get("color_transfer", "unknown") != "unknown":
        assert c["transfer"] == FF_TRANSFER[ff["color_transfer"]]
        assert c["primaries"] == FF_PRIMARIES[ff["color_primaries"]]
        assert c["signalled"]
    else:
        assert not c["signalled"] and report["warnings"]
    assert c["matrix"] == FF_MATRIX[ff["color_space"]]
    if ff["avg_frame_rate"] != "0/0":
        assert v["frame_rate_fps"] == pytest.approx(_rational(ff["avg_frame_rate"]), rel=1e-3)

    frames = ffprobe_json("-select_streams", "v:0", "-read_intervals", "%+#1", "-show_frames",
                          "-show_entries", "frame=side_data_list", str(path))["frames"]
    # ffprobe 5.1 reports MP4 mdcv/clli boxes at stream level; FFmpeg 8 (PyAV) puts them on frames.
    side = {d["side_data_type"]: d for d in ff.get("side_data_list", [])}
    side.update({d["side_data_type"]: d for d in frames[0].get("side_data_list", [])})
    md = report["hdr"]["mastering_display"]
    if "Mastering display metadata" in side:
        ff_md = side["Mastering display metadata"]
        assert md["max_luminance_nits"] == pytest.approx(_rational(ff_md["max_luminance"]))
        assert md["min_luminance_nits"] == pytest.approx(_rational(ff_md["min_luminance"]))
        assert md["red"][0] == pytest.approx(_rational(ff_md["red_x"]))
        assert md["white_point"][1] == pytest.approx(_rational(ff_md["white_point_y"]))
    else:
        assert md is None
    cll = report["hdr"]["content_light_level"]
    if "Content light level metadata" in side:
        assert cll["max_cll_nits"] == side["Content light level metadata"]["max_content"]
        assert cll["max_fall_nits"] == side["Content light level metadata"]["max_average"]
    else:
        assert cll is None
    assert report["hdr"]["hdr10plus"] == any("2094-40" in k or "HDR10+" in k or "HDR Dynamic" in k for k in side)
    assert report["hdr"]["dolby_vision"] == ("dovi" in name)


def test_probe_of_a_made_clip(tmp_path):
    clip = encode_clip(tmp_path / "hdr10.mkv", frames=5, audio=True)
    report = probe(clip)
    assert report["hdr"]["format"] == "HDR10"
    assert report["video"]["frame_count"] == 5
    assert report["video"]["frame_rate"] == str(Fraction(24))
    assert report["hdr"]["content_light_level"] == {"max_cll_nits": 1000, "max_fall_nits": 400}
    assert report["other_streams"][0]["type"] == "audio"


def test_cli_probe_json_and_text(tmp_path, capsys):
    clip = encode_clip(tmp_path / "hdr10.mkv", frames=3)
    assert main(["probe", "--json", str(clip)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"file", "container", "video", "color", "hdr", "other_streams", "warnings", "decode_errors"}
    assert data["hdr"]["format"] == "HDR10"
    assert main(["probe", str(clip)]) == 0
    text = capsys.readouterr().out
    assert "HDR format:      HDR10" in text and "MaxCLL 1000" in text
