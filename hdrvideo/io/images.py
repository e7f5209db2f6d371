"""HDR stills and numbered image sequences: one entry point over OpenEXR and Radiance.

- :func:`read_image` / :func:`write_image` pick the format: reading by the file's magic
  number (so a mis-named file still reads), falling back to the extension; writing by the
  extension (``.exr`` -> :mod:`hdrvideo.io.exr`; ``.hdr``, ``.pic``, ``.rgbe`` ->
  :mod:`hdrvideo.io.radiance`).
- Sequences use printf-style patterns as FFmpeg's ``image2`` demuxer does
  (``frame_%04d.exr``; ``%%`` is a literal ``%``). :func:`read_sequence` finds the first
  existing number in ``[start, start + 5)`` (FFmpeg's ``start_number`` and
  ``start_number_range``); with no ``start`` and nothing there it takes the smallest number
  present in the folder (VFX sequences often start at 1001). Reading stops at the first
  missing number, as FFmpeg does.

Every reader returns a :class:`~hdrvideo.frame.Frame` in the working space (linear BT.2020,
cd/m²; pixel value 1.0 at ``white_nits``, default 203 cd/m²) and every error is typed:
:class:`~hdrvideo.errors.InputNotFoundError` for a missing file,
:class:`~hdrvideo.errors.InvalidInputError` for a directory, an empty, unrecognised or
truncated file, always with a one-line message naming the file.

The OpenEXR bindings are imported only when an EXR file is touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from hdrvideo.errors import InputNotFoundError, InvalidInputError, UnsupportedError
from hdrvideo.frame import Frame

#: Extensions written (and read, when the magic number does not decide) per format.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "openexr": (".exr",),
    "radiance": (".hdr", ".pic", ".rgbe"),
}

#: How far past ``start`` :func:`read_sequence` looks for the first file (FFmpeg image2
#: ``start_number_range``).
START_NUMBER_RANGE = 5

_SPEC = re.compile(r"%(%|0?\d*d)")


# --------------------------------------------------------------------------- shared helpers


def check_input_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`Path` if it names a non-empty regular file.

    Raises:
        InputNotFoundError: it does not exist.
        InvalidInputError: it is a directory, not a regular file, or empty.
    """
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise InvalidInputError(f"{p}: is a directory, not an image")
    if not p.is_file():
        raise InvalidInputError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise InvalidInputError(f"{p}: empty file")
    return p


def frame_tensor(frame_or_tensor: Frame | torch.Tensor) -> torch.Tensor:
    """The ``(3, H, W)`` CPU tensor of a :class:`Frame` or tensor (a ``(1, 3, H, W)`` batch too).

    Raises:
        InvalidInputError: not a floating-point ``(3, H, W)`` picture.
    """
    x = frame_or_tensor.data if isinstance(frame_or_tensor, Frame) else frame_or_tensor
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(f"expected a Frame or a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 3 or x.shape[0] != 3 or x.shape[1] < 1 or x.shape[2] < 1:
        raise InvalidInputError(f"expected a (3, H, W) picture, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InvalidInputError(f"expected a floating-point picture, got {x.dtype}")
    return x.detach().cpu()


def sniff_format(path: str | os.PathLike[str]) -> str | None:
    """``"openexr"`` or ``"radiance"`` from the file's first bytes, or ``None``."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"\x76\x2f\x31\x01":
        return "openexr"
    if head[:2] == b"#?":
        return "radiance"
    return None


def _format_for_extension(path: Path) -> str | None:
    suffix = path.suffix.lower()
    for name, extensions in EXTENSIONS.items():
        if suffix in extensions:
            return name
    return None


def _valid_extensions() -> str:
    return ", ".join(e for exts in EXTENSIONS.values() for e in exts)


# --------------------------------------------------------------------------- stills


def read_image(path: str | os.PathLike[str], **kwargs: Any) -> Frame:
    """Read an HDR still (OpenEXR or Radiance) into the working space.

    Args:
        path: the file.
        **kwargs: passed to :func:`hdrvideo.io.exr.read_exr` (``white_nits``, ``part``,
            ``layer``, ``window``) or :func:`hdrvideo.io.radiance.read_radiance`
            (``white_nits``).

    Returns:
        :class:`~hdrvideo.frame.Frame` ``(3, H, W)`` float32, linear BT.2020 cd/m².

    Raises:
        InputNotFoundError, InvalidInputError: see the module docstring.
    """
    p = check_input_file(path)
    kind = sniff_format(p) or _format_for_extension(p)
    if kind == "openexr":
        from hdrvideo.io.exr import read_exr

        return read_exr(p, **kwargs)
    if kind == "radiance":
        from hdrvideo.io.radiance import read_radiance

        return read_radiance(p, **kwargs)
    raise InvalidInputError(f"{p}: not an OpenEXR or Radiance image (unrecognised content)")


def write_image(path: str | os.PathLike[str], frame_or_tensor: Frame | torch.Tensor, **kwargs: Any) -> Path:
    """Write a working-space picture; the format follows the extension.

    Args:
        path: ``.exr``, ``.hdr``, ``.pic`` or ``.rgbe``.
        frame_or_tensor: :class:`~hdrvideo.frame.Frame` or ``(3, H, W)`` tensor, linear
            BT.2020 cd/m².
        **kwargs: passed to :func:`hdrvideo.io.exr.write_exr` (``white_nits``,
            ``primaries``, ``half``, ``compression``, ``overwrite``) or
            :func:`hdrvideo.io.radiance.write_radiance` (``white_nits``, ``overwrite``).

    Raises:
        UnsupportedError: an extension with no writer.
        OutputError: the file cannot be written.
    """
    p = Path(path)
    kind = _format_for_extension(p)
    if kind == "openexr":
        from hdrvideo.io.exr import write_exr

        return write_exr(p, frame_or_tensor, **kwargs)
    if kind == "radiance":
        from hdrvideo.io.radiance import write_radiance

        return write_radiance(p, frame_or_tensor, **kwargs)
    raise UnsupportedError(f"{p}: no image writer for extension {p.suffix!r}; valid: {_valid_extensions()}")


# --------------------------------------------------------------------------- sequences


def is_sequence_pattern(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds exactly one printf number (``%d``, ``%04d``); ``%%`` is literal."""
    specs = [m.group(1) for m in _SPEC.finditer(str(path)) if m.group(1) != "%"]
    return len(specs) == 1


def sequence_path(pattern: str | os.PathLike[str], number: int) -> Path:
    """The file name for ``number`` in ``pattern`` (``"f_%04d.exr"``, 7 -> ``f_0007.exr``)."""
    if not is_sequence_pattern(pattern):
        raise InvalidInputError(f"{pattern}: not a sequence pattern (needs one %d or %0Nd)")
    return Path(str(pattern) % int(number))


def _smallest_number_in_folder(pattern: str) -> int | None:
    folder = Path(pattern).parent
    name_pattern = Path(pattern).name
    if not is_sequence_pattern(name_pattern) or not folder.is_dir():
        return None  # the number sits in a folder name: no listing fallback
    parts = _SPEC.split(name_pattern)
    regex = ""
    for i, piece in enumerate(parts):
        if i % 2 == 0:
            regex += re.escape(piece)
        else:
            regex += "%" if piece == "%" else r"(\d+)"
    compiled = re.compile(regex + r"\Z")
    numbers = []
    for entry in os.scandir(folder):
        m = compiled.match(entry.name)
        if m and name_pattern % int(m.group(1)) == entry.name:
            numbers.append(int(m.group(1)))
    return min(numbers) if numbers else None


def find_sequence_start(pattern: str | os.PathLike[str], start: int | None = None) -> int:
    """First existing number of a sequence (FFmpeg image2 rules, see the module docstring).

    Raises:
        InvalidInputError: ``pattern`` is not a sequence pattern.
        InputNotFoundError: no file of the sequence exists.
    """
    pattern = str(pattern)
    first = 0 if start is None else int(start)
    for number in range(first, first + START_NUMBER_RANGE):
        if sequence_path(pattern, number).exists():
            return number
    if start is None:
        found = _smallest_number_in_folder(pattern)
        if found is not None:
            return found
    last = first + START_NUMBER_RANGE - 1
    raise InputNotFoundError(f"{pattern}: no file of the sequence exists (looked for numbers {first}..{last})")


def read_sequence(
    pattern: str | os.PathLike[str], *, start: int | None = None, fps: float = 24.0, **kwargs: Any
) -> Iterator[Frame]:
    """Read a numbered sequence of stills as a stream of frames.

    Args:
        pattern: printf pattern, e.g. ``"shot/frame_%04d.exr"``.
        start: first number to look for (FFmpeg ``start_number``); ``None`` looks from 0 and
            then falls back to the smallest number in the folder.
        fps: frame rate giving ``pts_seconds = index / fps``.
        **kwargs: passed to :func:`read_image` (``white_nits``...).

    Returns:
        An iterator of :class:`~hdrvideo.frame.Frame`; ``index`` counts from 0 in the
        sequence, ``side_data["sequence_number"]`` is the file's number. The first file is
        found eagerly (errors are raised by this call); later files are read lazily, and the
        sequence ends at the first missing number.

    Raises:
        InvalidInputError: not a pattern, or ``fps`` not positive.
        InputNotFoundError: no file of the sequence exists.
    """
    if not is_sequence_pattern(pattern):
        raise InvalidInputError(f"{pattern}: not a sequence pattern (needs one %d or %0Nd)")
    if not fps > 0:
        raise InvalidInputError(f"fps must be > 0, got {fps}")
    first = find_sequence_start(pattern, start)

    def frames() -> Iterator[Frame]:
        index = 0
        while True:
            path = sequence_path(pattern, first + index)
            if not path.exists():
                return
            frame = read_image(path, **kwargs)
            frame.index = index
            frame.pts_seconds = index / fps
            frame.side_data["sequence_number"] = first + index
            yield frame
            index += 1

    return frames()


def write_sequence(
    pattern: str | os.PathLike[str],
    frames: Iterable[Frame | torch.Tensor],
    *,
    start: int = 0,
    overwrite: bool = False,
    **kwargs: Any,
) -> list[Path]:
    """Write frames as a numbered sequence, each file atomically (temporary name, rename).

    Args:
        pattern: printf pattern; the extension picks the format (see :func:`write_image`).
        frames: :class:`~hdrvideo.frame.Frame` objects or ``(3, H, W)`` tensors.
        start: number of the first file.
        overwrite: replace existing files.
        **kwargs: passed to :func:`write_image`.

    Returns:
        The paths written, in order.
    """
    if not is_sequence_pattern(pattern):
        raise InvalidInputError(f"{pattern}: not a sequence pattern (needs one %d or %0Nd)")
    written = []
    for i, frame in enumerate(frames):
        written.append(write_image(sequence_path(pattern, start + i), frame, overwrite=overwrite, **kwargs))
    return written


__all__ = [
    "EXTENSIONS",
    "check_input_file",
    "find_sequence_start",
    "frame_tensor",
    "is_sequence_pattern",
    "read_image",
    "read_sequence",
    "sequence_path",
    "sniff_format",
    "write_image",
    "write_sequence",
]
