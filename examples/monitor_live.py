"""Monitor a live HDR10 stream from Python: alerts, per-frame measures, Prometheus, report.

    python examples/monitor_live.py udp://127.0.0.1:5000 --seconds 30
    python examples/monitor_live.py recording.ts            # a file works too

Send something to watch from another terminal, e.g.

    ffmpeg -re -i hdr10.mkv -c copy -f mpegts udp://127.0.0.1:5000

The same is available as ``hdrvideo monitor SOURCE --metrics-port 9100 --jsonl - --report
report.html``; this script shows the API: a custom rule added to the defaults, a stop after
a wall-clock time, and the summary it returns. Prometheus metrics are served on
http://127.0.0.1:9100/metrics while it runs.
"""

from __future__ import annotations

import argparse
import json

from hdrvideo.quality.monitor import Monitor, MonitorConfig, parse_rule, resolve_rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="file, - or URL (udp://, srt://, rtmp://, http(s) HLS...)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--report", default="monitor_report.html", help="HTML report written at the end")
    parser.add_argument("--metrics-port", type=int, default=9100)
    args = parser.parse_args()

    rules = resolve_rules([
        parse_rule("very_bright:max_cll_nits>4000:0.5"),  # an extra rule: peaks over 4000 cd/m² for 0.5 s
        parse_rule("black:mean_nits<0.5:2.0"),  # the default black rule, with a longer hold
    ])
    config = MonitorConfig(
        source=args.source, rules=rules, duration_seconds=args.seconds, report=args.report,
        metrics_port=args.metrics_port, jsonl="-", frame_records=False,  # alerts and notices on stdout
    )
    summary = Monitor(config).run()  # Ctrl-C stops it; the report is still written
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
