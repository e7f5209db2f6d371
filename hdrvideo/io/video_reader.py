"""PyAV video reader: HDR10, HDR10+, HLG and SDR streams into the working space.

Opens anything FFmpeg demuxes (MKV, MP4, MOV, MPEG-TS, WebM, raw HEVC/AV1 elementary
streams...), picks the first video stream, and yields :class:`~hdrvideo.frame.Frame` objects
whose ``data`` is ``(3, H, W)`` float32 linear BT.2020 light in cd/m², with the frame's
HDR side data (ST 2086 mastering display, CTA-861.3 content light level, ST 2094-40 HDR10+).

Signalling comes from the stream (H.273 code points); ``override`` replaces any field for
mis-tagged files. Decode errors in the middle of a stream are counted
(:attr:`VideoReader.decode_errors`, :attr:`VideoReader.corrupt_frames`) and skipped, not
fatal; a stream from which no frame at all can be decoded raises :class:`DecodeError`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import torch

from hdrvideo.errors import DecodeError, HDRVideoWarning, InputNotFoundError, InvalidInputError
from hdrvideo.frame import Frame
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.convert import fallback_pixel_format, frame_to_working, PIXEL_FORMATS
from hdrvideo.io.metadata import (
    ContentLightLevel,
    MasteringDisplay,
    frame_side_data,
    validate_content_light_level,
    validate_mastering_display,
)


@dataclass
class StreamInfo:
    """What a reader knows about its video stream before decoding it all.

    ``frame_count`` and ``duration_seconds`` come from the container header and are ``None``
    where it has none (raw elementary streams, some MKV); :func:`hdrvideo.io.probe.probe`
    counts packets in that case.
    """

    path: str
    container: str
    container_long_name: str
    codec: str
    decoder: str
    codec_long_name: str
    profile: str | None
    width: int
    height: int
    rate: Fraction | None
    frame_count: int | None
    duration_seconds: float | None
    pix_fmt: str
    bit_depth: int
    chroma_subsampling: str
    spec: ColorSpec
    signalled: dict[str, int | None]
    mastering_display: MasteringDisplay | None = None
    content_light_level: ContentLightLevel | None = None
    hdr10plus: bool = False
    dolby_vision: bool = False
    other_streams: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def hdr_format(self) -> str:
        """``SDR``, ``HDR10``, ``HDR10+`` or ``HLG`` (Dolby Vision is reported separately)."""
        base = self.spec.hdr_format
        return "HDR10+" if base == "HDR10" and self.hdr10plus else base


def _chroma_subsampling(vf: av.VideoFrame) -> str:
    """``4:2:0``, ``4:2:2``, ``4:4:4`` (also RGB) or ``4:0:0`` (greyscale), from the plane sizes."""
    descriptor = vf.format
    if descriptor.is_rgb:
        return "4:4:4"
    if len(descriptor.components) < 3:
        return "4:0:0"
    luma, chroma = descriptor.components[0], descriptor.components[1]
    w_ratio = round(luma.width / max(chroma.width, 1))
    h_ratio = round(luma.height / max(chroma.height, 1))
    return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1"}.get(
        (w_ratio, h_ratio), f"{w_ratio}x{h_ratio}"
    )


def open_container(path: str | os.PathLike[str], **options: Any) -> av.container.InputContainer:
    """Open an input with clear, typed errors for the usual user mistakes.

    ``"-"`` reads from standard input. Raises :class:`InputNotFoundError` or
    :class:`InvalidInputError` (a directory, an empty file, not media).
    """
    name = os.fspath(path)
    if name != "-" and "://" not in name:
        p = Path(name)
        if not p.exists():
            raise InputNotFoundError(f"{name}: no such file")
        if p.is_dir():
            raise InvalidInputError(f"{name}: is a directory, not a media file")
        if p.is_file() and p.stat().st_size == 0:
            raise InvalidInputError(f"{name}: file is empty")
    try:
        if name == "-":
            import sys

            return av.open(sys.stdin.buffer, mode="r", **options)
        return av.open(name, mode="r", **options)
    except av.error.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InvalidInputError(f"{name}: not a readable media file ({reason})") from error
    except (IndexError, ValueError, OSError) as error:  # PyAV raises these for some damaged headers
        raise InvalidInputError(f"{name}: not a readable media file (damaged or truncated header: {error})") from error


class VideoReader:
    """Iterate a video file's frames in the working space.

    Args:
        path: file path, ``"-"`` for standard input, or a URL FFmpeg opens.
        override: ColorSpec fields to force (``{"transfer": "pq"}``) for mis-tagged files.
        sdr_white_nits: where SDR white lands in cd/m² (BT.2408: 203 when the goal is HDR,
            100 for SDR-to-SDR work).
        hlg_display_peak_nits: display peak for the HLG OOTF (BT.2100 reference: 1000).
        start_seconds: seek here first (to the keyframe before, then decode up to it).
        duration_seconds: stop after this much presentation time.
        device, dtype: where the working-space tensors live.
        threads: decoder threads (0 = FFmpeg's automatic choice).

    Attributes:
        info: :class:`StreamInfo` (available right after opening).
        decode_errors: packets the decoder rejected (skipped).
        corrupt_frames: frames the decoder flagged as damaged (still yielded, side data
            ``"corrupt": True``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        override: dict[str, Any] | None = None,
        sdr_white_nits: float = 203.0,
        hlg_display_peak_nits: float = 1000.0,
        start_seconds: float | None = None,
        duration_seconds: float | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        threads: int = 0,
    ) -> None:
        self.path = os.fspath(path)
        self.device = torch.device(device)
        self.dtype = dtype
        self.start_seconds = start_seconds
        self.duration_seconds = duration_seconds
        self.decode_errors = 0
        self.corrupt_frames = 0
        self.frames_read = 0
        self._container = open_container(self.path)
        try:
            if not self._container.streams.video:
                raise InvalidInputError(f"{self.path}: no video stream")
            self._threads = threads
            self._decoded = 0
            self._window_done = False
            self._open_stream()
            self._packets = self._demux()
            self._pending: list[tuple[av.VideoFrame, float | None]] = []
            peeked = self._next_decoded()
            if peeked is None:
                raise DecodeError(f"{self.path}: no frame could be decoded")
            self._pending.append(peeked)
            first = peeked[0]
            self.info = self._make_info(first, override or {}, sdr_white_nits, hlg_display_peak_nits)
        except BaseException:
            self._container.close()
            raise
        for message in self.info.warnings:
            warnings.warn(f"{self.path}: {message}", HDRVideoWarning, stacklevel=2)

    # -- signalling ------------------------------------------------------------------------
    def _make_info(self, first: av.VideoFrame, override: dict[str, Any], sdr_white_nits: float, hlg_peak: float) -> StreamInfo:
        stream, cc, container = self._stream, self._stream.codec_context, self._container
        pix_fmt = first.format.name
        bit_depth = max(c.bits for c in first.format.components)
        signalled = signalled_codes(first, cc)
        spec = spec_from_frame(first, cc, sdr_white_nits=sdr_white_nits, hlg_display_peak_nits=hlg_peak)
        problems: list[str] = []
        if not spec.signalled and not override:
            missing = [k for k, v in signalled.items() if v in (None, 0, 2) and k != "colorspace"]
            problems.append(
                f"colour signalling incomplete ({', '.join(missing) or 'unrecognised values'}); "
                f"assuming {spec.primaries}/{spec.transfer}/{spec.matrix}/{spec.range}; "
                "override with --assume (e.g. --assume transfer=pq:primaries=bt2020) if wrong"
            )
        if override:
            spec = spec.replace(**override)
            if "transfer" in override and "peak_nits" not in override:
                peak = {"pq": 10000.0, "hlg": hlg_peak}.get(spec.transfer, sdr_white_nits)
                white = 203.0 if spec.transfer in ("pq", "hlg") else sdr_white_nits
                spec = spec.replace(peak_nits=peak, white_nits=white)
        side = frame_side_data(first)
        md, cll = side.get("mastering_display"), side.get("content_light_level")
        if md is not None:
            problems += [f"mastering display metadata: {p}" for p in validate_mastering_display(md)]
        if cll is not None:
            problems += [
                f"content light level: {p}"
                for p in validate_content_light_level(cll, md)
                if "(not an error)" not in p
            ]
        if side.get("side_data_unreadable"):
            problems.append("frame side data could not be read by this PyAV build (unknown type); "
                            "HDR metadata, if any, is not reported")
        elif spec.transfer == "pq" and md is None:
            problems.append("HDR10 stream without mastering display metadata (SMPTE ST 2086)")
        if first.pts is None:
            # Raw elementary stream: no timestamps; FFmpeg's average_rate is its demuxer
            # default (25), the bitstream's VUI timing (codec framerate) is the truth.
            rate = cc.framerate or stream.guessed_rate or stream.average_rate or None
        else:
            rate = stream.average_rate or stream.guessed_rate or None
        frame_count = stream.frames or None
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        others = [
            {"index": s.index, "type": s.type,
             "codec": s.codec_context.codec.canonical_name if s.codec_context else None,
             "language": s.language}
            for s in container.streams if s.index != stream.index
        ]
        return StreamInfo(
            path=self.path,
            container=container.format.name,
            container_long_name=container.format.long_name,
            codec=cc.codec.canonical_name,
            decoder=cc.name,
            codec_long_name=cc.codec.long_name,
            profile=cc.profile,
            width=first.width,
            height=first.height,
            rate=Fraction(rate) if rate else None,
            frame_count=frame_count,
            duration_seconds=duration,
            pix_fmt=pix_fmt,
            bit_depth=bit_depth,
            chroma_subsampling=_chroma_subsampling(first),
            spec=spec,
            signalled=signalled,
            mastering_display=md,
            content_light_level=cll,
            hdr10plus="hdr10plus" in side,
            dolby_vision=bool(side.get("dolby_vision")),
            other_streams=others,
            warnings=problems,
        )

    # -- decoding --------------------------------------------------------------------------
    def _open_stream(self) -> None:
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = self._threads

    def _seek_to_start(self) -> None:
        """Seek to the keyframe at or before ``start_seconds``; frames before it are dropped later.

        Raw elementary streams and pipes cannot seek: a failed seek leaves FFmpeg's demuxer
        unusable, so the input is opened again and decoded from the beginning instead.
        """
        if not self.start_seconds or self.path == "-" or self._stream.time_base is None:
            return
        offset = int(self.start_seconds / self._stream.time_base)
        try:
            self._container.seek(offset, stream=self._stream, backward=True)
        except av.error.FFmpegError:
            self._container.close()
            self._container = open_container(self.path)
            self._open_stream()

    def _demux(self) -> Iterator[av.Packet]:
        try:
            self._seek_to_start()
            yield from self._container.demux(self._stream)
        except av.error.FFmpegError:
            # A truncated or damaged container: stop demuxing, count it, keep what we have.
            self.decode_errors += 1

    def _decode_packet(self, packet: av.Packet) -> list[tuple[av.VideoFrame, float | None]]:
        """Decode one packet; each frame comes with its presentation time in seconds.

        Streams without timestamps (raw elementary streams) get decode order divided by
        the bitstream's frame rate.
        """
        try:
            frames = list(packet.decode())
        except av.error.FFmpegError:
            self.decode_errors += 1
            return []
        stamped = []
        for vf in frames:
            if vf.time is not None:
                seconds: float | None = float(vf.time)
            else:
                rate = self._stream.codec_context.framerate or self._stream.guessed_rate
                seconds = self._decoded / float(rate) if rate else None
            self._decoded += 1
            stamped.append((vf, seconds))
        return stamped

    def _next_decoded(self) -> tuple[av.VideoFrame, float | None] | None:
        while not self._pending and not self._window_done:
            packet = next(self._packets, None)
            if packet is None:
                break
            for vf, seconds in self._decode_packet(packet):
                if self._past_window(seconds):
                    self._window_done = True  # frames already pending are still delivered
                    break
                if self._in_window(seconds):
                    self._pending.append((vf, seconds))
        return self._pending.pop(0) if self._pending else None

    def _in_window(self, seconds: float | None) -> bool:
        if seconds is None or self.start_seconds is None:
            return True
        return seconds >= self.start_seconds - 1e-6

    def _past_window(self, seconds: float | None) -> bool:
        if seconds is None or self.duration_seconds is None:
            return False
        return seconds >= (self.start_seconds or 0.0) + self.duration_seconds - 1e-6

    def decoded_frames(self) -> Iterator[tuple[av.VideoFrame, float | None]]:
        """The decoded :class:`av.VideoFrame` objects (no conversion) with their times, in order."""
        while (item := self._next_decoded()) is not None:
            yield item

    def side_data_for(self, vf: av.VideoFrame) -> dict[str, Any]:
        """The frame's HDR side data: ST 2086 and CTA-861.3 from the stream, HDR10+ per frame.

        Static metadata is read once, from the first frame (:attr:`info`). Per-frame side
        data is read only for streams that carry dynamic metadata (HDR10+, Dolby Vision):
        reading it costs PyAV a reference cycle per frame (see
        :func:`hdrvideo.io.metadata._collect_side_data_cycles`).
        """
        side: dict[str, Any] = {}
        if self.info.hdr10plus or self.info.dolby_vision:
            side = frame_side_data(vf)
            side.pop("side_data_unreadable", None)
        if vf.is_corrupt:
            self.corrupt_frames += 1
            side["corrupt"] = True
        side.setdefault("mastering_display", self.info.mastering_display)
        side.setdefault("content_light_level", self.info.content_light_level)
        return {k: v for k, v in side.items() if v is not None}

    def __iter__(self) -> Iterator[Frame]:
        spec = self.info.spec
        for vf, seconds in self.decoded_frames():
            side = self.side_data_for(vf)
            try:
                data = frame_to_working(vf, spec, device=self.device, dtype=self.dtype)
            except (ValueError, av.error.FFmpegError) as error:
                raise DecodeError(f"{self.path}: frame {self.frames_read}: {error}") from error
            frame = Frame(data=data, index=self.frames_read, pts_seconds=seconds, side_data=side)
            self.frames_read += 1
            yield frame

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _code(frame_value: Any, stream_value: Any) -> int | None:
    """The frame's code point if it says anything, else the stream's."""
    for value in (frame_value, stream_value):
        if value is not None and int(value) not in (0, 2):
            return int(value)
    for value in (frame_value, stream_value):
        if value is not None:
            return int(value)
    return None


def signalled_codes(vf: av.VideoFrame, codec_context: Any = None) -> dict[str, int | None]:
    """The H.273 code points of a decoded frame (``color_primaries``, ``color_trc``,
    ``colorspace``, ``color_range``), each the frame's when it says anything, else the
    stream's codec context's (``codec_context=None``: the frame's only)."""
    keys = ("color_primaries", "color_trc", "colorspace", "color_range")
    return {k: _code(getattr(vf, k), getattr(codec_context, k, None)) for k in keys}


def spec_from_frame(vf: av.VideoFrame, codec_context: Any = None, **levels: Any) -> ColorSpec:
    """The :class:`ColorSpec` a decoded frame signals (:func:`signalled_codes`, its pixel
    format's bit depth and RGB-ness); ``levels``: ``sdr_white_nits``, ``hlg_display_peak_nits``."""
    descriptor = vf.format
    bit_depth = max(c.bits for c in descriptor.components)
    return ColorSpec.from_codes(**signalled_codes(vf, codec_context),
                                bit_depth=bit_depth if bit_depth in (8, 10, 12, 16) else 16,
                                is_rgb=descriptor.is_rgb, **levels)


def read_video(path: str | os.PathLike[str], **kwargs: Any) -> Iterator[Frame]:
    """Convenience generator: ``for frame in read_video("clip.mkv"): ...``."""
    with VideoReader(path, **kwargs) as reader:
        yield from reader


__all__ = ["StreamInfo", "VideoReader", "open_container", "read_video", "PIXEL_FORMATS", "fallback_pixel_format"]
