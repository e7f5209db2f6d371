"""The Python API: open media, transcode through a filter chain, describe the operators.

::

    import hdrvideo.api as hv

    with hv.open("clip.mkv") as reader:            # VideoReader: .info, iterate Frames
        for frame in reader:
            print(frame.index, float(frame.data.amax()))

    report = hv.transcode("hdr10.mkv", "sdr.mp4", "tonemap=curve=bt2390")   # PipelineReport

    for frame in hv.Pipeline("in.exr", "tonemap"):  # processed frames, no output file
        ...

What :func:`open` returns depends on the input, but always has the same shape (``info``:
a :class:`~hdrvideo.io.video_reader.StreamInfo`; iteration yields
:class:`~hdrvideo.frame.Frame`; ``close()``; a context manager; ``decode_errors`` and
``corrupt_frames``):

=====================================  ==========================================================
input                                  reader
=====================================  ==========================================================
a video file, a URL, ``"-"`` (stdin)   :class:`~hdrvideo.io.video_reader.VideoReader`
``.exr``, ``.hdr``/``.pic``/``.rgbe``  :class:`ImageReader` (one frame, via :mod:`hdrvideo.io.images`)
``frame_%04d.exr`` (any extension)     :class:`SequenceReader`
``format="rawvideo"``                  :class:`RawVideoReader` (planar frames from a pipe or file)
=====================================  ==========================================================

:func:`transcode` picks the sink from the output name the same way: a video container
(:class:`~hdrvideo.io.video_writer.VideoWriter`, audio copied from the input), ``.png``
(:class:`PngSink`, 8 or 16 bit through FFmpeg's PNG encoder), ``.exr``/``.hdr``
(:class:`ImageSink`), a numbered pattern (:class:`SequenceSink`), or ``"-"``
(:class:`RawVideoSink`: ``-f rawvideo`` frames on stdout).
"""

from __future__ import annotations

import builtins
import contextlib
import math
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np
import torch

from hdrvideo.errors import (
    HDRVideoWarning,
    InputNotFoundError,
    InvalidInputError,
    OutputError,
    UnsupportedError,
)
from hdrvideo.frame import Frame
from hdrvideo.io.atomic import atomic_output, check_output_path
from hdrvideo.io.colorspec import ColorSpec, parse_override
from hdrvideo.io.convert import PIXEL_FORMATS, frame_planes, frame_to_working, pixel_format_info, planes_to_frame
from hdrvideo.io.video_reader import StreamInfo, VideoReader
from hdrvideo.ops.base import Operator, available_operators, get_operator, parse_chain
from hdrvideo.pipeline import Pipeline, PipelineReport, output_spec, resolve_target
from hdrvideo.progress import Progress

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReader",
    "ImageSink",
    "OutputReport",
    "Pipeline",
    "PipelineReport",
    "PngSink",
    "RawVideoReader",
    "RawVideoSink",
    "SequenceReader",
    "SequenceSink",
    "default_codec",
    "describe_operator",
    "describe_operators",
    "open",
    "open_media",
    "parse_rate",
    "parse_size",
    "raw_frame_bytes",
    "transcode",
]

#: Still formats read and written by :mod:`hdrvideo.io.images` (scene-linear).
IMAGE_EXTENSIONS = (".exr", ".hdr", ".pic", ".rgbe")
#: Stills written through FFmpeg's PNG encoder.
PNG_EXTENSIONS = (".png",)
#: Names of standard input and output.
STDIN_NAMES = ("-", "pipe:", "pipe:0")
STDOUT_NAMES = ("-", "pipe:", "pipe:1")

#: Frame rate of sequences and stills that state none (FFmpeg's image2 default is 25; film
#: sequences are 24 far more often).
DEFAULT_SEQUENCE_RATE = Fraction(24)

_SIZE_ABBREVIATIONS = {
    "ntsc": (720, 480), "pal": (720, 576), "hd720": (1280, 720), "hd1080": (1920, 1080),
    "2k": (2048, 1080), "uhd2160": (3840, 2160), "4k": (4096, 2160),
}


# ----------------------------------------------------------------------------- small parsers


def parse_size(text: str | tuple[int, int]) -> tuple[int, int]:
    """``"1920x1080"`` (or an FFmpeg abbreviation: ``hd1080``, ``uhd2160``...) -> ``(w, h)``."""
    if isinstance(text, tuple):
        width, height = text
    else:
        value = str(text).strip().lower()
        if value in _SIZE_ABBREVIATIONS:
            return _SIZE_ABBREVIATIONS[value]
        match = re.fullmatch(r"(\d+)x(\d+)", value)
        if not match:
            raise InvalidInputError(f"bad frame size {text!r}; expected WIDTHxHEIGHT (e.g. 1920x1080)")
        width, height = int(match.group(1)), int(match.group(2))
    if width < 1 or height < 1:
        raise InvalidInputError(f"bad frame size {width}x{height}")
    return int(width), int(height)


def parse_rate(text: str | float | Fraction) -> Fraction:
    """``"24"``, ``"24000/1001"``, ``"23.976"`` (= 24000/1001), ``"ntsc"`` -> frames per second."""
    named = {"ntsc": Fraction(30000, 1001), "pal": Fraction(25), "film": Fraction(24), "ntsc-film": Fraction(24000, 1001)}
    try:
        if isinstance(text, Fraction):
            rate = text
        elif isinstance(text, str) and text.strip().lower() in named:
            rate = named[text.strip().lower()]
        else:
            rate = Fraction(str(text).strip()).limit_denominator(1_000_000)
            for base in (24, 30, 48, 60, 120):
                ntsc = Fraction(base * 1000, 1001)
                if abs(float(rate) - float(ntsc)) < 5e-4:
                    rate = ntsc
    except (ValueError, ZeroDivisionError):
        raise InvalidInputError(f"bad frame rate {text!r}; expected a number or a fraction (24000/1001)") from None
    if not rate > 0:
        raise InvalidInputError(f"frame rate {text!r} must be positive")
    return rate


def _override(assume: str | dict[str, Any] | None) -> dict[str, Any]:
    if assume is None:
        return {}
    return parse_override(assume) if isinstance(assume, str) else dict(assume)


def _is_stdin(path: Any) -> bool:
    return isinstance(path, str) and path in STDIN_NAMES


def _is_stdout(path: Any) -> bool:
    return isinstance(path, str) and path in STDOUT_NAMES


def _is_pattern(path: Any) -> bool:
    from hdrvideo.io.images import is_sequence_pattern

    return isinstance(path, (str, os.PathLike)) and is_sequence_pattern(path)


def _suffix(path: Any) -> str:
    return Path(os.fspath(path)).suffix.lower()


# ----------------------------------------------------------------------------- readers


def _image_info(path: str, frame: Frame, *, container: str, codec: str, rate: Fraction | None,
                frame_count: int | None, white_nits: float) -> StreamInfo:
    """A :class:`StreamInfo` for stills and sequences: scene-linear RGB, 1.0 at ``white_nits``."""
    spec = ColorSpec("bt709", "linear", "rgb", "full", 16, white_nits, white_nits)
    duration = float(frame_count / rate) if (rate and frame_count) else None
    long_names = {"openexr": "OpenEXR", "radiance": "Radiance RGBE", "image2": "image file sequence"}
    return StreamInfo(
        path=path, container=container, container_long_name=long_names.get(container, container),
        codec=codec, decoder=codec, codec_long_name=long_names.get(codec, codec), profile=None,
        width=frame.width, height=frame.height, rate=rate, frame_count=frame_count,
        duration_seconds=duration, pix_fmt="gbrpf32le", bit_depth=32, chroma_subsampling="4:4:4",
        spec=spec, signalled={}, warnings=[],
    )


def _still_kind(path: Path) -> str:
    from hdrvideo.io.images import sniff_format

    with contextlib.suppress(OSError):
        kind = sniff_format(path)
        if kind:
            return kind
    return "openexr" if path.suffix.lower() == ".exr" else "radiance"


class _ReaderBase:
    """What every reader of this module shares with VideoReader."""

    info: StreamInfo
    decode_errors = 0
    corrupt_frames = 0
    start_seconds: float | None = None
    duration_seconds: float | None = None

    def close(self) -> None:
        pass

    def __enter__(self) -> "_ReaderBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImageReader(_ReaderBase):
    """One HDR still (OpenEXR, Radiance) as a one-frame stream.

    Args:
        path: the file.
        white_nits: cd/m² of pixel value 1.0 (default 203, BT.2408).
        rate: frame rate given to the frame (its ``pts_seconds`` is 0).
        **kwargs: passed to :func:`hdrvideo.io.images.read_image` (EXR ``part``, ``layer``...).
    """

    def __init__(self, path: str | os.PathLike[str], *, white_nits: float = 203.0,
                 rate: Fraction | float | None = None, **kwargs: Any) -> None:
        from hdrvideo.io.images import read_image

        self.path = os.fspath(path)
        self._frame = read_image(self.path, white_nits=white_nits, **kwargs)
        self._frame.index, self._frame.pts_seconds = 0, 0.0
        kind = _still_kind(Path(self.path))
        self.info = _image_info(self.path, self._frame, container=kind, codec=kind,
                                rate=parse_rate(rate) if rate else None, frame_count=1, white_nits=white_nits)

    def __iter__(self) -> Iterator[Frame]:
        yield self._frame


class SequenceReader(_ReaderBase):
    """A numbered sequence (``shot/frame_%04d.exr``) as a stream.

    OpenEXR and Radiance files go through :mod:`hdrvideo.io.images`; any other extension
    (PNG, TIFF, JPEG, DPX...) through FFmpeg's decoders, one file at a time, with the
    usual colour signalling rules (``override`` for untagged files).

    Args:
        pattern: printf pattern with one ``%d``/``%0Nd``.
        start: first number (FFmpeg ``start_number``); ``None``: found as FFmpeg does.
        rate: frames per second (``pts_seconds = index / rate``).
        white_nits: cd/m² of pixel value 1.0 for scene-linear files.
        start_seconds, duration_seconds: the window to read (``-ss``/``-t``).
        override, sdr_white_nits, hlg_display_peak_nits: for FFmpeg-decoded files.
    """

    def __init__(
        self,
        pattern: str | os.PathLike[str],
        *,
        start: int | None = None,
        rate: Fraction | float | str = DEFAULT_SEQUENCE_RATE,
        white_nits: float = 203.0,
        start_seconds: float | None = None,
        duration_seconds: float | None = None,
        override: dict[str, Any] | None = None,
        sdr_white_nits: float = 203.0,
        hlg_display_peak_nits: float = 1000.0,
    ) -> None:
        from hdrvideo.io.images import find_sequence_start, is_sequence_pattern, sequence_path

        self.pattern = os.fspath(pattern)
        if not is_sequence_pattern(self.pattern):
            raise InvalidInputError(f"{self.pattern}: not a sequence pattern (needs one %d or %0Nd)")
        self.rate = parse_rate(rate)
        self.white_nits = float(white_nits)
        self.start_seconds = start_seconds
        self.duration_seconds = duration_seconds
        self._override = dict(override or {})
        self._sdr_white_nits = sdr_white_nits
        self._hlg_peak = hlg_display_peak_nits
        self._linear = _suffix(self.pattern) in IMAGE_EXTENSIONS
        self.first_number = find_sequence_start(self.pattern, start)
        self._path_for: Callable[[int], Path] = lambda n: sequence_path(self.pattern, n)
        count = 0
        while self._path_for(self.first_number + count).exists():
            count += 1
        self._count = count
        skip = int(math.ceil((start_seconds or 0.0) * float(self.rate) - 1e-6))
        self._first_index = min(skip, count)
        self._last_index = count
        if duration_seconds is not None:
            self._last_index = min(count, self._first_index + int(math.ceil(duration_seconds * float(self.rate) - 1e-6)))
        if self._first_index >= self._last_index:
            raise InvalidInputError(
                f"{self.pattern}: nothing to read ({count} files from {self.first_number}; window starts at frame {skip})"
            )
        first, spec = self._read(self._first_index)
        self._peeked = first
        kind = _still_kind(self._path_for(self.first_number)) if self._linear else "image2"
        self.info = _image_info(self.pattern, first, container="image2", codec=kind, rate=self.rate,
                                frame_count=self._last_index - self._first_index, white_nits=self.white_nits)
        if spec is not None:
            self.info.spec = spec

    def _read(self, index: int) -> tuple[Frame, ColorSpec | None]:
        path = self._path_for(self.first_number + index)
        spec = None
        if self._linear:
            from hdrvideo.io.images import read_image

            frame = read_image(path, white_nits=self.white_nits)
        else:
            with warnings.catch_warnings():
                if index != self._first_index:
                    warnings.simplefilter("ignore", HDRVideoWarning)  # said once, for the first file
                with VideoReader(path, override=self._override, sdr_white_nits=self._sdr_white_nits,
                                 hlg_display_peak_nits=self._hlg_peak) as reader:
                    frame = next(iter(reader))
                    spec = reader.info.spec
        frame.index = index - self._first_index
        frame.pts_seconds = index / float(self.rate)
        frame.side_data["sequence_number"] = self.first_number + index
        return frame, spec

    def __iter__(self) -> Iterator[Frame]:
        if self._peeked is not None:
            frame, self._peeked = self._peeked, None
            yield frame
        for index in range(self._first_index + 1, self._last_index):
            if not self._path_for(self.first_number + index).exists():
                return  # the sequence ends at the first missing number, as in FFmpeg
            yield self._read(index)[0]


def raw_frame_bytes(pix_fmt: str, width: int, height: int) -> int:
    """Bytes of one ``-f rawvideo`` frame of a planar format (FFmpeg's packing, no padding)."""
    family, bits, sub_w, sub_h = pixel_format_info(pix_fmt)
    sample = 1 if bits == 8 else 2
    luma = width * height
    if family == "gray":
        return sample * luma
    if family == "gbr":
        return sample * 3 * luma
    chroma = (-(-width // (1 << sub_w))) * (-(-height // (1 << sub_h)))
    return sample * (luma + 2 * chroma)


def default_raw_spec(pix_fmt: str, *, sdr_white_nits: float = 203.0) -> ColorSpec:
    """What raw frames mean when nothing says: HDR10 from 10 bits up, BT.709 SDR at 8 bits."""
    family, bits, _, _ = pixel_format_info(pix_fmt)
    matrix, range_ = ("rgb", "full") if family == "gbr" else (None, "limited")
    if bits >= 10:
        return ColorSpec("bt2020", "pq", matrix or "bt2020nc", range_, bits, 10000.0, 203.0, signalled=False)
    return ColorSpec("bt709", "bt1886", matrix or "bt709", range_, bits, sdr_white_nits, sdr_white_nits, signalled=False)


class RawVideoReader(_ReaderBase):
    """Frames of raw planar video (``ffmpeg ... -f rawvideo -pix_fmt P -``) from a pipe or file.

    Args:
        source: ``"-"`` for standard input, a path, or a binary file object.
        pix_fmt: a planar format of :data:`hdrvideo.io.convert.PIXEL_FORMATS`
            (``yuv420p10le``, ``yuv420p``, ``gbrp16le``...).
        size: ``(width, height)`` or ``"WxH"``.
        rate: frames per second (``pts_seconds = index / rate``).
        override: ColorSpec fields (``--assume``); the default is HDR10 (BT.2020, PQ,
            limited) for 10 bits and up, BT.709 SDR for 8 bits.
        sdr_white_nits, hlg_display_peak_nits: as for VideoReader.
        start_seconds, duration_seconds: the window to keep (frames before it are read and
            dropped: a pipe cannot seek).

    A truncated last frame is counted in ``decode_errors`` and dropped with a warning.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | IO[bytes] = "-",
        *,
        pix_fmt: str,
        size: tuple[int, int] | str,
        rate: Fraction | float | str = 25,
        override: dict[str, Any] | None = None,
        sdr_white_nits: float = 203.0,
        hlg_display_peak_nits: float = 1000.0,
        start_seconds: float | None = None,
        duration_seconds: float | None = None,
    ) -> None:
        if pix_fmt not in PIXEL_FORMATS:
            raise UnsupportedError(f"rawvideo pixel format {pix_fmt!r} is not supported; valid: {', '.join(PIXEL_FORMATS)}")
        self.pix_fmt = pix_fmt
        self.width, self.height = parse_size(size)
        self.rate = parse_rate(rate)
        self.start_seconds = start_seconds
        self.duration_seconds = duration_seconds
        self.frame_bytes = raw_frame_bytes(pix_fmt, self.width, self.height)
        family, bits, sub_w, sub_h = pixel_format_info(pix_fmt)
        spec = default_raw_spec(pix_fmt, sdr_white_nits=sdr_white_nits)
        override = dict(override or {})
        if override:
            spec = spec.replace(**override)
            if "transfer" in override and "peak_nits" not in override:
                peak = {"pq": 10000.0, "hlg": hlg_display_peak_nits}.get(spec.transfer, sdr_white_nits)
                white = 203.0 if spec.transfer in ("pq", "hlg") else sdr_white_nits
                spec = spec.replace(peak_nits=peak, white_nits=white)
        if spec.bit_depth != bits:
            spec = spec.replace(bit_depth=bits)
        self.spec = spec
        self._owned: IO[bytes] | None = None
        if _is_stdin(source):
            self._stream: IO[bytes] = sys.stdin.buffer
            name = "-"
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.exists():
                raise InputNotFoundError(f"{path}: no such file")
            if path.is_dir():
                raise InvalidInputError(f"{path}: is a directory, not raw video")
            self._stream = self._owned = builtins.open(path, "rb")
            name = str(path)
        else:
            self._stream, name = source, getattr(source, "name", "<stream>")
        self.path = name
        self.frames_read = 0
        self._plane_shapes = self._shapes(family, bits, sub_w, sub_h)
        self._dtype = np.uint8 if bits == 8 else np.dtype("<u2")
        self.info = StreamInfo(
            path=name, container="rawvideo", container_long_name="raw video", codec="rawvideo",
            decoder="rawvideo", codec_long_name="raw video", profile=None, width=self.width,
            height=self.height, rate=self.rate, frame_count=None, duration_seconds=None,
            pix_fmt=pix_fmt, bit_depth=bits,
            chroma_subsampling={(1, 1): "4:2:0", (1, 0): "4:2:2", (0, 0): "4:4:4"}[(sub_w, sub_h)]
            if family == "yuv" else ("4:0:0" if family == "gray" else "4:4:4"),
            spec=spec, signalled={},
        )

    def _shapes(self, family: str, bits: int, sub_w: int, sub_h: int) -> list[tuple[int, int]]:
        luma = (self.height, self.width)
        if family == "gray":
            return [luma]
        if family == "gbr":
            return [luma] * 3
        chroma = (-(-self.height // (1 << sub_h)), -(-self.width // (1 << sub_w)))
        return [luma, chroma, chroma]

    def _read_exactly(self, count: int) -> bytes:
        chunks, got = [], 0
        while got < count:
            chunk = self._stream.read(count - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        start = self.start_seconds or 0.0
        while True:
            data = self._read_exactly(self.frame_bytes)
            if not data:
                return
            if len(data) < self.frame_bytes:
                self.decode_errors += 1
                warnings.warn(
                    f"{self.path}: truncated last frame ({len(data)} of {self.frame_bytes} bytes) dropped; "
                    f"check -pix_fmt {self.pix_fmt} and -s {self.width}x{self.height}",
                    HDRVideoWarning, stacklevel=2,
                )
                return
            seconds = index / float(self.rate)
            index += 1
            if seconds < start - 1e-6:
                continue
            if self.duration_seconds is not None and seconds >= start + self.duration_seconds - 1e-6:
                return
            planes, offset = [], 0
            for rows, cols in self._plane_shapes:
                n = rows * cols
                array = np.frombuffer(data, dtype=self._dtype, count=n, offset=offset).reshape(rows, cols)
                offset += n * np.dtype(self._dtype).itemsize
                planes.append(array)
            vf = planes_to_frame(planes, self.pix_fmt)
            frame = Frame(data=frame_to_working(vf, self.spec), index=self.frames_read, pts_seconds=seconds)
            self.frames_read += 1
            yield frame

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None


def open_media(
    path: str | os.PathLike[str] | IO[bytes],
    *,
    format: str | None = None,
    assume: str | dict[str, Any] | None = None,
    start_seconds: float | None = None,
    duration_seconds: float | None = None,
    rate: Fraction | float | str | None = None,
    pix_fmt: str | None = None,
    size: tuple[int, int] | str | None = None,
    start_number: int | None = None,
    sdr_white_nits: float = 203.0,
    hlg_display_peak_nits: float = 1000.0,
    white_nits: float | None = None,
    **kwargs: Any,
) -> Any:
    """Open any input as a stream of working-space frames (see the module docstring).

    Args:
        path: a file, URL, ``"-"`` (stdin), a ``%04d`` pattern, or (raw only) a file object.
        format: ``"rawvideo"`` for raw planar frames (needs ``pix_fmt``, ``size``, ``rate``);
            ``None`` decides from the name.
        assume: ColorSpec overrides for mis-tagged or untagged input
            (``"transfer=pq:primaries=bt2020"`` or a dict); for stills, ``white_nits``.
        start_seconds, duration_seconds: read only this window (``-ss``/``-t``).
        rate: frames per second of sequences, stills and raw input.
        pix_fmt, size: raw input's pixel format and ``WxH``.
        start_number: first number of a sequence.
        sdr_white_nits, hlg_display_peak_nits: how SDR and HLG enter the working space.
        white_nits: cd/m² of pixel value 1.0 in scene-linear stills (default 203).
        **kwargs: passed to the reader (``VideoReader``: ``device``, ``dtype``, ``threads``).

    Returns:
        A reader: ``info``, iteration over :class:`~hdrvideo.frame.Frame`, ``close()``.
    """
    override = _override(assume)
    white = float(white_nits if white_nits is not None else override.pop("white_nits", 203.0))
    if format not in (None, "rawvideo"):
        raise UnsupportedError(f"input format {format!r} is not supported; use rawvideo or let the name decide")
    if format == "rawvideo":
        missing = [name for name, value in (("-pix_fmt", pix_fmt), ("-s", size)) if value is None]
        if missing:
            raise InvalidInputError(f"rawvideo input needs {' and '.join(missing)} (e.g. -pix_fmt yuv420p10le -s 1920x1080)")
        return RawVideoReader(
            path, pix_fmt=pix_fmt, size=size, rate=rate or 25, override=override,
            sdr_white_nits=sdr_white_nits, hlg_display_peak_nits=hlg_display_peak_nits,
            start_seconds=start_seconds, duration_seconds=duration_seconds,
        )
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidInputError("a file object can only be read with format='rawvideo'")
    name = os.fspath(path)
    if _is_stdin(name):
        return VideoReader("-", override=override, sdr_white_nits=sdr_white_nits,
                           hlg_display_peak_nits=hlg_display_peak_nits, start_seconds=start_seconds,
                           duration_seconds=duration_seconds, **kwargs)
    if _is_pattern(name) and not Path(name).exists():
        return SequenceReader(
            name, start=start_number, rate=rate or DEFAULT_SEQUENCE_RATE, white_nits=white,
            start_seconds=start_seconds, duration_seconds=duration_seconds, override=override,
            sdr_white_nits=sdr_white_nits, hlg_display_peak_nits=hlg_display_peak_nits,
        )
    if _suffix(name) in IMAGE_EXTENSIONS or _sniff_still(name):
        return ImageReader(name, white_nits=white, rate=rate, **kwargs)
    return VideoReader(name, override=override, sdr_white_nits=sdr_white_nits,
                       hlg_display_peak_nits=hlg_display_peak_nits, start_seconds=start_seconds,
                       duration_seconds=duration_seconds, **kwargs)


def _sniff_still(name: str) -> bool:
    from hdrvideo.io.images import sniff_format

    try:
        return Path(name).is_file() and sniff_format(name) is not None
    except OSError:
        return False


#: ``hdrvideo.open(path)``: the same function under the name users expect.
open = open_media  # noqa: A001 - mirrors av.open / builtins.open on purpose


# ----------------------------------------------------------------------------- sinks


@dataclass
class OutputReport:
    """What a still, sequence or raw-pipe sink wrote (video sinks return a WriteReport)."""

    path: Path | str
    frames: int
    width: int
    height: int
    spec: ColorSpec | None
    bytes: int
    paths: tuple[Path, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "frames": self.frames, "width": self.width, "height": self.height,
            "spec": self.spec.to_dict() if self.spec else None, "bytes": self.bytes,
            "paths": [str(p) for p in self.paths],
        }


PNG_PIX_FMTS = {"rgb24": 8, "rgb48be": 16, "rgb48": 16, "rgb48le": 16}


def png_bytes(frame: Frame | torch.Tensor, spec: ColorSpec) -> bytes:
    """Encode a working-space picture as PNG (FFmpeg's encoder: rgb24 or rgb48be).

    ``spec`` must be R'G'B' full range (``matrix="rgb"``); its primaries and transfer are
    applied and written as the PNG's colour tags (``sRGB`` chunk for sRGB, ``cICP`` for PQ and
    HLG, ``cHRM``/``gAMA`` otherwise). No dither: the codes are the rounded signal.
    """
    import av

    from hdrvideo.io.convert import working_to_frame

    data = frame.data if isinstance(frame, Frame) else frame
    if data.dim() == 4 and data.shape[0] == 1:
        data = data[0]
    bits = 8 if spec.bit_depth == 8 else 16
    vf = working_to_frame(data, spec, pix_fmt="gbrp" if bits == 8 else "gbrp16le", dither=False)
    g, b, r = frame_planes(vf)
    rgb = np.ascontiguousarray(np.stack([r, g, b], axis=-1))
    out = av.VideoFrame.from_ndarray(rgb.astype(np.uint8 if bits == 8 else np.uint16),
                                     format="rgb24" if bits == 8 else "rgb48be")
    codes = spec.codes
    out.color_primaries, out.color_trc = codes["color_primaries"], codes["color_trc"]
    out.colorspace, out.color_range = 0, 2
    encoder = av.CodecContext.create("png", "w")
    encoder.width, encoder.height = out.width, out.height
    encoder.pix_fmt = out.format.name
    encoder.color_primaries, encoder.color_trc = codes["color_primaries"], codes["color_trc"]
    encoder.colorspace, encoder.color_range = 0, 2
    packets = list(encoder.encode(out)) + list(encoder.encode(None))
    return b"".join(bytes(p) for p in packets)


def _write_png(path: Path, frame: Frame, spec: ColorSpec, *, overwrite: bool) -> Path:
    payload = png_bytes(frame, spec)
    with atomic_output(path, overwrite=overwrite) as temporary:
        temporary.write_bytes(payload)
    return path


class _StillSink:
    """A one-frame sink: the frame is kept by ``write`` and the file written by ``close``."""

    max_frames = 1

    def __init__(self, path: str | os.PathLike[str], spec: ColorSpec, *, overwrite: bool = False) -> None:
        self.path = check_output_path(path, overwrite=overwrite)
        self.spec = spec
        self.overwrite = overwrite
        self._frame: Frame | None = None

    def write(self, frame: Frame) -> None:
        if self._frame is None:
            self._frame = frame

    def _save(self, frame: Frame) -> None:
        raise NotImplementedError

    def close(self) -> OutputReport:
        if self._frame is None:
            raise OutputError(f"{self.path}: no frames were written")
        self._save(self._frame)
        frame, self._frame = self._frame, None
        return OutputReport(self.path, 1, frame.width, frame.height, self.spec, self.path.stat().st_size, (self.path,))

    def abort(self) -> None:
        self._frame = None


class PngSink(_StillSink):
    """One PNG still (8-bit sRGB for SDR, 16-bit PQ/HLG with ``cICP`` for HDR), written atomically."""

    def _save(self, frame: Frame) -> None:
        _write_png(self.path, frame, self.spec, overwrite=self.overwrite)


class ImageSink(_StillSink):
    """One OpenEXR or Radiance still (scene-linear; pixel value 1.0 at ``white_nits``)."""

    def __init__(self, path: str | os.PathLike[str], spec: ColorSpec, *, white_nits: float = 203.0,
                 overwrite: bool = False) -> None:
        super().__init__(path, spec, overwrite=overwrite)
        self.white_nits = float(white_nits)

    def _save(self, frame: Frame) -> None:
        from hdrvideo.io.images import write_image

        write_image(self.path, frame, white_nits=self.white_nits, overwrite=self.overwrite)


class SequenceSink:
    """Numbered stills (``out_%04d.exr``/``.hdr``/``.png``), each written atomically.

    ``abort`` deletes every file this sink wrote, so a failed run leaves no partial sequence.
    Without ``overwrite``, the run is refused up front when the first file exists.
    """

    def __init__(self, pattern: str | os.PathLike[str], spec: ColorSpec, *, start: int = 0,
                 white_nits: float = 203.0, overwrite: bool = False) -> None:
        from hdrvideo.io.images import is_sequence_pattern, sequence_path

        self.pattern = os.fspath(pattern)
        if not is_sequence_pattern(self.pattern):
            raise OutputError(f"{self.pattern}: not a sequence pattern (needs one %d or %0Nd)")
        self.spec = spec
        self.start = int(start)
        self.white_nits = float(white_nits)
        self.overwrite = overwrite
        self._path = lambda n: sequence_path(self.pattern, n)
        suffix = _suffix(self.pattern)
        if suffix not in IMAGE_EXTENSIONS + PNG_EXTENSIONS:
            raise UnsupportedError(
                f"{self.pattern}: no sequence writer for {suffix or '(no extension)'}; valid: "
                f"{', '.join(IMAGE_EXTENSIONS + PNG_EXTENSIONS)}"
            )
        self._png = suffix in PNG_EXTENSIONS
        check_output_path(self._path(self.start), overwrite=overwrite)
        self.written: list[Path] = []
        self._size = (0, 0)

    def write(self, frame: Frame) -> None:
        path = self._path(self.start + len(self.written))
        if self._png:
            _write_png(path, frame, self.spec, overwrite=self.overwrite)
        else:
            from hdrvideo.io.images import write_image

            write_image(path, frame, white_nits=self.white_nits, overwrite=self.overwrite)
        self.written.append(path)
        self._size = (frame.width, frame.height)

    def close(self) -> OutputReport:
        if not self.written:
            raise OutputError(f"{self.pattern}: no frames were written")
        size = sum(p.stat().st_size for p in self.written)
        return OutputReport(self.pattern, len(self.written), *self._size, self.spec, size, tuple(self.written))

    def abort(self) -> None:
        for path in self.written:
            with contextlib.suppress(OSError):
                path.unlink()
        self.written = []


class RawVideoSink:
    """Raw planar frames (``-f rawvideo``) to a binary stream, for ``| ffmpeg -f rawvideo -i -``.

    Args:
        stream: ``"-"`` (stdout) or a binary file object.
        spec: the signal to quantise to (its bit depth is set from ``pix_fmt``).
        pix_fmt: a planar format of :data:`hdrvideo.io.convert.PIXEL_FORMATS`; FFmpeg's
            packing: planes one after the other, no row padding, little-endian samples.
        dither: triangular dither before rounding (default: on at 8 bits).

    A pipe cannot take back what it received: ``abort`` stops writing, nothing more.
    """

    def __init__(self, stream: str | IO[bytes], spec: ColorSpec, *, pix_fmt: str, dither: bool | None = None) -> None:
        if pix_fmt not in PIXEL_FORMATS:
            raise UnsupportedError(f"rawvideo pixel format {pix_fmt!r} is not supported; valid: {', '.join(PIXEL_FORMATS)}")
        family, bits, _, _ = pixel_format_info(pix_fmt)
        changes: dict[str, Any] = {}
        if spec.bit_depth != bits:
            changes["bit_depth"] = bits
        if family == "gbr" and spec.matrix != "rgb":
            changes.update(matrix="rgb", range="full")
        if family != "gbr" and spec.matrix == "rgb":
            changes["matrix"] = "bt2020nc" if spec.primaries == "bt2020" else "bt709"
        import dataclasses

        self.spec = dataclasses.replace(spec, **changes) if changes else spec
        self.pix_fmt = pix_fmt
        self.dither = (bits == 8) if dither is None else bool(dither)
        self._stream: IO[bytes] = sys.stdout.buffer if _is_stdout(stream) else stream  # type: ignore[assignment]
        self.frames = 0
        self.bytes = 0
        self._size = (0, 0)

    def write(self, frame: Frame) -> None:
        from hdrvideo.io.convert import working_to_frame

        vf = working_to_frame(frame.data, self.spec, pix_fmt=self.pix_fmt, dither=self.dither, seed=self.frames)
        for plane in frame_planes(vf):
            payload = np.ascontiguousarray(plane).tobytes()
            self._stream.write(payload)
            self.bytes += len(payload)
        self.frames += 1
        self._size = (frame.width, frame.height)

    def close(self) -> OutputReport:
        self._stream.flush()
        return OutputReport("-", self.frames, *self._size, self.spec, self.bytes)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.flush()


# ----------------------------------------------------------------------------- transcode


def default_codec(path: str | os.PathLike[str], spec: ColorSpec) -> str:
    """The encoder for an output name and signal: AV1 for ``.webm``/``.ivf``/``.obu``, the
    elementary stream's codec for ``.hevc``/``.h264``, else H.264 for SDR and HEVC for HDR."""
    suffix = _suffix(path)
    if suffix in (".webm", ".ivf", ".obu"):
        return "libsvtav1"
    if suffix in (".hevc", ".h265"):
        return "libx265"
    if suffix in (".h264", ".264"):
        return "libx264"
    return "libx265" if spec.is_hdr else "libx264"


#: pix_fmt accepted for video output -> (bit depth, R'G'B').
VIDEO_PIX_FMTS = {
    "yuv420p": (8, False), "yuv420p10le": (10, False), "yuv420p12le": (12, False),
    "gbrp": (8, True), "gbrp10le": (10, True), "gbrp12le": (12, True), "gbrp16le": (16, True),
}


def _apply_video_pix_fmt(spec: ColorSpec, pix_fmt: str | None) -> ColorSpec:
    import dataclasses

    if pix_fmt is None:
        return spec
    if pix_fmt not in VIDEO_PIX_FMTS:
        raise UnsupportedError(f"-pix_fmt {pix_fmt} is not supported for video output; valid: {', '.join(VIDEO_PIX_FMTS)}")
    bits, rgb = VIDEO_PIX_FMTS[pix_fmt]
    if rgb:
        return dataclasses.replace(spec, bit_depth=bits, matrix="rgb", range="full")
    matrix = spec.matrix if spec.matrix != "rgb" else ("bt2020nc" if spec.primaries == "bt2020" else "bt709")
    return dataclasses.replace(spec, bit_depth=bits, matrix=matrix)


def _output_kind(output: Any) -> str:
    if not isinstance(output, (str, os.PathLike)):
        return "raw"  # a file object
    name = os.fspath(output)
    if _is_stdout(name):
        return "raw"
    if _is_pattern(name):
        return "sequence"
    suffix = _suffix(name)
    if suffix in PNG_EXTENSIONS:
        return "png"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return "video"


def _precheck_output(output: Any, kind: str, overwrite: bool, output_format: str | None) -> None:
    """Refuse a bad output before any input is opened (no decoding for nothing)."""
    if kind == "raw":
        if output_format not in (None, "rawvideo"):
            raise UnsupportedError(f"output format {output_format!r} to a pipe is not supported; use -f rawvideo")
        return
    if output_format not in (None, "rawvideo"):
        raise UnsupportedError(f"output format {output_format!r} is not supported; the extension picks the format")
    if output_format == "rawvideo":
        raise UnsupportedError("-f rawvideo output goes to a pipe: use - as the output name")
    if kind == "sequence":
        return  # SequenceSink checks its first file
    check_output_path(output, overwrite=overwrite)
    if kind == "video":
        from hdrvideo.io.video_writer import CONTAINERS

        suffix = _suffix(output)
        if suffix not in CONTAINERS:
            valid = ", ".join(list(CONTAINERS) + list(PNG_EXTENSIONS) + list(IMAGE_EXTENSIONS))
            raise OutputError(f"{output}: unknown output extension {suffix or '(none)'!r}; valid: {valid}")


def transcode(
    input: str | os.PathLike[str] | IO[bytes],
    output: str | os.PathLike[str] | IO[bytes],
    chain: str | Sequence[Operator] | None = "",
    *,
    to: str | None = None,
    codec: str | None = None,
    crf: int | float | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    overwrite: bool = False,
    start_seconds: float | None = None,
    duration_seconds: float | None = None,
    max_frames: int | None = None,
    assume: str | dict[str, Any] | None = None,
    input_format: str | None = None,
    input_pix_fmt: str | None = None,
    input_size: tuple[int, int] | str | None = None,
    rate: Fraction | float | str | None = None,
    start_number: int | None = None,
    output_format: str | None = None,
    audio: bool = True,
    codec_options: dict[str, str] | None = None,
    sdr_white_nits: float = 203.0,
    hlg_display_peak_nits: float = 1000.0,
    queue_size: int = 8,
    progress: bool | Progress | None = None,
    fast: bool = True,
) -> PipelineReport:
    """Read ``input``, run ``chain`` on every frame, write ``output``; return the report.

    When the chain is one ``tonemap`` (``intensity=maxrgb`` or ``luminance``, optionally
    followed by ``gamut`` clip/desaturate) from 4:2:0 PQ video to a video file, the frames
    take the fused hot path (:mod:`hdrvideo.ops.fused`: native kernel on the coded planes,
    same numbers as the generic path within a code value or two); ``fast=False`` forces
    the generic path. ``report.fused`` says which ran.

    Args:
        input: anything :func:`open` takes (``input_format="rawvideo"`` with
            ``input_pix_fmt``/``input_size``/``rate`` for raw frames).
        output: a video file (container by extension), ``.png``, ``.exr``/``.hdr``, a
            ``%04d`` pattern, or ``"-"``/a binary file object for raw frames.
        chain: a filter string (``"tonemap=curve=bt2390"``) or operators.
        to: ``"sdr"``, ``"hdr10"`` or ``"hlg"``: force the output kind (see
            :func:`hdrvideo.pipeline.resolve_target`).
        codec: encoder (default: :func:`default_codec`).
        crf, preset, codec_options: encoder settings (see VideoWriter).
        pix_fmt: raw output format (default ``yuv420p10le`` for HDR, ``yuv420p`` for SDR);
            for video a bit depth (``yuv420p10le``...); for PNG ``rgb24`` or ``rgb48be``.
        overwrite: replace existing outputs (``-y``).
        start_seconds, duration_seconds: the input window (``-ss``/``-t``); copied audio
            follows it.
        max_frames: stop after this many frames (``-frames:v``).
        assume: ColorSpec overrides for the input (``--assume``).
        rate: frame rate of sequences, stills and raw input.
        start_number: first number of an input sequence.
        output_format: ``"rawvideo"`` (the only one that must be said; others follow the name).
        audio: copy the input's audio and subtitle streams into a video output.
        sdr_white_nits, hlg_display_peak_nits: how SDR and HLG input enter the working space.
        queue_size: frames in flight.
        progress: see :class:`~hdrvideo.pipeline.Pipeline`.

    Returns:
        :class:`~hdrvideo.pipeline.PipelineReport` (``output`` is the sink's report and
        ``output_spec`` the signalling written).

    Raises:
        HDRVideoError subclasses for every user mistake, before any output exists; on any
        failure (Ctrl-C included) nothing is left under the output's name.
    """
    kind = _output_kind(output)
    _precheck_output(output, kind, overwrite, output_format)
    if chain is None:
        operators: list[Any] = []
    elif isinstance(chain, str):
        operators = parse_chain(chain)
    else:
        operators = list(chain)
    target = resolve_target(operators, to)
    if kind == "png" and pix_fmt is not None and pix_fmt not in PNG_PIX_FMTS:
        raise UnsupportedError(f"-pix_fmt {pix_fmt} is not supported for PNG; valid: rgb24, rgb48be")
    if kind == "raw" and pix_fmt is not None and pix_fmt not in PIXEL_FORMATS:
        raise UnsupportedError(f"rawvideo pixel format {pix_fmt!r} is not supported; valid: {', '.join(PIXEL_FORMATS)}")
    if kind == "video" and pix_fmt is not None and pix_fmt not in VIDEO_PIX_FMTS:
        raise UnsupportedError(f"-pix_fmt {pix_fmt} is not supported for video output; valid: {', '.join(VIDEO_PIX_FMTS)}")
    if kind != "video" and (codec is not None or crf is not None or preset is not None):
        what = "-c:v" if codec is not None else ("-crf" if crf is not None else "-preset")
        raise InvalidInputError(f"{what} applies to video outputs only, not {kind} output")
    source = open_media(
        input, format=input_format, assume=assume, start_seconds=start_seconds,
        duration_seconds=duration_seconds, rate=rate, pix_fmt=input_pix_fmt, size=input_size,
        start_number=start_number, sdr_white_nits=sdr_white_nits, hlg_display_peak_nits=hlg_display_peak_nits,
    )
    pipeline: Pipeline | None = None
    try:
        info = source.info
        rgb = kind == "png" or (kind == "sequence" and _suffix(output) in PNG_EXTENSIONS)
        spec, mastering = output_spec(
            target, info.spec, input_mastering_display=info.mastering_display, rgb=rgb,
        )
        sink = _make_sink(
            kind, output, spec, mastering, info=info, source=source, target=target, codec=codec, crf=crf,
            preset=preset, pix_fmt=pix_fmt, overwrite=overwrite, rate=rate, audio=audio and not _is_stdin(input),
            codec_options=codec_options, start_seconds=start_seconds, duration_seconds=duration_seconds,
        )
        fused = _fused_path(operators, source, sink, fast=fast)
        if fused is not None:
            pipeline = Pipeline(CodedFrames(source), [fused], sink, queue_size=queue_size, progress=progress,
                                max_frames=max_frames)
        else:
            pipeline = Pipeline(source, operators, sink, queue_size=queue_size, progress=progress,
                                max_frames=max_frames)
        report = pipeline.run()
        report.fused = fused is not None
    finally:
        if pipeline is None or not pipeline.decoding:  # never close under a decoding thread
            source.close()
    report.output_spec = getattr(sink, "spec", spec)
    return report


class CodedFrames:
    """A :class:`VideoReader` yielding its decoded pictures as coded frames, for the fused path.

    Each :class:`Frame` carries the ``av.VideoFrame`` in ``side_data["coded"]`` and an empty
    ``data`` tensor ``(3, 0, 0)``: no working-space conversion is done. ``info``, ``close``
    and the window come from the reader.
    """

    def __init__(self, reader: VideoReader) -> None:
        self.reader = reader
        self.info = reader.info
        self.start_seconds = reader.start_seconds
        self.duration_seconds = reader.duration_seconds

    def __iter__(self) -> Iterator[Frame]:
        empty = torch.empty((3, 0, 0))
        for index, (vf, seconds) in enumerate(self.reader.decoded_frames()):
            side = self.reader.side_data_for(vf)
            side["coded"] = vf
            yield Frame(data=empty, index=index, pts_seconds=seconds, side_data=side)

    def close(self) -> None:
        self.reader.close()


class FusedStage:
    """One pipeline stage running :class:`~hdrvideo.ops.fused.FusedTonemapper` on coded frames."""

    def __init__(self, tonemapper: Any) -> None:
        self.tonemapper = tonemapper

    def __call__(self, frame: Frame) -> Frame:
        import dataclasses

        out = self.tonemapper.process(frame.side_data["coded"], frame.side_data)
        return dataclasses.replace(frame, side_data={**frame.side_data, "coded": out})


def _fused_path(operators: Sequence[Any], source: Any, sink: Any, *, fast: bool) -> FusedStage | None:
    """The fused stage for this transcode, or ``None`` when the generic path must run."""
    from hdrvideo.io.video_writer import VideoWriter
    from hdrvideo.ops import fused

    if not (fast and operators and isinstance(source, VideoReader) and isinstance(sink, VideoWriter)):
        return None
    if source.info.pix_fmt not in fused.FUSED_INPUT_FORMATS or sink.pix_fmt not in ("yuv420p", "yuv420p10le"):
        return None
    if not fused.supports(operators, source.info.spec, sink.spec):
        return None
    # 8-bit output is dithered as the writer's generic path dithers it (TPDF, seeded per frame).
    dither = "tpdf" if sink.dither else "none"
    return FusedStage(fused.FusedTonemapper.from_chain(operators, source.info.spec, sink.spec, dither=dither))


def _make_sink(kind: str, output: Any, spec: ColorSpec, mastering: Any, *, info: StreamInfo, source: Any,
               target: Any, codec: str | None, crf: Any, preset: str | None, pix_fmt: str | None,
               overwrite: bool, rate: Any, audio: bool, codec_options: dict[str, str] | None,
               start_seconds: float | None, duration_seconds: float | None) -> Any:
    import dataclasses

    # Scene-linear in and out with no target: keep the input's white; else the output's.
    white = info.spec.white_nits if (target is None and info.spec.transfer == "linear") else spec.white_nits
    if kind == "raw":
        chosen = pix_fmt or ("yuv420p10le" if spec.is_hdr else "yuv420p")
        return RawVideoSink(output, spec, pix_fmt=chosen)
    if kind == "png":
        if pix_fmt is not None:
            spec = dataclasses.replace(spec, bit_depth=PNG_PIX_FMTS[pix_fmt])
        return PngSink(output, spec, overwrite=overwrite)
    if kind == "image":
        return ImageSink(output, spec, white_nits=white, overwrite=overwrite)
    if kind == "sequence":
        if _suffix(output) in PNG_EXTENSIONS and pix_fmt is not None:
            if pix_fmt not in PNG_PIX_FMTS:
                raise UnsupportedError(f"-pix_fmt {pix_fmt} is not supported for PNG; valid: rgb24, rgb48be")
            spec = dataclasses.replace(spec, bit_depth=PNG_PIX_FMTS[pix_fmt])
        return SequenceSink(output, spec, white_nits=white, overwrite=overwrite)
    from hdrvideo.io.video_writer import VideoWriter

    if pix_fmt is None and spec.matrix == "rgb":
        # R'G'B' input (PNG, TIFF...): video is coded as Y'CbCr, limited range, at most 10 bit.
        spec = dataclasses.replace(
            spec, matrix="bt2020nc" if spec.primaries == "bt2020" else "bt709", range="limited",
            bit_depth=min(spec.bit_depth, 10),
        )
    spec = _apply_video_pix_fmt(spec, pix_fmt)
    chosen_codec = codec or default_codec(output, spec)
    frame_rate = parse_rate(rate) if rate else (info.rate or DEFAULT_SEQUENCE_RATE)
    copy_from = None
    if audio and isinstance(source, VideoReader) and source.path not in STDIN_NAMES:
        copy_from = source.path
    return VideoWriter(
        output, spec=spec, codec=chosen_codec, rate=frame_rate, crf=crf, preset=preset,
        mastering_display=mastering if spec.transfer == "pq" else None, copy_streams_from=copy_from,
        codec_options=codec_options, overwrite=overwrite, start_seconds=float(start_seconds or 0.0),
        duration_seconds=duration_seconds,
    )


# ----------------------------------------------------------------------------- operators


def _option_dict(option: Any) -> dict[str, Any]:
    return {
        "name": option.name,
        "type": getattr(option.type, "__name__", str(option.type)),
        "default": option.default,
        "help": option.help,
        "choices": list(option.choices) if option.choices else None,
        "minimum": option.minimum,
        "maximum": option.maximum,
    }


def describe_operator(name: str) -> dict[str, Any]:
    """One operator as data: ``name``, ``description``, ``temporal``, ``module``, ``options``
    (each ``name``/``type``/``default``/``help``/``choices``/``minimum``/``maximum``)."""
    cls = get_operator(name)
    return {
        "name": cls.name,
        "description": cls.description,
        "temporal": bool(getattr(cls, "temporal", False)),
        "module": f"{cls.__module__}.{cls.__qualname__}",
        "options": [_option_dict(o) for o in cls.options],
    }


def describe_operators() -> list[dict[str, Any]]:
    """Every registered operator (built-in and entry points), sorted by name."""
    return [describe_operator(name) for name in available_operators()]
