"""Live sources for the monitor: files, growing files, stdin and network streams.

:class:`StreamDecoder` runs on its own thread: it opens the source with PyAV, demuxes and
decodes, and puts ``(kind, ...)`` items on a bounded queue for the measurement thread:

- ``("connected", connection, description)`` when a (re)connection delivers its stream;
- ``("frame", connection, av.VideoFrame, pts_seconds, wall_seconds)`` per decoded frame;
- ``("disconnected", connection, reason)`` when a live stream drops (it is reopened);
- ``("end", reason)`` when the source is finished (or stopped), ``("error", exc)`` when it
  cannot be read at all.

Network sources (``udp://``, ``rtp://``, ``srt://``, ``rtmp://``, ``http(s)://`` HLS... -
whatever this PyAV build opens) are *live*: a drop (the sender stops: the read times out)
is followed by reopening with exponential backoff, counted in :attr:`reconnects`; when the
measurement thread falls behind, new frames are dropped at the queue (counted in
:attr:`dropped`) rather than letting the monitor drift behind real time. Files, growing
files (``follow=True``, read like ``tail -f``) and stdin are not dropped from: the queue
blocks the decoder instead.

Corrupt input is counted, never fatal: packets flagged corrupt by the demuxer
(:attr:`corrupt_packets`, e.g. MPEG-TS continuity errors), packets the decoder rejects
(:attr:`decode_errors`) and frames the decoder flags as damaged (``vf.is_corrupt``,
counted by the measurement side).
"""

from __future__ import annotations

import io
import queue
import threading
import time
from pathlib import Path
from typing import Any

import av

from hdrvideo.errors import HDRVideoError, InvalidInputError, UnsupportedError
from hdrvideo.io.video_reader import open_container

__all__ = ["FollowFile", "StreamDecoder", "default_options", "is_network"]

#: Seconds between reconnection attempts: first, growth factor, ceiling.
BACKOFF_FIRST_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 8.0


def is_network(source: str) -> bool:
    """Whether ``source`` is a URL (other than ``file:``), i.e. a live stream."""
    return "://" in source and not source.startswith("file:")


def default_options(source: str, *, read_timeout_seconds: float) -> dict[str, str]:
    """FFmpeg options that make a live input robust (overridable with ``--option K=V``).

    ``udp``: a large receive FIFO (``fifo_size`` in 188-byte packets) that does not fail
    when it overruns (``overrun_nonfatal``), and a read ``timeout`` (µs) so that a stopped
    sender is noticed. ``srt``/``rtmp``/``http``: ``timeout`` / ``rw_timeout`` (µs).
    Every live input gets a shorter probe (``analyzeduration`` 0.5 s) so it starts quickly:
    what arrives while FFmpeg probes is decoded in one burst right after opening, and the
    measurement queue must absorb that burst without dropping.
    """
    if not is_network(source):
        return {}
    scheme = source.split("://", 1)[0].lower()
    micro = str(int(read_timeout_seconds * 1e6))
    options = {"analyzeduration": "500000", "probesize": "2000000"}
    if scheme in ("udp", "rtp"):
        options.update({"fifo_size": "50000", "overrun_nonfatal": "1", "timeout": micro,
                        "buffer_size": "4194304"})
    elif scheme in ("srt", "rtmp", "rtmps", "tcp"):
        options.update({"timeout": micro} if scheme in ("srt", "tcp") else {"rw_timeout": micro})
    elif scheme in ("http", "https"):
        options.update({"rw_timeout": micro, "reconnect": "1", "reconnect_streamed": "1"})
    return options


class FollowFile(io.RawIOBase):
    """A read-only, non-seekable view of a file that keeps reading as it grows (``tail -f``).

    ``read`` waits (polling every ``poll_seconds``) when it reaches the current end; it
    returns end-of-file once ``stop`` is set or the file has not grown for
    ``idle_seconds`` (``None``: wait for ever).
    """

    def __init__(self, path: str, stop: threading.Event, *, idle_seconds: float | None = 10.0,
                 poll_seconds: float = 0.05) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._stop = stop
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        idle_since = time.monotonic()
        while True:
            n = self._file.readinto(buffer)
            if n:
                return n
            if self._stop.is_set():
                return 0
            if self.idle_seconds is not None and time.monotonic() - idle_since > self.idle_seconds:
                return 0
            time.sleep(self.poll_seconds)

    def close(self) -> None:
        self._file.close()
        super().close()


class StreamDecoder:
    """Decode ``source`` on a thread into ``out`` (see the module docstring).

    Args:
        source: path, ``"-"`` (stdin) or URL.
        out: the bounded queue the measurement thread reads.
        stop: set it to stop the decoder (it also stops by itself at the end of a file).
        follow: read a growing file (``tail -f``); stops after ``idle_seconds`` without growth.
        options: FFmpeg format/protocol options (added to :func:`default_options`).
        open_timeout_seconds, read_timeout_seconds: PyAV's timeouts for opening and for each read.
        reconnect: reopen after a drop (default: for network sources only).
    """

    def __init__(self, source: str, out: queue.Queue, stop: threading.Event, *, follow: bool = False,
                 options: dict[str, str] | None = None, open_timeout_seconds: float = 5.0,
                 read_timeout_seconds: float = 2.0, reconnect: bool | None = None,
                 idle_seconds: float | None = 10.0) -> None:
        self.source = source
        self.live = is_network(source)
        self.follow = bool(follow)
        if self.follow and (self.live or source == "-"):
            raise InvalidInputError("--follow reads a growing file; it does not apply to stdin or URLs")
        if not self.live and source != "-":
            p = Path(source)
            if not p.exists():
                from hdrvideo.errors import InputNotFoundError

                raise InputNotFoundError(f"{source}: no such file")
        self.out = out
        self.stop = stop
        self.options = {**default_options(source, read_timeout_seconds=read_timeout_seconds), **(options or {})}
        self.open_timeout_seconds = float(open_timeout_seconds)
        self.read_timeout_seconds = float(read_timeout_seconds)
        self.reconnect = self.live if reconnect is None else bool(reconnect)
        self.idle_seconds = idle_seconds
        self.drop_when_full = self.live
        self.connection = 0
        self.reconnects = 0
        self.corrupt_packets = 0
        self.decode_errors = 0
        self.dropped = 0
        self.frames_decoded = 0
        self._thread = threading.Thread(target=self._run, name="hdrvideo-monitor-decode", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- queue -------------------------------------------------------------------------------
    def _put_control(self, item: tuple) -> None:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        if item[0] in ("end", "error"):
            try:
                self.out.put_nowait(item)
            except queue.Full:
                pass

    def _put_frame(self, item: tuple) -> None:
        if self.drop_when_full:
            try:
                self.out.put_nowait(item)
            except queue.Full:
                self.dropped += 1
            return
        self._put_control(item)

    # -- opening -----------------------------------------------------------------------------
    def _open(self) -> av.container.InputContainer:
        timeout = (self.open_timeout_seconds, self.read_timeout_seconds) if self.live else None
        if self.follow:
            handle = FollowFile(self.source, self.stop, idle_seconds=self.idle_seconds)
            try:
                return av.open(handle, mode="r", options=self.options)
            except av.error.FFmpegError as error:
                handle.close()
                raise InvalidInputError(f"{self.source}: not a readable media file ({error})") from error
        if self.live:
            try:
                return av.open(self.source, mode="r", options=self.options, timeout=timeout)
            except av.error.ProtocolNotFoundError as error:
                raise UnsupportedError(f"{self.source}: this FFmpeg build has no such protocol") from error
            except av.error.FFmpegError as error:
                raise InvalidInputError(f"{self.source}: cannot open ({getattr(error, 'strerror', None) or error})") from error
        return open_container(self.source, options=self.options) if self.options else open_container(self.source)

    def _describe(self, container: av.container.InputContainer, stream: Any) -> dict[str, Any]:
        cc = stream.codec_context
        return {"container": container.format.name, "codec": cc.codec.canonical_name if cc.codec else None,
                "width": cc.width, "height": cc.height,
                "rate": float(stream.average_rate) if stream.average_rate else None}

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        delay = BACKOFF_FIRST_SECONDS
        reason = "end of input"
        try:
            while not self.stop.is_set():
                try:
                    container = self._open()
                except (UnsupportedError,) as error:
                    self._put_control(("error", error))
                    return
                except HDRVideoError as error:
                    if not self.reconnect:
                        self._put_control(("error", error))
                        return
                    self._put_control(("retry", self.connection, str(error), delay))
                    self.stop.wait(delay)
                    delay = min(delay * 2, BACKOFF_MAX_SECONDS)
                    continue
                try:
                    if not container.streams.video:
                        error = InvalidInputError(f"{self.source}: no video stream")
                        if not self.reconnect:
                            self._put_control(("error", error))
                            return
                        reason = str(error)
                    else:
                        reason = self._decode(container, container.streams.video[0])
                        if self.frames_decoded:
                            delay = BACKOFF_FIRST_SECONDS
                finally:
                    container.close()
                if not self.reconnect or self.stop.is_set():
                    break
                self._put_control(("disconnected", self.connection, reason))
                self.stop.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
            self._put_control(("end", "stopped" if self.stop.is_set() else reason))
        except BaseException as error:  # noqa: BLE001 - handed to the measurement thread
            self._put_control(("error", error))

    def _decode(self, container: av.container.InputContainer, stream: Any) -> str:
        stream.thread_type = "AUTO"
        self.connection += 1
        if self.connection > 1:
            self.reconnects += 1
        self._put_control(("connected", self.connection, self._describe(container, stream)))
        rate = stream.average_rate or stream.guessed_rate
        count = 0
        try:
            for packet in container.demux(stream):
                if self.stop.is_set():
                    return "stopped"
                if packet.is_corrupt:
                    self.corrupt_packets += 1
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    self.decode_errors += 1
                    continue
                for vf in frames:
                    if vf.time is not None:
                        seconds = float(vf.time)
                    else:
                        seconds = count / float(rate) if rate else float(count)
                    count += 1
                    self.frames_decoded += 1
                    self._put_frame(("frame", self.connection, vf, seconds, time.monotonic()))
        except av.error.FFmpegError as error:
            return f"read failed ({getattr(error, 'strerror', None) or error})"
        return "end of input"

