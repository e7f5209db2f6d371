"""The streaming engine: decode, process and encode on separate threads with bounded memory.

::

    source ──decode thread──► queue ──process thread (the chain)──► queue ──encode thread──► sink
       ▲                                                                           │
       └───────────── at most ``queue_size`` frames between source and sink ◄──────┘

- **Bounded**: a counting semaphore of ``queue_size`` tokens. The decode thread takes a
  token before it pulls a frame from the source; the token comes back when the sink has
  written that frame (or, when iterating, when the caller asks for the next one). So the
  source is never more than ``queue_size`` frames ahead of the sink, whatever their
  relative speeds, and memory stays flat on a file of any length.
- **Errors**: an exception in the source or the chain travels down the queues behind the
  frames before it (an iterating caller gets those first); there, or in the sink, it stops
  every thread, the sink is aborted (writers write to a temporary name, so nothing is left
  under the output's name) and the exception is raised to the caller, with its original
  traceback.
- **Ctrl-C**: ``KeyboardInterrupt`` reaches the main thread, which only waits (with short
  timeouts) while the workers run; it stops the workers, aborts the sink and re-raises.
  Worker threads are daemons: one blocked reading a pipe cannot keep the process alive.
- **Output signalling**: the last operator of the chain whose
  :meth:`~hdrvideo.ops.base.Operator.output_target` is not ``None`` decides what the output
  is (:func:`resolve_target`); :func:`output_spec` turns that into a
  :class:`~hdrvideo.io.colorspec.ColorSpec` and ST 2086 mastering display.

The pipeline knows no operator in particular: it calls each one on each frame, in order.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import torch

from hdrvideo.errors import InvalidInputError
from hdrvideo.frame import Frame
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.ops.base import Operator, OutputTarget, parse_chain
from hdrvideo.progress import Progress

__all__ = [
    "DEFAULT_TARGET_PEAK_NITS",
    "Pipeline",
    "PipelineReport",
    "Sink",
    "TARGETS",
    "output_spec",
    "resolve_target",
]

#: Output kinds ``--to`` accepts, and what an :class:`OutputTarget` ``kind`` may be.
TARGETS = ("sdr", "hdr10", "hlg")

#: Peak used when ``--to`` asks for a kind no operator of the chain produced:
#: SDR code value 1.0 at 203 cd/m² (BT.2408 reference white, the level at which the readers
#: place SDR white), so HDR -> SDR without a tone curve clips at reference white and
#: SDR -> SDR is an identity; HDR10 and HLG for a 1000 cd/m² display (BT.2100 nominal).
DEFAULT_TARGET_PEAK_NITS = {"sdr": 203.0, "hdr10": 1000.0, "hlg": 1000.0}

_POLL_SECONDS = 0.05
_JOIN_SECONDS = 10.0
_JOIN_WORKER_SECONDS = 2.0


@runtime_checkable
class Sink(Protocol):
    """What the pipeline writes to (:class:`~hdrvideo.io.video_writer.VideoWriter` is one).

    ``write`` is called from the encode thread, in order; ``close`` once after the last
    frame (from the caller's thread) and returns a report; ``abort`` on error or Ctrl-C
    removes everything written. A sink may set ``max_frames`` (a still image takes 1).
    """

    def write(self, frame: Frame) -> Any: ...

    def close(self) -> Any: ...

    def abort(self) -> Any: ...


@dataclass
class PipelineReport:
    """What a run did.

    Attributes:
        frames: frames that went through the whole chain (written to the sink, or yielded).
        seconds: wall-clock time of the run.
        fps: ``frames / seconds``.
        decode_errors: packets the source's decoder rejected (skipped, see VideoReader).
        corrupt_frames: frames flagged as damaged by the decoder (still processed).
        output: the sink's report (:class:`~hdrvideo.io.video_writer.WriteReport` for
            video), ``None`` without a sink.
        output_spec: the signalling written, when the caller set it (the API does).
        fused: whether the frames took the fused hot path (:func:`hdrvideo.api.transcode`).
        scores: per-frame scores that ``score=...`` stages left in ``side_data["scores"]``,
            metric -> one float per scored frame, in frame order (empty without a scorer).
    """

    frames: int
    seconds: float
    fps: float
    decode_errors: int = 0
    corrupt_frames: int = 0
    output: Any = None
    output_spec: ColorSpec | None = None
    fused: bool = False
    scores: dict[str, list[float]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- signalling


def resolve_target(chain: Sequence[Any], to: str | None = None) -> OutputTarget | None:
    """The output target of a chain: the last operator's that states one, or ``to``.

    Args:
        chain: operators (anything with an ``output_target()`` method counts).
        to: ``"sdr"``, ``"hdr10"`` or ``"hlg"`` to override the chain (``--to``). When the
            chain's own target is of that kind its peak is kept, otherwise the peak is
            :data:`DEFAULT_TARGET_PEAK_NITS`.

    Returns:
        The :class:`OutputTarget`, or ``None`` (no operator changes what the output is for:
        the output keeps the input's signalling).
    """
    target = None
    for op in chain:
        method = getattr(op, "output_target", None)
        found = method() if callable(method) else None
        if found is not None:
            target = found
    if target is not None and target.kind not in TARGETS:
        raise InvalidInputError(f"operator output target {target.kind!r} is not one of {', '.join(TARGETS)}")
    if to is None:
        return target
    if to not in TARGETS:
        raise InvalidInputError(f"--to {to!r}: expected one of {', '.join(TARGETS)}")
    if target is not None and target.kind == to:
        return target
    peak = DEFAULT_TARGET_PEAK_NITS[to]
    return OutputTarget(kind=to, peak_nits=peak, white_nits=peak if to == "sdr" else 203.0)


def output_spec(
    target: OutputTarget | None,
    input_spec: ColorSpec | None,
    *,
    input_mastering_display: Any = None,
    rgb: bool = False,
) -> tuple[ColorSpec, Any]:
    """Signalling and ST 2086 mastering display of the output.

    =========  ==============================================================================
    target     output
    =========  ==============================================================================
    ``sdr``    BT.709 primaries, BT.1886, BT.709 matrix, limited, 8 bit; ``peak_nits`` =
               ``white_nits`` = the target peak (code value 1.0 is the target peak)
    ``hdr10``  BT.2020, PQ, BT.2020 NCL, limited, 10 bit; mastering display maximum = the
               target peak (primaries from the input's mastering display, else BT.2020)
    ``hlg``    BT.2020, HLG for a display of the target peak, BT.2020 NCL, limited, 10 bit
    ``None``   the input's signalling (a transcode); scene-linear inputs (EXR, Radiance:
               ``transfer="linear"``) and inputs without any go to HDR10
    =========  ==============================================================================

    Args:
        target: from :func:`resolve_target`.
        input_spec: the source's signalling (``None`` when it has none).
        input_mastering_display: the source's :class:`~hdrvideo.io.metadata.MasteringDisplay`.
        rgb: the output stores R'G'B' (PNG): matrix ``rgb``, full range, 16-bit for HDR and
            the sRGB transfer for SDR (what PNG viewers assume).

    Returns:
        ``(ColorSpec, MasteringDisplay | None)``.
    """
    from hdrvideo.io.metadata import MasteringDisplay

    if target is None:
        if input_spec is not None and input_spec.transfer != "linear":
            spec = input_spec
            mastering = input_mastering_display if spec.transfer == "pq" else None
            if rgb:
                spec = _rgb_spec(spec)
            return _signalled(spec), mastering
        target = OutputTarget("hdr10", _mastering_peak(input_mastering_display), 203.0)
    peak = float(target.peak_nits)
    if target.kind == "sdr":
        spec = ColorSpec("bt709", "bt1886", "bt709", "limited", 8, peak, peak)
        mastering = None
    elif target.kind == "hdr10":
        spec = ColorSpec("bt2020", "pq", "bt2020nc", "limited", 10, 10000.0, 203.0)
        if input_mastering_display is not None and getattr(input_mastering_display, "has_primaries", False):
            mastering = _replace(input_mastering_display, max_luminance_nits=peak)
        else:
            mastering = MasteringDisplay.from_primaries("bt2020", max_luminance_nits=peak)
    elif target.kind == "hlg":
        spec = ColorSpec("bt2020", "hlg", "bt2020nc", "limited", 10, peak, 203.0)
        mastering = None
    else:
        raise InvalidInputError(f"output target {target.kind!r} is not one of {', '.join(TARGETS)}")
    if rgb:
        spec = _rgb_spec(spec)
    return spec, mastering


def _rgb_spec(spec: ColorSpec) -> ColorSpec:
    if spec.is_hdr:
        return ColorSpec(spec.primaries, spec.transfer, "rgb", "full", 16, spec.peak_nits, spec.white_nits)
    depth = 16 if spec.bit_depth > 8 else 8
    return ColorSpec(spec.primaries, "srgb", "rgb", "full", depth, spec.peak_nits, spec.white_nits)


def _signalled(spec: ColorSpec) -> ColorSpec:
    """``spec`` marked as signalled: what we write is stated in the output, guessed or not."""
    import dataclasses

    return spec if spec.signalled else dataclasses.replace(spec, signalled=True)


def _replace(obj: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes)


def _mastering_peak(mastering: Any) -> float:
    peak = getattr(mastering, "max_luminance_nits", None)
    return float(peak) if peak and peak > 0 else DEFAULT_TARGET_PEAK_NITS["hdr10"]


# ----------------------------------------------------------------------------- the engine


class _End:
    """End-of-stream marker on the queues."""


_END = _End()


class _Failure:
    """An exception travelling down the queues, so frames before it are still delivered."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _make_chain(chain: Sequence[Operator | Callable[[Frame], Frame]] | str | None) -> list[Any]:
    if chain is None:
        return []
    if isinstance(chain, str):
        return parse_chain(chain)
    ops = list(chain)
    for op in ops:
        if not callable(op):
            raise InvalidInputError(f"chain item {op!r} is not an operator (not callable)")
    return ops


class Pipeline:
    """Decode -> chain -> encode, overlapped on three threads with bounded memory.

    Args:
        source: a :class:`~hdrvideo.io.video_reader.VideoReader`, a path (opened with
            :func:`hdrvideo.api.open`: video, still, ``frame_%04d.exr`` sequence, ``"-"``
            for a container stream on stdin), a raw-pipe reader, or any iterable of
            :class:`~hdrvideo.frame.Frame`.
        chain: operators, or a filter string (``"tonemap=curve=bt2390,gamut"``).
        sink: where processed frames go (``write``/``close``/``abort``: a
            :class:`~hdrvideo.io.video_writer.VideoWriter`, or the API's image, sequence and
            raw-pipe sinks). Without one, iterate the pipeline to get the frames.
        queue_size: most frames in flight between source and sink (>= 1).
        progress: ``None``/``False`` for none, ``True`` for a bar on stderr when it is a
            terminal, or a :class:`~hdrvideo.progress.Progress` (``force=True`` to draw it
            anywhere).
        max_frames: stop after this many frames (``-frames:v``; a still output takes 1).
        total_frames: frame count for the progress bar's ETA (default: from the source's
            ``info``).

    Use either ``for frame in Pipeline(src, chain): ...`` or ``Pipeline(src, chain,
    sink).run()``. A pipeline runs once.
    """

    def __init__(
        self,
        source: Any,
        chain: Sequence[Operator | Callable[[Frame], Frame]] | str | None = None,
        sink: Sink | None = None,
        *,
        queue_size: int = 8,
        progress: bool | Progress | None = None,
        max_frames: int | None = None,
        total_frames: int | None = None,
    ) -> None:
        if int(queue_size) < 1:
            raise InvalidInputError(f"queue_size must be >= 1, got {queue_size}")
        if max_frames is not None and int(max_frames) < 0:
            raise InvalidInputError(f"max_frames must be >= 0, got {max_frames}")
        self.chain = _make_chain(chain)
        self._owns_source = False
        if isinstance(source, (str, os.PathLike)):
            from hdrvideo.api import open as open_media

            source = open_media(source)
            self._owns_source = True
        if not isinstance(source, Iterable):
            raise InvalidInputError(f"source {source!r} is not iterable (expected a reader, a path or frames)")
        self.source = source
        # Operators that read a second stream frame-synchronously (score=...:ref=FILE) read
        # the same window of it as the source (-ss/-t): frame i is matched with frame i.
        window = (getattr(source, "start_seconds", None), getattr(source, "duration_seconds", None))
        for op in self.chain:
            follow = getattr(op, "follow_source_window", None)
            if follow is not None and window != (None, None):
                follow(*window)
        self.sink = sink
        self.queue_size = int(queue_size)
        sink_limit = getattr(sink, "max_frames", None)
        limits = [int(n) for n in (max_frames, sink_limit) if n is not None]
        self.max_frames = min(limits) if limits else None
        self.total_frames = total_frames if total_frames is not None else self._source_frame_count()
        if self.max_frames is not None:
            self.total_frames = min(self.total_frames, self.max_frames) if self.total_frames else self.max_frames
        self._progress_arg = progress
        self.frames_read = 0
        self.frames_done = 0
        self.scores: dict[str, list[float]] = {}
        self.corrupt_seen = 0
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._error_lock = threading.Lock()
        self._tokens = threading.Semaphore(self.queue_size)
        self._decoded: queue.Queue[Any] = queue.Queue()
        self._processed: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._sink_lock = threading.Lock()
        self._encoder_done = False
        self._abort_pending = False
        self._started = False
        self._finished = False

    # -- helpers ---------------------------------------------------------------------------
    def _source_frame_count(self) -> int | None:
        """Frames the source will give, from its header and its ``-ss``/``-t`` window."""
        info = getattr(self.source, "info", None)
        count = getattr(info, "frame_count", None)
        rate = getattr(info, "rate", None)
        header_duration = getattr(info, "duration_seconds", None)
        if not count and rate and header_duration:
            count = int(round(header_duration * float(rate)))  # Matroska has no count: estimate
        if not count:
            return None
        if not rate:
            return int(count)
        start = getattr(self.source, "start_seconds", None) or 0.0
        duration = getattr(self.source, "duration_seconds", None)
        remaining = max(int(count) - int(round(start * float(rate))), 0)
        if duration:
            remaining = min(remaining, int(math.ceil(duration * float(rate) - 1e-6)))
        return remaining

    def _make_progress(self) -> Progress | None:
        arg = self._progress_arg
        if isinstance(arg, Progress):
            if arg.total_frames is None and self.total_frames:
                arg.total_frames = self.total_frames
            arg.start()
            return arg
        if arg:
            return Progress(self.total_frames)
        return None

    def _fail(self, error: BaseException) -> None:
        with self._error_lock:
            self._errors.append(error)
        self._stop.set()

    @property
    def error(self) -> BaseException | None:
        """The first exception raised by a worker thread, if any."""
        with self._error_lock:
            return self._errors[0] if self._errors else None

    def _put(self, q: queue.Queue[Any], item: Any) -> None:
        q.put(item)  # unbounded: the token semaphore is what bounds frames in flight

    def _get(self, q: queue.Queue[Any]) -> Any:
        """Next item of ``q``; ``None`` once the pipeline is stopping."""
        while True:
            if self._stop.is_set():
                return None
            try:
                return q.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue

    # -- the worker threads -----------------------------------------------------------------
    def _decode_loop(self) -> None:
        try:
            iterator = iter(self.source)
            while not self._stop.is_set():
                if self.max_frames is not None and self.frames_read >= self.max_frames:
                    break
                if not self._tokens.acquire(timeout=_POLL_SECONDS):
                    continue
                try:
                    frame = next(iterator)
                except StopIteration:
                    self._tokens.release()
                    break
                if not isinstance(frame, Frame):
                    raise InvalidInputError(
                        f"source yielded {type(frame).__name__}, expected hdrvideo.Frame"
                    )
                self.frames_read += 1
                self._put(self._decoded, frame)
            self._put(self._decoded, _END)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, in order
            self._put(self._decoded, _Failure(error))

    def _process_loop(self) -> None:
        try:
            with torch.no_grad():
                while True:
                    item = self._get(self._decoded)
                    if item is None:
                        return
                    if item is _END or isinstance(item, _Failure):
                        self._put(self._processed, item)
                        return
                    if item.side_data.get("corrupt"):
                        self.corrupt_seen += 1
                    for op in self.chain:
                        item = op(item)
                    self._put(self._processed, item)
        except BaseException as error:  # noqa: BLE001
            self._put(self._processed, _Failure(error))

    def _frames(self) -> Iterator[Frame]:
        """Processed frames, in order; gives a token back each time the consumer resumes."""
        while True:
            item = self._get(self._processed)
            if item is None:
                error = self.error
                if error is not None:
                    raise error
                return
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            for metric, value in item.side_data.get("scores", {}).items():
                self.scores.setdefault(metric, []).append(float(value))
            yield item
            self.frames_done += 1
            self._tokens.release()

    def _encode_loop(self) -> None:
        try:
            assert self.sink is not None
            for frame in self._frames():
                self.sink.write(frame)
        except BaseException as error:  # noqa: BLE001
            if self.error is None:
                self._fail(error)
            else:
                self._stop.set()
        finally:
            with self._sink_lock:
                self._encoder_done = True
                abort = self._abort_pending
            if abort:
                self._abort_now()

    def _start(self, with_encoder: bool) -> None:
        if self._started:
            raise InvalidInputError("a Pipeline runs once; make a new one")
        self._started = True
        workers = [("decode", self._decode_loop), ("process", self._process_loop)]
        if with_encoder:
            workers.append(("encode", self._encode_loop))
        for name, target in workers:
            thread = threading.Thread(target=target, name=f"hdrvideo-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _shutdown(self) -> None:
        """Stop every worker and wait for them.

        The encode thread is waited for (up to ``_JOIN_SECONDS``) because the sink must not
        be aborted while it is in ``write``; the others only briefly: a daemon blocked on a
        pipe or in a long operator call is left behind rather than delaying Ctrl-C.
        """
        self._stop.set()
        for thread in self._threads:
            if thread is threading.current_thread():
                continue
            thread.join(timeout=_JOIN_SECONDS if thread.name == "hdrvideo-encode" else _JOIN_WORKER_SECONDS)
        if self._owns_source and not self.decoding:
            close = getattr(self.source, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        self._finished = True

    @property
    def decoding(self) -> bool:
        """Whether the decode thread is still inside the source (then it must not be closed)."""
        return any(t.name == "hdrvideo-decode" and t.is_alive() for t in self._threads)

    def _abort_sink(self) -> None:
        """Abort the sink, or, if the encode thread is still inside ``write`` (it outlived
        the join), have that thread abort it as soon as it leaves."""
        if self.sink is None:
            return
        with self._sink_lock:
            encoder_running = any(t.name == "hdrvideo-encode" for t in self._threads) and not self._encoder_done
            if encoder_running:
                self._abort_pending = True
                return
        self._abort_now()

    def _abort_now(self) -> None:
        with contextlib.suppress(Exception):
            self.sink.abort()

    def _report(self, seconds: float, output: Any) -> PipelineReport:
        decode_errors = int(getattr(self.source, "decode_errors", 0) or 0)
        corrupt = getattr(self.source, "corrupt_frames", None)
        return PipelineReport(
            frames=self.frames_done,
            seconds=seconds,
            fps=self.frames_done / seconds if seconds > 0 else 0.0,
            decode_errors=decode_errors,
            corrupt_frames=int(corrupt) if corrupt is not None else self.corrupt_seen,
            output=output,
            scores=self.scores,
        )

    def _close_progress(self, progress: Progress | None, completed: bool) -> None:
        if progress is None:
            return
        if completed and progress.total_frames:
            progress.total_frames = self.frames_done  # the count may have been an estimate
        progress.update(self.frames_done)
        progress.close(interrupted=not completed)

    # -- the two ways to run ---------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        """Yield processed frames in order (no sink: use :meth:`run` when one is set)."""
        if self.sink is not None:
            raise InvalidInputError("this Pipeline has a sink: call run() instead of iterating it")
        return self._iterate()

    def _iterate(self) -> Iterator[Frame]:
        progress = self._make_progress()
        started = time.monotonic()
        self._start(with_encoder=False)
        completed = False
        try:
            for frame in self._frames():
                yield frame
                if progress is not None:
                    progress.update(self.frames_done + 1)
            completed = True
        finally:
            self._shutdown()
            self._close_progress(progress, completed)
            self.report = self._report(time.monotonic() - started, None)

    def run(self) -> PipelineReport:
        """Process the whole source; write to the sink if there is one.

        Returns:
            :class:`PipelineReport`.

        Raises:
            whatever a thread raised (the sink aborted first), or ``KeyboardInterrupt``.
        """
        if self.sink is None:
            for _ in self._iterate():
                pass
            return self.report
        progress = self._make_progress()
        started = time.monotonic()
        completed = False
        try:
            self._start(with_encoder=True)
            encoder = self._threads[-1]
            while encoder.is_alive():
                encoder.join(timeout=_POLL_SECONDS)
                if progress is not None:
                    progress.update(self.frames_done)
            error = self.error
            if error is not None:
                raise error
            self._shutdown()
            output = self.sink.close()
            completed = True
        except BaseException:
            self._shutdown()
            self._abort_sink()
            raise
        finally:
            self._close_progress(progress, completed)
        self.report = self._report(time.monotonic() - started, output)
        return self.report

    def close(self) -> None:
        """Stop a pipeline that is being iterated and was left early."""
        if self._started and not self._finished:
            self._shutdown()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
