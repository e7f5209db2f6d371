"""OpenEXR stills: read into the working space, write out of it, and describe a file.

Built on the official ``OpenEXR`` Python bindings (3.x ``OpenEXR.File`` API).

Reading (:func:`read_exr`) handles what the OpenEXR sample set (``openexr-images``) shows:

- scanline and tiled parts; mip-mapped and rip-mapped parts give their level 0;
- multi-part files: a part is chosen by index or name, by default the first part that
  holds colour (R/G/B or Y channels);
- layers and views (channel names ``"left.R"``, ``"diffuse.R"``): by default the
  unprefixed channels, else the first view of the ``multiView`` attribute, else the first
  layer holding colour;
- luminance/chroma files (``Y``, ``RY``, ``BY``, chroma usually sub-sampled 2x2) converted
  to RGB as ``ImfRgbaYca`` does (chroma up-sampled bilinearly at its sample positions);
  ``Y``-only files as grey; RGB files with a channel missing get zeros there (as
  ``ImfRgbaFile`` does);
- half, float and uint channels;
- the ``chromaticities`` attribute (default: BT.709 primaries, D65 white, the OpenEXR
  default), converted to BT.2020 with Bradford adaptation when the file's white is not D65,
  including XYZ files (primaries at the corners of the xy diagram);
- data window vs display window (``window="data" | "display"``);
- NaN and infinity: NaN and -Inf become 0, +Inf the largest finite value of the channel's
  pixel type, and one :class:`~hdrvideo.errors.HDRVideoWarning` says how many pixels were
  touched. Negative (out-of-gamut) values are kept.

Scale: scene-referred EXR has no absolute scale; pixel value 1.0 is placed at
``white_nits`` cd/m² (default 203, the ITU-R BT.2408 HDR reference white). Results that
overflow float32 after scaling are clamped to the largest finite float32.

========================  ==========================================  ===================
direction                 domain                                      range
========================  ==========================================  ===================
:func:`read_exr`          file RGB (relative, file primaries)          (3, H, W) float32,
                                                                       linear BT.2020 cd/m²
:func:`write_exr`         (3, H, W) linear BT.2020 cd/m²               file RGB / white_nits,
                                                                       ``primaries``
========================  ==========================================  ===================

References: OpenEXR file layout ("OpenEXR File Layout", openexr.com); ImfChromaticities
(RGBtoXYZ), ImfRgbaYca (luminance/chroma); SMPTE RP 177-1993 (normalised primary matrix).
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hdrvideo.color.primaries import (
    D65,
    Primaries,
    chromatic_adaptation_matrix,
    get_primaries,
    rgb_to_xyz_matrix,
)
from hdrvideo.errors import (
    HDRVideoWarning,
    InvalidInputError,
    OutputError,
    UnsupportedError,
)
from hdrvideo.frame import Frame
from hdrvideo.io.atomic import atomic_output
from hdrvideo.io.images import check_input_file, frame_tensor

#: First four bytes of every OpenEXR file.
EXR_MAGIC = b"\x76\x2f\x31\x01"

#: ITU-R BT.2408 HDR reference white, where scene value 1.0 is placed by default.
DEFAULT_WHITE_NITS = 203.0

#: OpenEXR's default chromaticities (ImfStandardAttributes: BT.709 primaries, D65 white).
EXR_DEFAULT_CHROMATICITIES: tuple[float, ...] = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)

#: Chromaticities that mean "the channels are CIE X, Y, Z" (equal-energy white), as in
#: openexr-images ``Chromaticities/XYZ.exr`` and the ``primaries="xyz"`` of :func:`write_exr`.
XYZ_CHROMATICITIES: tuple[float, ...] = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0)

#: Whites closer than this (in x and y) to D65 are taken as D65 (attributes are float32).
_WHITE_TOLERANCE = 5e-4

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_HALF_MAX = float(np.finfo(np.float16).max)

_WINDOWS = ("data", "display")


# --------------------------------------------------------------------------- colour


def _chromaticities_tuple(spec: str | Primaries | tuple[float, ...] | None) -> tuple[float, ...]:
    """8 floats (rx, ry, gx, gy, bx, by, wx, wy) from a name, :class:`Primaries` or tuple."""
    if spec is None:
        return EXR_DEFAULT_CHROMATICITIES
    if isinstance(spec, str) and spec.lower() == "xyz":
        return XYZ_CHROMATICITIES
    if isinstance(spec, (tuple, list)):
        if len(spec) != 8:
            raise InvalidInputError(f"chromaticities need 8 numbers (rx ry gx gy bx by wx wy), got {len(spec)}")
        return tuple(float(v) for v in spec)
    p = get_primaries(spec)
    return (*p.red, *p.green, *p.blue, *p.white)


def _npm(chroma: tuple[float, ...]) -> torch.Tensor:
    """Normalised primary matrix (SMPTE RP 177; ImfChromaticities ``RGBtoXYZ``), float64.

    Written with the unnormalised chromaticity columns ``(x, y, 1 - x - y)`` so that primaries
    with ``y = 0`` (the XYZ corner ``(0, 0)``) work, which
    :func:`hdrvideo.color.primaries.rgb_to_xyz_matrix` (dividing by ``y``) cannot do.
    """
    rx, ry, gx, gy, bx, by, wx, wy = chroma
    if wy <= 0:
        raise InvalidInputError(f"chromaticities: white y must be > 0, got {wy}")
    columns = torch.tensor(
        [[rx, gx, bx], [ry, gy, by], [1 - rx - ry, 1 - gx - gy, 1 - bx - by]], dtype=torch.float64
    )
    white = torch.tensor([wx / wy, 1.0, (1 - wx - wy) / wy], dtype=torch.float64)
    try:
        scale = torch.linalg.solve(columns, white)
    except RuntimeError as e:  # singular: collinear primaries
        raise InvalidInputError(f"chromaticities {chroma} are degenerate (collinear primaries)") from e
    return columns * scale


def _white_is_d65(chroma: tuple[float, ...]) -> bool:
    return abs(chroma[6] - D65[0]) < _WHITE_TOLERANCE and abs(chroma[7] - D65[1]) < _WHITE_TOLERANCE


def file_to_bt2020_matrix(chroma: tuple[float, ...]) -> torch.Tensor:
    """float64 ``(3, 3)`` matrix: file RGB (``chroma``) -> linear BT.2020 RGB.

    Bradford adaptation from the file's white to D65 when the white is not D65.
    """
    m = _npm(chroma)
    if not _white_is_d65(chroma):
        m = chromatic_adaptation_matrix((chroma[6], chroma[7]), D65) @ m
    return torch.linalg.solve(rgb_to_xyz_matrix("bt2020"), m)


def _luminance_weights(chroma: tuple[float, ...]) -> np.ndarray:
    """Y row of the normalised primary matrix (ImfRgbaYca ``computeYw``)."""
    yw = _npm(chroma)[1].numpy()
    return yw / yw.sum()


# --------------------------------------------------------------------------- structure


def _read_cstring(buf: bytes, pos: int) -> tuple[str, int]:
    end = buf.find(b"\0", pos, pos + 256)
    if end < 0:
        raise struct.error("unterminated name")
    return buf[pos:end].decode("latin-1"), end + 1


def _parse_headers(buf: bytes, multipart: bool) -> tuple[list[dict[str, tuple[str, bytes]]], int]:
    """Raw headers (attribute name -> (type name, value bytes)) and the offset after them.

    Raises:
        struct.error: the buffer ends inside the headers.
    """
    pos = 8
    headers: list[dict[str, tuple[str, bytes]]] = []
    while True:
        header: dict[str, tuple[str, bytes]] = {}
        while True:
            name, pos = _read_cstring(buf, pos)
            if not name:
                break
            type_name, pos = _read_cstring(buf, pos)
            (length,) = struct.unpack_from("<i", buf, pos)
            pos += 4
            if length < 0 or pos + length > len(buf):
                raise struct.error("attribute runs past the data")
            header[name] = (type_name, buf[pos : pos + length])
            pos += length
        if not header and multipart and headers:
            return headers, pos  # the empty header that ends a multi-part header list
        headers.append(header)
        if not multipart:
            return headers, pos


#: Scanlines per chunk for each compression code (ImfCompression.h); codes not listed
#: fall back to reading the offset table up to the first chunk.
_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256, 10: 256, 11: 32}


def _chunk_count(header: dict[str, tuple[str, bytes]], tiled: bool) -> int | None:
    """Chunks of a single-part image from its data window, compression and tiling (ImfTiledMisc)."""
    try:
        kind, value = header.get("chunkCount", ("", b""))
        if kind == "int":
            return struct.unpack("<i", value)[0]
        x0, y0, x1, y1 = struct.unpack("<4i", header["dataWindow"][1])
        width, height = x1 - x0 + 1, y1 - y0 + 1
        if not tiled:
            lines = _LINES_PER_CHUNK.get(header["compression"][1][0])
            return None if lines is None else -(-height // lines)
        tile_x, tile_y, mode = struct.unpack("<IIB", header["tiles"][1])
    except (KeyError, IndexError, struct.error):
        return None
    level_mode, round_up = mode & 0x0F, bool(mode >> 4)

    def levels(n: int) -> int:
        log = n.bit_length() - 1  # floor(log2 n)
        return (log + (1 if round_up and n > (1 << log) else 0)) + 1

    def level_size(n: int, level: int) -> int:
        size = n >> level
        if round_up and (size << level) < n:
            size += 1
        return max(size, 1)

    def tiles(w: int, h: int) -> int:
        return -(-w // max(tile_x, 1)) * -(-h // max(tile_y, 1))

    if level_mode == 0:
        return tiles(width, height)
    if level_mode == 1:
        return sum(
            tiles(level_size(width, lv), level_size(height, lv)) for lv in range(levels(max(width, height)))
        )
    if level_mode == 2:
        return sum(
            tiles(level_size(width, lx), level_size(height, ly))
            for lx in range(levels(width))
            for ly in range(levels(height))
        )
    return None


def _check_structure(path: Path) -> list[dict[str, tuple[str, bytes]]]:
    """Check headers and offset tables fit the file, so truncation is a clean error.

    The library reports a truncated file by printing to stderr and raising an unrelated
    ``IndexError``; checking the chunk table first gives one clear message instead.

    Returns:
        The raw headers, one per part: attribute name -> (type name, value bytes).
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        buf = fh.read(min(size, 1 << 20))
        if len(buf) < 8 or buf[:4] != EXR_MAGIC:
            raise InvalidInputError(f"{path}: not an OpenEXR file (bad magic number)")
        version = struct.unpack_from("<I", buf, 4)[0]
        multipart = bool(version & 0x1000)
        single_tiled = bool(version & 0x200)
        try:
            try:
                headers, table_start = _parse_headers(buf, multipart)
            except struct.error:
                if len(buf) == size:
                    raise
                fh.seek(0)
                buf = fh.read()  # a header larger than 1 MiB (big previews, manifests)
                headers, table_start = _parse_headers(buf, multipart)
        except struct.error as e:
            raise InvalidInputError(f"{path}: OpenEXR header is truncated or corrupt") from e

        def part_type(i: int) -> str:
            if not 0 <= i < len(headers):
                return "?"
            kind, value = headers[i].get("type", ("", b""))
            if kind == "string":
                return value.decode("latin-1")
            return "tiledimage" if single_tiled else "scanlineimage"

        counts = [_chunk_count(h, part_type(i) in ("tiledimage", "deeptile")) for i, h in enumerate(headers)]
        fh.seek(table_start)
        if all(c is not None for c in counts):
            count = sum(c or 0 for c in counts)
            raw = fh.read(8 * count)
            if len(raw) < 8 * count:
                raise InvalidInputError(f"{path}: truncated OpenEXR file (offset table incomplete)")
            offsets = np.frombuffer(raw, "<u8")
        else:
            # Chunks start right after the table, so the table ends at its smallest offset.
            found: list[int] = []
            smallest = size
            while table_start + 8 * len(found) < min(smallest, size):
                raw = fh.read(8)
                if len(raw) < 8:
                    break
                value = struct.unpack("<Q", raw)[0]
                found.append(value)
                smallest = min(smallest, value)
            offsets = np.array(found, dtype=np.uint64)
        if offsets.size == 0:
            raise InvalidInputError(f"{path}: truncated OpenEXR file (no pixel data)")
        table_end = table_start + 8 * offsets.size
        if int(offsets.min()) < table_end or int(offsets.max()) >= size:
            raise InvalidInputError(
                f"{path}: truncated or incomplete OpenEXR file (chunk offsets point outside "
                f"the file's {size} bytes)"
            )
        # The last chunk of the file must be complete.
        last = int(offsets.max())
        fh.seek(last)
        leader = fh.read(64)
        p = 0
        index = 0
        if multipart:
            index = struct.unpack_from("<i", leader, 0)[0] if len(leader) >= 4 else -1
            p = 4
        kind = part_type(index)
        try:
            if kind in ("scanlineimage", "tiledimage"):
                p += 4 if kind == "scanlineimage" else 16
                (packed,) = struct.unpack_from("<i", leader, p)
                end = last + p + 4 + packed
            elif kind in ("deepscanline", "deeptile"):
                p += 4 if kind == "deepscanline" else 16
                table, sample, _ = struct.unpack_from("<qqq", leader, p)
                end = last + p + 24 + table + sample
            else:
                end = last
        except struct.error:
            end = size + 1
        if end > size:
            raise InvalidInputError(
                f"{path}: truncated OpenEXR file (last pixel chunk ends at byte {end}, file has {size})"
            )
    return headers


def _pixel_types(raw_header: dict[str, tuple[str, bytes]]) -> dict[str, str]:
    """Channel name -> ``"uint" | "half" | "float"`` from a raw ``chlist`` attribute.

    (The bindings' header-only channels carry no pixel type.)
    """
    kind, value = raw_header.get("channels", ("", b""))
    out: dict[str, str] = {}
    pos = 0
    while kind == "chlist" and pos < len(value) and value[pos] != 0:
        end = value.index(b"\0", pos)
        name = value[pos:end].decode("latin-1")
        (pixel_type,) = struct.unpack_from("<i", value, end + 1)
        out[name] = {0: "uint", 1: "half", 2: "float"}.get(pixel_type, str(pixel_type))
        pos = end + 1 + 16
    return out


# --------------------------------------------------------------------------- reading


def _open(path: Path, *, header_only: bool) -> Any:
    import OpenEXR

    try:
        return OpenEXR.File(str(path), separate_channels=True, header_only=header_only)
    except Exception as e:  # the bindings raise RuntimeError / IndexError / ValueError
        raise InvalidInputError(f"{path}: cannot read OpenEXR file: {_one_line(e)}") from e


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _enum_name(value: Any) -> str:
    name = getattr(value, "name", str(value))
    return name.split(".")[-1]


_STORAGE_NAMES = {
    "scanlineimage": "scanline",
    "tiledimage": "tiled",
    "deepscanline": "deep scanline",
    "deeptile": "deep tiled",
}


def _storage(header: dict[str, Any]) -> str:
    value = header.get("type")
    if value is None:
        return "tiled" if "tiles" in header else "scanline"
    return _STORAGE_NAMES.get(_enum_name(value), _enum_name(value))


def _window(value: Any) -> tuple[int, int, int, int]:
    lo, hi = value
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def _split(name: str) -> tuple[str, str]:
    """``"left.diffuse.R"`` -> ``("left.diffuse", "R")``; ``"R"`` -> ``("", "R")``."""
    prefix, _, base = name.rpartition(".")
    return prefix, base


_COLOUR_BASES = {"R", "G", "B", "Y"}


def _layers(channel_names: list[str]) -> dict[str, dict[str, str]]:
    """Layer prefix -> {upper-case base name: full channel name}, for layers holding colour."""
    layers: dict[str, dict[str, str]] = {}
    for name in channel_names:
        prefix, base = _split(name)
        layers.setdefault(prefix, {}).setdefault(base.upper(), name)
    return {k: v for k, v in layers.items() if _COLOUR_BASES & set(v)}


def _choose_layer(
    path: Path, header: dict[str, Any], channel_names: list[str], layer: str | None
) -> tuple[str, dict[str, str]]:
    layers = _layers(channel_names)
    views = [str(v) for v in header.get("multiView", []) or []]
    if layer is None:
        if "" in layers:
            return "", layers[""]
        for view in views:
            if view in layers:
                return view, layers[view]
        if layers:
            first = sorted(layers)[0]
            return first, layers[first]
        raise InvalidInputError(
            f"{path}: no colour channels (R, G, B or Y) in this part; channels: {', '.join(channel_names)}"
        )
    if layer in layers:
        return layer, layers[layer]
    if "" in layers and ((views and layer == views[0]) or str(header.get("view", "")) == layer):
        return layer, layers[""]  # the default view, or this part's view, has no prefix
    valid = ", ".join(repr(k) if k else "'' (unprefixed)" for k in sorted(layers)) or "none"
    raise InvalidInputError(f"{path}: no layer or view {layer!r} with colour channels; available: {valid}")


def _part_has_colour(header: dict[str, Any]) -> bool:
    names = [c.name for c in header.get("channels", [])]
    return bool(_layers(names)) and not _storage(header).startswith("deep")


def _choose_part(path: Path, f: Any, part: int | str | None, layer: str | None) -> int:
    count = len(f.parts)
    headers = [f.header(i) for i in range(count)]
    names = [str(h.get("name", "")) for h in headers]
    if part is None:
        coloured = [i for i, h in enumerate(headers) if _part_has_colour(h)]
        if not coloured:
            raise InvalidInputError(f"{path}: no part holds colour channels (R, G, B or Y)")
        if layer is not None:  # multi-part multi-view: the part of that view, or with that layer
            for i in coloured:
                h = headers[i]
                if str(h.get("view", "")) == layer or layer in _layers([c.name for c in h["channels"]]):
                    return i
        return coloured[0]
    if isinstance(part, str):
        if part in names:
            return names.index(part)
        listed = ", ".join(repr(n) for n in names)
        raise InvalidInputError(f"{path}: no part named {part!r}; parts: {listed}")
    if not -count <= int(part) < count:
        raise InvalidInputError(f"{path}: part {part} out of range; the file has {count} part(s)")
    return int(part) % count


def _upsample(plane: np.ndarray, xs: int, ys: int, height: int, width: int) -> np.ndarray:
    """Bilinear up-sampling of a sub-sampled channel whose samples sit at ``(ys*j, xs*i)``."""

    def axis(n_out: int, n_in: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.arange(n_out, dtype=np.float64) / factor
        i0 = np.minimum(np.floor(t).astype(np.intp), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (t - i0).clip(0.0, 1.0).astype(np.float32)

    out = plane.astype(np.float32, copy=False)
    if ys > 1:
        i0, i1, w = axis(height, out.shape[0], ys)
        out = out[i0] * (1 - w)[:, None] + out[i1] * w[:, None]
    if xs > 1:
        i0, i1, w = axis(width, out.shape[1], xs)
        out = out[:, i0] * (1 - w)[None, :] + out[:, i1] * w[None, :]
    return out


def _plane(channel: Any, height: int, width: int, bad: np.ndarray) -> np.ndarray:
    """One channel as float32 at full resolution, non-finite values replaced (``bad`` marked)."""
    pixels = np.asarray(channel.pixels)
    if pixels.dtype.kind == "f":
        nonfinite = ~np.isfinite(pixels)
        if nonfinite.any():
            top = np.finfo(pixels.dtype).max
            pixels = np.where(np.isnan(pixels) | np.isneginf(pixels), 0, np.where(np.isposinf(pixels), top, pixels))
            pixels = pixels.astype(channel.pixels.dtype)
            if nonfinite.shape == bad.shape:
                bad |= nonfinite
            else:
                bad |= _upsample(nonfinite.astype(np.float32), channel.xSampling, channel.ySampling, height, width) > 0
    xs, ys = int(channel.xSampling), int(channel.ySampling)
    if pixels.shape != (height, width):
        if (xs, ys) == (1, 1):
            raise InvalidInputError(f"channel {channel.name!r} has shape {pixels.shape}, expected {(height, width)}")
        return _upsample(pixels, xs, ys, height, width)
    return pixels.astype(np.float32, copy=False)


def read_exr(
    path: str | os.PathLike[str],
    *,
    white_nits: float = DEFAULT_WHITE_NITS,
    part: int | str | None = None,
    layer: str | None = None,
    window: str = "data",
) -> Frame:
    """Read an OpenEXR still into the working space.

    Args:
        path: the ``.exr`` file.
        white_nits: cd/m² at which pixel value 1.0 is placed (BT.2408: 203).
        part: part index or name; ``None`` (default) picks the first part with colour (with
            ``layer`` given: the first whose ``view`` attribute or channel prefix matches it).
        layer: layer or view prefix (``"right"`` for ``right.R``...); ``None`` picks the
            unprefixed channels, else the first view, else the first layer with colour.
        window: ``"data"`` (default) returns the data window's pixels; ``"display"`` returns
            the display window, padded with zeros where there is no data.

    Returns:
        :class:`~hdrvideo.frame.Frame`: ``data`` ``(3, H, W)`` float32 CPU, linear BT.2020 cd/m²;
        ``side_data["exr"]`` holds ``data_window`` and ``display_window`` (``(xmin, ymin,
        xmax, ymax)``, inclusive), ``part``, ``part_name``, ``layer``, ``channels``,
        ``chromaticities`` (as read, or ``None``), ``white_luminance``, ``nonfinite_pixels``.

    Raises:
        InputNotFoundError: missing file.
        InvalidInputError: a directory, empty, not OpenEXR, truncated, no colour channels,
            unknown part or layer.
        UnsupportedError: a deep part.

    Warns:
        HDRVideoWarning: once, when NaN/Inf pixels were replaced.
    """
    if window not in _WINDOWS:
        raise InvalidInputError(f"unknown window {window!r}; valid: {', '.join(_WINDOWS)}")
    p = check_input_file(path)
    _check_structure(p)
    f = _open(p, header_only=False)
    index = _choose_part(p, f, part, layer)
    header = f.header(index)
    storage = _storage(header)
    if storage.startswith("deep"):
        raise UnsupportedError(f"{p}: part {index} holds deep data, which has no flat RGB picture")
    try:
        channels = f.parts[index].channels
    except Exception as e:
        raise InvalidInputError(f"{p}: cannot read OpenEXR pixels: {_one_line(e)}") from e
    layer_name, bases = _choose_layer(p, header, list(channels), layer)

    data_window = _window(header["dataWindow"])
    display_window = _window(header.get("displayWindow", header["dataWindow"]))
    width = data_window[2] - data_window[0] + 1
    height = data_window[3] - data_window[1] + 1
    chroma_attr = header.get("chromaticities")
    chroma = tuple(float(v) for v in chroma_attr) if chroma_attr is not None else EXR_DEFAULT_CHROMATICITIES

    bad = np.zeros((height, width), dtype=bool)

    def plane(base: str) -> np.ndarray | None:
        name = bases.get(base)
        return None if name is None else _plane(channels[name], height, width, bad)

    try:
        if bases.keys() & {"R", "G", "B"}:
            planes = [plane(c) for c in "RGB"]
            zero = np.zeros((height, width), np.float32)
            rgb = np.stack([zero if q is None else q for q in planes])
            used = [bases[c] for c in "RGB" if c in bases]
        else:
            y = plane("Y")
            assert y is not None
            ry, by = plane("RY"), plane("BY")
            used = [bases[c] for c in ("Y", "RY", "BY") if c in bases]
            if ry is None or by is None:
                rgb = np.stack([y, y, y])
            else:
                yw = _luminance_weights(chroma).astype(np.float32)
                r = (ry + 1) * y
                b = (by + 1) * y
                g = (y - r * yw[0] - b * yw[2]) / yw[1]
                rgb = np.stack([r, g, b])
    except InvalidInputError as e:
        raise InvalidInputError(f"{p}: {e}") from e

    replaced = int(bad.sum())
    if replaced:
        warnings.warn(
            f"{p.name}: {replaced} pixel(s) held NaN or infinity; NaN and -Inf were replaced "
            "by 0, +Inf by the largest finite value",
            HDRVideoWarning,
            stacklevel=2,
        )

    matrix = file_to_bt2020_matrix(chroma) * float(white_nits)
    out = torch.einsum("ij,jhw->ihw", matrix, torch.from_numpy(rgb.astype(np.float64)))
    out = out.clamp_(-_FLOAT32_MAX, _FLOAT32_MAX).to(torch.float32)

    if window == "display":
        out = _to_display_window(out, data_window, display_window)

    side = {
        "exr": {
            "data_window": data_window,
            "display_window": display_window,
            "window": window,
            "part": index,
            "part_name": str(header.get("name", "")),
            "layer": layer_name,
            "channels": used,
            "storage": storage,
            "chromaticities": tuple(float(v) for v in chroma_attr) if chroma_attr is not None else None,
            "white_luminance": float(header["whiteLuminance"]) if "whiteLuminance" in header else None,
            "pixel_aspect_ratio": float(header.get("pixelAspectRatio", 1.0)),
            "nonfinite_pixels": replaced,
        },
        "white_nits": float(white_nits),
        "path": str(p),
    }
    return Frame(data=out.contiguous(), index=0, pts_seconds=None, side_data=side)


def _to_display_window(
    data: torch.Tensor, data_window: tuple[int, int, int, int], display_window: tuple[int, int, int, int]
) -> torch.Tensor:
    """Place the data window's pixels on the display window (zeros where there is no data)."""
    dx0, dy0, dx1, dy1 = display_window
    out = torch.zeros((3, dy1 - dy0 + 1, dx1 - dx0 + 1), dtype=data.dtype)
    x0, y0, x1, y1 = data_window
    ox0, oy0 = max(x0, dx0), max(y0, dy0)
    ox1, oy1 = min(x1, dx1), min(y1, dy1)
    if ox0 <= ox1 and oy0 <= oy1:
        out[:, oy0 - dy0 : oy1 - dy0 + 1, ox0 - dx0 : ox1 - dx0 + 1] = data[
            :, oy0 - y0 : oy1 - y0 + 1, ox0 - x0 : ox1 - x0 + 1
        ]
    return out


# --------------------------------------------------------------------------- info


def exr_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Describe an OpenEXR file without decoding its pixels (what a probe shows).

    Returns:
        ``{"path", "format": "openexr", "size_bytes", "multipart", "width", "height",
        "parts": [...]}`` where ``width``/``height`` are the data window of the part
        :func:`read_exr` picks by default (or part 0), and each part is ``{"index", "name",
        "storage" ("scanline" | "tiled" | "deep scanline" | "deep tiled"), "width",
        "height", "data_window", "display_window", "channels": [{"name", "pixel_type"
        ("half" | "float" | "uint"), "x_sampling", "y_sampling"}], "compression",
        "tiles" (``None`` or {"x_size", "y_size", "level_mode", "rounding_mode"}),
        "chromaticities" (``None`` or {"red", "green", "blue", "white"}),
        "white_luminance", "views", "view"}``.
    """
    p = check_input_file(path)
    raw_headers = _check_structure(p)
    f = _open(p, header_only=True)
    parts = []
    for i in range(len(f.parts)):
        h = f.header(i)
        pixel_types = _pixel_types(raw_headers[i]) if i < len(raw_headers) else {}
        dw = _window(h["dataWindow"])
        tiles = h.get("tiles")
        chroma = h.get("chromaticities")
        parts.append(
            {
                "index": i,
                "name": str(h.get("name", "")),
                "storage": _storage(h),
                "width": dw[2] - dw[0] + 1,
                "height": dw[3] - dw[1] + 1,
                "data_window": dw,
                "display_window": _window(h.get("displayWindow", h["dataWindow"])),
                "channels": [
                    {
                        "name": c.name,
                        "pixel_type": pixel_types.get(c.name, "unknown"),
                        "x_sampling": int(c.xSampling),
                        "y_sampling": int(c.ySampling),
                    }
                    for c in h.get("channels", [])
                ],
                "compression": _compression_name(h.get("compression", "NO_COMPRESSION")),
                "tiles": None
                if tiles is None
                else {
                    "x_size": int(tiles.xSize),
                    "y_size": int(tiles.ySize),
                    "level_mode": _enum_name(tiles.mode).replace("_LEVELS", "").replace("_LEVEL", "").lower(),
                    "rounding_mode": _enum_name(tiles.roundingMode).replace("ROUND_", "").lower(),
                },
                "chromaticities": None
                if chroma is None
                else {
                    "red": (float(chroma[0]), float(chroma[1])),
                    "green": (float(chroma[2]), float(chroma[3])),
                    "blue": (float(chroma[4]), float(chroma[5])),
                    "white": (float(chroma[6]), float(chroma[7])),
                },
                "white_luminance": float(h["whiteLuminance"]) if "whiteLuminance" in h else None,
                "views": [str(v) for v in h.get("multiView", []) or []],
                "view": str(h["view"]) if "view" in h else None,
            }
        )
    default = next((i for i in range(len(f.parts)) if _part_has_colour(f.header(i))), 0)
    return {
        "path": str(p),
        "format": "openexr",
        "size_bytes": p.stat().st_size,
        "multipart": len(parts) > 1,
        "width": parts[default]["width"],
        "height": parts[default]["height"],
        "default_part": default,
        "parts": parts,
    }


# --------------------------------------------------------------------------- writing


def _compressions() -> dict[str, Any]:
    import OpenEXR

    out = {}
    for name in dir(OpenEXR):
        if name.endswith("_COMPRESSION") and not name.startswith("NUM_"):
            out[_compression_name(name)] = getattr(OpenEXR, name)
    return out


def _compression_name(value: Any) -> str:
    """``Compression.PIZ_COMPRESSION`` -> ``"piz"``; ``NO_COMPRESSION`` -> ``"none"``."""
    name = _enum_name(value).replace("_COMPRESSION", "").lower()
    return "none" if name == "no" else name


def write_exr(
    path: str | os.PathLike[str],
    frame_or_tensor: Frame | torch.Tensor,
    *,
    white_nits: float = DEFAULT_WHITE_NITS,
    primaries: str | Primaries | tuple[float, ...] = "bt709",
    half: bool = True,
    compression: str = "zip",
    overwrite: bool = False,
) -> Path:
    """Write a working-space picture as a single-part scanline OpenEXR file.

    The picture is converted from BT.2020 to ``primaries`` (Bradford adaptation when their
    white is not D65; ``"xyz"`` writes CIE XYZ with an equal-energy white, like
    ``Chromaticities/XYZ.exr``), divided by ``white_nits`` and stored as R, G, B half
    (default; values clamped to ±65504) or float channels, with the ``chromaticities`` and
    ``whiteLuminance`` (= ``white_nits``) attributes. Negative values are kept.

    Args:
        path: the ``.exr`` file to write (through a temporary name, renamed on success).
        frame_or_tensor: a :class:`~hdrvideo.frame.Frame` or a ``(3, H, W)`` tensor
            (linear BT.2020 cd/m²).
        white_nits: cd/m² written as pixel value 1.0.
        primaries: a name from :data:`hdrvideo.color.primaries.PRIMARIES`, ``"xyz"``, a
            :class:`~hdrvideo.color.primaries.Primaries` or 8 chromaticity numbers.
        half: 16-bit half float (default) or 32-bit float channels.
        compression: ``"zip"`` (default), ``"none"``, ``"rle"``, ``"zips"``, ``"piz"``,
            ``"pxr24"``, ``"b44"``, ``"b44a"``, ``"dwaa"``, ``"dwab"``... (what the
            installed OpenEXR offers).
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        OutputError: the path cannot be written (exists, folder missing, library error).
        InvalidInputError: bad tensor shape, unknown primaries or compression.
    """
    import OpenEXR

    x = frame_tensor(frame_or_tensor)
    chroma = _chromaticities_tuple(primaries)
    comps = _compressions()
    key = compression.lower().replace("_compression", "")
    if key not in comps:
        raise InvalidInputError(f"unknown EXR compression {compression!r}; valid: {', '.join(sorted(comps))}")
    if not white_nits > 0:
        raise InvalidInputError(f"white_nits must be > 0, got {white_nits}")
    matrix = torch.linalg.inv(file_to_bt2020_matrix(chroma)) / float(white_nits)
    rgb = torch.einsum("ij,jhw->ihw", matrix, x.to(torch.float64)).numpy()
    if half:
        rgb = np.clip(rgb, -_HALF_MAX, _HALF_MAX).astype(np.float16)
    else:
        rgb = np.clip(rgb, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32)
    header = {
        "compression": comps[key],
        "type": OpenEXR.scanlineimage,
        "chromaticities": tuple(float(v) for v in chroma),
        "whiteLuminance": float(white_nits),
    }
    # Channel objects, each with its own array: the bindings mishandle plain arrays that
    # share memory.
    channels = {name: OpenEXR.Channel(name, np.array(rgb[i], order="C")) for i, name in enumerate("RGB")}
    with atomic_output(path, overwrite=overwrite) as tmp:
        try:
            with OpenEXR.File(header, channels) as f:
                f.write(str(tmp))
        except Exception as e:
            raise OutputError(f"{path}: cannot write OpenEXR file: {_one_line(e)}") from e
    return Path(path)


__all__ = [
    "DEFAULT_WHITE_NITS",
    "EXR_DEFAULT_CHROMATICITIES",
    "EXR_MAGIC",
    "XYZ_CHROMATICITIES",
    "exr_info",
    "file_to_bt2020_matrix",
    "read_exr",
    "write_exr",
]
