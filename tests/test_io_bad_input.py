"""Bad input: typed errors from the API, one line and a non-zero exit from the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hdrvideo.cli import main
from hdrvideo.errors import DecodeError, HDRVideoError, InputNotFoundError, InvalidInputError
from hdrvideo.io.probe import probe
from hdrvideo.io.video_reader import VideoReader
from tests.media import audio_only, encode_clip


def _text_file(tmp_path):
    path = tmp_path / "notes.mkv"
    path.write_text("this is not a video\n" * 50)
    return path


def _empty(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    return path


CASES = [
    ("missing", lambda tmp: tmp / "nope.mkv", InputNotFoundError, "no such file"),
    ("directory", lambda tmp: tmp, InvalidInputError, "is a directory"),
    ("empty", _empty, InvalidInputError, "empty"),
    ("not media", _text_file, InvalidInputError, "not a readable media file"),
    ("no video", lambda tmp: audio_only(tmp / "tone.mka"), InvalidInputError, "no video stream"),
]


@pytest.mark.parametrize("label,make,error,message", CASES, ids=[c[0] for c in CASES])
def test_api_raises_typed_errors(tmp_path, label, make, error, message):
    path = make(tmp_path)
    with pytest.raises(error, match=message):
        VideoReader(path)
    with pytest.raises(HDRVideoError):
        probe(path)


def test_typed_errors_are_also_builtins(tmp_path):
    with pytest.raises(FileNotFoundError):
        VideoReader(tmp_path / "nope.mkv")
    with pytest.raises(ValueError):
        VideoReader(_text_file(tmp_path))


@pytest.mark.parametrize("label,make,error,message", CASES, ids=[c[0] for c in CASES])
def test_cli_prints_one_line_and_exits_non_zero(tmp_path, capsys, label, make, error, message):
    code = main(["probe", str(make(tmp_path))])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == error.exit_code != 0
    assert len(err) == 1 and err[0].startswith("hdrvideo: error:") and message in err[0]


def test_console_script_has_no_traceback(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hdrvideo.cli", "probe", str(_text_file(tmp_path))],
                         capture_output=True, text=True)
    assert run.returncode == InvalidInputError.exit_code
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1


@pytest.mark.parametrize("container,keep", [("ts", 0.6), ("mkv", 0.9)])
def test_truncated_stream_keeps_what_it_can(tmp_path, container, keep):
    clip = encode_clip(tmp_path / f"full.{container}", frames=48, width=256, height=144)
    data = clip.read_bytes()
    cut = tmp_path / f"cut.{container}"
    cut.write_bytes(data[: int(len(data) * keep)])
    with VideoReader(cut) as reader:
        frames = list(reader)
    assert 0 < len(frames) < 48
    assert probe(cut)["video"]["frame_count"] < 48


def test_truncated_mp4_without_its_index_is_a_clear_error(tmp_path):
    clip = encode_clip(tmp_path / "full.mp4", frames=24)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: len(clip.read_bytes()) // 2])  # moov atom is at the end
    with pytest.raises(InvalidInputError, match="not a readable media file"):
        VideoReader(cut)
    assert main(["probe", str(cut)]) == InvalidInputError.exit_code


def test_corrupt_packets_are_counted_not_fatal(tmp_path):
    clip = encode_clip(tmp_path / "clean.hevc", frames=24, options={"x265-params": "keyint=6:log-level=error"})
    data = bytearray(clip.read_bytes())
    # Overwrite bytes in the middle third (slice data), leaving the headers intact.
    for offset in range(len(data) // 3, 2 * len(data) // 3, 97):
        data[offset] ^= 0x5A
    bad = tmp_path / "corrupt.hevc"
    bad.write_bytes(bytes(data))
    with VideoReader(bad) as reader:
        frames = list(reader)
        damaged = reader.decode_errors + reader.corrupt_frames
    assert frames, "frames around the damage still decode"
    assert damaged > 0 or len(frames) < 24


def test_header_only_garbage_after_magic(tmp_path):
    clip = encode_clip(tmp_path / "full.mkv", frames=4)
    stub = tmp_path / "stub.mkv"
    stub.write_bytes(clip.read_bytes()[:200])
    with pytest.raises((InvalidInputError, DecodeError)):
        VideoReader(stub)
    assert main(["probe", str(stub)]) != 0
