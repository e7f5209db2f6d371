"""PyAV video writer: working-space frames into HDR10, HLG or SDR files.

::

    Frame.data (3, H, W) linear BT.2020 cd/m²
      -> hdrvideo.io.convert.working_to_frame     quantised Y'CbCr, colour fields set (native
           │                                       one-pass kernel where built; HLG: in torch,
           │                                       working_to_signal then signal_to_frame)
           └─> MaxCLL/MaxFALL measured             on the R'G'B' signal quantised, 4:4:4 (HDR only)
      -> encoder (libx265 / libsvtav1 / libx264 / ffv1)
      -> NUT intermediate  .NAME.tmp.PID.video.nut  beside the target
    close():
      -> remux (stream copy) into the target's container, under .NAME.tmp.PID.EXT
           · content light level patched in the bitstream (see below)
           · colour signalling set on the container stream too
           · audio and subtitle streams of ``copy_streams_from`` copied, interleaved
      -> renamed to NAME.EXT; the intermediate is deleted

Codecs (:data:`CODECS`): ``libx265`` (HEVC Main / Main 10 / Main 12), ``libsvtav1`` (AV1
Main, 8 or 10 bit), ``libx264`` (H.264 High or High 10: this build's x264 takes 10-bit
input, so HDR10 and HLG in H.264 are allowed too), ``ffv1`` (lossless, for tests and
archives). The pixel format is :func:`hdrvideo.io.convert.pix_fmt_for` of the spec: 4:2:0
at the spec's bit depth, so width and height must be even (odd sizes raise
:class:`~hdrvideo.errors.InvalidInputError`; nothing is padded or cropped silently).

Containers, by extension (:data:`CONTAINERS`): ``.mkv``, ``.mp4``, ``.mov``, ``.ts``,
``.hevc``/``.h265`` and ``.h264``/``.264`` (raw Annex B), ``.ivf``/``.obu`` (raw AV1),
``.webm`` (AV1). FFV1 goes into Matroska only, and carries no HDR static metadata (it
has no SEI or metadata OBU; Matroska's colour elements are written, its mastering
metadata is not, see below).

SVT-AV1 (v4.1 here) takes any even size from 8x8 up: it pads to multiples of 8 inside
and signals the true size, so 130x72 decodes as 130x72.

Signalling is written three times, so that no reader has to guess:

1. the codec context's ``color_primaries``/``color_trc``/``colorspace``/``color_range``
   (H.273 code points from :attr:`ColorSpec.codes`);
2. the encoder's own parameters, which write the bitstream's VUI / sequence header
   (``x265-params colorprim/transfer/colormatrix/range``, the same names in
   ``x264-params``, ``svtav1-params color-primaries/transfer-characteristics/
   matrix-coefficients/color-range``);
3. the container (MP4 ``colr``, Matroska ``Colour``), set again on the remuxed stream
   (FFV1 has no VUI: the container is its only carrier).

HDR10 static metadata: the mastering display (ST 2086) comes from the ``mastering_display``
argument, else from the first frame's ``side_data["mastering_display"]`` (what a reader
found in the source), else none is written and a warning says so. It goes into the
bitstream as the encoder writes it: x265/x264 ``master-display``/``mastering-display`` SEI,
SVT-AV1 ``mastering-display`` metadata OBU.

**How the measured MaxCLL/MaxFALL get into the file.** Every frame's R'G'B' signal is
quantised to the output's code grid (4:4:4, before chroma subsampling) and measured as
CTA-861.3 defines it: ``MaxCLL`` = max over frames of max over pixels of max(R, G, B),
``MaxFALL`` = max over frames of the frame mean of max(R, G, B), in cd/m² of the output's
linear light, rounded to integers. (Measured after the 4:2:0 round trip instead, bilinear
chroma overshoot at small saturated highlights nearly doubled MaxCLL on the bundled sample.) The encoder cannot know these values until the last frame, so for PQ output
without a caller-given ``content_light_level`` it is started with a placeholder
(``max-cll=0,0`` for x265, ``cll=0,0`` for x264, ``content-light=1,1`` for SVT-AV1, which
writes no light level at all for 0,0) and its ``hdr10=1`` flag, so that the SEI / OBU
exists. At :meth:`VideoWriter.close` the intermediate is remuxed packet by packet (stream
copy, no re-encoding) and every content light level found is rewritten by
:func:`hdrvideo.io.bitstream.patch_content_light_level`:

- HEVC/H.264: prefix SEI NAL units (HEVC type 39, AVC type 6) are unescaped (emulation
  prevention removed), each ``payloadType`` 144 message's 4 bytes replaced, and the NAL
  unit escaped again (its length may change by a byte or two; the packet is rebuilt).
  x265 and x264 repeat the SEI in every keyframe packet, and x265 also puts it in the
  extradata (the parameter-set header that becomes ``hvcC`` in MP4/Matroska): both are
  patched.
- AV1: every ``METADATA_TYPE_HDR_CLL`` metadata OBU (in keyframe temporal units) gets its
  4 payload bytes replaced in place (AV1 has no emulation prevention).

If no light level is found to patch, a :class:`~hdrvideo.errors.HDRVideoWarning` says so
(the file then carries the placeholder). A caller-given ``content_light_level`` is written
as given and nothing is patched; the measured values are still reported. HLG and SDR
output carry a light level only when the caller gives one. x265's informational SEI
(its settings as text) still reads ``cll=0,0`` after patching: it is a comment, not
metadata, and no decoder reads it. Container-level copies of the metadata (MP4
``mdcv``/``clli`` boxes, Matroska ``MasteringMetadata``/``MaxCLL``) are not written:
FFmpeg's muxers take them only from stream side data, which PyAV 18 cannot set; the
in-band SEI / OBU is what decoders and displays use.

Why a NUT intermediate: it keeps the encoder's bytes (Annex B, OBUs) and its extradata for
every codec used here, and the final muxer then converts to ``hvcC``/``avcC`` as it does for
any encoder (Matroska would round timestamps to milliseconds). NUT shifts timestamps to
keep decode times non-negative and does not give every decode time back, so the
encoder's own ``pts``/``dts`` are kept in memory (a few bytes per frame) and put back
at the remux: the first frame is at 0 in every container.

For PQ the measurement runs through the EOTF once per pixel instead of three times (the
EOTF is monotonic, so max(R, G, B) in light is the EOTF of max(R', G', B')).

Stream copy: the audio and subtitle streams of ``copy_streams_from`` are copied untouched
(``add_stream_from_template``, packet bytes and side data as they are), interleaved with
the video by decode time. The time origin (the source time the first frame written stands
for) is the start of the source's video stream, or, when ``start_seconds`` is later, the
first source frame at or after it (what :class:`~hdrvideo.io.video_reader.VideoReader`
with the same ``start_seconds`` yields first), so a source whose timestamps start at
1.4 s (MPEG-TS) lines up. Copied packets from the origin to ``origin + min(
duration_seconds, video duration)`` are kept and shifted by ``-origin``; each audio stream
also keeps the one packet before the origin as pre-roll (AAC and Opus need the previous
frame to decode the first one), at a negative time that the muxer absorbs by shifting
every stream alike, as ``ffmpeg -c copy`` does. A stream the target cannot hold (ASS in
MP4, FLAC in MPEG-TS, anything in a raw stream) is skipped with a warning. Reading stops a
second past the window once every audio stream has passed it.

Timing: frames are stamped at a constant ``rate`` (``pts = n / rate``); a frame's
``pts_seconds`` is not used.

Atomic output: nothing appears under the target name until :meth:`VideoWriter.close`
succeeds; an existing target without ``overwrite`` raises
:class:`~hdrvideo.errors.OutputError` in the constructor, before anything is encoded;
:meth:`VideoWriter.abort`, an exception inside ``with`` (``KeyboardInterrupt`` too) or a
failed encode remove every temporary file.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import av
import torch

from hdrvideo.color.pq import eotf_inverse_ST2084, eotf_ST2084
from hdrvideo.color.transfer import decode_transfer
from hdrvideo.errors import (
    HDRVideoError,
    HDRVideoWarning,
    InvalidInputError,
    OutputError,
    UnsupportedError,
)
from hdrvideo.frame import Frame
from hdrvideo.io.atomic import check_output_path, temporary_path_for
from hdrvideo.io.bitstream import patch_content_light_level
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.color.primaries import convert_primaries
from hdrvideo.io.convert import (
    frame_to_working,
    pix_fmt_for,
    pixel_format_info,
    quantize_signal,
    signal_to_frame,
    working_to_frame,
    working_to_signal,
)
from hdrvideo.io.metadata import (
    ContentLightLevel,
    MasteringDisplay,
    svtav1_params,
    validate_content_light_level,
    validate_mastering_display,
    x265_master_display,
    x265_params,
)

__all__ = ["VideoWriter", "WriteReport", "CODECS", "CONTAINERS", "available_codecs"]


# ---------------------------------------------------------------------------------------
# Codecs and containers
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodecInfo:
    """One encoder the writer drives.

    Attributes:
        name: FFmpeg encoder name.
        bitstream: codec of the output (``hevc``, ``av1``, ``h264``, ``ffv1``).
        description: one line for listings.
        params_option: the encoder's private option that takes ``key=value:...`` settings.
        containers: FFmpeg muxers that can hold it here.
        placeholder_cll: (MaxCLL, MaxFALL) written before the measured values are known.
        tunable: whether ``crf`` / ``preset`` apply.
    """

    name: str
    bitstream: str
    description: str
    params_option: str | None
    containers: tuple[str, ...]
    placeholder_cll: tuple[int, int] | None
    tunable: bool = True


#: Encoders, by FFmpeg name.
CODECS: dict[str, CodecInfo] = {
    info.name: info
    for info in (
        CodecInfo(
            "libx265", "hevc", "HEVC (x265): Main 10 for HDR10/HLG, Main for 8-bit SDR",
            "x265-params", ("matroska", "mp4", "mov", "mpegts", "hevc"), (0, 0),
        ),
        CodecInfo(
            "libsvtav1", "av1", "AV1 (SVT-AV1): 8 or 10 bit 4:2:0",
            "svtav1-params", ("matroska", "mp4", "webm", "ivf", "obu"), (1, 1),
        ),
        CodecInfo(
            "libx264", "h264", "H.264 (x264): High for 8-bit SDR, High 10 for 10-bit",
            "x264-params", ("matroska", "mp4", "mov", "mpegts", "h264"), (0, 0),
        ),
        CodecInfo(
            "ffv1", "ffv1", "FFV1 lossless (keeps the spec's bit depth; archives and tests)",
            None, ("matroska",), None, tunable=False,
        ),
    )
}

#: File extension -> FFmpeg muxer.
CONTAINERS: dict[str, str] = {
    ".mkv": "matroska",
    ".mp4": "mp4",
    ".mov": "mov",
    ".ts": "mpegts",
    ".hevc": "hevc",
    ".h265": "hevc",
    ".h264": "h264",
    ".264": "h264",
    ".ivf": "ivf",
    ".obu": "obu",
    ".webm": "webm",
}

#: Streams a muxer can take besides the video, where FFmpeg's own check is too lax (it
#: accepts anything for MPEG-TS, writing unknown codecs as opaque data). Missing: trust FFmpeg.
_COPYABLE: dict[str, dict[str, frozenset[str]]] = {
    "mpegts": {
        "audio": frozenset({"aac", "aac_latm", "mp2", "mp3", "ac3", "eac3", "opus", "dts", "truehd", "s302m"}),
        "subtitle": frozenset({"dvb_subtitle", "dvb_teletext"}),
    },
    "webm": {"audio": frozenset({"opus", "vorbis"}), "subtitle": frozenset({"webvtt"})},
    "mp4": {"subtitle": frozenset({"mov_text"})},
    "mov": {"subtitle": frozenset({"mov_text"})},
    **{raw: {"audio": frozenset(), "subtitle": frozenset()} for raw in ("hevc", "h264", "ivf", "obu")},
}

#: Muxers whose HEVC/H.264 sample entry carries the parameter sets (``hvc1``/``avc1``):
#: there the encoder does not repeat them in-band; everywhere else it repeats them (and
#: the HDR SEIs) at every keyframe, so a cut or a joined chunk still decodes.
_PARAMETER_SETS_IN_SAMPLE_ENTRY = ("mp4", "mov")

# H.273 code point -> the names x265 and x264 take (x265 cli.rst, x264 --fullhelp).
_X26X_PRIMARIES = {
    1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432",
}
_X26X_TRANSFER = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 8: "linear", 13: "iec61966-2-1", 16: "smpte2084", 18: "arib-std-b67",
}
_X265_MATRIX = {0: "gbr", 1: "bt709", 6: "smpte170m", 9: "bt2020nc", 10: "bt2020c", 14: "ictcp"}
_X264_MATRIX = {0: "GBR", 1: "bt709", 6: "smpte170m", 9: "bt2020nc", 10: "bt2020c", 14: "ICtCp"}

#: The codec of each tested NTSC-family rate, so ``rate=23.976`` means 24000/1001.
_NTSC_RATES = [Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120)]


def available_codecs() -> list[str]:
    """The encoders of :data:`CODECS` that this PyAV/FFmpeg build has."""
    found = []
    for name in CODECS:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # noqa: BLE001 - av raises several types for a missing codec
            continue
        found.append(name)
    return found


def _as_rate(rate: Fraction | float | int) -> Fraction:
    if isinstance(rate, Fraction):
        value = rate
    elif isinstance(rate, (int, float)) and math.isfinite(rate):
        value = Fraction(rate).limit_denominator(1_000_000)
        for ntsc in _NTSC_RATES:
            if abs(float(rate) - float(ntsc)) < 5e-4:
                value = ntsc
    else:
        raise InvalidInputError(f"frame rate {rate!r} is not a number")
    if value <= 0:
        raise InvalidInputError(f"frame rate {rate} must be positive")
    return value


def _one_line(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())


# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteReport:
    """What :meth:`VideoWriter.close` wrote.

    Attributes:
        path: the file written.
        frames: number of video frames.
        width, height: picture size in pixels.
        codec: FFmpeg encoder name.
        spec: the output signal.
        mastering_display: the ST 2086 display written (``None`` when none was).
        content_light_level: MaxCLL/MaxFALL **measured** over every frame written (HDR
            output; ``None`` for SDR).
        signalled_content_light_level: the light level the file carries (the measured one,
            the caller's, or ``None`` when none is written).
        bytes: size of the file.
        rate: frame rate (frames per second).
        duration_seconds: ``frames / rate``.
        container: FFmpeg muxer name.
        copied_streams: one line per stream copied from ``copy_streams_from``.
    """

    path: Path
    frames: int
    width: int
    height: int
    codec: str
    spec: ColorSpec
    mastering_display: MasteringDisplay | None
    content_light_level: ContentLightLevel | None
    bytes: int
    signalled_content_light_level: ContentLightLevel | None = None
    rate: Fraction = Fraction(24)
    duration_seconds: float = 0.0
    container: str = ""
    copied_streams: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
            "spec": self.spec.to_dict(),
            "mastering_display": self.mastering_display.to_dict() if self.mastering_display else None,
            "content_light_level": self.content_light_level.to_dict() if self.content_light_level else None,
            "signalled_content_light_level": (
                self.signalled_content_light_level.to_dict() if self.signalled_content_light_level else None
            ),
            "bytes": self.bytes,
            "rate": str(self.rate),
            "duration_seconds": self.duration_seconds,
            "container": self.container,
            "copied_streams": list(self.copied_streams),
        }


# ---------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------


class VideoWriter:
    """Encode working-space frames into an HDR10, HLG or SDR video file.

    Args:
        path: the output file; its extension picks the container (:data:`CONTAINERS`).
        spec: the output signal: PQ -> HDR10, HLG -> HLG, anything else SDR.
        codec: an encoder of :data:`CODECS`.
        rate: frames per second (``Fraction(24000, 1001)``; ``23.976`` means the same).
        crf, preset: the encoder's quality and speed settings (``None``: its default:
            x265 crf 28 preset medium, x264 crf 23 preset medium, SVT-AV1 crf 35 preset
            10); not for FFV1.
        mastering_display: ST 2086 display for HDR output; default: the first frame's
            ``side_data["mastering_display"]`` (PQ output only).
        content_light_level: written as given; default (PQ output): the measured values.
        copy_streams_from: a media file whose audio and subtitle streams are copied.
        codec_options: extra encoder options (FFmpeg AVOptions); an ``x265-params`` /
            ``x264-params`` / ``svtav1-params`` value is appended to the writer's own, so
            its keys win.
        dither: triangular dither before rounding; default: on for 8-bit output only.
        overwrite: replace an existing file.
        start_seconds, duration_seconds: the window of the copied streams (see the
            module docstring).

    Use it as a context manager, or call :meth:`close` (or :meth:`abort`) yourself::

        with VideoWriter("out.mkv", spec=ColorSpec(), crf=18) as writer:
            for frame in reader:
                writer.write(frame)
        report = writer.report

    Raises (constructor):
        OutputError: the target exists (without ``overwrite``), its folder is missing, or
            the extension is not a known container.
        UnsupportedError: the codec is unknown or not in this build, the container cannot
            hold it, or the codec cannot take the spec's bit depth.
        InvalidInputError: bad rate, crf/preset given for FFV1.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        spec: ColorSpec,
        codec: str = "libx265",
        rate: Fraction | float = 24,
        crf: int | None = None,
        preset: str | None = None,
        mastering_display: MasteringDisplay | None = None,
        content_light_level: ContentLightLevel | None = None,
        copy_streams_from: str | os.PathLike[str] | None = None,
        codec_options: dict[str, str] | None = None,
        dither: bool | None = None,
        overwrite: bool = False,
        start_seconds: float = 0.0,
        duration_seconds: float | None = None,
    ) -> None:
        self._state = "new"  # new -> open -> closed | aborted
        self._intermediate: Path | None = None
        self._final_temporary: Path | None = None
        self._container: av.container.OutputContainer | None = None
        self.target = check_output_path(path, overwrite=overwrite)
        self.overwrite = overwrite
        self.spec = spec
        self.rate = _as_rate(rate)
        self.format = self._container_for(self.target)
        self.codec_info = self._codec_for(codec, self.format)
        self.codec = self.codec_info.name
        self.pix_fmt = pix_fmt_for(spec, codec)
        self._check_pix_fmt()
        if crf is not None and not self.codec_info.tunable:
            raise InvalidInputError(f"crf does not apply to {codec} (lossless)")
        if preset is not None and not self.codec_info.tunable:
            raise InvalidInputError(f"preset does not apply to {codec} (lossless)")
        if crf is not None and (not isinstance(crf, (int, float)) or crf < 0):
            raise InvalidInputError(f"crf {crf!r} must be a non-negative number")
        self.crf = crf
        self.preset = preset
        self.codec_options = {str(k): str(v) for k, v in (codec_options or {}).items()}
        self.dither = (spec.bit_depth == 8) if dither is None else bool(dither)
        if start_seconds is None or not math.isfinite(start_seconds) or start_seconds < 0:
            raise InvalidInputError(f"start_seconds {start_seconds!r} must be a non-negative number")
        if duration_seconds is not None and not (math.isfinite(duration_seconds) and duration_seconds > 0):
            raise InvalidInputError(f"duration_seconds {duration_seconds!r} must be a positive number")
        self.start_seconds = float(start_seconds)
        self.duration_seconds = None if duration_seconds is None else float(duration_seconds)

        if spec.is_hdr and spec.bit_depth < 10:
            warnings.warn(
                f"{spec.hdr_format} at {spec.bit_depth} bits will band visibly; HDR10 and HLG are 10-bit",
                HDRVideoWarning,
                stacklevel=2,
            )
        self.mastering_display = mastering_display
        self.content_light_level = content_light_level
        if not spec.is_hdr and (mastering_display is not None or content_light_level is not None):
            warnings.warn(
                "mastering display / content light level ignored: the output is SDR",
                HDRVideoWarning,
                stacklevel=2,
            )
            self.mastering_display = self.content_light_level = None
        if self.codec_info.params_option is None and (self.mastering_display or self.content_light_level):
            warnings.warn(
                f"{codec} has no carrier for HDR static metadata: mastering display / light level not written",
                HDRVideoWarning,
                stacklevel=2,
            )
        for problem in self._metadata_problems():
            warnings.warn(problem, HDRVideoWarning, stacklevel=2)

        self.copy_streams_from = None if copy_streams_from is None else os.fspath(copy_streams_from)
        if self.copy_streams_from is not None:
            self._check_copy_source(self.copy_streams_from)

        self.width: int | None = None
        self.height: int | None = None
        self.frames = 0
        self.report: WriteReport | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._max_cll_nits = 0.0
        self._max_fall_nits = 0.0
        self._nonfinite_warned = False
        self._timing: list[tuple[int | None, int | None, int | None, bool]] = []
        self._intermediate = self.target.with_name(f".{self.target.stem}.tmp.{os.getpid()}.video.nut")
        self._final_temporary = temporary_path_for(self.target)
        self._state = "open"

    # -- checks ---------------------------------------------------------------------------
    @staticmethod
    def _container_for(target: Path) -> str:
        fmt = CONTAINERS.get(target.suffix.lower())
        if fmt is None:
            raise OutputError(
                f"{target}: unknown container extension {target.suffix or '(none)'!r}; "
                f"valid: {', '.join(CONTAINERS)}"
            )
        return fmt

    @staticmethod
    def _codec_for(name: str, fmt: str) -> CodecInfo:
        available = available_codecs()
        if name not in CODECS or name not in available:
            raise UnsupportedError(f"unsupported codec {name!r}; available here: {', '.join(available)}")
        info = CODECS[name]
        if fmt not in info.containers:
            holders = [ext for ext, f in CONTAINERS.items() if f in info.containers]
            raise UnsupportedError(f"{name} cannot go into {fmt}; use one of {', '.join(holders)}")
        return info

    def _check_pix_fmt(self) -> None:
        formats = [f.name for f in (av.codec.Codec(self.codec_info.name, "w").video_formats or [])]
        if formats and self.pix_fmt not in formats:
            raise UnsupportedError(
                f"{self.codec_info.name} cannot encode {self.pix_fmt} ({self.spec.bit_depth}-bit "
                f"{self.spec.matrix}); it takes {', '.join(formats)}"
            )

    def _metadata_problems(self) -> list[str]:
        problems = []
        if self.mastering_display is not None:
            problems += [f"mastering display: {p}" for p in validate_mastering_display(self.mastering_display)]
        if self.content_light_level is not None:
            problems += [
                f"content light level: {p}"
                for p in validate_content_light_level(self.content_light_level, self.mastering_display)
            ]
        return problems

    def _check_copy_source(self, source: str) -> None:
        from hdrvideo.io.video_reader import open_container  # typed errors for bad input

        with open_container(source):
            pass

    # -- properties -------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._state in ("closed", "aborted")

    # -- writing ----------------------------------------------------------------------------
    def write(self, frame: Frame | torch.Tensor) -> None:
        """Encode one frame (``Frame`` or ``(3, H, W)`` tensor) or a batch ``(N, 3, H, W)``.

        The first frame fixes the size; later frames must match it.

        Raises:
            InvalidInputError: wrong shape, odd size with 4:2:0, a size change.
            OutputError / UnsupportedError: the encoder failed (the writer is then
                aborted and its temporary files removed).
        """
        if self._state != "open":
            raise OutputError(f"{self.target}: writer is {self._state}; nothing more can be written")
        side: dict[str, Any] = {}
        if isinstance(frame, Frame) and isinstance(frame.side_data.get("coded"), av.VideoFrame):
            self.write_coded(frame.side_data["coded"], frame.side_data)
            return
        if isinstance(frame, Frame):
            data, side = frame.data, frame.side_data
        elif isinstance(frame, torch.Tensor):
            data = frame
        else:
            raise InvalidInputError(f"write() takes a Frame or a tensor, not {type(frame).__name__}")
        if data.dim() == 4:
            for item in data:
                self._write_one(item, side)
            return
        self._write_one(data, side)

    def write_coded(self, vf: av.VideoFrame, side: dict[str, Any] | None = None) -> None:
        """Encode a picture already coded in this writer's pixel format and signalling.

        The fused hot path (:class:`hdrvideo.ops.fused.FusedTonemapper`) produces such
        frames straight from the decoded planes, skipping the working space. For HDR
        output the light level is measured on the decoded 4:2:0 picture (there is no 4:4:4
        signal on this path), which can read higher than the 4:4:4 measurement of
        :meth:`write` at saturated edges.

        Raises:
            InvalidInputError: the frame's pixel format or size does not match the stream.
        """
        if self._state != "open":
            raise OutputError(f"{self.target}: writer is {self._state}; nothing more can be written")
        if vf.format.name != self.pix_fmt:
            raise InvalidInputError(f"coded frame is {vf.format.name}; this stream is {self.pix_fmt}")
        width, height = vf.width, vf.height
        self._check_size(width, height)
        self._encode(vf, side or {})
        if self.spec.is_hdr:
            light = convert_primaries(frame_to_working(vf, self.spec), "bt2020", self.spec.primaries)
            self._record_light(light.amax(dim=0))
        self.frames += 1

    def _encode(self, vf: av.VideoFrame, side: dict[str, Any]) -> None:
        """Hand one coded picture to the encoder (opened by the first), stamped ``pts = n``."""
        if self._stream is None:
            self._open_encoder(vf.width, vf.height, side)
        vf.pts = self.frames
        vf.time_base = self._stream.codec_context.time_base
        try:
            self._mux_encoded(self._stream.encode(vf))
        except (av.error.FFmpegError, OSError, ValueError) as error:
            self._fail(
                OutputError(
                    f"{self.target}: {self.codec_info.name} failed at frame {self.frames}: {_one_line(error)}"
                )
            )

    def _write_one(self, data: torch.Tensor, side: dict[str, Any]) -> None:
        if data.dim() != 3 or data.shape[0] != 3:
            raise InvalidInputError(f"expected a (3, H, W) frame, got shape {tuple(data.shape)}")
        height, width = int(data.shape[1]), int(data.shape[2])
        self._check_size(width, height)
        if not data.is_floating_point():
            raise InvalidInputError(f"frame data must be floating point (cd/m²), not {data.dtype}")
        if not bool(torch.isfinite(data).all()):
            if not self._nonfinite_warned:
                warnings.warn(
                    f"frame {self.frames}: NaN or infinite light replaced (NaN, -inf -> 0, +inf -> peak); "
                    "further frames are fixed silently",
                    HDRVideoWarning,
                    stacklevel=3,
                )
                self._nonfinite_warned = True
            data = torch.nan_to_num(data, nan=0.0, posinf=float(self.spec.peak_nits), neginf=0.0)
        if self.spec.transfer == "hlg":  # the OOTF mixes channels: measure on the whole signal
            signal = working_to_signal(data, self.spec)
            vf = signal_to_frame(signal, self.spec, pix_fmt=self.pix_fmt, dither=self.dither, seed=self.frames)
            max_rgb = self._max_rgb_nits(signal) if self.spec.is_hdr else None
        else:  # native in one pass where built (hdrvideo.io.native_convert)
            vf = working_to_frame(data, self.spec, pix_fmt=self.pix_fmt, dither=self.dither, seed=self.frames)
            max_rgb = self._max_rgb_nits_of_light(data) if self.spec.is_hdr else None
        self._encode(vf, side)
        if max_rgb is not None:
            self._record_light(max_rgb)
        self.frames += 1

    def _check_size(self, width: int, height: int) -> None:
        """The first frame fixes the size (non-empty, even for 4:2:0); later ones must match it."""
        if self.width is not None:
            if (width, height) != (self.width, self.height):
                raise InvalidInputError(
                    f"frame {self.frames} is {width}x{height}; this stream is {self.width}x{self.height} "
                    "(fixed by the first frame)"
                )
            return
        if width < 1 or height < 1:
            raise InvalidInputError(f"frame size {width}x{height} is empty")
        _, _, sub_w, sub_h = pixel_format_info(self.pix_fmt)
        if (sub_w and width % 2) or (sub_h and height % 2):
            raise InvalidInputError(
                f"{width}x{height}: {self.pix_fmt} (4:2:0) needs an even width and height; crop or pad first"
            )

    def _record_light(self, max_rgb: torch.Tensor) -> None:
        """Fold one frame's ``(H, W)`` max(R, G, B) (cd/m²) into MaxCLL / MaxFALL (CTA-861.3)."""
        self._max_cll_nits = max(self._max_cll_nits, float(max_rgb.max()))
        self._max_fall_nits = max(self._max_fall_nits, float(max_rgb.mean(dtype=torch.float64)))

    def _max_rgb_nits(self, signal: torch.Tensor) -> torch.Tensor:
        """``(H, W)`` max(R, G, B) in cd/m² of the R'G'B' signal quantised to the code grid.

        CTA-861.3 light levels of the picture given to the encoder: measured on the 4:4:4
        signal, before chroma subsampling, per-pixel light as graded. (Measuring after the
        4:2:0 round trip adds chroma-upsampling overshoot at small saturated highlights: a
        600 cd/m² grade read back as MaxCLL 1127 on the bundled sample.) HLG's OOTF scales
        the three channels by one factor, so its max too is that of the decoded channels.
        """
        quantised = quantize_signal(signal, self.spec.bit_depth, self.spec.range).clamp(0, 1)
        return decode_transfer(quantised, self.spec.transfer, peak_nits=self.spec.peak_nits).amax(dim=0)

    def _max_rgb_nits_of_light(self, data: torch.Tensor) -> torch.Tensor:
        """:meth:`_max_rgb_nits` of the signal ``data`` encodes to, for PQ without making it:
        the inverse EOTF, clipping and the quantiser are monotonic, so the max is taken on the
        light and only that one plane is encoded, quantised and decoded again."""
        if self.spec.transfer != "pq":  # HDR output is PQ or HLG; HLG takes _max_rgb_nits
            return self._max_rgb_nits(working_to_signal(data, self.spec))
        light = convert_primaries(data if data.dtype == torch.float64 else data.to(torch.float32), "bt2020",
                                  self.spec.primaries)
        signal = eotf_inverse_ST2084(light.amax(dim=0).clamp(min=0)).clamp(0, 1)
        return eotf_ST2084(quantize_signal(signal, self.spec.bit_depth, self.spec.range).clamp(0, 1))

    def _mux_encoded(self, packets: list[av.Packet]) -> None:
        """Store encoder packets in the intermediate, remembering their exact timing.

        The NUT muxer shifts timestamps to keep decode times non-negative and its demuxer
        does not return every decode time, so the encoder's own ``pts``/``dts`` (in the
        encoder time base, frame ``n`` at ``pts = n``) are kept here, in packet order, and
        put back at the remux: the first frame then starts at 0 in every container.
        """
        for packet in packets:
            if packet.size == 0:
                continue
            self._timing.append((packet.pts, packet.dts, packet.duration, bool(packet.is_keyframe)))
            self._container.mux(packet)

    @property
    def measured_content_light_level(self) -> ContentLightLevel | None:
        """MaxCLL/MaxFALL (cd/m², rounded) over the frames written so far; ``None`` for SDR."""
        if not self.spec.is_hdr:
            return None
        cll = min(int(round(self._max_cll_nits)), 0xFFFF)
        fall = min(int(round(self._max_fall_nits)), cll)
        return ContentLightLevel(max_cll_nits=cll, max_fall_nits=fall)

    # -- encoder set-up ---------------------------------------------------------------------
    def _open_encoder(self, width: int, height: int, side: dict[str, Any]) -> None:
        if self.mastering_display is None and self.spec.transfer == "pq" and self.codec_info.params_option:
            from_frame = side.get("mastering_display")
            if isinstance(from_frame, MasteringDisplay) and from_frame.has_primaries and from_frame.has_luminance:
                self.mastering_display = from_frame
                for problem in validate_mastering_display(from_frame):
                    warnings.warn(f"mastering display of the first frame: {problem}", HDRVideoWarning, stacklevel=4)
            else:
                warnings.warn(
                    f"{self.target.name}: HDR10 without a mastering display: no ST 2086 metadata is written "
                    "(pass mastering_display=MasteringDisplay.from_primaries(...))",
                    HDRVideoWarning,
                    stacklevel=4,
                )
        options = self._encoder_options()  # MetadataError here: nothing opened yet
        self.width, self.height = width, height
        if self.codec_info.name == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner at info level otherwise
        try:
            self._container = av.open(str(self._intermediate), "w", format="nut")
            stream = self._container.add_stream(self.codec_info.name, rate=self.rate)
            cc = stream.codec_context
            cc.width, cc.height, cc.pix_fmt = width, height, self.pix_fmt
            codes = self.spec.codes
            cc.color_primaries = codes["color_primaries"]
            cc.color_trc = codes["color_trc"]
            cc.colorspace = codes["colorspace"]
            cc.color_range = codes["color_range"]
            cc.options = options
            cc.open()
        except (av.error.FFmpegError, OSError, ValueError) as error:
            detail = _one_line(error)
            self._fail(
                UnsupportedError(
                    f"{self.codec_info.name} cannot encode {width}x{height} {self.pix_fmt} "
                    f"with these settings: {detail}"
                )
            )
        self._stream = stream

    def _params(self) -> str:
        """The encoder's ``*-params`` string: colour signalling and HDR metadata."""
        codes = self.spec.codes
        hdr10 = self.spec.transfer == "pq"
        cll = self.content_light_level
        if cll is None and hdr10 and self.codec_info.placeholder_cll is not None:
            cll = ContentLightLevel(*self.codec_info.placeholder_cll)
        md = self.mastering_display
        repeat = self.format not in _PARAMETER_SETS_IN_SAMPLE_ENTRY
        items: list[str] = []
        name = self.codec_info.name
        if name == "libx265":
            items += [
                f"colorprim={_X26X_PRIMARIES[codes['color_primaries']]}",
                f"transfer={_X26X_TRANSFER[codes['color_trc']]}",
                f"colormatrix={_X265_MATRIX[codes['colorspace']]}",
                f"range={self.spec.range}",
                "log-level=error",
            ]
            hdr = x265_params(md, cll, repeat_headers=repeat)
            items += [hdr] if hdr else [f"repeat-headers={int(repeat)}"]
        elif name == "libx264":
            items += [
                f"colorprim={_X26X_PRIMARIES[codes['color_primaries']]}",
                f"transfer={_X26X_TRANSFER[codes['color_trc']]}",
                f"colormatrix={_X264_MATRIX[codes['colorspace']]}",
                f"range={'tv' if self.spec.range == 'limited' else 'pc'}",
                f"repeat-headers={int(repeat)}",
            ]
            if md is not None:
                items.append(f"mastering-display={x265_master_display(md)}")  # x264 takes x265's units
            if cll is not None:
                items.append(f"cll={int(cll.max_cll_nits)},{int(cll.max_fall_nits)}")
        elif name == "libsvtav1":
            items += [
                f"color-primaries={codes['color_primaries']}",
                f"transfer-characteristics={codes['color_trc']}",
                f"matrix-coefficients={codes['colorspace']}",
                f"color-range={0 if self.spec.range == 'limited' else 1}",
            ]
            hdr = svtav1_params(md, cll)
            if hdr:
                items.append(hdr)
        return ":".join(items)

    def _encoder_options(self) -> dict[str, str]:
        options: dict[str, str] = {}
        if self.crf is not None:
            options["crf"] = f"{self.crf:g}" if isinstance(self.crf, float) else str(int(self.crf))
        if self.preset is not None:
            options["preset"] = str(self.preset)
        if self.codec_info.name == "ffv1":
            options.update({"level": "3", "slicecrc": "1"})
        user = dict(self.codec_options)
        if self.codec_info.params_option:
            ours = self._params()
            theirs = user.pop(self.codec_info.params_option, "")
            options[self.codec_info.params_option] = ":".join(p for p in (ours, theirs) if p)
        options.update(user)
        return options

    # -- finishing --------------------------------------------------------------------------
    def close(self) -> WriteReport:
        """Flush the encoder, remux into the target (patching MaxCLL/MaxFALL, copying
        streams), and rename it into place.

        Returns:
            The :class:`WriteReport` (also kept as :attr:`report`). Closing again returns it.

        Raises:
            OutputError: no frame was written, the encoder or muxer failed, or the target
                appeared meanwhile (without ``overwrite``). Temporary files are removed.
        """
        if self._state == "closed" and self.report is not None:
            return self.report
        if self._state != "open":
            raise OutputError(f"{self.target}: writer is {self._state}")
        if self.frames == 0 or self._stream is None:
            self._fail(OutputError(f"{self.target}: no frames were written"))
        try:
            self._mux_encoded(self._stream.encode(None))
            self._container.close()
            self._container = None
        except (av.error.FFmpegError, OSError, ValueError) as error:
            self._fail(
                OutputError(f"{self.target}: {self.codec_info.name} failed while flushing: {_one_line(error)}")
            )

        measured = self.measured_content_light_level
        signalled = self.content_light_level
        patch: ContentLightLevel | None = None
        if signalled is None and self.spec.transfer == "pq" and self.codec_info.placeholder_cll is not None:
            patch = signalled = measured
        try:
            copied = self._remux(patch)
            if self.target.exists() and not self.overwrite:
                raise OutputError(f"{self.target}: appeared while writing; not replaced (use overwrite=True)")
            os.replace(self._final_temporary, self.target)
        except HDRVideoError as error:
            self._fail(error)
        except (av.error.FFmpegError, OSError, ValueError) as error:
            self._fail(OutputError(f"{self.target}: remux failed: {_one_line(error)}"))
        except BaseException:
            self._cleanup()
            self._state = "aborted"
            raise
        self._cleanup()
        self._state = "closed"
        self.report = WriteReport(
            path=self.target,
            frames=self.frames,
            width=int(self.width),
            height=int(self.height),
            codec=self.codec_info.name,
            spec=self.spec,
            mastering_display=self.mastering_display,
            content_light_level=measured,
            bytes=self.target.stat().st_size,
            signalled_content_light_level=signalled,
            rate=self.rate,
            duration_seconds=float(self.frames / self.rate),
            container=self.format,
            copied_streams=tuple(copied),
        )
        return self.report

    def _remux(self, patch: ContentLightLevel | None) -> list[str]:
        """Intermediate (+ copied streams) -> final temporary file."""
        copied: list[str] = []
        with contextlib.ExitStack() as stack:
            vin = stack.enter_context(av.open(str(self._intermediate), "r"))
            # bitexact: no random segment/track UIDs or muxing date, so the same input gives
            # the same output bytes (the encoders are deterministic too).
            out = stack.enter_context(
                av.open(str(self._final_temporary), "w", format=self.format, options={"fflags": "+bitexact"})
            )
            vst_in = vin.streams.video[0]
            vst_out = out.add_stream_from_template(vst_in, opaque=True)
            cc = vst_out.codec_context
            codes = self.spec.codes
            cc.color_primaries = codes["color_primaries"]
            cc.color_trc = codes["color_trc"]
            cc.colorspace = codes["colorspace"]
            cc.color_range = codes["color_range"]
            cc.framerate = self.rate
            if self.codec_info.bitstream == "hevc" and self.format in _PARAMETER_SETS_IN_SAMPLE_ENTRY:
                cc.codec_tag = "hvc1"  # what Apple players require; parameter sets live in hvcC
            patched = 0
            bitstream = self.codec_info.bitstream
            if patch is not None:
                extradata = vst_in.codec_context.extradata
                if extradata:
                    new, count = patch_content_light_level(
                        extradata, bitstream, patch.max_cll_nits, patch.max_fall_nits
                    )
                    if count:
                        cc.extradata = new
                        patched += count

            sources: list[Iterator[tuple[float, int, av.Packet, Any]]] = []

            encoder_tb = Fraction(1, 1) / self.rate

            def video_packets() -> Iterator[tuple[float, int, av.Packet, Any]]:
                nonlocal patched
                n = 0
                for packet in vin.demux(vst_in):
                    if packet.size == 0:
                        continue
                    if n >= len(self._timing):
                        raise OutputError(f"{self._intermediate.name}: more packets than were encoded")
                    data = bytes(packet)
                    if patch is not None:
                        data, count = patch_content_light_level(
                            data, bitstream, patch.max_cll_nits, patch.max_fall_nits
                        )
                        patched += count
                    timing = self._timing[n]
                    yield _packet_seconds_of(timing, encoder_tb), n, _packet(data, timing, encoder_tb), vst_out
                    n += 1
                if n != len(self._timing):
                    raise OutputError(f"{self._intermediate.name}: {n} packets read back, {len(self._timing)} encoded")

            sources.append(video_packets())
            if self.copy_streams_from is not None:
                src = stack.enter_context(av.open(self.copy_streams_from, "r"))
                mapping = self._copy_stream_map(src, out, copied)
                if mapping:
                    sources.append(self._copied_packets(src, mapping))
            for _, _, packet, stream in heapq.merge(*sources, key=lambda item: (item[0], item[1])):
                packet.stream = stream
                out.mux(packet)
        if patch is not None and patched == 0:
            warnings.warn(
                f"{self.target.name}: no content light level found in the {self.codec_info.name} stream to patch; "
                f"the file carries the placeholder {self.codec_info.placeholder_cll}",
                HDRVideoWarning,
                stacklevel=3,
            )
        return copied

    def _copy_stream_map(self, src: av.container.InputContainer, out: Any, copied: list[str]) -> dict[int, Any]:
        mapping: dict[int, Any] = {}
        for stream in src.streams:
            if stream.type not in ("audio", "subtitle"):
                continue
            codec_name = stream.codec_context.name if stream.codec_context else "?"
            allowed = _COPYABLE.get(self.format, {}).get(stream.type)
            try:
                if allowed is not None and codec_name not in allowed:
                    raise ValueError(
                        f"{self.format} holds {', '.join(sorted(allowed)) or 'no other streams'}"
                    )
                out_stream = out.add_stream_from_template(stream, opaque=True)
            except (ValueError, av.error.FFmpegError) as error:
                warnings.warn(
                    f"{self.target.name}: {stream.type} stream #{stream.index} ({codec_name}) not copied: "
                    f"{_one_line(error)}",
                    HDRVideoWarning,
                    stacklevel=4,
                )
                continue
            with contextlib.suppress(Exception):
                out_stream.metadata.update(dict(stream.metadata))
            with contextlib.suppress(Exception):
                out_stream.disposition = stream.disposition
            mapping[stream.index] = out_stream
            detail = f"{stream.type} #{stream.index} {codec_name}"
            if stream.type == "audio":
                detail += f" {stream.codec_context.sample_rate} Hz"
            language = stream.metadata.get("language")
            if language:
                detail += f" [{language}]"
            copied.append(detail)
        return mapping

    def _time_origin(self, src: av.container.InputContainer) -> float:
        """Source time that the first frame written stands for (see the module docstring)."""
        video = next(iter(src.streams.video), None)
        start = 0.0
        if video is not None and video.start_time is not None and video.time_base is not None:
            start = float(video.start_time * video.time_base)
        elif src.start_time is not None:
            start = src.start_time / av.time_base
        if self.start_seconds <= start:
            return start
        rate = video.average_rate if video is not None else None
        if rate:
            # the first source frame at or after start_seconds, as a reader's window gives it
            return start + math.ceil((self.start_seconds - start) * float(rate) - 1e-6) / float(rate)
        return self.start_seconds

    def _copied_packets(
        self, src: av.container.InputContainer, mapping: dict[int, Any]
    ) -> Iterator[tuple[float, int, av.Packet, Any]]:
        origin = self._time_origin(src)
        video_seconds = float(self.frames / self.rate)
        span = video_seconds if self.duration_seconds is None else min(self.duration_seconds, video_seconds)
        end = origin + span
        counter = itertools.count()
        streams = [s for s in src.streams if s.index in mapping]
        audio_open = {s.index for s in streams if s.type == "audio"}
        if origin > 1.0:
            # Jump near the window (audio packets are all keyframes); a failed seek reads from 0.
            with contextlib.suppress(av.error.FFmpegError, OSError, ValueError):
                src.seek(int((origin - 1.0) * av.time_base), backward=True, any_frame=False)
        held: dict[int, av.Packet] = {}  # per audio stream: the last packet before the origin
        started: set[int] = set()

        def shifted(packet: av.Packet, tb: Fraction) -> tuple[float, int, av.Packet, Any]:
            shift = round(origin / tb)
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            return _packet_seconds(packet), next(counter), packet, mapping[packet.stream.index]

        try:
            for packet in src.demux(*streams):
                index = packet.stream.index if packet.stream is not None else -1
                if packet.size == 0 or index not in mapping:
                    continue
                tb = packet.time_base or packet.stream.time_base
                when = packet.pts if packet.pts is not None else packet.dts
                if when is None or tb is None:
                    continue
                seconds = float(when * tb)
                ends = seconds + float(packet.duration * tb) if packet.duration else seconds
                if seconds < origin - 1e-6 and ends <= origin + 1e-6:
                    # Before the window. Audio keeps one packet of pre-roll (an MDCT codec
                    # needs the previous frame to decode the first one): it gets a negative
                    # time, and the muxer shifts every stream alike, as ffmpeg -c copy does.
                    if packet.stream.type == "audio":
                        held[index] = packet
                    continue
                if seconds >= end - 1e-6:
                    # Others may still have packets inside the window; stop once every audio
                    # stream is a second past it (subtitles are sparse and never end a read).
                    if seconds >= end + 1.0:
                        audio_open.discard(index)
                        if not audio_open and any(s.type == "audio" for s in streams):
                            return
                    continue
                if index not in started:
                    started.add(index)
                    if index in held:
                        yield shifted(held.pop(index), tb)
                yield shifted(packet, tb)
        except av.error.FFmpegError as error:
            warnings.warn(
                f"{self.copy_streams_from}: copying stopped early: {_one_line(error)}",
                HDRVideoWarning,
                stacklevel=4,
            )

    def abort(self) -> None:
        """Stop and remove every temporary file; the target is left as it was."""
        if self._state in ("closed", "aborted"):
            return
        self._cleanup()
        self._state = "aborted"

    def _fail(self, error: HDRVideoError) -> NoReturn:
        self.abort()
        raise error

    def _cleanup(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        for path in (self._intermediate, self._final_temporary):
            if path is not None:
                with contextlib.suppress(FileNotFoundError, OSError):
                    path.unlink()

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() or abort() leaves no temporary file behind.
        if getattr(self, "_state", None) == "open":
            with contextlib.suppress(Exception):
                self.abort()

    def __repr__(self) -> str:
        return (
            f"VideoWriter({str(self.target)!r}, codec={self.codec_info.name!r}, {self.spec.hdr_format}, "
            f"{self.frames} frames, {self._state})"
        )


def _packet_seconds(packet: av.Packet) -> float:
    tb = packet.time_base
    when = packet.dts if packet.dts is not None else packet.pts
    if when is None or tb is None:
        return 0.0
    return float(when * tb)


def _packet_seconds_of(timing: tuple[int | None, int | None, int | None, bool], tb: Fraction) -> float:
    pts, dts, _, _ = timing
    when = dts if dts is not None else pts
    return 0.0 if when is None else float(when * tb)


def _packet(data: bytes, timing: tuple[int | None, int | None, int | None, bool], tb: Fraction) -> av.Packet:
    """A packet holding ``data`` with the encoder's own timing and key flag."""
    pts, dts, duration, key = timing
    packet = av.Packet(data)
    packet.pts = pts
    packet.dts = dts
    if duration:
        packet.duration = duration
    packet.time_base = tb
    packet.is_keyframe = key
    return packet
