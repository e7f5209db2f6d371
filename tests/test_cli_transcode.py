"""The ffmpeg-style command line: transcodes, windows, overwrite rules, filters, pipes, stills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from hdrvideo.cli import main, parse_time, parse_transcode_args
from hdrvideo.errors import InputNotFoundError, InvalidInputError, OutputError, UnsupportedError
from hdrvideo.ops.base import Operator, Option, OutputTarget, available_operators, register
from tests.media import encode_clip

ROOT = Path(__file__).resolve().parents[1]


@register
class CliIdentity(Operator):
    name = "t_cli_identity"
    description = "passes frames through unchanged (test)"
    options = (
        Option("mode", str, "fast", "how to do nothing", choices=("fast", "slow")),
        Option("gain", float, 1.0, "multiplier, 1 = identity", minimum=0.0, maximum=4.0),
    )

    def process(self, x, frame=None):
        return x * self.gain


@register
class CliToSdr(Operator):
    name = "t_cli_sdr"
    description = "clips to an SDR display of peak_nits (test stand-in for tonemap)"
    options = (Option("peak_nits", float, 100.0, "display peak, cd/m²"),)

    def process(self, x, frame=None):
        return x.clamp(0, self.peak_nits)

    def output_target(self):
        return OutputTarget("sdr", self.peak_nits, self.peak_nits)


@register
class CliSlow(Operator):
    """For the Ctrl-C test: marks that processing started, then takes its time."""

    name = "t_cli_slow"
    options = (Option("marker", str, "", "file created at the first frame"),)

    def process(self, x, frame=None):
        if self.marker and not os.path.exists(self.marker):
            Path(self.marker).touch()
        time.sleep(0.2)
        return x


@register
class CliFail(Operator):
    name = "t_cli_fail"
    options = (Option("at", int, 1, "frame index that fails"),)

    def process(self, x, frame=None):
        if frame is not None and frame.index == self.at:
            raise InvalidInputError(f"frame {frame.index}: cannot process (test)")
        return x


@pytest.fixture(scope="module")
def clip12(tmp_path_factory) -> Path:
    """128x72 HDR10 HEVC, 12 frames at 24 fps, with an AAC track."""
    return encode_clip(tmp_path_factory.mktemp("cli") / "hdr10_12.mkv", frames=12, audio=True)


@pytest.fixture(scope="module")
def exr_sequence(tmp_path_factory) -> Path:
    from hdrvideo.io.images import write_image

    folder = tmp_path_factory.mktemp("seq")
    ramp = torch.linspace(0, 1000, 64).expand(3, 32, 64).contiguous()
    for i in range(3):
        write_image(folder / f"shot_{i:04d}.exr", ramp * (i + 1) / 3)
    return folder


def video_frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def run_cli(*args: str, stdin=None, env_extra: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real command in a fresh interpreter; registers this module's test operators first."""
    code = "import sys, tests.test_cli_transcode; from hdrvideo.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", code, *args], stdin=stdin, capture_output=True,
                          timeout=timeout, cwd=ROOT, env=env)


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and "warning" not in line]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("hdrvideo: error: ")
    return lines[0]


# -- transcodes -----------------------------------------------------------------------------


def test_hdr10_to_sdr_h264_with_a_chain_target(tmp_path, clip12, capsys):
    out = tmp_path / "sdr.mp4"
    assert main(["-i", str(clip12), "-vf", "t_cli_sdr=peak_nits=100", "-nostats", str(out)]) == 0
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert [s.type for s in container.streams] == ["video", "audio"]  # audio copied
        frames = list(container.decode(stream))
    assert len(frames) == 12
    first = frames[0]
    assert (first.format.name, first.color_primaries, first.color_trc, first.colorspace) == ("yuv420p", 1, 1, 1)


def test_hdr10_to_sdr_with_tonemap_bt2390(tmp_path, clip12):
    out = tmp_path / "tonemapped.mp4"
    assert main(["-i", str(clip12), "-vf", "tonemap=curve=bt2390", "-nostats", str(out)]) == 0
    frames = video_frames(out)
    assert len(frames) == 12 and frames[0].color_trc == 1 and frames[0].format.name == "yuv420p"


def test_transcode_keeps_hdr10_and_explicit_subcommand(tmp_path, hdr10_clip):
    out = tmp_path / "copy.mkv"
    assert main(["transcode", "-i", str(hdr10_clip), "-vf", "t_cli_identity", "-c:v", "ffv1", "-nostats", str(out)]) == 0
    frames = video_frames(out)
    assert len(frames) == 6
    assert (frames[0].color_trc, frames[0].color_primaries, frames[0].format.name) == (16, 9, "yuv420p10le")


def test_ss_and_t_select_a_window(tmp_path, clip12):
    out = tmp_path / "window.mkv"
    assert main(["-ss", "0.125", "-i", str(clip12), "-t", "0.125", "-c:v", "ffv1", "-nostats", str(out)]) == 0
    assert len(video_frames(out)) == 3
    ends = tmp_path / "to.mkv"
    assert main(["-i", str(clip12), "-ss", "00:00:00.25", "-to", "0.5", "-c:v", "ffv1", "-nostats", str(ends)]) == 0
    assert len(video_frames(ends)) == 6
    frames_v = tmp_path / "frames.mkv"
    assert main(["-i", str(clip12), "-frames:v", "2", "-c:v", "ffv1", "-an", "-nostats", str(frames_v)]) == 0
    assert len(video_frames(frames_v)) == 2


def test_existing_output_is_refused_without_y(tmp_path, hdr10_clip, capsys):
    out = tmp_path / "out.mkv"
    out.write_bytes(b"precious")
    assert main(["-i", str(hdr10_clip), "-c:v", "ffv1", "-nostats", str(out)]) == OutputError.exit_code
    assert "already exists" in one_line_error(capsys.readouterr().err)
    assert out.read_bytes() == b"precious"
    assert main(["-y", "-i", str(hdr10_clip), "-c:v", "ffv1", "-nostats", str(out)]) == 0
    assert len(video_frames(out)) == 6


def test_to_overrides_the_output_kind(tmp_path, hdr10_clip):
    hlg = tmp_path / "hlg.mkv"
    assert main(["-i", str(hdr10_clip), "--to", "hlg", "-c:v", "ffv1", "-nostats", str(hlg)]) == 0
    assert video_frames(hlg)[0].color_trc == 18
    pq = tmp_path / "pq.mkv"
    assert main(["-i", str(hdr10_clip), "-vf", "t_cli_sdr", "--to=hdr10", "-c:v", "ffv1", "-nostats", str(pq)]) == 0
    assert video_frames(pq)[0].color_trc == 16


def test_operator_error_is_one_line_and_leaves_no_output(tmp_path, hdr10_clip, capsys):
    out = tmp_path / "fail.mkv"
    code = main(["-i", str(hdr10_clip), "-vf", "t_cli_fail=at=2", "-c:v", "ffv1", "-nostats", str(out)])
    assert code == InvalidInputError.exit_code
    assert "cannot process" in one_line_error(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


# -- bad command lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["-i", "{clip}", "-foo", "{out}"], InvalidInputError.exit_code, "unknown option -foo"),
        (["-i", "{clip}", "{out}", "-crf"], InvalidInputError.exit_code, "needs a value"),
        (["-i", "{clip}", "-ss", "abc", "{out}"], InvalidInputError.exit_code, "bad time"),
        (["-i", "{clip}", "-to", "sdr", "{out}"], InvalidInputError.exit_code, "did you mean --to"),
        (["-i", "{clip}", "--to", "dolby", "{out}"], InvalidInputError.exit_code, "sdr, hdr10 or hlg"),
        (["-i", "{clip}", "-c:v", "nope", "{out}"], UnsupportedError.exit_code, "codec 'nope'"),
        (["-i", "{clip}", "-vf", "nope=1", "{out}"], InvalidInputError.exit_code, "unknown filter 'nope'"),
        (["-i", "{clip}", "-vf", "t_cli_identity=mode=lazy", "{out}"], InvalidInputError.exit_code, "not one of"),
        (["-i", "{clip}", "-vf", "t_cli_identity=gain=9", "{out}"], InvalidInputError.exit_code, "above the maximum"),
        (["-i", "missing.mkv", "{out}"], InputNotFoundError.exit_code, "no such file"),
        (["-i", "{clip}"], InvalidInputError.exit_code, "no output"),
        (["{out}"], InvalidInputError.exit_code, "before -i"),
        (["-i", "{clip}", "-i", "{clip}", "{out}"], InvalidInputError.exit_code, "more than one -i"),
        (["-i", "{clip}", "{tmp}/no/such/dir/out.mkv"], OutputError.exit_code, "does not exist"),
        (["-i", "{clip}", "{tmp}/out.xyz"], OutputError.exit_code, "unknown output extension"),
        (["-i", "{clip}", "-s", "64x36", "{out}"], UnsupportedError.exit_code, "scaling"),
        (["-i", "{clip}", "-c:v", "libx264", "{tmp}/out.png"], InvalidInputError.exit_code, "video outputs only"),
        (["-i", "{clip}", "-f", "matroska", "-"], UnsupportedError.exit_code, "only rawvideo"),
        (["-f", "rawvideo", "-i", "-", "{out}"], InvalidInputError.exit_code, "needs -pix_fmt and -s"),
        (["-i", "{clip}", "-pix_fmt", "nv12", "-"], UnsupportedError.exit_code, "pixel format"),
    ],
)
def test_bad_command_lines_give_one_line_errors(tmp_path, hdr10_clip, capsys, argv, code, words):
    filled = [a.format(clip=hdr10_clip, out=tmp_path / "out.mkv", tmp=tmp_path) for a in argv]
    assert main(filled) == code
    assert words in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "out.mkv").exists() and not (tmp_path / "out.png").exists()


def test_one_line_error_from_the_real_command(tmp_path):
    run = run_cli("-i", str(tmp_path / "missing.mkv"), str(tmp_path / "out.mkv"))
    assert run.returncode == InputNotFoundError.exit_code
    one_line_error(run.stderr.decode())


def test_parser_reads_ffmpeg_spelling():
    args = parse_transcode_args(
        ["-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", "1920x1080", "-r", "24000/1001", "-i", "-",
         "-vf", "a,b", "-c:v", "libx265", "-crf", "18", "-preset", "slow", "-x265-params", "aq-mode=3",
         "-pix_fmt", "yuv420p10le", "-y", "-nostats", "out.mkv"]
    )
    assert (args.input_format, args.input_pix_fmt, args.input_size, args.rate) == ("rawvideo", "yuv420p10le", "1920x1080", "24000/1001")
    assert (args.input, args.output, args.chain, args.codec, args.crf, args.preset) == ("-", "out.mkv", "a,b", "libx265", 18, "slow")
    assert args.codec_options == {"x265-params": "aq-mode=3"} and args.overwrite and args.stats == "off"
    assert parse_time("01:02:03.5", "-ss") == 3723.5 and parse_time("250ms", "-t") == 0.25


def test_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "-vf CHAIN" in capsys.readouterr().out
    assert main(["transcode", "-h"]) == 0
    assert "usage: hdrvideo [input options] -i INPUT" in capsys.readouterr().out


# -- filters -------------------------------------------------------------------------------


def test_filters_lists_every_registered_operator(capsys):
    assert main(["filters"]) == 0
    text = capsys.readouterr().out
    for name in available_operators():
        assert name in text
    assert "t_cli_identity" in text and "mode=<str> [fast|slow] (fast)" in text


def test_filters_name_shows_one_in_detail(capsys):
    assert main(["filters", "t_cli_identity"]) == 0
    text = capsys.readouterr().out
    assert "Filter t_cli_identity" in text and "passes frames through" in text
    assert "choices: fast, slow" in text and "range 0..4" in text and "default 1" in text
    assert main(["filters", "--json", "t_cli_sdr"]) == 0
    assert '"peak_nits"' in capsys.readouterr().out
    assert main(["filters", "nope"]) == InvalidInputError.exit_code
    assert "unknown filter" in one_line_error(capsys.readouterr().err)


def test_filters_tonemap_detail(capsys):
    assert main(["filters", "tonemap"]) == 0
    text = capsys.readouterr().out
    assert "Filter tonemap" in text and "curve" in text and "bt2390" in text


# -- pipes -----------------------------------------------------------------------------------


def test_container_from_stdin(tmp_path, hdr10_clip):
    out = tmp_path / "from_stdin.mkv"
    with open(hdr10_clip, "rb") as stdin:
        run = run_cli("-i", "-", "-c:v", "ffv1", "-nostats", str(out), stdin=stdin)
    assert run.returncode == 0, run.stderr.decode()
    assert len(video_frames(out)) == 6


def test_raw_frames_to_stdout_and_back_in(tmp_path, hdr10_clip):
    run = run_cli("-i", str(hdr10_clip), "-nostats", "-f", "rawvideo", "-")
    assert run.returncode == 0, run.stderr.decode()
    assert len(run.stdout) == int(128 * 72 * 1.5) * 2 * 6  # yuv420p10le, 6 frames
    out = tmp_path / "from_raw.mkv"
    back = run_cli("-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", "128x72", "-r", "24", "-i", "-",
                   "-c:v", "ffv1", "-nostats", str(out), stdin=_file_with(tmp_path / "raw.yuv", run.stdout))
    assert back.returncode == 0, back.stderr.decode()
    frames = video_frames(out)
    assert len(frames) == 6 and frames[0].color_trc == 16  # default signalling for 10-bit raw: HDR10
    # stdout carries exactly the codes the writer would have encoded (one conversion each)
    direct = tmp_path / "direct.mkv"
    assert main(["-i", str(hdr10_clip), "-c:v", "ffv1", "-an", "-nostats", str(direct)]) == 0
    first_raw = np.frombuffer(run.stdout[: 128 * 72 * 3], dtype="<u2")
    first_direct = np.concatenate([np.asarray(p).view("<u2").reshape(p.height, -1)[:, : p.width].ravel()
                                   for p in video_frames(direct)[0].planes])
    assert np.array_equal(first_raw, first_direct)
    # raw in: luma away from the moving chroma patch survives decoding and re-encoding
    luma_in = first_raw[: 128 * 72].reshape(72, 128).astype(int)
    luma_out = frames[0].to_ndarray()[:72].astype(int)
    assert np.abs(luma_out[24:] - luma_in[24:]).max() <= 1


def test_raw_sdr_frames_in_process(hdr10_clip, capsysbinary):
    assert main(["-i", str(hdr10_clip), "-vf", "t_cli_sdr", "-nostats", "-"]) == 0
    assert len(capsysbinary.readouterr().out) == int(128 * 72 * 1.5) * 1 * 6  # yuv420p for an SDR target
    assert main(["-i", str(hdr10_clip), "-pix_fmt", "yuv444p12le", "-nostats", "-f", "rawvideo", "-"]) == 0
    assert len(capsysbinary.readouterr().out) == 128 * 72 * 3 * 2 * 6


def _file_with(path: Path, data: bytes):
    path.write_bytes(data)
    return open(path, "rb")


# -- stills and sequences ----------------------------------------------------------------------


def test_exr_still_to_png_hdr_and_sdr(tmp_path, exr_sequence):
    still = exr_sequence / "shot_0002.exr"
    hdr = tmp_path / "hdr.png"
    assert main(["-i", str(still), "-nostats", str(hdr)]) == 0
    [frame] = video_frames(hdr)
    assert (frame.format.name, frame.color_trc, frame.color_primaries) == ("rgb48be", 16, 9)
    sdr = tmp_path / "sdr.png"
    assert main(["-i", str(still), "-vf", "t_cli_sdr=peak_nits=203", "-nostats", str(sdr)]) == 0
    [frame] = video_frames(sdr)
    assert (frame.format.name, frame.color_trc) == ("rgb24", 13)
    pixels = frame.to_ndarray()
    assert pixels[0, 0].tolist() == [0, 0, 0] and pixels[0, -1].tolist() == [255, 255, 255]
    wide = tmp_path / "sdr16.png"
    assert main(["-i", str(still), "--to", "sdr", "-pix_fmt", "rgb48be", "-nostats", str(wide)]) == 0
    assert video_frames(wide)[0].format.name == "rgb48be"


def test_sequences_in_and_out(tmp_path, exr_sequence, hdr10_clip):
    pattern = str(exr_sequence / "shot_%04d.exr")
    assert main(["-i", pattern, "--to", "sdr", "-nostats", str(tmp_path / "png_%03d.png")]) == 0
    assert sorted(p.name for p in tmp_path.glob("png_*.png")) == ["png_000.png", "png_001.png", "png_002.png"]
    video = tmp_path / "seq.mkv"
    assert main(["-r", "30", "-i", pattern, "-c:v", "ffv1", "-nostats", str(video)]) == 0
    with av.open(str(video)) as container:
        assert container.streams.video[0].average_rate == 30
        assert len(list(container.decode(video=0))) == 3
    assert main(["-i", str(hdr10_clip), "-frames:v", "2", "-nostats", str(tmp_path / "out_%02d.exr")]) == 0
    assert sorted(p.name for p in tmp_path.glob("out_*.exr")) == ["out_00.exr", "out_01.exr"]
    # a still from a video: the first frame after -ss
    assert main(["-ss", "0.1", "-i", str(hdr10_clip), "-nostats", str(tmp_path / "grab.exr")]) == 0
    assert (tmp_path / "grab.exr").stat().st_size > 0


def test_failed_sequence_output_removes_what_it_wrote(tmp_path, hdr10_clip, capsys):
    code = main(["-i", str(hdr10_clip), "-vf", "t_cli_fail=at=3", "-nostats", str(tmp_path / "part_%02d.exr")])
    assert code == InvalidInputError.exit_code
    assert list(tmp_path.iterdir()) == []


# -- Ctrl-C ----------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_exits_130_and_leaves_no_output(tmp_path, clip12):
    out = tmp_path / "out.mkv"
    marker = tmp_path / "started"
    code = "import sys, tests.test_cli_transcode; from hdrvideo.cli import main; sys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "-i", str(clip12), "-vf", f"t_cli_slow=marker={marker}", "-nostats", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1].decode()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode() and "Traceback" not in stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["started"]
