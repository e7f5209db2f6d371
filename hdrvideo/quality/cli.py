"""The ``hdrvideo score`` and ``hdrvideo monitor`` sub-commands.

Wired into :mod:`hdrvideo.cli` through :func:`add_parser`. Both are thin layers over
:func:`hdrvideo.quality.scoring.score_file` and :class:`hdrvideo.quality.monitor.Monitor`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hdrvideo.engines.base import BACKEND_CHOICES
from hdrvideo.errors import InvalidInputError

__all__ = ["add_parser", "run_monitor", "run_score"]

MONITOR_EPILOG = """\
sources: a file, a growing file (--follow), - (stdin), or a URL this FFmpeg opens:
  udp://127.0.0.1:5000  rtp://...  srt://host:port  rtmp://...  http(s)://.../index.m3u8

rules (--rule, repeatable): NAME:MEASURE<VALUE[:HOLD_SECONDS[:CLEAR_SECONDS]]  or  NAME:off
  e.g. --rule black:mean_nits<1.0:2  --rule lowq:nr_score<0.6:5  --rule flicker:off
measures: {measures}
defaults:
{defaults}
"""


def _time(text: str) -> float:
    from hdrvideo.cli import parse_time

    return parse_time(text, "time")


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value

    return parse


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is not in 0-65535")
    return value


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option {text!r}: expected KEY=VALUE (e.g. fifo_size=100000)")
    return key.strip(), value.strip()


# ----------------------------------------------------------------------------- score


def run_score(args: argparse.Namespace) -> int:
    """Handler of ``hdrvideo score``."""
    from hdrvideo.progress import Progress
    from hdrvideo.quality.scoring import score_file

    progress: Any = None
    if not args.nostats:
        progress = Progress(force=args.stats, label="score")
    result = score_file(
        args.input, args.output, ref=args.ref, metrics=args.metric, start_seconds=args.ss,
        duration_seconds=args.t, every=args.every, overwrite=args.y, progress=progress, backend=args.backend,
    )
    print(result.format())
    return 0


# ----------------------------------------------------------------------------- monitor


def run_monitor(args: argparse.Namespace) -> int:
    """Handler of ``hdrvideo monitor``."""
    from hdrvideo.io.atomic import check_output_path
    from hdrvideo.quality.monitor import MEASURES, Monitor, MonitorConfig
    from hdrvideo.quality.monitor.rules import DEFAULT_RULES, load_rules_file, parse_rule, resolve_rules

    if args.list_rules:
        for rule in DEFAULT_RULES:
            print(f"{rule.spec():40s} {rule.description}")
        return 0
    if args.source is None:
        raise InvalidInputError("monitor: give a SOURCE (file, -, or URL)")
    items: list[Any] = []
    if args.rules:
        items += load_rules_file(args.rules)
    items += [parse_rule(text) for text in args.rule]
    rules = resolve_rules(items, defaults=not args.no_default_rules, known_measures=MEASURES)
    for path in (args.report, args.jsonl):
        if path and path != "-":
            check_output_path(path, overwrite=args.y)
    if args.source == "-" and sys.stdin.isatty():
        raise InvalidInputError("monitor -: stdin is a terminal; pipe a stream into it")
    config = MonitorConfig(
        source=args.source, follow=args.follow, options=dict(args.option), rules=rules, nr=args.nr,
        nr_backend=args.backend, nr_every=args.nr_every, max_lag_seconds=args.max_lag, jsonl=args.jsonl,
        frame_records=not args.no_frame_records, webhook=args.webhook, metrics_port=args.metrics_port,
        metrics_addr=args.metrics_addr, report=args.report, duration_seconds=args.duration,
        max_frames=args.frames, open_timeout_seconds=args.open_timeout, read_timeout_seconds=args.read_timeout,
        idle_seconds=args.idle_timeout, analysis_width=args.analysis_width, device=args.device,
        quiet=args.quiet,
    )
    monitor = Monitor(config)
    summary = monitor.run()
    if not args.quiet:
        raised = ", ".join(f"{k} x{v}" for k, v in summary["alerts_raised"].items()) or "none"
        print(f"hdrvideo monitor: {summary['frames']} frame(s), {summary['reconnects']} reconnect(s), "
              f"{summary['frames_dropped']} dropped, {summary['corrupt_packets']} corrupt packet(s), "
              f"alerts: {raised}", file=sys.stderr)
    return 130 if summary["interrupted"] else 0


# ----------------------------------------------------------------------------- wiring


def add_parser(subparsers: Any) -> None:
    """Add ``score`` and ``monitor`` to an argparse sub-parser set (``set_defaults(run=...)``)."""
    from hdrvideo.quality.monitor import MEASURES
    from hdrvideo.quality.monitor.rules import DEFAULT_RULES
    from hdrvideo.quality.scoring import METRICS

    s = subparsers.add_parser(
        "score", help="per-frame quality scores of a video (NR network, PU21 metrics) to CSV / JSON lines",
        description="One row per frame: index, pts_seconds, each metric, frame MaxCLL and FALL (cd/m²).",
    )
    s.add_argument("input", metavar="IN", help="video (or still / sequence) to score")
    s.add_argument("--ref", metavar="REF", help="reference video for pu21psnr/pu21ssim/pu21msssim (same size and length)")
    s.add_argument("--metric", metavar="M[,M]", default=None,
                   help=f"metrics, comma-separated: {', '.join(METRICS)} (default: nriqa; with --ref: pu21psnr,pu21ssim)")
    s.add_argument("-o", "--output", required=True, metavar="OUT", help="scores.csv or scores.jsonl (written atomically)")
    s.add_argument("-ss", dest="ss", type=_time, default=None, metavar="TIME", help="start time")
    s.add_argument("-t", dest="t", type=_time, default=None, metavar="TIME", help="duration")
    s.add_argument("--every", type=_positive(int), default=1, metavar="N", help="score every Nth frame")
    s.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                   help="engine for the NR network")
    s.add_argument("-y", action="store_true", help="overwrite OUT")
    s.add_argument("-stats", "--stats", dest="stats", action="store_true", help="progress line even when not a terminal")
    s.add_argument("-nostats", "--nostats", dest="nostats", action="store_true", help="no progress line")
    s.set_defaults(run=run_score)

    defaults = "\n".join(f"  {r.spec():36s} {r.description}" for r in DEFAULT_RULES)
    m = subparsers.add_parser(
        "monitor", help="monitor a file or live HDR stream: measures, alerts, Prometheus, HTML report",
        description="Per-frame measures (NR score, light level vs signalled metadata, gamut, clipping, black, "
                    "frozen, flicker), alert rules with hold times, JSON lines, webhook, Prometheus /metrics.",
        epilog=MONITOR_EPILOG.format(measures=", ".join(MEASURES), defaults=defaults),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("source", nargs="?", metavar="SOURCE", help="file, - (stdin) or URL")
    m.add_argument("--follow", action="store_true", help="keep reading a growing file (like tail -f)")
    m.add_argument("--idle-timeout", type=_positive(float), default=10.0, metavar="S",
                   help="--follow: stop when the file has not grown for S seconds (default 10)")
    m.add_argument("--option", type=_option, action="append", default=[], metavar="K=V",
                   help="FFmpeg input option (timeout, fifo_size, overrun_nonfatal, ...); repeatable")
    nr = m.add_mutually_exclusive_group()
    nr.add_argument("--nr", dest="nr", action="store_true", default=None, help="require the NR score")
    nr.add_argument("--no-nr", dest="nr", action="store_false", help="no NR score")
    m.add_argument("--backend", default="auto", choices=BACKEND_CHOICES,
                   help="engine for the NR network")
    m.add_argument("--nr-every", type=_positive(int), default=1, metavar="N", help="NR score every Nth frame (at least)")
    m.add_argument("--max-lag", type=_positive(float), default=1.0, metavar="S",
                   help="seconds behind real time before NR scoring is thinned out (default 1)")
    m.add_argument("--rule", action="append", default=[], metavar="SPEC", help="add/replace/disable a rule; repeatable")
    m.add_argument("--rules", metavar="FILE", help="rules from a TOML or JSON file")
    m.add_argument("--no-default-rules", action="store_true", help="start from no rule")
    m.add_argument("--list-rules", action="store_true", help="print the default rules and exit")
    m.add_argument("--jsonl", metavar="FILE", help="JSON lines of stream, frame, alert and summary records (- = stdout)")
    m.add_argument("--no-frame-records", action="store_true", help="JSON lines without per-frame records")
    m.add_argument("--webhook", metavar="URL", help="POST alert events as JSON to URL (background thread)")
    m.add_argument("--metrics-port", type=_port, default=None, metavar="N", help="serve Prometheus /metrics on port N")
    m.add_argument("--metrics-addr", default="127.0.0.1", metavar="ADDR", help="address for /metrics (default 127.0.0.1)")
    m.add_argument("--report", metavar="FILE.html", help="HTML report written at the end (also after Ctrl-C)")
    m.add_argument("-y", action="store_true", help="overwrite the report and the JSON lines file")
    m.add_argument("--duration", type=_positive(float), default=None, metavar="S", help="stop after S seconds (wall clock)")
    m.add_argument("--frames", type=_positive(int), default=None, metavar="N", help="stop after N frames")
    m.add_argument("--open-timeout", type=_positive(float), default=5.0, metavar="S", help="live: opening timeout")
    m.add_argument("--read-timeout", type=_positive(float), default=2.0, metavar="S",
                   help="live: a read waiting longer means the stream dropped (then reconnect)")
    m.add_argument("--analysis-width", type=_positive(int), default=None, metavar="W",
                   help="measure a copy scaled to W pixels wide (faster; MaxCLL of small highlights reads lower)")
    m.add_argument("--device", default="cpu", metavar="DEV", help="where to convert, measure and score (cpu, cuda)")
    m.add_argument("-q", "--quiet", action="store_true", help="no log lines on stderr")
    m.set_defaults(run=run_monitor)
