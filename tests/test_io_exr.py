"""OpenEXR reading and writing (hdrvideo.io.exr) against the openexr-images sample files.

Oracles: the raw channels as the OpenEXR bindings give them, colour-science for the
chromaticity conversions, and files written here with the bindings directly.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

OpenEXR = pytest.importorskip("OpenEXR")

from hdrvideo.color.primaries import convert_primaries  # noqa: E402
from hdrvideo.errors import (  # noqa: E402
    HDRVideoWarning,
    InputNotFoundError,
    InvalidInputError,
    OutputError,
)
from hdrvideo.io import exr as exr_module  # noqa: E402
from hdrvideo.io.exr import exr_info, read_exr, write_exr  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EXR_DIR = DATA / "exr"
EXR_FILES = sorted(EXR_DIR.glob("*.exr")) if EXR_DIR.is_dir() else []

#: BT.2020 luminance weights (ITU-R BT.2020 Table 4).
Y2020 = torch.tensor([0.2627, 0.6780, 0.0593])


def sample(name: str) -> Path:
    path = EXR_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


def raw_channels(path: Path, part: int = 0) -> dict[str, np.ndarray]:
    """Channels exactly as the bindings decode them (float64 copies)."""
    f = OpenEXR.File(str(path), separate_channels=True)
    return {name: ch.pixels.astype(np.float64) for name, ch in f.parts[part].channels.items()}


def to_file_rgb(frame_data: torch.Tensor, primaries: str = "bt709", white: float = 203.0) -> torch.Tensor:
    """Working space back to the file's relative RGB (for comparing with raw channels)."""
    return convert_primaries(frame_data.double(), "bt2020", primaries) / white


def luminance(data: torch.Tensor) -> torch.Tensor:
    return torch.einsum("c,chw->hw", Y2020, data)


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HDRVideoWarning)
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------- every sample


@pytest.mark.parametrize("path", EXR_FILES, ids=lambda p: p.name)
def test_every_sample_reads(path: Path) -> None:
    frame = quietly(read_exr, path)
    info = exr_info(path)
    part = info["parts"][info["default_part"]]
    assert frame.data.shape == (3, part["height"], part["width"])
    assert frame.data.dtype == torch.float32
    assert torch.isfinite(frame.data).all()
    assert frame.side_data["exr"]["data_window"] == part["data_window"]
    if path.name in ("TestImages_WideFloatRange.exr", "TestImages_AllHalfValues.exr"):
        return  # test patterns spanning the whole number range, negatives included
    y = luminance(frame.data)
    assert float(y.median()) > 0.1  # cd/m²: a picture, not black
    assert float(y.median()) < 1e5
    assert float(y.quantile(0.01)) > -1.0  # out-of-gamut negatives are small


@pytest.mark.parametrize(("name", "stops"), [("ScanLines_StillLife.exr", 15), ("ScanLines_Desk.exr", 12)])
def test_high_dynamic_range_samples(name: str, stops: float) -> None:
    y = luminance(read_exr(sample(name)).data).flatten()
    y = y[torch.randperm(y.numel(), generator=torch.Generator().manual_seed(0))[:200_000]]
    lo, hi = torch.quantile(y, torch.tensor([0.01, 0.999]))
    assert float(torch.log2(hi / lo.clamp(min=1e-6))) > stops


def test_scale_places_one_at_white_nits() -> None:
    path = sample("ScanLines_MtTamWest.exr")
    a = read_exr(path).data
    b = read_exr(path, white_nits=100.0).data
    torch.testing.assert_close(a * (100.0 / 203.0), b, rtol=1e-5, atol=1e-6)
    raw = raw_channels(path)
    file_rgb = torch.from_numpy(np.stack([raw["R"], raw["G"], raw["B"]]))
    torch.testing.assert_close(to_file_rgb(a), file_rgb, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- colour


def test_xyz_file_matches_colour_science() -> None:
    colour = pytest.importorskip("colour")
    path = sample("Chromaticities_XYZ.exr")
    assert exr_info(path)["parts"][0]["chromaticities"]["blue"] == (0.0, 0.0)
    raw = raw_channels(path)
    xyz = np.stack([raw["R"], raw["G"], raw["B"]], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = colour.XYZ_to_RGB(
            xyz,
            colour.RGB_COLOURSPACES["ITU-R BT.2020"],
            illuminant=np.array([1 / 3, 1 / 3]),
            chromatic_adaptation_transform="Bradford",
        )
    got = read_exr(path).data.permute(1, 2, 0).double().numpy() / 203.0
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    # an equal-energy grey stays grey after adaptation to D65
    assert np.abs(got.mean(axis=(0, 1))).min() > 0


def test_non_d65_white_is_bradford_adapted() -> None:
    colour = pytest.importorskip("colour")
    path = sample("ScanLines_Tree.exr")
    c = OpenEXR.File(str(path), header_only=True).header()["chromaticities"]
    raw = raw_channels(path)
    rgb = np.stack([raw["R"], raw["G"], raw["B"]], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        space = colour.RGB_Colourspace(
            "Tree", np.array(c[:6]).reshape(3, 2), np.array(c[6:]),
            use_derived_matrix_RGB_to_XYZ=True, use_derived_matrix_XYZ_to_RGB=True,
        )
        expected = colour.RGB_to_RGB(
            rgb, space, colour.RGB_COLOURSPACES["ITU-R BT.2020"], chromatic_adaptation_transform="Bradford"
        )
    got = read_exr(path).data.permute(1, 2, 0).double().numpy() / 203.0
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    assert read_exr(path).side_data["exr"]["white_luminance"] == pytest.approx(621.0)


def test_written_p3d65_file_reads_back_as_bt2020(tmp_path: Path) -> None:
    x = torch.rand(3, 12, 17, generator=torch.Generator().manual_seed(1)) * 500
    path = write_exr(tmp_path / "p3.exr", x, primaries="p3d65", half=False)
    header = OpenEXR.File(str(path), header_only=True).header()
    assert header["chromaticities"] == pytest.approx((0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290))
    raw = raw_channels(path)
    file_rgb = torch.from_numpy(np.stack([raw["R"], raw["G"], raw["B"]]))
    expected = convert_primaries(x.double(), "bt2020", "p3d65") / 203.0
    torch.testing.assert_close(file_rgb, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(read_exr(path).data, x, rtol=1e-5, atol=1e-4)


def test_written_xyz_file_holds_adapted_xyz(tmp_path: Path) -> None:
    colour = pytest.importorskip("colour")
    x = torch.rand(3, 6, 9, generator=torch.Generator().manual_seed(2)) * 300
    path = write_exr(tmp_path / "xyz.exr", x, primaries="xyz", half=False)
    raw = raw_channels(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = colour.RGB_to_XYZ(
            x.permute(1, 2, 0).double().numpy() / 203.0,
            colour.RGB_COLOURSPACES["ITU-R BT.2020"],
            illuminant=np.array([1 / 3, 1 / 3]),
            chromatic_adaptation_transform="Bradford",
        )
    np.testing.assert_allclose(np.stack([raw["R"], raw["G"], raw["B"]], axis=-1), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(read_exr(path).data, x, rtol=1e-5, atol=1e-3)


def test_luminance_chroma_file_is_coloured_and_keeps_luminance() -> None:
    path = sample("LuminanceChroma_Flowers.exr")
    frame = read_exr(path)
    assert frame.side_data["exr"]["channels"] == ["Y", "RY", "BY"]
    data = frame.data
    assert torch.isfinite(data).all()
    # colour, not grey: the channels differ clearly over the picture
    rgb709 = to_file_rgb(data)
    chroma_spread = (rgb709.amax(0) - rgb709.amin(0)) / rgb709.amax(0).clamp(min=1e-6)
    assert float(chroma_spread.median()) > 0.1
    # the BT.709 luminance of the reconstructed RGB is the file's Y (ImfRgbaYca's G formula)
    raw = raw_channels(path)
    y709 = torch.einsum("c,chw->hw", torch.tensor([0.2126, 0.7152, 0.0722], dtype=torch.float64), rgb709)
    torch.testing.assert_close(y709, torch.from_numpy(raw["Y"]), rtol=2e-3, atol=1e-3)


# --------------------------------------------------------------------------- structure


def test_multiview_views_and_layers() -> None:
    path = sample("MultiView_Fog.exr")
    raw = raw_channels(path)
    left = read_exr(path)
    assert left.side_data["exr"]["layer"] == ""
    grey = to_file_rgb(left.data)
    for c in range(3):  # Y-only: grey in, grey out
        torch.testing.assert_close(grey[c], torch.from_numpy(raw["Y"]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(read_exr(path, layer="left").data, left.data)
    right = read_exr(path, layer="right")
    assert right.side_data["exr"]["channels"] == ["right.Y"]
    torch.testing.assert_close(to_file_rgb(right.data)[1], torch.from_numpy(raw["right.Y"]), rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidInputError, match="centre"):
        read_exr(path, layer="centre")
    assert exr_info(path)["parts"][0]["views"] == ["left", "right"]


@pytest.mark.parametrize(
    ("name", "shape", "mode"),
    [
        ("MultiResolution_Bonita.exr", (832, 550), "mipmap"),
        ("MultiResolution_StageEnvLatLong.exr", (500, 1000), "mipmap"),
        ("Tiles_GoldenGate.exr", (860, 1262), "one"),
    ],
)
def test_tiled_and_mipmapped_read_level_zero(name: str, shape: tuple[int, int], mode: str) -> None:
    path = sample(name)
    info = exr_info(path)
    assert info["parts"][0]["storage"] == "tiled"
    assert info["parts"][0]["tiles"]["level_mode"] == mode
    frame = read_exr(path)
    assert frame.data.shape == (3, *shape)
    raw = raw_channels(path)
    torch.testing.assert_close(
        to_file_rgb(frame.data), torch.from_numpy(np.stack([raw["R"], raw["G"], raw["B"]])), rtol=1e-5, atol=1e-5
    )


def _plane(value: float, shape=(4, 6), dtype=np.float32) -> np.ndarray:
    return np.full(shape, value, dtype=dtype)


def test_multipart_chooses_first_colour_part(tmp_path: Path) -> None:
    tiles = OpenEXR.TileDescription()
    tiles.xSize, tiles.ySize = 2, 2
    tiles.mode, tiles.roundingMode = OpenEXR.ONE_LEVEL, OpenEXR.ROUND_DOWN
    depth = OpenEXR.Part(
        {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
        {"Z": OpenEXR.Channel(_plane(7.0))}, "depth",
    )
    beauty = OpenEXR.Part(
        {"compression": OpenEXR.PIZ_COMPRESSION, "type": OpenEXR.tiledimage, "tiles": tiles},
        {c: OpenEXR.Channel(_plane(v)) for c, v in zip("RGB", (0.25, 0.5, 1.0))}, "beauty",
    )
    path = tmp_path / "multipart.exr"
    OpenEXR.File([depth, beauty]).write(str(path))

    info = exr_info(path)
    assert info["multipart"] and [p["name"] for p in info["parts"]] == ["depth", "beauty"]
    assert info["default_part"] == 1 and info["parts"][1]["storage"] == "tiled"
    frame = read_exr(path)
    assert frame.side_data["exr"]["part"] == 1 and frame.side_data["exr"]["part_name"] == "beauty"
    file_rgb = torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64).view(3, 1, 1)
    expected = convert_primaries(file_rgb, "bt709", "bt2020") * 203
    torch.testing.assert_close(frame.data[:, 2, 3].double(), expected.view(3), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(read_exr(path, part="beauty").data, frame.data)
    torch.testing.assert_close(read_exr(path, part=1).data, frame.data)
    with pytest.raises(InvalidInputError, match="colour"):
        read_exr(path, part=0)
    with pytest.raises(InvalidInputError, match="nope"):
        read_exr(path, part="nope")
    with pytest.raises(InvalidInputError, match="out of range"):
        read_exr(path, part=5)


def test_multipart_views_chosen_by_layer(tmp_path: Path) -> None:
    parts = [
        OpenEXR.Part(
            {"type": OpenEXR.scanlineimage, "view": view}, {c: OpenEXR.Channel(_plane(v)) for c in "RGB"}, name
        )
        for name, view, v in (("beauty_left", "left", 1.0), ("beauty_right", "right", 2.0))
    ]
    path = tmp_path / "stereo.exr"
    OpenEXR.File(parts).write(str(path))
    assert [p["view"] for p in exr_info(path)["parts"]] == ["left", "right"]
    assert float(read_exr(path, white_nits=1.0).data[0, 0, 0]) == pytest.approx(1.0)
    right = read_exr(path, white_nits=1.0, layer="right")
    assert right.side_data["exr"]["part_name"] == "beauty_right"
    assert float(right.data[0, 0, 0]) == pytest.approx(2.0)


def test_layers_without_unprefixed_rgb(tmp_path: Path) -> None:
    channels = {
        "diffuse.R": 1.0, "diffuse.G": 2.0, "diffuse.B": 3.0,
        "specular.R": 4.0, "specular.G": 4.0, "specular.B": 4.0,
    }
    path = tmp_path / "layers.exr"
    OpenEXR.File(
        {"type": OpenEXR.scanlineimage},
        {**{k: OpenEXR.Channel(_plane(v)) for k, v in channels.items()},
         "id": OpenEXR.Channel(np.arange(24, dtype=np.uint32).reshape(4, 6))},
    ).write(str(path))
    diffuse = read_exr(path)
    assert diffuse.side_data["exr"]["layer"] == "diffuse"
    torch.testing.assert_close(to_file_rgb(diffuse.data)[:, 0, 0], torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    specular = to_file_rgb(read_exr(path, layer="specular").data)[:, 0, 0]
    torch.testing.assert_close(specular, torch.full((3,), 4.0, dtype=torch.float64))
    assert {c["name"]: c["pixel_type"] for c in exr_info(path)["parts"][0]["channels"]}["id"] == "uint"


def test_uint_and_single_channel_rgb(tmp_path: Path) -> None:
    path = tmp_path / "uint.exr"
    OpenEXR.File(
        {"type": OpenEXR.scanlineimage},
        {"G": OpenEXR.Channel(np.arange(24, dtype=np.uint32).reshape(4, 6))},
    ).write(str(path))
    frame = read_exr(path, white_nits=1.0)
    rgb = to_file_rgb(frame.data, white=1.0)
    torch.testing.assert_close(rgb[1], torch.arange(24, dtype=torch.float64).view(4, 6), rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(rgb[0], torch.zeros(4, 6, dtype=torch.float64), rtol=0, atol=1e-5)  # missing R: 0


def test_display_window_outside_data_window() -> None:
    path = sample("DisplayWindow_t09.exr")
    data = read_exr(path)
    meta = data.side_data["exr"]
    assert meta["data_window"] == (0, 0, 399, 299) and meta["display_window"] == (400, 0, 599, 299)
    assert data.data.shape == (3, 300, 400) and data.data.abs().max() > 0
    display = read_exr(path, window="display")
    assert display.data.shape == (3, 300, 200)
    assert display.data.abs().max() == 0  # no data falls inside the display window
    with pytest.raises(InvalidInputError, match="window"):
        read_exr(path, window="full")


def test_display_window_pads_and_crops(tmp_path: Path) -> None:
    values = np.arange(24, dtype=np.float32).reshape(4, 6)
    header = {
        "type": OpenEXR.scanlineimage,
        "compression": OpenEXR.NO_COMPRESSION,
        "dataWindow": (np.array([2, 1], np.int32), np.array([7, 4], np.int32)),
        "displayWindow": (np.array([0, 0], np.int32), np.array([5, 5], np.int32)),
    }
    path = tmp_path / "windows.exr"
    OpenEXR.File(header, {c: OpenEXR.Channel(values.copy()) for c in "RGB"}).write(str(path))
    data = read_exr(path, white_nits=1.0)
    assert data.data.shape == (3, 4, 6)
    display = read_exr(path, white_nits=1.0, window="display").data
    assert display.shape == (3, 6, 6)
    expected = np.zeros((6, 6), np.float32)
    expected[1:5, 2:6] = values[:, :4]  # data x 2..7 cropped to display x 0..5
    np.testing.assert_allclose(display[0].numpy(), expected, atol=1e-4)


# --------------------------------------------------------------------------- NaN / Inf


def test_nan_and_inf_replaced_with_one_warning() -> None:
    path = sample("TestImages_BrightRingsNanInf.exr")
    raw = raw_channels(path)
    stack = np.stack([raw["R"], raw["G"], raw["B"]])
    bad_pixels = int((~np.isfinite(stack)).any(axis=0).sum())
    with pytest.warns(HDRVideoWarning, match=f"{bad_pixels} pixel") as record:
        frame = read_exr(path)
    assert sum(issubclass(w.category, HDRVideoWarning) for w in record) == 1
    assert frame.side_data["exr"]["nonfinite_pixels"] == bad_pixels
    rgb = to_file_rgb(frame.data).numpy()
    assert np.isfinite(rgb).all()
    np.testing.assert_allclose(rgb[np.isnan(stack)], 0.0, atol=1e-3)
    np.testing.assert_allclose(rgb[stack == -np.inf], 0.0, atol=1e-3)
    np.testing.assert_allclose(rgb[stack == np.inf], 65504.0, rtol=1e-5)
    clean = np.isfinite(stack).all(axis=0)  # pixels with no NaN/Inf channel are untouched
    peak = np.abs(stack[:, clean]).max(axis=0)  # float32 working space: error scales with the pixel
    assert (np.abs(rgb[:, clean] - stack[:, clean]) <= 1e-6 * peak + 1e-6).all()


def test_clean_file_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", HDRVideoWarning)
        read_exr(sample("TestImages_BrightRings.exr"))


def test_negative_values_are_kept(tmp_path: Path) -> None:
    x = torch.tensor([[-50.0, 100.0], [0.0, 2000.0]]).expand(3, 2, 2).clone()
    x[1] *= 0.5
    path = write_exr(tmp_path / "neg.exr", x, half=False)
    torch.testing.assert_close(read_exr(path).data, x, rtol=1e-5, atol=1e-3)


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("compression", ["none", "zip", "piz", "rle"])
def test_float_round_trip(tmp_path: Path, compression: str) -> None:
    x = torch.rand(3, 31, 45, generator=torch.Generator().manual_seed(3)) ** 3 * 4000
    path = write_exr(tmp_path / "f.exr", x, half=False, compression=compression)
    info = exr_info(path)
    assert info["parts"][0]["compression"] == compression
    assert {c["pixel_type"] for c in info["parts"][0]["channels"]} == {"float"}
    y = read_exr(path).data
    err = (y - x).abs() / x.amax(0, keepdim=True).clamp(min=1e-3)
    assert float(err.max()) < 1e-6


def test_half_round_trip_and_overflow_clamp(tmp_path: Path) -> None:
    x = torch.rand(3, 20, 30, generator=torch.Generator().manual_seed(4)) * 10000
    x[:, 0, 0] = 1e9  # beyond half range after dividing by 203: clamped, never inf
    path = write_exr(tmp_path / "h.exr", x)
    assert {c["pixel_type"] for c in exr_info(path)["parts"][0]["channels"]} == {"half"}
    y = read_exr(path).data
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y[:, 0, 0], torch.full((3,), 65504.0 * 203.0), rtol=2e-2, atol=0)
    err = ((y - x).abs() / x.amax(0, keepdim=True))[:, 1:, 1:]
    assert float(err.max()) < 2e-3  # half: 11-bit mantissa, plus the primaries round trip


def test_write_frame_and_metadata(tmp_path: Path) -> None:
    frame = read_exr(sample("TestImages_stripes.exr"))
    path = write_exr(tmp_path / "s.exr", frame, white_nits=100.0)
    header = OpenEXR.File(str(path), header_only=True).header()
    assert header["whiteLuminance"] == pytest.approx(100.0)
    assert header["chromaticities"] == pytest.approx(exr_module.EXR_DEFAULT_CHROMATICITIES)
    torch.testing.assert_close(read_exr(path, white_nits=100.0).data, frame.data, rtol=2e-3, atol=1e-2)


def test_write_refuses_to_replace_and_bad_arguments(tmp_path: Path) -> None:
    x = torch.ones(3, 4, 4)
    path = write_exr(tmp_path / "a.exr", x)
    with pytest.raises(OutputError, match="exists"):
        write_exr(path, x)
    write_exr(path, x * 2, overwrite=True)
    with pytest.raises(InvalidInputError, match="compression"):
        write_exr(tmp_path / "b.exr", x, compression="lzw")
    with pytest.raises(InvalidInputError, match="primaries"):
        write_exr(tmp_path / "b.exr", x, primaries="adobe")
    with pytest.raises(InvalidInputError, match="shape"):
        write_exr(tmp_path / "b.exr", torch.ones(4, 4))
    with pytest.raises(OutputError, match="does not exist"):
        write_exr(tmp_path / "missing" / "b.exr", x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.exr"]


def test_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_file = OpenEXR.File

    class Failing:
        def __init__(self, *args, **kwargs):
            self._f = real_file(*args, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, name: str) -> None:
            Path(name).write_bytes(b"\x76\x2f\x31\x01partial")
            raise RuntimeError("disk full")

    monkeypatch.setattr(OpenEXR, "File", Failing)
    with pytest.raises(OutputError, match="disk full"):
        write_exr(tmp_path / "x.exr", torch.ones(3, 4, 4))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- bad input


def _truncated(tmp_path: Path, name: str, keep: int | float) -> Path:
    source = sample(name)
    data = source.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    out = tmp_path / f"cut_{n}_{name}"
    out.write_bytes(data[:n])
    return out


@pytest.mark.parametrize("keep", [0.5, 0.99, 40, 400])
@pytest.mark.parametrize("name", ["ScanLines_Desk.exr", "Tiles_GoldenGate.exr"])
def test_truncated_file_is_invalid_input(tmp_path: Path, name: str, keep: int | float, capfd) -> None:
    path = _truncated(tmp_path, name, keep)
    with pytest.raises(InvalidInputError) as info:
        read_exr(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    with pytest.raises(InvalidInputError):
        exr_info(path)
    assert "EXR_ERR" not in capfd.readouterr().err  # caught before the library complains


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_exr(tmp_path / "missing.exr")
    with pytest.raises(FileNotFoundError):  # the builtin works too
        read_exr(tmp_path / "missing.exr")
    with pytest.raises(InvalidInputError, match="directory"):
        read_exr(tmp_path)
    empty = tmp_path / "empty.exr"
    empty.touch()
    with pytest.raises(InvalidInputError, match="empty"):
        read_exr(empty)
    text = tmp_path / "text.exr"
    text.write_text("this is not an image\n")
    with pytest.raises(InvalidInputError, match="magic"):
        read_exr(text)
    with pytest.raises(ValueError):
        exr_info(text)


def test_copy_of_sample_reads_like_the_original(tmp_path: Path) -> None:
    source = sample("TestImages_stripes.exr")
    copy = tmp_path / "copy.exr"
    shutil.copy(source, copy)
    torch.testing.assert_close(read_exr(copy).data, read_exr(source).data)
