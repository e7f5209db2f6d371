"""The monitor: decode on one thread, measure on another, report everywhere.

::

    source ──StreamDecoder thread (PyAV demux + decode, reconnect)──► bounded queue
        ──measurement thread (this one): working space, measures, NR score, rules──►
        log (stderr) · JSON lines · webhook thread · Prometheus gauges/counters · HTML report

Live sources never fall silently behind real time: the lag (wall clock since the
connection's first frame minus presentation time since it) is measured per frame, exported
(``lag_seconds``) and, while it exceeds ``max_lag_seconds``, the no-reference score is
computed on every Nth frame only (N doubles up to :data:`MAX_NR_EVERY`, halves again once
the lag is small) with a notice saying so; when even that is not enough the decoder drops
frames at the queue (counted). Memory is bounded: rolling windows for temporal measures,
downsampled series for the report, a bounded event list.

Times: each frame gets ``time_seconds`` on a continuous monitor timeline (presentation
time since the connection's first frame, plus where the previous connection ended), so
rules with hold times work across reconnects, when the new stream's timestamps restart.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import av
import torch

from hdrvideo.errors import HDRVideoError, UnsupportedError
from hdrvideo.io.colorspec import ColorSpec
from hdrvideo.io.convert import frame_to_working
from hdrvideo.io.metadata import frame_side_data, validate_content_light_level, validate_mastering_display
from hdrvideo.io.video_reader import spec_from_frame
from hdrvideo.quality.measures import FrameMeasurer, Signalled
from hdrvideo.quality.monitor.outputs import JsonLines, PrometheusExporter, Webhook
from hdrvideo.quality.monitor.report import ReportData, write_report
from hdrvideo.quality.monitor.rules import DEFAULT_RULES, AlertEvent, Rule, RuleEngine
from hdrvideo.quality.monitor.source import StreamDecoder, is_network

__all__ = ["MAX_NR_EVERY", "MEASURES", "Monitor", "MonitorConfig", "load_nr_scorer", "stream_record"]

#: The per-frame measures rules can use (see :mod:`hdrvideo.quality.measures`),
#: plus ``nr_score`` and ``lag_seconds``.
MEASURES: tuple[str, ...] = (*FrameMeasurer.KEYS, "nr_score", "lag_seconds")
#: The most frames between two NR scores when behind real time.
MAX_NR_EVERY = 64
#: Seconds of media time between two re-reads of the static HDR metadata of a connection.
METADATA_RECHECK_SECONDS = 2.0


@dataclass
class MonitorConfig:
    """Everything a monitor run needs (the CLI fills it from its options).

    ``nr``: ``True`` requires the no-reference scorer, ``False`` disables it, ``None`` uses
    it when :mod:`hdrvideo.quality.nriqa` is available. ``scorer`` injects an object with
    ``score(x) -> (N,) tensor`` (and ``scale``) instead of loading one.
    ``duration_seconds`` is wall-clock time; ``max_frames`` counts measured frames.
    ``queue_size``: decoded frames waiting for measurement (32: the burst decoded after a
    live source's probe fits; a 4K 10-bit frame is 25 MB, so at most about 0.8 GB).
    ``device``: where frames are converted, measured and NR-scored (``"cuda"`` on a GPU).
    ``analysis_width``: measure a copy scaled down to this width (FFmpeg's area filter on the
    coded planes) when the stream is wider; ``None`` measures at full resolution. Scaling
    averages pixels, so an isolated highlight's MaxCLL reads lower: keep full resolution
    when the metadata-lie rules must be exact, scale when the CPU cannot keep up.
    """

    source: str
    follow: bool = False
    options: dict[str, str] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=lambda: list(DEFAULT_RULES))
    nr: bool | None = None
    nr_backend: str = "auto"
    nr_every: int = 1
    max_lag_seconds: float = 1.0
    jsonl: str | None = None
    frame_records: bool = True
    webhook: str | None = None
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"
    report: str | None = None
    duration_seconds: float | None = None
    max_frames: int | None = None
    queue_size: int = 32
    open_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 2.0
    idle_seconds: float | None = 10.0
    analysis_width: int | None = None
    device: str = "cpu"
    quiet: bool = False
    scorer: Any = None
    log: TextIO | None = None


def load_nr_scorer(required: bool | None, backend: str = "auto", device: str = "cpu") -> tuple[Any, str | None]:
    """The project's no-reference scorer, or ``(None, reason)`` when it cannot be had.

    ``required=True`` turns unavailability into :class:`UnsupportedError`.
    """
    if required is False:
        return None, "NR scoring disabled (--no-nr)"
    try:
        from hdrvideo.quality.nriqa import load_scorer
    except ImportError as error:
        if required:
            raise UnsupportedError(f"--nr: the no-reference scorer is not available ({error})") from None
        return None, f"NR scoring unavailable ({error})"
    try:
        return load_scorer(backend=backend, device=device), None
    except HDRVideoError as error:
        if required:
            raise
        return None, f"NR scoring unavailable ({error})"


def stream_record(connection: int, vf: av.VideoFrame, spec: ColorSpec, side: dict[str, Any],
                  description: dict[str, Any] | None = None) -> tuple[dict[str, Any], Signalled]:
    """The ``"stream"`` record of a connection and its signalled light levels.

    Metadata checks reuse the reader's validation (:func:`validate_mastering_display`,
    :func:`validate_content_light_level`), plus: PQ without ST 2086 or without CLL, and
    incomplete colour signalling.
    """
    md, cll = side.get("mastering_display"), side.get("content_light_level")
    problems: list[str] = []
    if not spec.signalled:
        problems.append(f"colour signalling incomplete; assuming {spec.primaries}/{spec.transfer}/{spec.matrix}")
    if md is not None:
        problems += [f"mastering display: {p}" for p in validate_mastering_display(md)]
    if cll is not None:
        problems += [f"content light level: {p}" for p in validate_content_light_level(cll, md)
                     if "(not an error)" not in p]
    if spec.transfer == "pq" and md is None:
        problems.append("HDR10 stream without mastering display metadata (SMPTE ST 2086)")
    if spec.transfer == "pq" and cll is None:
        problems.append("HDR10 stream without content light level (CTA-861.3 MaxCLL/MaxFALL)")
    signalled = Signalled.from_side_data(md, cll)
    record = {
        "type": "stream", "connection": connection, **(description or {}),
        "width": vf.width, "height": vf.height, "pix_fmt": vf.format.name,
        "hdr_format": spec.hdr_format, "transfer": spec.transfer, "primaries": spec.primaries,
        "matrix": spec.matrix, "range": spec.range,
        "mastering_display": md.to_dict() if md is not None else None,
        "content_light_level": cll.to_dict() if cll is not None else None,
        "max_cll_nits": signalled.max_cll_nits, "max_fall_nits": signalled.max_fall_nits,
        "mastering_peak_nits": signalled.mastering_peak_nits,
        "metadata_problems": problems,
    }
    return record, signalled


class Monitor:
    """Run one monitoring session (see the module docstring). Use :meth:`run` once.

    Attributes available while it runs (tests, embedding): :attr:`exporter` (Prometheus),
    :attr:`decoder`, :attr:`frames`, :attr:`stop_event` (set it to stop).
    """

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self.log = config.log if config.log is not None else sys.stderr
        self.stop_event = threading.Event()
        self.live = is_network(config.source) or config.follow
        self.queue: queue.Queue = queue.Queue(maxsize=max(int(config.queue_size), 1))
        self.decoder = StreamDecoder(
            config.source, self.queue, self.stop_event, follow=config.follow, options=config.options,
            open_timeout_seconds=config.open_timeout_seconds, read_timeout_seconds=config.read_timeout_seconds,
            idle_seconds=config.idle_seconds,
        )
        if config.scorer is not None:
            self.scorer, why = config.scorer, None
        else:
            self.scorer, why = load_nr_scorer(config.nr, config.nr_backend, config.device)
        self.nr_unavailable_reason = why
        self.rules = RuleEngine(config.rules)
        self.jsonl = JsonLines(config.jsonl) if config.jsonl else None
        self.webhook = Webhook(config.webhook) if config.webhook else None
        self.exporter = PrometheusExporter(FrameMeasurer.KEYS, port=config.metrics_port, addr=config.metrics_addr)
        self.report = ReportData(config.source)
        self.nr_every = max(int(config.nr_every), 1)
        self.exporter.nr_every.set(self.nr_every)
        for rule in config.rules:
            self.exporter.alert_active.labels(rule.name).set(0)
            self.exporter.alerts.labels(rule.name)
        self.frames = 0
        self.corrupt_frames = 0
        self.nr_scored = 0
        self._counted = {"dropped": 0, "corrupt_packets": 0, "decode_errors": 0, "reconnects": 0, "webhook": 0}
        self._connection = 0
        self._spec: ColorSpec | None = None
        self._measurer: FrameMeasurer | None = None
        self._signalled = Signalled()
        self._side: dict[str, Any] = {}
        self._offset = 0.0
        self._first_pts = 0.0
        self._last_time = 0.0
        self._frame_seconds = 1 / 25
        self._wall_ref: float | None = None
        self._media_ref = 0.0
        self._last_check = 0.0
        self._last_nr_change = 0.0
        self._descriptions: dict[int, dict[str, Any]] = {}
        self._stats: dict[str, Any] = {"max_cll_nits": 0.0, "max_fall_nits": 0.0, "lag_max_seconds": 0.0,
                                       "nr_sum": 0.0, "nr_min": math.inf}
        self._started = time.monotonic()
        self.interrupted = False
        self.error: BaseException | None = None

    # -- output helpers ----------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.config.quiet:
            return
        stamp = time.strftime("%H:%M:%S")
        try:
            print(f"[{stamp}] hdrvideo monitor: {text}", file=self.log, flush=True)
        except (OSError, ValueError):
            pass

    def _emit(self, record: dict[str, Any], *, webhook: bool = False) -> None:
        if self.jsonl is not None:
            self.jsonl.write(record)
        if webhook and self.webhook is not None:
            self.webhook.write(record)

    def _notice(self, text: str, **extra: Any) -> None:
        self._say(text)
        self.report.notices.append(f"{self._last_time:.2f} s: {text}")
        self._emit({"type": "notice", "time_seconds": self._last_time, "message": text, **extra}, webhook=False)

    def _alert(self, event: AlertEvent) -> None:
        record = event.to_dict()
        record["source"] = self.config.source
        self._say(event.message())
        self.report.events.append(record)
        self._emit(record, webhook=True)
        self.exporter.alert_active.labels(event.rule).set(1 if event.event == "raise" else 0)
        if event.event == "raise":
            self.exporter.alerts.labels(event.rule).inc()

    def _sync_counters(self) -> None:
        d, c, e = self.decoder, self._counted, self.exporter
        for key, counter, value in (("dropped", e.dropped, d.dropped), ("corrupt_packets", e.corrupt_packets, d.corrupt_packets),
                                    ("decode_errors", e.decode_errors, d.decode_errors), ("reconnects", e.reconnects, d.reconnects),
                                    ("webhook", e.webhook_failures, self.webhook.failures if self.webhook else 0)):
            if value > c[key]:
                counter.inc(value - c[key])
                c[key] = value

    # -- per connection ----------------------------------------------------------------------
    def _new_connection(self, connection: int, vf: av.VideoFrame, pts: float, wall: float) -> None:
        if self._connection:
            self._offset = self._last_time + self._frame_seconds
        self._connection = connection
        self._first_pts = pts
        self._wall_ref, self._media_ref = wall, self._offset
        rate = (self._descriptions.get(connection) or {}).get("rate")
        if rate:
            self._frame_seconds = 1.0 / rate
        self._spec = spec_from_frame(vf)
        self._last_check = self._offset
        self._apply_metadata(vf, frame_side_data(vf))
        self.rules.reset()

    def _apply_metadata(self, vf: av.VideoFrame, side: dict[str, Any]) -> None:
        assert self._spec is not None
        side = {k: side.get(k) for k in ("mastering_display", "content_light_level")}
        record, signalled = stream_record(self._connection, vf, self._spec, side, self._descriptions.get(self._connection))
        self._side = side
        self._signalled = signalled
        self._measurer = FrameMeasurer(signalled, flicker_window=max(3, int(round(1 / self._frame_seconds))))
        self.exporter.metadata_problems.set(len(record["metadata_problems"]))
        self.report.streams.append(record)
        self._emit(record)
        problems = record["metadata_problems"]
        self._say(f"connection {self._connection}: {record['width']}x{record['height']} {record['hdr_format']} "
                  f"MaxCLL {signalled.max_cll_nits} MaxFALL {signalled.max_fall_nits} mastering peak "
                  f"{signalled.mastering_peak_nits}" + (f"; metadata problems: {'; '.join(problems)}" if problems else ""))

    def _recheck_metadata(self, vf: av.VideoFrame, t: float) -> None:
        if t - self._last_check < METADATA_RECHECK_SECONDS:
            return
        self._last_check = t
        side = frame_side_data(vf)
        now = {k: side.get(k) for k in ("mastering_display", "content_light_level")}
        if any(now[k] is not None and now[k] != self._side.get(k) for k in now):
            self._notice("signalled HDR metadata changed")
            self._apply_metadata(vf, now)

    # -- per frame ---------------------------------------------------------------------------
    def _adapt_nr(self, lag: float | None) -> None:
        if lag is None or self.scorer is None:
            return
        now = time.monotonic()
        base = max(int(self.config.nr_every), 1)
        if lag > self.config.max_lag_seconds and self.nr_every < MAX_NR_EVERY and now - self._last_nr_change > 1.0:
            self.nr_every *= 2
            self._last_nr_change = now
            self._notice(f"{lag:.2f} s behind real time: NR score on every {self.nr_every}th frame only",
                         nr_every=self.nr_every, lag_seconds=lag)
        elif lag < self.config.max_lag_seconds / 4 and self.nr_every > base and now - self._last_nr_change > 2.0:
            self.nr_every = max(self.nr_every // 2, base)
            self._last_nr_change = now
            self._notice(f"caught up ({lag:.2f} s behind): NR score every {self.nr_every} frame(s)",
                         nr_every=self.nr_every, lag_seconds=lag)
        self.exporter.nr_every.set(self.nr_every)

    def _frame(self, connection: int, vf: av.VideoFrame, pts: float, wall: float) -> None:
        if connection != self._connection:
            self._new_connection(connection, vf, pts, wall)
        t = self._offset + (pts - self._first_pts)
        if self.frames and (t < self._last_time - 1.0 or t > self._last_time + 60.0):
            # A timestamp discontinuity within a connection (wrap, splice): re-anchor.
            self._offset, self._first_pts = self._last_time + self._frame_seconds, pts
            self._wall_ref, self._media_ref = wall, self._offset
            t = self._offset
        self._last_time = t
        self._recheck_metadata(vf, t)
        if vf.is_corrupt:
            self.corrupt_frames += 1
            self.exporter.corrupt_frames.inc()
        assert self._spec is not None and self._measurer is not None
        aw = self.config.analysis_width
        if aw and vf.width > aw:
            height = max(2, int(round(vf.height * aw / vf.width / 2)) * 2)
            vf = vf.reformat(width=int(aw), height=height, interpolation="AREA")
        x = frame_to_working(vf, self._spec, device=self.config.device)
        measures: dict[str, float | None] = dict(self._measurer.measure(x))
        lag = None
        if self.live and self._wall_ref is not None:
            lag = max(0.0, (time.monotonic() - self._wall_ref) - (t - self._media_ref))
            self._stats["lag_max_seconds"] = max(self._stats["lag_max_seconds"], lag)
        self._adapt_nr(lag)
        score = None
        if self.scorer is not None and self.frames % self.nr_every == 0:
            with torch.no_grad():
                score = float(self.scorer.score(x).reshape(-1)[0])
            self.nr_scored += 1
            self._stats["nr_sum"] += score
            self._stats["nr_min"] = min(self._stats["nr_min"], score)
            self.exporter.nr_score.set(score)
        measures["nr_score"] = score
        measures["lag_seconds"] = lag
        index = self.frames
        self.frames += 1
        self.exporter.frames.inc()
        self.exporter.set_frame(measures)
        if lag is not None:
            self.exporter.lag_seconds.set(lag)
        self._stats["max_cll_nits"] = max(self._stats["max_cll_nits"], measures["max_cll_nits"] or 0.0)
        self._stats["max_fall_nits"] = max(self._stats["max_fall_nits"], measures["fall_nits"] or 0.0)
        for name in ("max_cll_nits", "fall_nits", "mean_nits", "nr_score", "gamut_pct", "clipped_pct"):
            self.report.add(name, t, measures.get(name))
        if self.config.frame_records and self.jsonl is not None:
            self._emit({"type": "frame", "index": index, "connection": connection, "pts_seconds": pts,
                        "time_seconds": t, "corrupt": bool(vf.is_corrupt), "nr_every": self.nr_every, **measures})
        for event in self.rules.update(t, measures, frame_index=index, context={"connection": connection}):
            self._alert(event)
        self._sync_counters()

    # -- the loop ----------------------------------------------------------------------------
    def _handle(self, item: tuple) -> bool:
        kind = item[0]
        if kind == "frame":
            self._frame(*item[1:])
        elif kind == "connected":
            self._descriptions[item[1]] = item[2]
            if item[1] > 1:
                self._notice(f"reconnected to {self.config.source} (connection {item[1]})", connection=item[1])
        elif kind == "disconnected":
            self._notice(f"stream dropped ({item[2]}); reconnecting", connection=item[1])
            self._sync_counters()
        elif kind == "retry":
            self._notice(f"cannot open {self.config.source} ({item[2]}); retrying in {item[3]:.2f} s")
        elif kind == "end":
            self._say(f"source finished ({item[1]})")
            return False
        elif kind == "error":
            raise item[1]
        return True

    def _done(self) -> bool:
        c = self.config
        if c.max_frames is not None and self.frames >= c.max_frames:
            return True
        return c.duration_seconds is not None and time.monotonic() - self._started >= c.duration_seconds

    def run(self) -> dict[str, Any]:
        """Monitor until the source ends, ``duration_seconds``/``max_frames`` or Ctrl-C.

        Returns the summary (also the last JSON line and the report's table). The HTML
        report is written at the end however the run stops (Ctrl-C included); an error of
        the source is raised after it.
        """
        if self.exporter.port is not None:
            self._say(f"metrics on http://{self.exporter.addr}:{self.exporter.port}/metrics")
        if self.nr_unavailable_reason:
            self._notice(self.nr_unavailable_reason)
        self._started = time.monotonic()
        self.decoder.start()
        try:
            while not self._done():
                try:
                    item = self.queue.get(timeout=0.1)
                except queue.Empty:
                    if not self.decoder.alive and self.queue.empty():
                        break
                    continue
                if not self._handle(item):
                    break
        except KeyboardInterrupt:
            self.interrupted = True
            self._say("interrupted: writing the report")
        except BaseException as error:
            self.error = error
        finally:
            self.stop_event.set()
            summary = self._finish()
        if self.error is not None:
            raise self.error
        return summary

    def _finish(self) -> dict[str, Any]:
        self.decoder.join(timeout=self.config.read_timeout_seconds + 1.0)
        self._sync_counters()
        for event in self.rules.close(self._last_time):
            self._alert(event)
        if self.webhook is not None:
            self.webhook.close()
            self._sync_counters()
        st = self._stats
        summary: dict[str, Any] = {
            "type": "summary", "source": self.config.source, "frames": self.frames,
            "media_seconds": round(self._last_time + (self._frame_seconds if self.frames else 0.0), 6),
            "wall_seconds": round(time.monotonic() - self._started, 3),
            "connections": self.decoder.connection, "reconnects": self.decoder.reconnects,
            "frames_dropped": self.decoder.dropped, "corrupt_packets": self.decoder.corrupt_packets,
            "corrupt_frames": self.corrupt_frames, "decode_errors": self.decoder.decode_errors,
            "measured_max_cll_nits": round(st["max_cll_nits"], 3),
            "measured_max_fall_nits": round(st["max_fall_nits"], 3),
            "signalled_max_cll_nits": self._signalled.max_cll_nits,
            "signalled_max_fall_nits": self._signalled.max_fall_nits,
            "nr_scored_frames": self.nr_scored,
            "nr_mean": st["nr_sum"] / self.nr_scored if self.nr_scored else None,
            "nr_min": st["nr_min"] if self.nr_scored else None,
            "nr_scale": getattr(self.scorer, "scale", None) if self.scorer is not None else None,
            "nr_every_final": self.nr_every,
            "lag_max_seconds": round(st["lag_max_seconds"], 3) if self.live else None,
            "alerts_raised": {k: v for k, v in self.rules.raised_total.items() if v},
            "metadata_problems": len(self.report.streams[-1]["metadata_problems"]) if self.report.streams else None,
            "interrupted": self.interrupted,
        }
        if self.webhook is not None:
            summary.update(webhook_sent=self.webhook.sent, webhook_failures=self.webhook.failures,
                           webhook_dropped=self.webhook.dropped)
        if self.error is not None:
            summary["error"] = str(self.error)
        self._emit(summary)
        self.report.summary = {k: v for k, v in summary.items() if k != "type"}
        try:
            if self.config.report:
                write_report(self.config.report, self.report)
                self._say(f"report written to {self.config.report}")
        finally:
            if self.jsonl is not None:
                self.jsonl.close()
            self.exporter.close()
        return summary
