"""Radiance RGBE reading and writing (hdrvideo.io.radiance).

The oracle is an independent, byte-at-a-time decoder written here after Radiance's
``freadcolrs`` / ``oldreadcolrs`` (color.c), plus a pixel decoded by hand from the bytes of
``imagers_rgbr4x4.hdr``.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from hdrvideo.color.primaries import convert_primaries
from hdrvideo.errors import HDRVideoWarning, InputNotFoundError, InvalidInputError, OutputError
from hdrvideo.io import radiance as radiance_module
from hdrvideo.io.radiance import read_radiance, write_radiance

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HDR_DIR = DATA / "radiance"
HDR_FILES = sorted(HDR_DIR.glob("*.hdr")) if HDR_DIR.is_dir() else []

SIZES = {  # (height, width) from each file's resolution line
    "imagers_image1.hdr": (85, 128),
    "imagers_old-rle.hdr": (276, 551),
    "imagers_rgbr4x4.hdr": (4, 4),
    "imagers_scale.hdr": (8, 256),
    "quarry_01_1k.hdr": (512, 1024),
    "royal_esplanade_1k.hdr": (512, 1024),
}


def sample(name: str) -> Path:
    path = HDR_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


def to_file_rgb(data: torch.Tensor, white: float = 203.0) -> np.ndarray:
    """Working space back to the file's BT.709 relative RGB, ``(H, W, 3)`` float64."""
    return (convert_primaries(data.double(), "bt2020", "bt709") / white).permute(1, 2, 0).numpy()


# --------------------------------------------------------------------------- oracle


def reference_decode(path: Path, max_lines: int | None = None) -> np.ndarray:
    """Byte-at-a-time RGBE decoder (Radiance color.c), standard orientation only.

    Returns float64 ``(lines, width, 3)`` with ``(m + 0.5) * 2**(e - 136)``.
    """
    raw = path.read_bytes()
    end = raw.index(b"\n\n") + 2
    res_end = raw.index(b"\n", end)
    m = re.fullmatch(rb"-Y (\d+) \+X (\d+)", raw[end:res_end])
    assert m, "reference decoder handles -Y H +X W only"
    height, width = int(m.group(1)), int(m.group(2))
    lines = height if max_lines is None else min(height, max_lines)
    pos = res_end + 1
    out = np.zeros((lines, width, 4), dtype=np.int64)
    prev = [0, 0, 0, 0]
    for y in range(lines):
        new_style = (
            8 <= width <= 0x7FFF and raw[pos] == 2 and raw[pos + 1] == 2 and not raw[pos + 2] & 0x80
        )
        if new_style:
            assert (raw[pos + 2] << 8 | raw[pos + 3]) == width
            pos += 4
            for c in range(4):
                x = 0
                while x < width:
                    code = raw[pos]
                    pos += 1
                    if code > 128:
                        for _ in range(code - 128):
                            out[y, x, c] = raw[pos]
                            x += 1
                        pos += 1
                    else:
                        for _ in range(code):
                            out[y, x, c] = raw[pos]
                            x += 1
                            pos += 1
        else:  # old-style RLE or flat
            x = 0
            shift = 0
            while x < width:
                px = list(raw[pos : pos + 4])
                pos += 4
                if px[0] == 1 and px[1] == 1 and px[2] == 1:
                    for _ in range(px[3] << shift):
                        out[y, x] = prev
                        x += 1
                    shift += 8
                else:
                    out[y, x] = px
                    prev = px
                    x += 1
                    shift = 0
    mant, exp = out[..., :3].astype(np.float64), out[..., 3]
    scale = np.where(exp == 0, 0.0, np.ldexp(1.0, exp - 136))
    return (mant + 0.5) * scale[..., None]


def flat_file(path: Path, rgbe: np.ndarray, resolution: str, header: str = "FORMAT=32-bit_rle_rgbe\n") -> Path:
    """A flat (uncompressed) Radiance file; ``rgbe`` in scanline order ``(lines, length, 4)``."""
    path.write_bytes(f"#?RADIANCE\n{header}\n{resolution}\n".encode() + rgbe.astype(np.uint8).tobytes())
    return path


# --------------------------------------------------------------------------- samples


@pytest.mark.parametrize("path", HDR_FILES, ids=lambda p: p.name)
def test_every_sample_reads(path: Path) -> None:
    frame = read_radiance(path)
    assert frame.data.dtype == torch.float32
    if path.name in SIZES:
        assert frame.data.shape == (3, *SIZES[path.name])
    assert torch.isfinite(frame.data).all()
    assert frame.data.min() >= 0  # BT.709 inside BT.2020: non-negative stays non-negative
    assert frame.data.max() > 0


@pytest.mark.parametrize(
    ("name", "lines"),
    [("imagers_image1.hdr", None), ("imagers_old-rle.hdr", None), ("imagers_rgbr4x4.hdr", None),
     ("imagers_scale.hdr", None), ("royal_esplanade_1k.hdr", 6), ("quarry_01_1k.hdr", 6)],
)
def test_matches_reference_decoder(name: str, lines: int | None) -> None:
    path = sample(name)
    expected = reference_decode(path, lines)
    got = to_file_rgb(read_radiance(path).data[:, : expected.shape[0]])
    finite = np.isfinite(expected).all(axis=-1) & (expected.max(axis=-1) < 1e30)
    peak = expected.max(axis=-1, keepdims=True)
    assert (np.abs(got - expected)[finite] <= (1e-6 * peak + 1e-12)[finite]).all()


def test_blockwise_decode_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    path = sample("royal_esplanade_1k.hdr")
    whole = read_radiance(path).data
    monkeypatch.setattr(radiance_module, "_GATHER_BYTES", 3 * 4 * 1024)  # 3 scanlines a block
    torch.testing.assert_close(read_radiance(path).data, whole, rtol=0, atol=0)


def test_new_and_old_style_scanlines_mixed(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    rows = rng.integers(3, 250, size=(3, 16, 4)).astype(np.uint8)
    rows[..., 3] = 130
    body = b""
    for y, row in enumerate(rows):
        if y == 1:  # flat scanline between two RLE ones (Radiance decides per scanline)
            body += row.tobytes()
        else:
            body += bytes((2, 2, 0, 16))
            for c in range(4):
                body += bytes((16,)) + row[:, c].tobytes()
    path = tmp_path / "mixed.hdr"
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 3 +X 16\n" + body)
    expected = (rows[..., :3] + 0.5) * 2.0 ** (130 - 136)
    np.testing.assert_allclose(to_file_rgb(read_radiance(path).data), expected, rtol=1e-5)
    np.testing.assert_allclose(reference_decode(path), expected, rtol=1e-12)


def test_pixel_decoded_by_hand() -> None:
    path = sample("imagers_rgbr4x4.hdr")
    raw = path.read_bytes()
    start = raw.index(b"-Y 4 +X 4\n") + len(b"-Y 4 +X 4\n")
    r, g, b, e = raw[start : start + 4]  # first pixel, flat scanline (width 4 < 8)
    assert (r, g, b, e) == (0xA3, 0x00, 0x00, 0x7A)
    expected = np.array([r + 0.5, g + 0.5, b + 0.5]) * 2.0 ** (e - 136)
    got = to_file_rgb(read_radiance(path).data)[0, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # last pixel: row 3
    r, g, b, e = raw[start + 48 : start + 52]
    np.testing.assert_allclose(
        to_file_rgb(read_radiance(path).data)[3, 0], np.array([r + 0.5, g + 0.5, b + 0.5]) * 2.0 ** (e - 136), rtol=1e-5
    )


def test_old_rle_sample_uses_repeats_and_decodes_fully() -> None:
    path = sample("imagers_old-rle.hdr")
    raw = path.read_bytes()
    assert raw.count(b"\x01\x01\x01") > 100  # it really is old-style RLE
    assert len(raw) < 276 * 551 * 4 / 10
    data = read_radiance(path).data
    assert data.shape == (3, 276, 551)
    assert float(data.min()) > 0


def test_large_file_reads_fast() -> None:
    path = sample("quarry_01_1k.hdr")
    read_radiance(path)  # warm up
    t0 = time.perf_counter()
    read_radiance(path)
    assert time.perf_counter() - t0 < 1.0


def test_bogus_primaries_line_is_ignored() -> None:
    frame = read_radiance(sample("quarry_01_1k.hdr"))
    assert "PRIMARIES=0 0 0 0 0 0 0 0" in frame.side_data["radiance"]["lines"]
    assert frame.side_data["radiance"]["primaries"] is None


# --------------------------------------------------------------------------- header


def _with_header_lines(tmp_path: Path, lines: str) -> Path:
    raw = sample("imagers_rgbr4x4.hdr").read_bytes()
    out = tmp_path / "modified.hdr"
    out.write_bytes(raw.replace(b"FORMAT=", lines.encode() + b"FORMAT=", 1))
    return out


def test_exposure_and_colorcorr_are_divided_out(tmp_path: Path) -> None:
    base = read_radiance(sample("imagers_rgbr4x4.hdr")).data
    exposed = read_radiance(_with_header_lines(tmp_path, "EXPOSURE=2\nEXPOSURE=1.5\n"))
    assert exposed.side_data["radiance"]["exposure"] == pytest.approx(3.0)
    torch.testing.assert_close(exposed.data, base / 3.0, rtol=1e-5, atol=1e-6)
    corrected = read_radiance(_with_header_lines(tmp_path, "COLORCORR=2 1 0.5\n")).data
    colorcorr = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64).view(3, 1, 1)
    expected = convert_primaries(convert_primaries(base.double(), "bt2020", "bt709") / colorcorr, "bt709", "bt2020")
    torch.testing.assert_close(corrected.double(), expected, rtol=1e-5, atol=1e-4)


def test_valid_primaries_line_is_honoured(tmp_path: Path) -> None:
    base = read_radiance(sample("imagers_rgbr4x4.hdr")).data
    p3 = read_radiance(_with_header_lines(tmp_path, "PRIMARIES=0.680 0.320 0.265 0.690 0.150 0.060 0.3127 0.3290\n"))
    expected = convert_primaries(convert_primaries(base.double(), "bt2020", "bt709"), "p3d65", "bt2020")
    torch.testing.assert_close(p3.data.double(), expected, rtol=1e-5, atol=1e-3)


def test_white_nits_scale() -> None:
    path = sample("imagers_image1.hdr")
    torch.testing.assert_close(read_radiance(path, white_nits=100.0).data, read_radiance(path).data * (100 / 203))


ORIENTATIONS = {  # resolution line -> scanline array from the top-left-origin image I[y, x]
    "-Y {h} +X {w}": lambda i: i,
    "-Y {h} -X {w}": lambda i: i[:, ::-1],
    "+Y {h} +X {w}": lambda i: i[::-1],
    "+Y {h} -X {w}": lambda i: i[::-1, ::-1],
    "+X {w} -Y {h}": lambda i: i.transpose(1, 0, 2),
    "+X {w} +Y {h}": lambda i: i[::-1].transpose(1, 0, 2),
    "-X {w} -Y {h}": lambda i: i[:, ::-1].transpose(1, 0, 2),
    "-X {w} +Y {h}": lambda i: i[::-1, ::-1].transpose(1, 0, 2),
}


@pytest.mark.parametrize("resolution", list(ORIENTATIONS))
def test_all_eight_orientations(tmp_path: Path, resolution: str) -> None:
    h, w = 3, 5
    image = np.zeros((h, w, 4), np.uint8)
    image[..., 0] = np.arange(h * w).reshape(h, w) * 10 + 5  # distinct red per pixel
    image[..., 3] = 128
    path = flat_file(tmp_path / "o.hdr", ORIENTATIONS[resolution](image), resolution.format(h=h, w=w))
    got = to_file_rgb(read_radiance(path).data)
    assert got.shape == (h, w, 3)
    np.testing.assert_allclose(got[..., 0], (image[..., 0] + 0.5) / 256.0, rtol=1e-5)


def test_xyze_is_converted_from_xyz(tmp_path: Path) -> None:
    colour = pytest.importorskip("colour")
    rng = np.random.default_rng(5)
    rgbe = rng.integers(100, 255, size=(2, 3, 4)).astype(np.uint8)
    rgbe[..., 3] = 129
    path = flat_file(tmp_path / "xyz.hdr", rgbe, "-Y 2 +X 3", "FORMAT=32-bit_rle_xyze\n")
    xyz = (rgbe[..., :3] + 0.5) / 128.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = colour.XYZ_to_RGB(
            xyz, colour.RGB_COLOURSPACES["ITU-R BT.2020"], illuminant=np.array([1 / 3, 1 / 3]),
            chromatic_adaptation_transform="Bradford",
        )
    got = read_radiance(path).data.permute(1, 2, 0).double().numpy() / 203.0
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- writing


def test_sample_round_trip_is_exact(tmp_path: Path) -> None:
    source = read_radiance(sample("royal_esplanade_1k.hdr"))
    path = write_radiance(tmp_path / "rt.hdr", source)
    raw = path.read_bytes()
    body = raw[raw.index(b"-Y 512 +X 1024\n") + len(b"-Y 512 +X 1024\n") :]
    assert body[:4] == bytes((2, 2, 4, 0))  # new-style RLE scanline header
    assert len(raw) < 512 * 1024 * 4  # and it compresses
    torch.testing.assert_close(read_radiance(path).data, source.data, rtol=0, atol=0)


def test_random_round_trip_within_rgbe_precision(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(6)
    x = torch.rand(3, 17, 40, generator=g) ** 4 * 10_000  # BT.2020, many decades
    x = convert_primaries(convert_primaries(x, "bt2020", "bt709").clamp(min=0), "bt709", "bt2020")  # in BT.709
    x[:, 3:6, :] = 0.0
    x[:, 8, :] = torch.tensor([100.0, 50.0, 25.0]).view(3, 1)  # a long run
    path = write_radiance(tmp_path / "r.hdr", x)
    y = read_radiance(path).data
    err = (y - x).abs() / x.amax(0, keepdim=True).clamp(min=1e-6)
    assert float(err.max()) < 0.01
    assert float(y[:, 3:6].abs().max()) == 0.0


def test_narrow_image_is_written_flat(tmp_path: Path) -> None:
    x = torch.rand(3, 5, 4, generator=torch.Generator().manual_seed(7)) * 400
    x = convert_primaries(convert_primaries(x, "bt2020", "bt709").clamp(min=0), "bt709", "bt2020")
    path = write_radiance(tmp_path / "narrow.hdr", x)
    assert path.stat().st_size == len(path.read_bytes().split(b"+X 4\n")[0]) + len(b"+X 4\n") + 5 * 4 * 4
    y = read_radiance(path).data
    assert float(((y - x).abs() / x.amax(0, keepdim=True)).max()) < 0.01


def test_negative_values_are_clipped_with_a_warning(tmp_path: Path) -> None:
    x = torch.zeros(3, 2, 8)
    x[1] = 100.0  # pure BT.2020 green: outside BT.709, negative red and blue there
    with pytest.warns(HDRVideoWarning, match="16 pixel"):
        path = write_radiance(tmp_path / "g.hdr", x)
    assert (to_file_rgb(read_radiance(path).data) >= 0).all()


def test_write_errors_leave_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.ones(3, 4, 10)
    path = write_radiance(tmp_path / "a.hdr", x)
    with pytest.raises(OutputError, match="exists"):
        write_radiance(path, x)
    with pytest.raises(InvalidInputError, match="shape"):
        write_radiance(tmp_path / "b.hdr", torch.ones(3, 4))
    with pytest.raises(OutputError, match="does not exist"):
        write_radiance(tmp_path / "nowhere" / "b.hdr", x)

    real_open = open

    def failing_open(name, mode="r", *args, **kwargs):
        handle = real_open(name, mode, *args, **kwargs)
        if "w" in mode:
            handle.write(b"#?RADIANCE\n")
            handle.close()
            raise OSError(28, "No space left on device")
        return handle

    monkeypatch.setattr(radiance_module, "open", failing_open, raising=False)
    with pytest.raises(OutputError, match="No space left"):
        write_radiance(tmp_path / "c.hdr", x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.hdr"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("keep", [0.5, 0.95, 5, 20, 70])
@pytest.mark.parametrize("name", ["royal_esplanade_1k.hdr", "imagers_old-rle.hdr"])
def test_truncated_file_is_invalid_input(tmp_path: Path, name: str, keep: int | float) -> None:
    data = sample(name).read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path = tmp_path / f"cut_{name}"
    path.write_bytes(data[:n])
    with pytest.raises(InvalidInputError) as info:
        read_radiance(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_radiance(tmp_path / "missing.hdr")
    with pytest.raises(InvalidInputError, match="directory"):
        read_radiance(tmp_path)
    empty = tmp_path / "empty.hdr"
    empty.touch()
    with pytest.raises(InvalidInputError, match="empty"):
        read_radiance(empty)
    text = tmp_path / "text.hdr"
    text.write_text("hello\nworld\n\nnot an image\n")
    with pytest.raises(InvalidInputError, match="not a Radiance"):
        read_radiance(text)
    weird = tmp_path / "weird.hdr"
    weird.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_cmyk\n\n-Y 1 +X 1\n\x80\x80\x80\x80")
    with pytest.raises(InvalidInputError, match="FORMAT"):
        read_radiance(weird)
    noresolution = tmp_path / "nores.hdr"
    noresolution.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n+Z 4 +X 4\n")
    with pytest.raises(InvalidInputError, match="resolution"):
        read_radiance(noresolution)
