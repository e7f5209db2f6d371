"""Radiance RGBE (``.hdr``, ``.pic``) stills, read and written with numpy alone.

The format (Greg Ward, "Real Pixels", Graphics Gems II, 1991; Radiance ``color.c`` and
``header.c``): a text header (``#?RADIANCE`` or ``#?RGBE``, ``FORMAT=``, optional
``EXPOSURE=``, ``COLORCORR=``, ``PRIMARIES=`` lines) ended by an empty line, a resolution
line (``-Y H +X W`` and the seven other orientations), then scanlines of 4-byte pixels
``(r, g, b, e)`` meaning ``(m + 0.5) * 2**(e - 136)`` (``e = 0`` is black), either

- new-style run-length encoded: ``2 2 hi lo`` then the four components of the scanline one
  after the other, each as runs (``count > 128``: ``count - 128`` copies of the next byte)
  and literals (``count`` bytes);
- old-style RLE: a pixel ``1 1 1 n`` repeats the previous pixel ``n << shift`` times, the
  shift growing by 8 for each consecutive repeat pixel;
- flat (no compression), which reads as old-style RLE without repeat pixels.

Reading handles all three (per scanline, as Radiance's ``freadcolrs`` does), ``XYZE`` files
(converted from CIE XYZ with an equal-energy white, Bradford-adapted to D65), ``EXPOSURE``
and ``COLORCORR`` (divided out), and a valid ``PRIMARIES`` line (BT.709 primaries with a D65
white are assumed without one, as Photoshop and three.js do; the all-zero line Photoshop
writes is ignored). Writing produces new-style RLE, BT.709 primaries (stated in a
``PRIMARIES`` line), no exposure.

=========================  ========================================  ====================
direction                  domain                                    range
=========================  ========================================  ====================
:func:`read_radiance`      file RGB (relative radiance)              (3, H, W) float32,
                                                                     linear BT.2020 cd/m²
:func:`write_radiance`     (3, H, W) linear BT.2020 cd/m²            RGBE, BT.709,
                                                                     1.0 = ``white_nits``
=========================  ========================================  ====================

Scale: pixel value 1.0 is placed at ``white_nits`` cd/m² (default 203, ITU-R BT.2408).
RGBE cannot hold negative values: the writer clips them to 0 (after converting to BT.709)
and says so in one :class:`~hdrvideo.errors.HDRVideoWarning` (negatives smaller than 1e-4 of
the pixel's largest component, left by float rounding, are clipped silently). Precision: 8-bit mantissa
per pixel shared exponent, about 1 % relative for the brightest component.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hdrvideo.errors import HDRVideoWarning, InvalidInputError, OutputError
from hdrvideo.frame import Frame
from hdrvideo.io.atomic import atomic_output
from hdrvideo.io.exr import (
    DEFAULT_WHITE_NITS,
    EXR_DEFAULT_CHROMATICITIES,
    XYZ_CHROMATICITIES,
    file_to_bt2020_matrix,
)
from hdrvideo.io.images import check_input_file, frame_tensor

#: Scanline lengths that new-style RLE can code (Radiance ``MINELEN``, ``MAXELEN``).
MINELEN, MAXELEN = 8, 0x7FFF

#: Shortest run the writer codes as a run (Radiance ``MINRUN``).
MINRUN = 4

#: Exponent bias of the shared exponent (Radiance ``COLXS``).
COLXS = 128

_MAX_HEADER_BYTES = 1 << 20
_GATHER_BYTES = 1 << 22  # scanline bytes decoded per numpy gather
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BLANK_LINE = re.compile(rb"\n\r?\n")
_RESOLUTION = re.compile(rb"([-+])([XY]) +(\d+) +([-+])([XY]) +(\d+)[ \t]*\r?\n")


@dataclass
class RadianceHeader:
    """What a Radiance header says (the values that change pixels, and the rest as text)."""

    format: str = "32-bit_rle_rgbe"
    exposure: float = 1.0
    colorcorr: tuple[float, float, float] = (1.0, 1.0, 1.0)
    primaries: tuple[float, ...] | None = None
    orientation: str = "-Y +X"
    height: int = 0
    width: int = 0
    lines: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- header


def _parse_header(path: Path, buf: bytes) -> tuple[RadianceHeader, int]:
    """Parse the header and resolution line; return it and the offset of the pixels."""
    blank = _BLANK_LINE.search(buf, 0, _MAX_HEADER_BYTES)
    end = blank.start() if blank else -1
    if buf[:2] != b"#?" and (end < 0 or b"FORMAT=" not in buf[:end]):
        raise InvalidInputError(f"{path}: not a Radiance file (no #?RADIANCE signature)")
    if blank is None:
        raise InvalidInputError(f"{path}: truncated Radiance file (header has no end)")
    header = RadianceHeader()
    text = buf[:end].decode("latin-1")
    for line in text.split("\n"):
        line = line.strip()
        header.lines.append(line)
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#"):
            continue
        key = key.strip().upper()
        try:
            if key == "FORMAT":
                header.format = value.strip()
            elif key == "EXPOSURE":
                header.exposure *= float(value)
            elif key == "COLORCORR":
                cc = [float(v) for v in value.split()]
                header.colorcorr = tuple(a * b for a, b in zip(header.colorcorr, cc[:3], strict=True))
            elif key == "PRIMARIES":
                numbers = tuple(float(v) for v in value.split())
                if len(numbers) == 8 and _plausible_primaries(numbers):
                    header.primaries = numbers
        except ValueError as e:
            raise InvalidInputError(f"{path}: malformed Radiance header line {line!r}") from e
    if header.exposure <= 0 or min(header.colorcorr) <= 0:
        raise InvalidInputError(f"{path}: EXPOSURE and COLORCORR must be positive")
    m = _RESOLUTION.match(buf, blank.end())
    if m is None:
        raise InvalidInputError(f"{path}: truncated or malformed Radiance file (no resolution line)")
    s1, a1, n1, s2, a2, n2 = (g.decode() for g in m.groups())
    if {a1, a2} != {"X", "Y"}:
        raise InvalidInputError(f"{path}: malformed Radiance resolution line {m.group(0)!r}")
    header.orientation = f"{s1}{a1} {s2}{a2}"
    sizes = {a1: int(n1), a2: int(n2)}
    header.height, header.width = sizes["Y"], sizes["X"]
    if header.height < 1 or header.width < 1:
        raise InvalidInputError(f"{path}: Radiance image has no pixels ({header.width}x{header.height})")
    return header, m.end()


def _plausible_primaries(c: tuple[float, ...]) -> bool:
    """A usable PRIMARIES line: coordinates in [0, 1], white y > 0, primaries not collinear."""
    if not all(0.0 <= v <= 1.0 for v in c) or c[7] <= 0:
        return False
    (rx, ry), (gx, gy), (bx, by) = c[0:2], c[2:4], c[4:6]
    return abs((gx - rx) * (by - ry) - (bx - rx) * (gy - ry)) > 1e-6


# --------------------------------------------------------------------------- scanlines


class _Truncated(Exception):
    pass


def _decode_old(data: np.ndarray, pos: int, count: int) -> tuple[np.ndarray, int]:
    """Old-style RLE (and flat) pixels from ``data[pos:]``: ``(count, 4)`` and the end offset."""
    groups_avail = (data.size - pos) // 4
    window = min(groups_avail, count)
    while True:
        if window == 0:
            raise _Truncated
        groups = data[pos : pos + 4 * window].reshape(-1, 4)
        marker = (groups[:, 0] == 1) & (groups[:, 1] == 1) & (groups[:, 2] == 1)
        idx = np.arange(window)
        last_pixel = np.maximum.accumulate(np.where(marker, -1, idx))
        shift = np.where(marker, 8 * (idx - last_pixel - 1), 0)
        repeats = np.where(marker, groups[:, 3].astype(np.int64) << np.minimum(shift, 32), 1)
        total = np.cumsum(repeats)
        if total[-1] >= count:
            break
        if window == groups_avail:
            raise _Truncated
        window = min(groups_avail, window + count - int(total[-1]))
    used = int(np.searchsorted(total, count)) + 1
    # a repeat before any pixel (Radiance would copy garbage) repeats black: row 0 below
    padded = np.concatenate((np.zeros((1, 4), np.uint8), groups[:used]))
    pixels = np.repeat(padded[last_pixel[:used] + 1], repeats[:used], axis=0)[:count]
    return pixels, pos + 4 * used


def _decode_scanlines(data: np.ndarray, pos: int, n_lines: int, length: int) -> np.ndarray:
    """All scanlines as a ``(n_lines, length, 4)`` uint8 RGBE array."""
    raw = data.tobytes()
    size = len(raw)

    def new_style_at(p: int) -> bool:
        return (
            p + 4 <= size
            and raw[p] == 2
            and raw[p + 1] == 2
            and raw[p + 2] < 128
            and (raw[p + 2] << 8 | raw[p + 3]) == length
        )

    if not (MINELEN <= length <= MAXELEN) or not new_style_at(pos):
        pixels, _ = _decode_old(data, pos, n_lines * length)
        return pixels.reshape(n_lines, length, 4)

    # New-style RLE. Only the token headers are walked in Python; the bytes are gathered
    # with numpy, a block of scanlines at a time (bounded memory): out[k] = raw[index[k]].
    out = np.empty((n_lines, 4, length), dtype=np.uint8)
    block = max(1, _GATHER_BYTES // (4 * length))
    for first_line in range(0, n_lines, block):
        last_line = min(n_lines, first_line + block)
        starts: list[int] = []  # source offset of each token's first byte
        counts: list[int] = []  # bytes the token produces
        steps: list[int] = []  # 1 for a literal, 0 for a run
        old_lines: dict[int, np.ndarray] = {}
        append_s, append_c, append_d = starts.append, counts.append, steps.append
        for line in range(first_line, last_line):
            if not new_style_at(pos):
                pixels, pos = _decode_old(data, pos, length)
                old_lines[line] = pixels
                for _ in range(4):  # placeholder bytes, replaced from ``old_lines`` below
                    append_s(0), append_c(length), append_d(0)
                continue
            pos += 4
            for _ in range(4):
                filled = 0
                while filled < length:
                    if pos >= size:
                        raise _Truncated
                    c = raw[pos]
                    if c > 128:
                        n = c - 128
                        append_s(pos + 1), append_c(n), append_d(0)
                        pos += 2
                    else:
                        if c == 0:
                            raise InvalidInputError("bad RLE data (zero-length literal)")
                        n = c
                        append_s(pos + 1), append_c(n), append_d(1)
                        pos += 1 + n
                    filled += n
                if filled != length:
                    raise InvalidInputError("bad RLE data (run overruns the scanline)")
        if pos > size:
            raise _Truncated
        counts_a = np.asarray(counts, dtype=np.int64)
        steps_a = np.asarray(steps, dtype=np.int64)
        first = np.cumsum(counts_a) - counts_a
        index = np.repeat(np.asarray(starts, dtype=np.int64) - first * steps_a, counts_a)
        index += np.arange(index.size, dtype=np.int64) * np.repeat(steps_a, counts_a)
        out[first_line:last_line] = data[index].reshape(last_line - first_line, 4, length)
        for line, pixels in old_lines.items():
            out[line] = pixels.T
    return out.transpose(0, 2, 1)


def _orient(pixels: np.ndarray, orientation: str) -> np.ndarray:
    """Scanline order -> image rows top to bottom, columns left to right."""
    major, minor = orientation.split()
    if major[1] == "Y":  # scanlines are rows
        if major[0] == "+":  # first scanline is the bottom row
            pixels = pixels[::-1]
        if minor[0] == "-":  # each scanline runs right to left
            pixels = pixels[:, ::-1]
        return pixels
    # scanlines are columns: pixels[x_index, y_index]
    if minor[0] == "+":  # each column runs bottom to top
        pixels = pixels[:, ::-1]
    if major[0] == "-":  # first column is the right-most
        pixels = pixels[::-1]
    return pixels.transpose(1, 0, 2)


def rgbe_to_float(rgbe: np.ndarray) -> np.ndarray:
    """``(..., 4)`` uint8 RGBE -> ``(..., 3)`` float32, ``(m + 0.5) * 2**(e - 136)`` (``colr_color``)."""
    e = rgbe[..., 3].astype(np.int32)
    scale = np.where(e == 0, 0.0, np.ldexp(np.float32(1.0), e - (COLXS + 8))).astype(np.float32)
    return (rgbe[..., :3].astype(np.float32) + np.float32(0.5)) * scale[..., None]


def float_to_rgbe(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` non-negative float -> ``(..., 4)`` uint8 RGBE (Radiance ``setcolr``)."""
    rgb = np.nan_to_num(np.asarray(rgb, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0).clip(0.0, None)
    peak = rgb.max(axis=-1)
    _, exponent = np.frexp(peak)  # peak = mantissa * 2**exponent, mantissa in [0.5, 1)
    exponent = np.minimum(exponent, 255 - COLXS)
    scale = np.ldexp(256.0, -exponent)
    out = np.zeros(rgb.shape[:-1] + (4,), dtype=np.uint8)
    visible = (peak > 1e-32) & (exponent + COLXS > 0)
    out[..., :3] = np.where(visible[..., None], np.minimum(rgb * scale[..., None], 255.0), 0).astype(np.uint8)
    out[..., 3] = np.where(visible, exponent + COLXS, 0).astype(np.uint8)
    return out


# --------------------------------------------------------------------------- reading


def read_radiance(path: str | os.PathLike[str], *, white_nits: float = DEFAULT_WHITE_NITS) -> Frame:
    """Read a Radiance RGBE/XYZE file into the working space.

    Args:
        path: ``.hdr`` / ``.pic`` file.
        white_nits: cd/m² at which pixel value 1.0 (after EXPOSURE is divided out) is placed.

    Returns:
        :class:`~hdrvideo.frame.Frame` ``(3, H, W)`` float32, linear BT.2020 cd/m²;
        ``side_data["radiance"]`` holds ``format``, ``exposure``, ``colorcorr``,
        ``primaries`` (as read, or ``None``), ``orientation`` and the header ``lines``.

    Raises:
        InputNotFoundError: missing file.
        InvalidInputError: a directory, empty, not Radiance, truncated, malformed.
    """
    p = check_input_file(path)
    buf = p.read_bytes()
    header, offset = _parse_header(p, buf)
    fmt = header.format.lower()
    if fmt not in ("32-bit_rle_rgbe", "32-bit_rle_xyze"):
        raise InvalidInputError(f"{p}: unsupported Radiance FORMAT={header.format}")
    data = np.frombuffer(buf, dtype=np.uint8)
    major, minor = header.orientation.split()
    n_lines = header.height if major[1] == "Y" else header.width
    length = header.width if major[1] == "Y" else header.height
    try:
        scan = _decode_scanlines(data, offset, n_lines, length)
    except _Truncated as e:
        raise InvalidInputError(f"{p}: truncated Radiance file (pixel data ends early)") from e
    except InvalidInputError as e:
        raise InvalidInputError(f"{p}: {e}") from e
    rgb = rgbe_to_float(_orient(scan, header.orientation))  # (H, W, 3)

    if fmt == "32-bit_rle_xyze":
        chroma = XYZ_CHROMATICITIES
    else:
        chroma = header.primaries or EXR_DEFAULT_CHROMATICITIES
    matrix = file_to_bt2020_matrix(chroma)
    correction = torch.tensor(header.colorcorr, dtype=torch.float64) * header.exposure
    matrix = matrix / correction[None, :] * float(white_nits)
    out = torch.einsum("ij,hwj->ihw", matrix, torch.from_numpy(rgb).to(torch.float64))
    out = out.clamp_(-_FLOAT32_MAX, _FLOAT32_MAX).to(torch.float32).contiguous()
    side: dict[str, Any] = {
        "radiance": {
            "format": header.format,
            "exposure": header.exposure,
            "colorcorr": header.colorcorr,
            "primaries": header.primaries,
            "orientation": header.orientation,
            "lines": header.lines,
        },
        "white_nits": float(white_nits),
        "path": str(p),
    }
    return Frame(data=out, index=0, pts_seconds=None, side_data=side)


# --------------------------------------------------------------------------- writing


def _encode_component(row: np.ndarray, pieces: list[bytes]) -> None:
    """New-style RLE of one component of one scanline (runs of >= MINRUN, literals <= 128)."""
    n = row.size
    change = np.flatnonzero(row[1:] != row[:-1]) + 1
    seg_start = np.concatenate(([0], change))
    seg_len = np.diff(np.concatenate((seg_start, [n])))
    long_runs = np.flatnonzero(seg_len >= MINRUN)
    cursor = 0
    data = row.tobytes()
    for k in (*long_runs.tolist(), None):
        run_start = n if k is None else int(seg_start[k])
        while cursor < run_start:  # literal stretch before the run
            take = min(128, run_start - cursor)
            pieces.append(bytes((take,)))
            pieces.append(data[cursor : cursor + take])
            cursor += take
        if k is None:
            break
        remaining = int(seg_len[k])
        value = data[run_start : run_start + 1]
        while remaining > 0:
            take = min(127, remaining)
            pieces.append(bytes((128 + take,)))
            pieces.append(value)
            remaining -= take
        cursor = run_start + int(seg_len[k])


def encode_scanlines(rgbe: np.ndarray) -> bytes:
    """``(H, W, 4)`` uint8 -> scanline bytes: new-style RLE, or flat where it cannot apply."""
    height, width, _ = rgbe.shape
    if not MINELEN <= width <= MAXELEN:
        flat = rgbe.copy()
        # a flat pixel that looks like an old-style repeat would be misread: nudge it
        repeat = (flat[..., 0] == 1) & (flat[..., 1] == 1) & (flat[..., 2] == 1)
        flat[..., 2][repeat] = 0
        return flat.tobytes()
    pieces: list[bytes] = []
    line_header = bytes((2, 2, width >> 8, width & 0xFF))
    planar = np.ascontiguousarray(rgbe.transpose(0, 2, 1))  # (H, 4, W)
    for y in range(height):
        pieces.append(line_header)
        for c in range(4):
            _encode_component(planar[y, c], pieces)
    return b"".join(pieces)


def write_radiance(
    path: str | os.PathLike[str],
    frame_or_tensor: Frame | torch.Tensor,
    *,
    white_nits: float = DEFAULT_WHITE_NITS,
    overwrite: bool = False,
) -> Path:
    """Write a working-space picture as a Radiance RGBE file (new-style RLE, BT.709).

    Args:
        path: ``.hdr`` / ``.pic`` file (written through a temporary name, renamed on success).
        frame_or_tensor: :class:`~hdrvideo.frame.Frame` or ``(3, H, W)`` tensor, linear
            BT.2020 cd/m².
        white_nits: cd/m² written as pixel value 1.0.
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        OutputError: the path cannot be written.
        InvalidInputError: bad tensor shape or ``white_nits``.

    Warns:
        HDRVideoWarning: negative values (outside BT.709) were clipped to 0.
    """
    x = frame_tensor(frame_or_tensor)
    if not white_nits > 0:
        raise InvalidInputError(f"white_nits must be > 0, got {white_nits}")
    matrix = torch.linalg.inv(file_to_bt2020_matrix(EXR_DEFAULT_CHROMATICITIES)) / float(white_nits)
    rgb = torch.einsum("ij,jhw->hwi", matrix, x.to(torch.float64)).numpy()
    # float32 round trips through the primaries leave -1e-7-sized negatives: not worth a word
    negative = int((rgb.min(axis=-1) < -1e-4 * np.abs(rgb).max(axis=-1)).sum())
    if negative:
        warnings.warn(
            f"{Path(path).name}: {negative} pixel(s) had negative BT.709 components (outside "
            "the BT.709 gamut or negative light); RGBE cannot store them, they were clipped to 0",
            HDRVideoWarning,
            stacklevel=2,
        )
    rgbe = float_to_rgbe(rgb)
    height, width = rgbe.shape[:2]
    c = EXR_DEFAULT_CHROMATICITIES
    header = (
        "#?RADIANCE\n"
        "# written by hdrvideo\n"
        f"PRIMARIES={' '.join(f'{v:.4f}' for v in c)}\n"
        "FORMAT=32-bit_rle_rgbe\n"
        "\n"
        f"-Y {height} +X {width}\n"
    ).encode("ascii")
    body = encode_scanlines(rgbe)
    with atomic_output(path, overwrite=overwrite) as tmp:
        try:
            with open(tmp, "wb") as fh:
                fh.write(header)
                fh.write(body)
        except OSError as e:
            raise OutputError(f"{path}: cannot write Radiance file: {e.strerror or e}") from e
    return Path(path)


__all__ = [
    "DEFAULT_WHITE_NITS",
    "RadianceHeader",
    "encode_scanlines",
    "float_to_rgbe",
    "read_radiance",
    "rgbe_to_float",
    "write_radiance",
]
