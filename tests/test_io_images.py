"""The stills entry point (hdrvideo.io.images): dispatch, sequences, typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hdrvideo.errors import (
    HDRVideoError,
    InputNotFoundError,
    InvalidInputError,
    OutputError,
    UnsupportedError,
)
from hdrvideo.frame import Frame
from hdrvideo.io.images import (
    find_sequence_start,
    is_sequence_pattern,
    read_image,
    read_sequence,
    sequence_path,
    write_image,
    write_sequence,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: Pictures inside BT.709 (so RGBE can hold them), linear BT.2020 cd/m².
_BT709_TO_BT2020 = torch.tensor(
    [[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]]
)


def picture(seed: int, h: int = 9, w: int = 16) -> torch.Tensor:
    rgb709 = torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed)) * 1000
    return torch.einsum("ij,jhw->ihw", _BT709_TO_BT2020, rgb709)


def sample(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).abs() / b.amax(0, keepdim=True).clamp(min=1e-6)).max())


# --------------------------------------------------------------------------- stills


@pytest.mark.parametrize(
    ("suffix", "tolerance"), [(".exr", 2e-3), (".hdr", 1e-2), (".pic", 1e-2)]
)
def test_write_then_read_dispatches_on_extension(tmp_path: Path, suffix: str, tolerance: float) -> None:
    x = picture(0)
    path = write_image(tmp_path / f"still{suffix}", Frame(data=x))
    assert path.read_bytes()[:2] == (b"\x76\x2f" if suffix == ".exr" else b"#?")
    frame = read_image(path)
    assert frame.data.shape == x.shape and frame.pts_seconds is None
    assert relative_error(frame.data, x) < tolerance


def test_keyword_arguments_reach_the_format(tmp_path: Path) -> None:
    x = picture(1)
    path = write_image(tmp_path / "f.exr", x, half=False, white_nits=100.0, compression="piz")
    assert relative_error(read_image(path, white_nits=100.0).data, x) < 1e-5
    assert relative_error(read_image(path).data, x * 2.03) < 1e-5


def test_content_wins_over_a_wrong_extension(tmp_path: Path) -> None:
    exr = write_image(tmp_path / "a.exr", picture(2))
    misnamed = tmp_path / "actually_exr.hdr"
    misnamed.write_bytes(exr.read_bytes())
    torch.testing.assert_close(read_image(misnamed).data, read_image(exr).data)


def test_real_samples_read_through_the_entry_point() -> None:
    exr = read_image(sample("exr", "TestImages_stripes.exr"))
    hdr = read_image(sample("radiance", "imagers_image1.hdr"))
    assert exr.data.shape == (3, 50, 100) and "exr" in exr.side_data
    assert hdr.data.shape == (3, 85, 128) and "radiance" in hdr.side_data


def test_unknown_extension_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match=r"\.png"):
        write_image(tmp_path / "a.png", picture(3))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- sequences


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("frame_%04d.exr", True),
        ("frame_%d.hdr", True),
        ("shot/%03d/beauty.exr", True),
        ("100%%_%03d.exr", True),
        ("frame.exr", False),
        ("frame_%%04d.exr", False),
        ("a_%d_%d.exr", False),
        ("frame_%s.exr", False),
    ],
)
def test_is_sequence_pattern(pattern: str, expected: bool) -> None:
    assert is_sequence_pattern(pattern) is expected


def test_sequence_path() -> None:
    assert sequence_path("f_%04d.exr", 7) == Path("f_0007.exr")
    assert sequence_path("100%%_%d.hdr", 12) == Path("100%_12.hdr")
    with pytest.raises(InvalidInputError):
        sequence_path("f.exr", 1)


@pytest.mark.parametrize("suffix", [".exr", ".hdr"])
def test_sequence_write_then_read(tmp_path: Path, suffix: str) -> None:
    frames = [Frame(data=picture(10 + i), index=i) for i in range(3)]
    pattern = str(tmp_path / f"frame_%04d{suffix}")
    written = write_sequence(pattern, frames)
    assert [p.name for p in written] == [f"frame_{i:04d}{suffix}" for i in range(3)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in written]  # no temporaries left
    read = list(read_sequence(pattern, fps=25.0))
    assert [f.index for f in read] == [0, 1, 2]
    assert [f.pts_seconds for f in read] == pytest.approx([0.0, 0.04, 0.08])
    assert [f.side_data["sequence_number"] for f in read] == [0, 1, 2]
    for got, want in zip(read, frames, strict=True):
        assert relative_error(got.data, want.data) < 1e-2


def test_sequence_start_like_ffmpeg(tmp_path: Path) -> None:
    pattern = str(tmp_path / "img%03d.hdr")
    write_sequence(pattern, [picture(i, 4, 8) for i in range(3)], start=3)
    assert find_sequence_start(pattern) == 3  # within start_number_range (0..4)
    assert [f.side_data["sequence_number"] for f in read_sequence(pattern)] == [3, 4, 5]
    assert [f.index for f in read_sequence(pattern, start=4)] == [0, 1]
    # a gap ends the sequence, as in FFmpeg
    (tmp_path / "img004.hdr").unlink()
    assert [f.side_data["sequence_number"] for f in read_sequence(pattern)] == [3]


def test_sequence_starting_at_1001_is_found_in_the_folder(tmp_path: Path) -> None:
    pattern = str(tmp_path / "shot.%04d.exr")
    write_sequence(pattern, [picture(i, 4, 8) for i in range(2)], start=1001)
    (tmp_path / "shot.12.exr").write_bytes(b"not part of the sequence")  # wrong padding
    assert find_sequence_start(pattern) == 1001
    frames = list(read_sequence(pattern, fps=24.0))
    assert [f.side_data["sequence_number"] for f in frames] == [1001, 1002]
    assert frames[1].pts_seconds == pytest.approx(1 / 24)
    with pytest.raises(InputNotFoundError):
        read_sequence(pattern, start=0)  # an explicit start looks only in start..start+4


def test_sequence_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="no file of the sequence"):
        read_sequence(str(tmp_path / "none_%04d.exr"))  # raised eagerly, before iteration
    with pytest.raises(InvalidInputError, match="pattern"):
        read_sequence(str(tmp_path / "plain.exr"))
    with pytest.raises(InvalidInputError, match="fps"):
        read_sequence(str(tmp_path / "x_%d.exr"), fps=0)
    with pytest.raises(InvalidInputError, match="pattern"):
        write_sequence(str(tmp_path / "plain.exr"), [picture(0)])


def test_write_sequence_does_not_replace_without_overwrite(tmp_path: Path) -> None:
    pattern = str(tmp_path / "f_%02d.hdr")
    write_sequence(pattern, [picture(0, 4, 8)])
    before = (tmp_path / "f_00.hdr").read_bytes()
    with pytest.raises(OutputError, match="exists"):
        write_sequence(pattern, [picture(1, 4, 8)])
    assert (tmp_path / "f_00.hdr").read_bytes() == before
    write_sequence(pattern, [picture(1, 4, 8)], overwrite=True)
    assert (tmp_path / "f_00.hdr").read_bytes() != before


# --------------------------------------------------------------------------- bad input


def _assert_one_line(error: HDRVideoError, path: Path) -> None:
    message = str(error)
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize("suffix", [".exr", ".hdr", ".pic", ".png"])
def test_bad_inputs_raise_typed_errors(tmp_path: Path, suffix: str) -> None:
    missing = tmp_path / f"missing{suffix}"
    with pytest.raises(InputNotFoundError) as info:
        read_image(missing)
    _assert_one_line(info.value, missing)

    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    with pytest.raises(InvalidInputError, match="directory"):
        read_image(folder)

    empty = tmp_path / f"empty{suffix}"
    empty.touch()
    with pytest.raises(InvalidInputError, match="empty") as info:
        read_image(empty)
    _assert_one_line(info.value, empty)

    text = tmp_path / f"text{suffix}"
    text.write_text("just some text\nrenamed to look like an image\n")
    with pytest.raises(InvalidInputError) as info:
        read_image(text)
    _assert_one_line(info.value, text)
    with pytest.raises(ValueError):  # the builtin works too
        read_image(text)


@pytest.mark.parametrize(
    "parts", [("exr", "ScanLines_Desk.exr"), ("exr", "Tiles_GoldenGate.exr"), ("radiance", "royal_esplanade_1k.hdr")]
)
def test_truncated_copies_raise_invalid_input(tmp_path: Path, parts: tuple[str, str]) -> None:
    data = sample(*parts).read_bytes()
    for n in (len(data) // 3, len(data) - 100, 12):
        path = tmp_path / f"cut{n}_{parts[1]}"
        path.write_bytes(data[:n])
        with pytest.raises(InvalidInputError) as info:
            read_image(path)
        _assert_one_line(info.value, path)


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError):
        write_image(tmp_path / "bad.exr", torch.ones(2, 4, 4))
    with pytest.raises(InvalidInputError):
        write_image(tmp_path / "bad.hdr", torch.ones(3, 4, 4, dtype=torch.int32))
    with pytest.raises(OutputError):
        write_image(tmp_path / "no" / "such" / "folder.exr", torch.ones(3, 4, 4))
    assert list(tmp_path.iterdir()) == []
