"""The issue's "done when": monitor a real HDR10 MPEG-TS stream over UDP on 127.0.0.1.

A sender (a subprocess that plays an HDR10 HEVC 10-bit PQ MPEG-TS file in real time, stream
copy, as ``ffmpeg -re -c copy -f mpegts`` does) streams a clip with injected faults: a black
segment and a segment brighter than the signalled MaxCLL. ``hdrvideo monitor udp://...``
runs in another subprocess (through :func:`hdrvideo.quality.cli.add_parser`) with JSON lines,
a Prometheus endpoint and an HTML report. The sender then stops and a new one starts: the
monitor must reconnect and report the frames after the restart. Ctrl-C (SIGINT) ends it and
must still write the report. About 15 s.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_monitor_media import segment_clip

ROOT = Path(__file__).resolve().parents[1]
RATE = 24
# (kind, seconds): normal 0-1.5, black 1.5-3.0, bright (4000 cd/m² > MaxCLL 1000) 3.0-4.5, normal 4.5-5.5
SEGMENTS = [("normal", 1.5), ("black", 1.5), ("bright", 1.5), ("normal", 1.0)]
RESTART = [("normal", 1.5)]

MONITOR = """
import sys, torch
torch.set_num_threads(1)
import argparse
from hdrvideo.errors import HDRVideoError
from hdrvideo.quality.cli import add_parser
parser = argparse.ArgumentParser(prog="hdrvideo")
add_parser(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
try:
    sys.exit(args.run(args))
except HDRVideoError as error:
    print(f"hdrvideo: error: {error}", file=sys.stderr)
    sys.exit(error.exit_code)
"""


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _wait_metrics(port: int, proc: subprocess.Popen, seconds: float = 30.0) -> dict[str, float]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"monitor exited early: {proc.communicate()[1]}")
        try:
            return _metrics(port)
        except OSError:
            time.sleep(0.2)
    raise AssertionError("metrics endpoint never came up")


def _send(clip: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.test_monitor_media", "send", str(clip), url], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("live")
    return segment_clip(d / "faults.ts", SEGMENTS, rate=RATE), segment_clip(d / "restart.ts", RESTART, rate=RATE)


def test_live_udp_hdr10_alerts_metrics_reconnect(clips, tmp_path):
    clip1, clip2 = clips
    udp, metrics_port = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM)
    url = f"udp://127.0.0.1:{udp}"
    jsonl, report = tmp_path / "monitor.jsonl", tmp_path / "report.html"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    monitor = subprocess.Popen(
        [sys.executable, "-c", MONITOR, "monitor", url, "--no-nr", "--jsonl", str(jsonl), "--report", str(report),
         "--metrics-port", str(metrics_port), "--read-timeout", "1.0", "--open-timeout", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        _wait_metrics(metrics_port, monitor)
        time.sleep(0.5)  # the decoder thread is listening on the UDP port by now
        sender = _send(clip1, url)
        assert sender.wait(timeout=30) == 0, sender.stderr.read()
        time.sleep(2.0)  # the sender is gone: the read times out, the monitor reconnects
        sender = _send(clip2, url)
        assert sender.wait(timeout=30) == 0, sender.stderr.read()
        time.sleep(1.5)
        m = _metrics(metrics_port)
    finally:
        monitor.send_signal(signal.SIGINT)
        try:
            _, stderr = monitor.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            monitor.kill()
            _, stderr = monitor.communicate()
    assert monitor.returncode == 130, stderr

    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    frames = [r for r in records if r["type"] == "frame"]
    alerts = [r for r in records if r["type"] == "alert"]
    streams = [r for r in records if r["type"] == "stream"]
    summary = records[-1]
    assert summary["type"] == "summary" and summary["interrupted"] is True

    # The stream and its HDR10 metadata were seen, on both connections.
    assert [s["connection"] for s in streams] == [1, 2], streams
    for s in streams:
        assert s["hdr_format"] == "HDR10" and s["width"] == 128 and s["height"] == 72
        assert s["max_cll_nits"] == 1000 and s["max_fall_nits"] == 400 and s["mastering_peak_nits"] == 1000
        assert s["metadata_problems"] == []

    # Per-frame metrics of the first connection: most frames arrived, in real time.
    first = [f for f in frames if f["connection"] == 1]
    expected = int(sum(s for _, s in SEGMENTS) * RATE)
    assert len(first) + summary["frames_dropped"] >= expected - 12, (len(first), summary)
    normal = [f for f in first if f["time_seconds"] < 1.4]
    assert normal and all(f["max_cll_nits"] < 1000 for f in normal)
    black = [f for f in first if 1.6 < f["time_seconds"] < 2.9]
    assert black and all(f["mean_nits"] < 0.5 for f in black)
    bright = [f for f in first if 3.1 < f["time_seconds"] < 4.4]
    assert bright and all(3000 < f["max_cll_nits"] < 6000 for f in bright)

    # Alerts on the injected faults, with their hold times, and none elsewhere.
    raised = {a["rule"]: a for a in alerts if a["event"] == "raise"}
    assert "black" in raised and 2.4 <= raised["black"]["time_seconds"] <= 3.0, raised
    assert "maxcll_lie" in raised and 3.4 <= raised["maxcll_lie"]["time_seconds"] <= 4.5, raised
    assert set(raised) <= {"black", "maxcll_lie", "maxfall_lie", "mastering_lie"}, raised
    cleared = {a["rule"] for a in alerts if a["event"] == "clear" and not a.get("end_of_monitoring")}
    assert {"black", "maxcll_lie"} <= cleared

    # Survived the sender stopping and restarting: frames after the restart are reported.
    second = [f for f in frames if f["connection"] == 2]
    assert len(second) >= int(0.5 * RATE), (len(second), summary)
    assert summary["reconnects"] >= 1 and summary["connections"] >= 2
    assert min(f["time_seconds"] for f in second) > max(f["time_seconds"] for f in first)

    # Prometheus, fetched while it ran.
    assert m["hdrvideo_monitor_frames_total"] >= len(first)
    assert m["hdrvideo_monitor_reconnects_total"] >= 1
    assert m['hdrvideo_monitor_alerts_total{rule="black"}'] >= 1
    assert m['hdrvideo_monitor_alerts_total{rule="maxcll_lie"}'] >= 1
    assert 0 < m["hdrvideo_monitor_frame_max_cll_nits"] < 1000  # the restart clip is within MaxCLL
    assert m["hdrvideo_monitor_lag_seconds"] >= 0

    # Ctrl-C still wrote the report: self-contained, with plots and the alerts.
    html = report.read_text()
    assert "<svg" in html and "maxcll_lie" in html and "black" in html
    assert "<script" not in html and "<link" not in html and "src=" not in html  # no external resources
