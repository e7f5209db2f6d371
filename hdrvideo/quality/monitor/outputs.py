"""Where monitoring records go: JSON lines, a webhook, and the Prometheus endpoint.

Records are dicts with a ``type``: ``"stream"`` (a connection's signalling and metadata
checks), ``"frame"`` (per-frame measures), ``"alert"`` (raise / clear), ``"notice"``
(reconnects, NR scoring thinned out, drops) and ``"summary"`` (at the end).

- :class:`JsonLines` writes one record per line to a file or stdout (``"-"``), flushed per
  line so that ``tail -f`` and log shippers see it live. It is a log, not a result file, so
  it is appended as it goes rather than written atomically (the HTML report is atomic).
- :class:`Webhook` POSTs alert records as JSON from a background thread with a timeout; a
  bounded queue means a dead endpoint never blocks decoding: records that do not fit are
  dropped and counted, failed POSTs are counted.
- :class:`PrometheusExporter` serves ``/metrics`` from its own
  :class:`prometheus_client.CollectorRegistry` (nothing global), bound to 127.0.0.1 unless
  told otherwise.
"""

from __future__ import annotations

import json
import math
import queue
import sys
import threading
import urllib.error
import urllib.request
from typing import IO, Any

from hdrvideo.errors import InvalidInputError, OutputError

__all__ = ["JsonLines", "PrometheusExporter", "Webhook", "jsonable"]


def jsonable(value: Any) -> Any:
    """Replace non-finite floats by ``None`` (JSON has no NaN/inf) and round long floats."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class JsonLines:
    """Append JSON records, one per line, to ``path`` (``"-"``: stdout)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines = 0
        self._lock = threading.Lock()
        if path == "-":
            self._file: IO[str] = sys.stdout
            self._owned = False
        else:
            try:
                self._file = open(path, "w", encoding="utf-8", buffering=1)
            except OSError as error:
                raise OutputError(f"{path}: cannot write JSON lines ({error.strerror or error})") from None
            self._owned = True

    def write(self, record: dict[str, Any]) -> None:
        text = json.dumps(jsonable(record), separators=(",", ":"), default=str)
        with self._lock:
            try:
                self._file.write(text + "\n")
                self._file.flush()
                self.lines += 1
            except (OSError, ValueError):
                pass  # a closed stdout must not stop the monitor

    def close(self) -> None:
        if self._owned:
            self._file.close()


class Webhook:
    """POST records as JSON to ``url`` from a daemon thread.

    Args:
        url: ``http://`` or ``https://`` endpoint.
        timeout_seconds: per request.
        queue_size: records waiting at most; beyond it records are dropped (``dropped``).

    Attributes ``sent``, ``failures`` and ``dropped`` count what happened.
    """

    def __init__(self, url: str, *, timeout_seconds: float = 2.0, queue_size: int = 256) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"--webhook {url!r}: expected an http:// or https:// URL")
        self.url = url
        self.timeout_seconds = float(timeout_seconds)
        self.sent = self.failures = self.dropped = 0
        self.last_error: str | None = None
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=int(queue_size))
        self._thread = threading.Thread(target=self._run, name="hdrvideo-webhook", daemon=True)
        self._thread.start()

    def write(self, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                return
            body = json.dumps(jsonable(record), default=str).encode()
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    response.read()
                self.sent += 1
            except (urllib.error.URLError, OSError, ValueError) as error:
                self.failures += 1
                self.last_error = str(error)

    def close(self, wait_seconds: float = 2.0) -> None:
        """Send what is queued (up to ``wait_seconds``), then stop the thread."""
        try:
            self._queue.put(None, timeout=wait_seconds)
        except queue.Full:
            return
        self._thread.join(wait_seconds)


class PrometheusExporter:
    """Gauges and counters of a monitor, served at ``http://ADDR:PORT/metrics``.

    Metric names (prefix ``hdrvideo_monitor_``): ``frame_<measure>`` gauges (last value of
    each per-frame measure, NaN when unknown), ``nr_score`` (last no-reference score),
    ``lag_seconds``, ``nr_every`` (NR scored every Nth frame), ``alert_active{rule}``;
    counters ``frames_total``, ``frames_dropped_total``, ``corrupt_packets_total``,
    ``corrupt_frames_total``, ``decode_errors_total``, ``reconnects_total``,
    ``alerts_total{rule}``, ``webhook_failures_total``; ``stream_metadata_problems``.

    ``port=0`` picks a free port (read :attr:`port`); ``port=None`` serves nothing (the
    registry still works, for tests and embedding).
    """

    PREFIX = "hdrvideo_monitor_"

    def __init__(self, measures: tuple[str, ...], *, port: int | None = None, addr: str = "127.0.0.1") -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry(auto_describe=True)
        p, r = self.PREFIX, self.registry
        self.frame = {m: Gauge(f"{p}frame_{m}", f"last frame's {m}", registry=r) for m in measures}
        self.nr_score = Gauge(f"{p}nr_score", "last no-reference quality score (scorer's scale)", registry=r)
        self.lag_seconds = Gauge(f"{p}lag_seconds", "how far measurement is behind real time (s)", registry=r)
        self.nr_every = Gauge(f"{p}nr_every", "NR score computed every Nth frame", registry=r)
        self.alert_active = Gauge(f"{p}alert_active", "1 while the rule's alert is raised", ["rule"], registry=r)
        self.metadata_problems = Gauge(f"{p}stream_metadata_problems", "problems found in the signalled HDR metadata",
                                       registry=r)
        self.frames = Counter(f"{p}frames", "frames measured", registry=r)
        self.dropped = Counter(f"{p}frames_dropped", "decoded frames dropped because measurement was behind", registry=r)
        self.corrupt_packets = Counter(f"{p}corrupt_packets", "packets flagged corrupt by the demuxer", registry=r)
        self.corrupt_frames = Counter(f"{p}corrupt_frames", "frames flagged corrupt by the decoder", registry=r)
        self.decode_errors = Counter(f"{p}decode_errors", "packets the decoder rejected", registry=r)
        self.reconnects = Counter(f"{p}reconnects", "times the source was opened again after a drop", registry=r)
        self.alerts = Counter(f"{p}alerts", "alerts raised", ["rule"], registry=r)
        self.webhook_failures = Counter(f"{p}webhook_failures", "webhook POSTs that failed", registry=r)
        for gauge in (*self.frame.values(), self.nr_score, self.lag_seconds):
            gauge.set(math.nan)
        self._server = None
        self.port: int | None = None
        self.addr = addr
        if port is not None:
            from prometheus_client import start_http_server

            try:
                self._server, _thread = start_http_server(int(port), addr=addr, registry=self.registry)
            except OSError as error:
                raise OutputError(f"--metrics-port {port}: cannot listen on {addr}:{port} ({error.strerror or error})") from None
            self.port = int(self._server.server_port)

    def set_frame(self, measures: dict[str, float | None]) -> None:
        for name, gauge in self.frame.items():
            value = measures.get(name)
            gauge.set(math.nan if value is None else float(value))

    def text(self) -> str:
        """The exposition text (what ``/metrics`` serves)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
