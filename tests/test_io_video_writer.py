"""The PyAV writer: signalling, HDR metadata, measured MaxCLL/MaxFALL, stream copy, atomic output.

ffprobe (the system FFmpeg, independent of PyAV's bundled one) is the oracle where it can
be: it reads colour signalling and the HEVC/AV1 HDR side data of the first frame. The
system ffprobe (FFmpeg 5.1) does not export H.264's mastering display / light level SEIs,
so those are read back with PyAV.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.errors import HDRVideoWarning, InvalidInputError, OutputError, UnsupportedError
from hdrvideo.frame import Frame
from hdrvideo.io.bitstream import (
    escape_rbsp,
    patch_content_light_level,
    read_content_light_levels,
    unescape_rbsp,
)
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.convert import frame_planes, frame_to_working, working_to_frame
from hdrvideo.io.metadata import ContentLightLevel, MasteringDisplay, frame_side_data
from hdrvideo.io.video_writer import CODECS, VideoWriter, available_codecs
from tests.media import ffprobe_json

HDR10 = ColorSpec()
HLG = ColorSpec(transfer="hlg", peak_nits=1000.0)
SDR = ColorSpec(primaries="bt709", transfer="bt1886", matrix="bt709", bit_depth=8, peak_nits=100.0, white_nits=100.0)
P3_1000 = MasteringDisplay.from_primaries("p3d65", max_luminance_nits=1000.0, min_luminance_nits=0.005)

needs_ffprobe = pytest.mark.needs_ffprobe
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")

#: One 10-bit limited-range PQ code step near 1000 cd/m² is about 0.9 %.
PQ_STEP_AT_1000 = float(eotf_ST2084(torch.tensor((723 - 64) / 876.0, dtype=torch.float64))
                        - eotf_ST2084(torch.tensor((722 - 64) / 876.0, dtype=torch.float64)))


def patch_clip(frames: int = 3, height: int = 72, width: int = 128, background: float = 100.0) -> list[torch.Tensor]:
    """Neutral frames: ``background`` cd/m² with a 20x30 patch at 1000 cd/m² in frame 1."""
    out = []
    for i in range(frames):
        x = torch.full((3, height, width), background)
        if i == 1:
            x[:, 10:30, 20:50] = 1000.0
        out.append(x)
    return out


def write(path: Path, frames: list[torch.Tensor], **kwargs) -> VideoWriter:
    kwargs.setdefault("spec", HDR10)
    if kwargs["spec"].transfer == "pq" and kwargs.get("codec", "libx265") != "ffv1":
        kwargs.setdefault("mastering_display", P3_1000)
    with VideoWriter(path, **kwargs) as writer:
        for x in frames:
            writer.write(x)
    return writer


def probe_stream(path: Path) -> dict:
    data = ffprobe_json(
        "-show_entries",
        "stream=codec_name,codec_tag_string,profile,pix_fmt,color_range,color_space,color_transfer,"
        "color_primaries,width,height",
        "-select_streams", "v:0", str(path),
    )
    return data["streams"][0]


def probe_side_data(path: Path) -> dict[str, dict]:
    data = ffprobe_json("-show_frames", "-read_intervals", "%+#1", "-show_entries", "frame=side_data_list", str(path))
    return {sd["side_data_type"]: sd for sd in data["frames"][0].get("side_data_list", [])}


def decoded_side_data(path: Path) -> dict:
    with av.open(str(path)) as container:
        return frame_side_data(next(container.decode(video=0)))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp." in p.name)


# ---------------------------------------------------------------------------------------
# signalling
# ---------------------------------------------------------------------------------------


@needs_ffprobe
@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_hdr10_hevc_signalling_and_static_metadata(tmp_path, ext):
    path = tmp_path / f"hdr10.{ext}"
    writer = write(path, patch_clip(), content_light_level=ContentLightLevel(1000, 400))
    stream = probe_stream(path)
    assert stream["codec_name"] == "hevc" and stream["profile"] == "Main 10"
    assert stream["pix_fmt"] == "yuv420p10le"
    assert (stream["color_primaries"], stream["color_transfer"], stream["color_space"], stream["color_range"]) == (
        "bt2020", "smpte2084", "bt2020nc", "tv",
    )
    if ext == "mp4":
        assert stream["codec_tag_string"] == "hvc1"
    side = probe_side_data(path)
    md = side["Mastering display metadata"]
    assert md["red_x"] == "34000/50000" and md["green_y"] == "34500/50000" and md["white_point_x"] == "15635/50000"
    assert md["max_luminance"] == "10000000/10000" and md["min_luminance"] == "50/10000"
    cll = side["Content light level metadata"]
    assert (cll["max_content"], cll["max_average"]) == (1000, 400)  # given values go in as given
    # PyAV (FFmpeg 8) reads the same
    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context
        assert (cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range) == (9, 16, 9, 1)
        assert frame_side_data(next(container.decode(video=0)))["mastering_display"].max_luminance_nits == 1000.0
    report = writer.report
    assert report.frames == 3 and (report.width, report.height) == (128, 72) and report.bytes == path.stat().st_size
    assert report.signalled_content_light_level == ContentLightLevel(1000, 400)
    assert report.content_light_level.max_cll_nits == pytest.approx(1000, abs=PQ_STEP_AT_1000)


@needs_ffprobe
def test_hlg_signalling_without_mastering_display(tmp_path):
    path = tmp_path / "hlg.mkv"
    with warnings.catch_warnings():
        warnings.simplefilter("error", HDRVideoWarning)  # HLG needs no mastering display: no warning
        writer = write(path, patch_clip(frames=2), spec=HLG)
    stream = probe_stream(path)
    assert (stream["color_primaries"], stream["color_transfer"], stream["color_space"], stream["pix_fmt"]) == (
        "bt2020", "arib-std-b67", "bt2020nc", "yuv420p10le",
    )
    side = probe_side_data(path)
    assert "Mastering display metadata" not in side and "Content light level metadata" not in side
    assert writer.report.signalled_content_light_level is None
    assert writer.report.content_light_level is not None  # measured, reported, not written


@needs_ffprobe
def test_sdr_bt709_8bit_h264(tmp_path):
    path = tmp_path / "sdr.mp4"
    frames = [torch.linspace(0, 100, 64).expand(3, 48, 64).contiguous() for _ in range(3)]
    writer = write(path, frames, spec=SDR, codec="libx264", crf=18, preset="veryfast")
    stream = probe_stream(path)
    assert stream["codec_name"] == "h264" and stream["profile"] == "High"
    assert (stream["pix_fmt"], stream["color_primaries"], stream["color_transfer"], stream["color_space"],
            stream["color_range"]) == ("yuv420p", "bt709", "bt709", "bt709", "tv")
    assert writer.report.content_light_level is None and writer.report.mastering_display is None


@needs_ffprobe
def test_av1_svt_hdr10_signalling_and_measured_cll(tmp_path):
    path = tmp_path / "hdr10.webm"
    writer = write(path, patch_clip(frames=3, height=72, width=130), codec="libsvtav1", preset="12")
    stream = probe_stream(path)
    assert stream["codec_name"] == "av1" and (stream["width"], stream["height"]) == (130, 72)
    assert (stream["pix_fmt"], stream["color_primaries"], stream["color_transfer"], stream["color_space"],
            stream["color_range"]) == ("yuv420p10le", "bt2020", "smpte2084", "bt2020nc", "tv")
    side = probe_side_data(path)
    measured = writer.report.content_light_level
    cll = side["Content light level metadata"]
    assert (cll["max_content"], cll["max_average"]) == (measured.max_cll_nits, measured.max_fall_nits)
    md = side["Mastering display metadata"]
    assert md["max_luminance"].startswith("256000/256")  # 1000 cd/m² in AV1's 24.8 fixed point


def test_h264_hdr10_measured_cll_in_sei(tmp_path):
    """x264 in this build takes 10-bit input: HDR10 in H.264 High 10, SEIs patched like HEVC's."""
    path = tmp_path / "hdr10.mkv"
    writer = write(path, patch_clip(), codec="libx264", preset="ultrafast")
    side = decoded_side_data(path)
    assert side["content_light_level"] == writer.report.content_light_level
    assert side["mastering_display"].max_luminance_nits == pytest.approx(1000.0)


# ---------------------------------------------------------------------------------------
# measured MaxCLL / MaxFALL
# ---------------------------------------------------------------------------------------


@needs_ffprobe
@pytest.mark.parametrize("ext", ["mkv", "mp4", "ts", "hevc"])
def test_measured_cll_is_what_ffprobe_reads(tmp_path, ext):
    frames = patch_clip(frames=4, background=100.0)
    frames[3] = torch.full((3, 72, 128), 300.0)  # the brightest frame average, not the brightest pixel
    path = tmp_path / f"measured.{ext}"
    writer = write(path, frames)
    measured = writer.report.content_light_level
    # MaxCLL: the 1000 cd/m² patch, within one PQ code step of quantisation
    assert abs(measured.max_cll_nits - 1000) <= PQ_STEP_AT_1000
    # MaxFALL: max over frames of the mean of max(R,G,B): frame 3 (300) beats frame 1 (~159)
    assert abs(measured.max_fall_nits - 300) <= 3
    assert writer.report.signalled_content_light_level == measured
    cll = probe_side_data(path)["Content light level metadata"]
    assert (cll["max_content"], cll["max_average"]) == (measured.max_cll_nits, measured.max_fall_nits)


def test_measured_cll_follows_the_quantised_values(tmp_path):
    """MaxCLL/MaxFALL: per-pixel max(R,G,B) of the 4:4:4 signal on the 10-bit code grid
    (clipped at 10000), before chroma subsampling (CTA-861.3)."""
    x = torch.full((3, 16, 16), 50.0)
    x[0, 4:8, 4:8] = 20000.0  # above PQ's peak: clipped to 10000, red only -> max(R,G,B) is R
    writer = write(tmp_path / "clip.mkv", [x], codec="ffv1")
    # Independently: 50 cd/m² on the limited-range 10-bit grid (876 steps from code 64).
    grey = float(eotf_ST2084(torch.tensor(round(float(eotf_inverse_ST2084(torch.tensor(50.0))) * 876) / 876)))
    measured = writer.report.content_light_level
    assert measured.max_cll_nits == 10000
    assert measured.max_fall_nits == round((16 * 10000 + 240 * grey) / 256)


def test_measured_cll_has_no_chroma_overshoot(tmp_path):
    """Small saturated highlights: 4:2:0 reconstruction overshoots, the measurement must not."""
    x = torch.full((3, 16, 16), 600.0)
    x[1:, :, :7] = 2.0  # saturated red (600 cd/m²) meeting white (600 cd/m²) mid chroma sample
    writer = write(tmp_path / "edge.mkv", [x], codec="ffv1")
    # Decoded 4:2:0, the white pixel beside the edge reads ~2185 cd/m² in R; as graded, 600.
    assert writer.report.content_light_level.max_cll_nits <= 601


def test_mastering_display_taken_from_first_frame_side_data(tmp_path):
    md = MasteringDisplay.from_primaries("bt2020", max_luminance_nits=4000.0, min_luminance_nits=0.0050)
    frames = [Frame(data=x, index=i, side_data={"mastering_display": md}) for i, x in enumerate(patch_clip(frames=2))]
    path = tmp_path / "fromframe.mkv"
    with VideoWriter(path, spec=HDR10) as writer:
        for frame in frames:
            writer.write(frame)
    assert writer.report.mastering_display == md
    assert decoded_side_data(path)["mastering_display"].max_luminance_nits == pytest.approx(4000.0)


def test_hdr10_without_mastering_display_warns(tmp_path):
    with pytest.warns(HDRVideoWarning, match="mastering display"):
        writer = write(tmp_path / "nomd.mkv", patch_clip(frames=1), mastering_display=None)
    side = decoded_side_data(tmp_path / "nomd.mkv")
    assert "mastering_display" not in side
    assert side["content_light_level"] == writer.report.content_light_level


# ---------------------------------------------------------------------------------------
# pixels round trip
# ---------------------------------------------------------------------------------------


def hdr10_gradient(height: int = 64, width: int = 128) -> torch.Tensor:
    """PQ ramp 0.1..4000 cd/m² across; neutral in the top 16 rows, tinted smoothly below."""
    lo, hi = (float(eotf_inverse_ST2084(torch.tensor(v))) for v in (0.1, 4000.0))
    grey = eotf_ST2084(torch.linspace(lo, hi, width)).expand(height, width)
    tint = torch.cat([torch.ones(16), torch.linspace(1.0, 0.6, height - 16)])[:, None]
    return torch.stack([grey, grey * tint, grey * tint.sqrt()]).contiguous()


def decode_all(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return [frame.reformat(format="yuv420p10le") for frame in container.decode(video=0)]


def test_ffv1_pixel_round_trip_is_exact(tmp_path):
    x = hdr10_gradient()
    path = tmp_path / "lossless.mkv"
    write(path, [x, x], codec="ffv1")
    coded = working_to_frame(x, HDR10, pix_fmt="yuv420p10le")
    frames = decode_all(path)
    assert len(frames) == 2
    for got, want in zip(frame_planes(frames[0]), frame_planes(coded)):
        np.testing.assert_array_equal(got, want)  # lossless: the very code values written
    back = frame_to_working(frames[0], HDR10)
    # the neutral ramp's first row has no chroma error: within half a 10-bit code of PQ
    pq_back = eotf_inverse_ST2084(back[1, 0].double()) * 876
    pq_in = eotf_inverse_ST2084(x[1, 0].double()) * 876
    assert float((pq_back - pq_in).abs().max()) <= 0.5 + 1e-3


def test_x265_crf12_round_trip_within_two_pq_codes(tmp_path):
    x = hdr10_gradient()
    path = tmp_path / "crf12.mkv"
    write(path, [x, x, x], crf=12, preset="ultrafast")
    want = working_to_frame(x, HDR10, pix_fmt="yuv420p10le")
    for got in decode_all(path):
        for plane_got, plane_want in zip(frame_planes(got), frame_planes(want)):
            diff = np.abs(plane_got.astype(np.int32) - plane_want.astype(np.int32))
            assert diff.max() <= 8 and diff.mean() <= 1.0  # 10-bit PQ code values
        pq_got = eotf_inverse_ST2084(frame_to_working(got, HDR10).amax(0).double())
        pq_want = eotf_inverse_ST2084(x.amax(0).double())
        assert float((pq_got - pq_want).abs().mean()) * 876 <= 2.0  # mean error under 2 codes


# ---------------------------------------------------------------------------------------
# streams copied from a source
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def av_source(tmp_path_factory) -> Path:
    """2 s of 128x72 video with an AAC 44.1 kHz tone and an ASS subtitle track, in MKV."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    folder = tmp_path_factory.mktemp("source")
    srt = folder / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,400\nhello\n\n2\n00:00:01,500 --> 00:00:01,900\nworld\n")
    path = folder / "source.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=128x72:rate=24:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2", "-i", str(srt),
         "-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-b:a", "64k", "-c:s", "ass", str(path)],
        check=True,
    )
    return path


def probe_streams(path: Path) -> list[dict]:
    return ffprobe_json(
        "-show_entries", "stream=index,codec_type,codec_name,sample_rate,duration:format=duration", "-count_packets",
        "-show_entries", "stream=nb_read_packets", str(path),
    )["streams"]


def audio_seconds(path: Path) -> float:
    data = ffprobe_json("-select_streams", "a:0", "-show_entries", "packet=pts_time,duration_time", str(path))
    packets = data["packets"]
    return float(packets[-1]["pts_time"]) + float(packets[-1]["duration_time"]) - float(packets[0]["pts_time"])


@needs_ffprobe
@needs_ffmpeg
def test_audio_and_subtitles_copied(tmp_path, av_source):
    path = tmp_path / "with_audio.mkv"
    frames = [torch.full((3, 72, 128), 100.0)] * 48  # 2 s at 24 fps
    writer = write(path, frames, copy_streams_from=av_source, preset="ultrafast")
    streams = {s["codec_type"]: s for s in probe_streams(path)}
    assert streams["audio"]["codec_name"] == "aac" and streams["audio"]["sample_rate"] == "44100"
    assert streams["subtitle"]["codec_name"] == "ass"
    assert audio_seconds(path) == pytest.approx(2.0, abs=0.05)
    assert any(s.startswith("audio") for s in writer.report.copied_streams)
    # the audio packets are the source's, byte for byte
    with av.open(str(av_source)) as a, av.open(str(path)) as b:
        first_in = bytes(next(p for p in a.demux(audio=0) if p.size))
        first_out = bytes(next(p for p in b.demux(audio=0) if p.size))
    assert first_in == first_out


@needs_ffprobe
@needs_ffmpeg
def test_copied_streams_respect_the_window_and_container(tmp_path, av_source):
    path = tmp_path / "window.mp4"
    frames = [torch.full((3, 72, 128), 100.0)] * 12  # 0.5 s
    with pytest.warns(HDRVideoWarning, match="subtitle"):  # ASS cannot go into MP4
        write(path, frames, copy_streams_from=av_source, start_seconds=0.5, preset="ultrafast")
    streams = probe_streams(path)
    assert [s["codec_type"] for s in streams] == ["video", "audio"]
    # 0.5 s from the source's 0.5 s mark, plus at most one AAC frame (23 ms) of pre-roll
    assert float(streams[1]["duration"]) == pytest.approx(0.5, abs=0.03)
    # and they are a contiguous run of the source's packets starting there
    with av.open(str(av_source)) as a, av.open(str(path)) as b:
        source = [(float(p.pts * p.time_base), bytes(p)) for p in a.demux(audio=0) if p.size]
        copied = [bytes(p) for p in b.demux(audio=0) if p.size]
    first = [data for _, data in source].index(copied[0])
    assert source[first][0] == pytest.approx(0.5, abs=0.05)
    assert [data for _, data in source[first : first + len(copied)]] == copied


# ---------------------------------------------------------------------------------------
# atomic output and errors
# ---------------------------------------------------------------------------------------


def test_abort_leaves_nothing(tmp_path):
    writer = VideoWriter(tmp_path / "aborted.mkv", spec=HDR10, mastering_display=P3_1000)
    for _ in range(40):  # past x265's look-ahead, so that packets reach the intermediate
        writer.write(torch.full((3, 32, 32), 100.0))
    assert leftovers(tmp_path)  # the intermediate exists while writing
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError):
        writer.write(torch.full((3, 32, 32), 100.0))
    # abort after a successful close changes nothing
    done = write(tmp_path / "done.mkv", patch_clip(frames=1), codec="ffv1")
    done.abort()
    assert done.close() is done.report and (tmp_path / "done.mkv").exists()


def test_non_finite_light_is_replaced_with_a_warning(tmp_path):
    x = torch.full((3, 16, 16), 100.0)
    x[:, 0, 0] = float("nan")
    x[:, 1, 1] = float("inf")
    with pytest.warns(HDRVideoWarning, match="NaN"):
        writer = write(tmp_path / "nan.mkv", [x, x], codec="ffv1")
    assert writer.report.frames == 2 and writer.report.content_light_level.max_cll_nits == 10000


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_exception_inside_with_leaves_nothing(tmp_path, error):
    with pytest.raises(error):
        with VideoWriter(tmp_path / "broken.mp4", spec=HDR10, mastering_display=P3_1000) as writer:
            writer.write(torch.full((3, 32, 32), 100.0))
            raise error("stop")
    assert list(tmp_path.iterdir()) == []


def test_existing_target_refused_before_encoding(tmp_path):
    target = tmp_path / "exists.mkv"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        VideoWriter(target, spec=HDR10)
    assert target.read_bytes() == b"keep me" and leftovers(tmp_path) == []
    write(target, patch_clip(frames=1), overwrite=True)
    assert target.stat().st_size > 100 and leftovers(tmp_path) == []


def test_closing_without_frames_is_an_error(tmp_path):
    writer = VideoWriter(tmp_path / "empty.mkv", spec=HDR10)
    with pytest.raises(OutputError, match="no frames"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


def test_unknown_codec_names_the_available_ones(tmp_path):
    with pytest.raises(UnsupportedError, match="libx265") as info:
        VideoWriter(tmp_path / "x.mkv", spec=HDR10, codec="libvpx-vp9")
    assert "\n" not in str(info.value)
    assert set(available_codecs()) == set(CODECS)  # this build has all four


def test_codec_container_mismatch_and_unknown_extension(tmp_path):
    with pytest.raises(UnsupportedError, match="webm"):
        VideoWriter(tmp_path / "x.webm", spec=HDR10, codec="libx265")
    with pytest.raises(OutputError, match="extension"):
        VideoWriter(tmp_path / "x.avi", spec=HDR10)
    with pytest.raises(UnsupportedError, match="yuv420p12le"):
        VideoWriter(tmp_path / "x.mkv", spec=ColorSpec(bit_depth=12), codec="libsvtav1")
    with pytest.raises(InvalidInputError, match="crf"):
        VideoWriter(tmp_path / "x.mkv", spec=HDR10, codec="ffv1", crf=10)


def test_frame_size_mismatch_and_odd_size(tmp_path):
    with VideoWriter(tmp_path / "size.mkv", spec=HDR10, codec="ffv1") as writer:
        writer.write(torch.full((3, 32, 32), 100.0))
        with pytest.raises(InvalidInputError, match="32x32"):
            writer.write(torch.full((3, 32, 48), 100.0))
        writer.write(torch.full((2, 3, 32, 32), 100.0))  # a batch
    assert writer.report.frames == 3
    with VideoWriter(tmp_path / "odd.mkv", spec=HDR10, codec="ffv1") as writer:
        with pytest.raises(InvalidInputError, match="even"):
            writer.write(torch.full((3, 31, 32), 100.0))
        writer.write(torch.full((3, 32, 32), 100.0))


def test_encoder_rejection_becomes_unsupported_error(tmp_path):
    writer = VideoWriter(tmp_path / "bad.mkv", spec=HDR10, preset="no-such-preset", mastering_display=P3_1000)
    with pytest.raises(UnsupportedError, match="libx265") as info:
        writer.write(torch.full((3, 32, 32), 100.0))
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_ntsc_rate_and_duration(tmp_path):
    path = tmp_path / "ntsc.mp4"
    writer = write(path, [torch.full((3, 32, 32), 100.0)] * 6, rate=23.976, preset="ultrafast")
    assert writer.report.rate == Fraction(24000, 1001)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == Fraction(24000, 1001)
        times = sorted(float(f.time) for f in container.decode(stream))
    assert times[0] == pytest.approx(0.0, abs=1e-6)
    assert times[-1] == pytest.approx(5 * 1001 / 24000, abs=1e-4)


# ---------------------------------------------------------------------------------------
# bitstream helper
# ---------------------------------------------------------------------------------------


def test_emulation_prevention_round_trip():
    rng = random.Random(7)
    for _ in range(300):
        rbsp = bytes(rng.choice([0, 0, 0, 1, 2, 3, 0x80, 0xFF]) for _ in range(rng.randint(1, 40))) + b"\x80"
        nal = escape_rbsp(rbsp)
        for pattern in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
            assert pattern not in nal  # no start code can be emulated
        assert unescape_rbsp(nal) == rbsp
    assert escape_rbsp(b"\x00\x00\x03") == b"\x00\x00\x03\x03"  # a real 03 after 00 00 is escaped too
    assert escape_rbsp(b"\x01\x00") == b"\x01\x00\x03"  # an RBSP may not end in 00 (H.265 7.4.2)


def hevc_cll_sei(max_cll: int, max_fall: int) -> bytes:
    rbsp = b"\x4e\x01" + bytes([144, 4]) + max_cll.to_bytes(2, "big") + max_fall.to_bytes(2, "big") + b"\x80"
    return b"\x00\x00\x00\x01" + escape_rbsp(rbsp)


@pytest.mark.parametrize(
    "old,new", [((0, 0), (1000, 400)), ((1000, 400), (0, 0)), ((1, 0), (256, 3)), ((0, 3), (65535, 0))]
)
def test_hevc_cll_patch_with_emulation_prevention(old, new):
    slice_nal = b"\x00\x00\x01\x26\x01\xaf\x00\x00\x03\x01\x55"
    data = b"\x00\x00\x00\x01\x40\x01\x0c" + hevc_cll_sei(*old) + slice_nal
    assert read_content_light_levels(data, "hevc") == [old]
    patched, count = patch_content_light_level(data, "hevc", *new)
    assert count == 1 and read_content_light_levels(patched, "hevc") == [new]
    assert patched.endswith(slice_nal) and patched.startswith(b"\x00\x00\x00\x01\x40\x01\x0c")


def test_av1_cll_patch_in_place():
    # temporal delimiter, sequence header, HDR_CLL metadata (1, 1), a 3-byte frame OBU
    temporal_unit = bytes.fromhex("1200" "0a0d00000002afff805f0a12201208" "2a06010001000180" "3203aabbcc")
    assert read_content_light_levels(temporal_unit, "av1") == [(1, 1)]
    patched, count = patch_content_light_level(temporal_unit, "av1", 1003, 250)
    assert count == 1 and len(patched) == len(temporal_unit)
    assert read_content_light_levels(patched, "av1") == [(1003, 250)]
    with pytest.raises(ValueError):
        patch_content_light_level(temporal_unit, "av1", 70000, 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_half_frames_are_written(tmp_path):
    frames = [x.to("cuda", torch.float16) for x in patch_clip(frames=2)]
    writer = write(tmp_path / "cuda.mkv", frames, codec="ffv1")
    cpu = write(tmp_path / "cpu.mkv", [x.float().cpu() for x in frames], codec="ffv1")
    got, want = writer.report.content_light_level, cpu.report.content_light_level
    assert abs(got.max_cll_nits - want.max_cll_nits) <= PQ_STEP_AT_1000  # GPU rounding may move a code
    assert abs(got.max_fall_nits - want.max_fall_nits) <= 2
