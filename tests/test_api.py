"""The Python API: open() for every kind of input, transcode(), raw and PNG sinks, operator listing."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest
import torch

import hdrvideo.api as hv
from hdrvideo.errors import InputNotFoundError, InvalidInputError, OutputError, UnsupportedError
from hdrvideo.frame import Frame
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.video_reader import VideoReader
from hdrvideo.io.video_writer import WriteReport
from hdrvideo.ops.base import Operator, Option, OutputTarget, register

ROOT = Path(__file__).resolve().parents[1]


@register
class ApiHalve(Operator):
    name = "t_api_halve"
    description = "halves the light (test)"
    options = (Option("factor", float, 0.5, "multiplier"),)

    def process(self, x, frame=None):
        return x * self.factor


class ApiSdr(Operator):
    """Not registered: used as an instance in a chain list."""

    name = "t_api_sdr"

    def process(self, x, frame=None):
        return x.clamp(0, 100)

    def output_target(self):
        return OutputTarget("sdr", 100.0, 100.0)


@pytest.fixture(scope="module")
def exr_still(tmp_path_factory) -> Path:
    from hdrvideo.io.images import write_image

    path = tmp_path_factory.mktemp("still") / "ramp.exr"
    write_image(path, torch.linspace(0, 800, 48).expand(3, 16, 48).contiguous())
    return path


# -- open ------------------------------------------------------------------------------------


def test_open_video_is_a_video_reader(hdr10_clip):
    with hv.open(hdr10_clip) as reader:
        assert isinstance(reader, VideoReader)
        assert reader.info.hdr_format == "HDR10" and reader.info.width == 128
        assert len(list(reader)) == 6


def test_open_still_and_sequence_have_the_same_shape(tmp_path, exr_still):
    with hv.open(exr_still) as still:
        assert isinstance(still, hv.ImageReader)
        assert (still.info.width, still.info.height, still.info.frame_count) == (48, 16, 1)
        [frame] = list(still)
        assert abs(float(frame.data.max()) - 800) < 1
    for i in range(4):
        (tmp_path / f"f_{i + 1001}.exr").write_bytes(exr_still.read_bytes())
    with hv.open(str(tmp_path / "f_%d.exr"), rate=25, start_seconds=0.04) as seq:
        assert isinstance(seq, hv.SequenceReader)
        assert seq.first_number == 1001 and seq.info.frame_count == 3 and seq.info.rate == 25
        frames = list(seq)
        assert [f.side_data["sequence_number"] for f in frames] == [1002, 1003, 1004]
        assert [f.index for f in frames] == [0, 1, 2]
        assert frames[0].pts_seconds == pytest.approx(0.04)


def test_open_errors_are_typed(tmp_path):
    with pytest.raises(InputNotFoundError):
        hv.open(tmp_path / "missing.mkv")
    with pytest.raises(InputNotFoundError):
        hv.open(str(tmp_path / "none_%04d.exr"))
    with pytest.raises(InvalidInputError, match="needs -pix_fmt"):
        hv.open("-", format="rawvideo")
    with pytest.raises(UnsupportedError):
        hv.open("-", format="mpegts")


def test_raw_sink_and_reader_round_trip():
    torch.manual_seed(0)
    light = torch.rand(3, 8, 16) * 1000
    sink_stream = io.BytesIO()
    sink = hv.RawVideoSink(sink_stream, ColorSpec(), pix_fmt="yuv444p10le")
    for i in range(3):
        sink.write(Frame(data=light, index=i))
    report = sink.close()
    assert report.frames == 3 and report.bytes == hv.raw_frame_bytes("yuv444p10le", 16, 8) * 3 == 16 * 8 * 3 * 2 * 3
    reader = hv.open(io.BytesIO(sink_stream.getvalue()), format="rawvideo", pix_fmt="yuv444p10le",
                     size="16x8", rate="24000/1001")
    assert reader.info.spec.transfer == "pq" and reader.info.rate == Fraction(24000, 1001)
    frames = list(reader)
    assert len(frames) == 3 and frames[2].pts_seconds == pytest.approx(2 * 1001 / 24000)
    # 10-bit PQ: one code is under 1 % in light over this range
    assert torch.allclose(frames[0].data, light, rtol=0.02, atol=0.5)


def test_raw_reader_assume_and_truncated_tail():
    data = bytes(hv.raw_frame_bytes("yuv420p", 4, 2) * 2 + 5)
    with pytest.warns(Warning, match="truncated last frame"):
        reader = hv.RawVideoReader(io.BytesIO(data), pix_fmt="yuv420p", size=(4, 2), rate=24,
                                   override={"transfer": "srgb"})
        frames = list(reader)
    assert len(frames) == 2 and reader.decode_errors == 1
    assert reader.spec.transfer == "srgb" and reader.spec.bit_depth == 8


def test_png_bytes_sdr_values():
    spec = ColorSpec("bt709", "srgb", "rgb", "full", 8, 100.0, 100.0)
    light = torch.tensor([0.0, 100.0, 200.0]).view(1, 1, 3).expand(3, 2, 3).contiguous()
    container = av.open(io.BytesIO(hv.png_bytes(light, spec)))
    frame = next(container.decode(video=0))
    assert frame.format.name == "rgb24" and frame.color_trc == 13
    assert frame.to_ndarray()[0, :, 0].tolist() == [0, 255, 255]


# -- transcode -------------------------------------------------------------------------------


def test_transcode_to_sdr_with_operator_instances(tmp_path, hdr10_clip):
    out = tmp_path / "sdr.mkv"
    report = hv.transcode(hdr10_clip, out, [ApiSdr()], codec="ffv1")
    assert isinstance(report, hv.PipelineReport) and report.frames == 6
    assert isinstance(report.output, WriteReport) and report.output.path == out
    assert report.output_spec.transfer == "bt1886" and report.output_spec.peak_nits == 100.0
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.color_trc == 1


def test_transcode_chain_string_and_defaults(tmp_path, hdr10_clip):
    out = tmp_path / "half.mp4"
    report = hv.transcode(str(hdr10_clip), str(out), "t_api_halve=factor=0.25", max_frames=3)
    assert report.frames == 3 and report.output.codec == "libx265"  # HDR into mp4 -> HEVC
    assert report.output.mastering_display is not None  # the input's ST 2086 travels on


def test_transcode_refuses_before_opening_the_input(tmp_path):
    target = tmp_path / "exists.mkv"
    target.write_bytes(b"x")
    with pytest.raises(OutputError, match="already exists"):
        hv.transcode(tmp_path / "never_opened.mkv", target)
    with pytest.raises(InvalidInputError, match="unknown filter"):
        hv.transcode(tmp_path / "never_opened.mkv", tmp_path / "new.mkv", "no_such_filter")
    assert not (tmp_path / "new.mkv").exists()


def test_default_codec_rules():
    hdr, sdr = ColorSpec(), ColorSpec("bt709", "bt1886", "bt709", "limited", 8, 100.0, 100.0)
    assert hv.default_codec("a.mp4", sdr) == "libx264"
    assert hv.default_codec("a.mkv", hdr) == "libx265"
    assert hv.default_codec("a.webm", hdr) == "libsvtav1"


def test_parse_helpers():
    assert hv.parse_size("hd1080") == (1920, 1080) and hv.parse_size("64x32") == (64, 32)
    assert hv.parse_rate("23.976") == Fraction(24000, 1001) and hv.parse_rate("30000/1001") == Fraction(30000, 1001)
    for bad in ("0", "abc", "1/0"):
        with pytest.raises(InvalidInputError):
            hv.parse_rate(bad)
    with pytest.raises(InvalidInputError):
        hv.parse_size("64by32")


def test_describe_operators_lists_registered_ones():
    names = [entry["name"] for entry in hv.describe_operators()]
    assert "t_api_halve" in names
    entry = hv.describe_operator("t_api_halve")
    assert entry["options"][0] == {
        "name": "factor", "type": "float", "default": 0.5, "help": "multiplier",
        "choices": None, "minimum": None, "maximum": None,
    }


# -- examples ------------------------------------------------------------------------------


def test_python_examples_run(tmp_path, hdr10_clip, monkeypatch, capsys):
    import runpy

    for script, args in (
        ("iterate_frames.py", [str(hdr10_clip)]),
        ("custom_operator.py", [str(hdr10_clip), str(tmp_path / "custom.mkv")]),
        ("tonemap_file.py", [str(hdr10_clip), str(tmp_path / "sdr.mp4")]),
    ):
        monkeypatch.setattr(sys, "argv", [script, *args])
        runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
        assert capsys.readouterr().out.strip(), script
    assert (tmp_path / "custom.mkv").exists() and (tmp_path / "sdr.mp4").exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs ffmpeg")
def test_shell_pipe_example(tmp_path, hdr10_clip):
    hdrvideo = f"{sys.executable} -m hdrvideo.cli"
    from hdrvideo.ops.base import available_operators

    chain = "tonemap=curve=bt2390" if "tonemap" in available_operators() else ""
    env = dict(os.environ, PYTHONPATH=str(ROOT), CHAIN=chain, HDRVIDEO=hdrvideo)
    out = tmp_path / "piped.mp4"
    run = subprocess.run(["bash", str(ROOT / "examples" / "pipe_between_ffmpeg.sh"), str(hdr10_clip), str(out)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.color_trc == 1
        assert len(list(container.decode(stream))) >= 6
