"""Monitor: per-frame measures with known answers, rules with hold times, outputs, runner."""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import torch

from hdrvideo.color.luminance import luminance
from hdrvideo.color.primaries import convert_primaries
from hdrvideo.errors import HDRVideoError, InputNotFoundError, InvalidInputError, OutputError
from hdrvideo.quality.monitor import (
    DEFAULT_RULES,
    FrameMeasurer,
    Monitor,
    MonitorConfig,
    Rule,
    RuleEngine,
    Signalled,
    clipped_percent,
    frame_light_level,
    load_rules_file,
    mean_luminance,
    out_of_gamut_percent,
    parse_rule,
    resolve_rules,
)
from hdrvideo.quality.monitor.outputs import JsonLines, PrometheusExporter, Webhook
from hdrvideo.quality.monitor.report import Downsampled, ReportData, render_html
from hdrvideo.quality.monitor.source import StreamDecoder
from tests.test_monitor_media import segment_clip

torch.set_num_threads(1)


def flat(nits: float, h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.full((3, h, w), float(nits))


# ----------------------------------------------------------------------------- measures


def test_light_level_known_answers():
    assert frame_light_level(flat(1000.0)) == (1000.0, 1000.0)
    x = torch.zeros(3, 4, 5)
    x[1, 2, 3] = 1000.0  # one green pixel: max(R,G,B) = 1000 there, 0 elsewhere
    max_cll, fall = frame_light_level(x)
    assert max_cll == 1000.0 and fall == pytest.approx(1000.0 / 20)
    x[0, 0, 0] = -50.0  # negative light counts as 0
    assert frame_light_level(x)[1] == pytest.approx(1000.0 / 20)
    batch = torch.stack([flat(100.0), flat(300.0)])
    assert frame_light_level(batch) == (300.0, 200.0)


def test_mean_luminance_matches_colour_module():
    x = torch.rand(3, 16, 16) * 500
    assert mean_luminance(x) == pytest.approx(float(luminance(x, "bt2020").mean()), rel=1e-5)
    assert mean_luminance(flat(42.0)) == pytest.approx(42.0, rel=1e-6)


def test_gamut_bt709_content_is_inside_and_bt2020_green_is_outside():
    bt709 = torch.rand(3, 16, 16) * 300 + 0.1
    assert out_of_gamut_percent(convert_primaries(bt709, "bt709", "bt2020")) == 0.0
    green = torch.zeros(3, 8, 8)
    green[1] = 100.0
    assert out_of_gamut_percent(green) == 100.0
    half = convert_primaries(bt709[:, :8, :8], "bt709", "bt2020").clone()
    half[:, :4] = green[:, :4]
    assert out_of_gamut_percent(half) == pytest.approx(50.0)
    assert out_of_gamut_percent(torch.zeros(3, 4, 4)) == 0.0  # black is not judged


def test_clipped_percent():
    x = flat(100.0)
    x[:, :4] = 1000.0
    assert clipped_percent(x, 1000.0) == pytest.approx(50.0)
    assert clipped_percent(x, 4000.0) == 0.0
    with pytest.raises(InvalidInputError):
        clipped_percent(x, 0.0)


def test_bad_shapes_raise():
    with pytest.raises(InvalidInputError):
        frame_light_level(torch.zeros(4, 8, 8))
    with pytest.raises(InvalidInputError):
        FrameMeasurer().measure(torch.zeros(3, 0, 8))


def test_measurer_frozen_black_ratios():
    m = FrameMeasurer(Signalled(max_cll_nits=1000.0, max_fall_nits=400.0, mastering_peak_nits=1000.0))
    a = m.measure(flat(2000.0))
    assert a["frozen_diff"] is None and a["flicker_stops"] is None
    assert a["cll_ratio"] == pytest.approx(2.0) and a["fall_ratio"] == pytest.approx(5.0)
    assert a["mastering_ratio"] == pytest.approx(2.0) and a["clipped_pct"] == 100.0
    b = m.measure(flat(2000.0))
    assert b["frozen_diff"] == 0.0 and b["flicker_stops"] == 0.0
    c = m.measure(flat(0.0))
    assert c["mean_nits"] == 0.0 and c["frozen_diff"] > 0.5
    unsignalled = FrameMeasurer().measure(flat(100.0))
    assert unsignalled["cll_ratio"] is None and unsignalled["fall_ratio"] is None
    assert unsignalled["mastering_ratio"] is None


def test_measurer_flicker():
    m = FrameMeasurer(flicker_window=8)
    out = [m.measure(flat(100.0 if i % 2 else 200.0)) for i in range(10)]
    assert out[-1]["flicker_stops"] == pytest.approx(1.0)  # one stop up or down every frame
    assert out[-1]["flicker_rms_stops"] == pytest.approx(2.0)  # second difference +-2 stops
    fade = FrameMeasurer(flicker_window=8)
    out = [fade.measure(flat(10.0 * 2 ** (i / 8))) for i in range(10)]
    assert out[-1]["flicker_rms_stops"] == pytest.approx(0.0, abs=1e-6)  # a steady fade does not flicker
    assert out[-1]["flicker_stops"] == pytest.approx(1 / 8, rel=1e-4)
    fade.reset()
    assert fade.measure(flat(10.0))["flicker_stops"] is None


def test_signalled_from_side_data():
    from hdrvideo.io.metadata import ContentLightLevel, MasteringDisplay

    s = Signalled.from_side_data(MasteringDisplay.from_primaries("bt2020", max_luminance_nits=4000),
                                 ContentLightLevel(0, 300))
    assert s.max_cll_nits is None and s.max_fall_nits == 300 and s.peak_nits == 4000
    assert Signalled().peak_nits == 10000.0
    # A peak the decoder flags absent, or below ST 2086's floor (a unit mistake), is not a yardstick.
    from dataclasses import replace

    md = MasteringDisplay.from_primaries("bt2020", max_luminance_nits=1000)
    assert Signalled.from_side_data(replace(md, has_luminance=False)).mastering_peak_nits is None
    assert Signalled.from_side_data(replace(md, max_luminance_nits=0.1)).mastering_peak_nits is None


# ----------------------------------------------------------------------------- rules


def test_parse_rule():
    r = parse_rule("black:mean_nits<0.5:1.0")
    assert (r.name, r.measure, r.op, r.threshold, r.hold_seconds, r.clear_seconds) == ("black", "mean_nits", "<", 0.5, 1.0, None)
    r = parse_rule("hot:max_cll_nits >= 4000:0.5:2")
    assert (r.op, r.threshold, r.clear_after_seconds) == (">=", 4000.0, 2.0)
    assert parse_rule("black:off") == "black"
    assert parse_rule(r.spec()) == r
    for bad in ("black", "black:mean_nits", "black:mean_nits=0.5", "black:mean<x", "a:b<1:2:3:4", "black:mean_nits<1:-1",
                "bad name:mean_nits<1"):
        with pytest.raises(InvalidInputError):
            parse_rule(bad)


def test_rule_hold_raise_and_clear():
    engine = RuleEngine([Rule("black", "mean_nits", "<", 0.5, 1.0)])
    events = []
    for i in range(24 * 6):
        t = i / 24
        mean = 0.0 if 1.0 <= t < 3.0 else 100.0
        events += engine.update(t, {"mean_nits": mean}, frame_index=i)
    assert [(e.event, round(e.time_seconds, 3)) for e in events] == [("raise", 2.0), ("clear", 4.0)]
    assert events[0].since_seconds == pytest.approx(1.0) and events[0].frame_index == 48
    assert engine.raised_total == {"black": 1} and engine.active == []


def test_rule_short_fault_does_not_raise_and_unknown_values_keep_state():
    engine = RuleEngine([Rule("black", "mean_nits", "<", 0.5, 1.0, clear_seconds=0.0)])
    assert engine.update(0.0, {"mean_nits": 0.0}) == []
    assert engine.update(0.5, {"mean_nits": None}) == []  # unknown: no change
    assert [e.event for e in engine.update(1.0, {"mean_nits": 0.0})] == ["raise"]
    assert engine.update(1.5, {}) == []
    assert [e.event for e in engine.update(1.6, {"mean_nits": 5.0})] == ["clear"]  # clear_seconds 0
    assert engine.update(2.0, {"mean_nits": 0.0}) == [] and engine.update(2.9, {"mean_nits": 9.0}) == []
    assert engine.update(3.0, {"mean_nits": 0.0}) == []
    ended = RuleEngine([Rule("x", "v", ">", 1, 0.0)])
    ended.update(0.0, {"v": 2})
    (event,) = ended.close(5.0)
    assert event.event == "clear" and event.to_dict()["end_of_monitoring"] is True


def test_resolve_rules_defaults_override_disable():
    rules = resolve_rules([parse_rule("black:mean_nits<2:3"), "flicker"], known_measures=("mean_nits", *
                          {r.measure for r in DEFAULT_RULES}))
    names = {r.name: r for r in rules}
    assert "flicker" not in names and names["black"].threshold == 2.0 and "maxcll_lie" in names
    assert resolve_rules([], defaults=False) == []
    with pytest.raises(InvalidInputError, match="unknown measure"):
        resolve_rules([parse_rule("x:nope<1")], known_measures=("mean_nits",))
    with pytest.raises(InvalidInputError, match="does not exist"):
        resolve_rules(["nosuch"])


def test_rules_files(tmp_path):
    toml = tmp_path / "rules.toml"
    toml.write_text('[rules.black]\nwhen = "mean_nits < 1.0"\nhold_seconds = 2\n[rules.flicker]\noff = true\n')
    items = load_rules_file(toml)
    assert items[0] == Rule("black", "mean_nits", "<", 1.0, 2.0) and items[1] == "flicker"
    js = tmp_path / "rules.json"
    js.write_text(json.dumps({"rules": {"hot": {"when": "max_cll_nits > 4000", "hold_seconds": 0.5, "clear_seconds": 1}}}))
    (hot,) = load_rules_file(js)
    assert (hot.threshold, hot.hold_seconds, hot.clear_seconds) == (4000.0, 0.5, 1.0)
    js.write_text('{"rules": {"hot": {"when": "max_cll_nits ! 4000"}}}')
    with pytest.raises(InvalidInputError):
        load_rules_file(js)
    js.write_text("{not json")
    with pytest.raises(InvalidInputError):
        load_rules_file(js)
    with pytest.raises(InputNotFoundError):
        load_rules_file(tmp_path / "missing.toml")


# ----------------------------------------------------------------------------- outputs


def test_json_lines_and_non_finite(tmp_path):
    path = tmp_path / "x.jsonl"
    out = JsonLines(str(path))
    out.write({"type": "frame", "v": math.nan, "w": math.inf, "x": 1.5})
    out.close()
    assert json.loads(path.read_text()) == {"type": "frame", "v": None, "w": None, "x": 1.5}
    with pytest.raises(OutputError):
        JsonLines(str(tmp_path / "no" / "dir.jsonl"))


class _Recorder(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_posts_and_counts_failures():
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hook = Webhook(f"http://127.0.0.1:{server.server_port}/alerts", timeout_seconds=2)
        hook.write({"type": "alert", "rule": "black"})
        hook.close()
        assert hook.sent == 1 and hook.failures == 0 and _Recorder.received[-1]["rule"] == "black"
    finally:
        server.shutdown()
        server.server_close()
    dead = Webhook(f"http://127.0.0.1:{server.server_port}/gone", timeout_seconds=0.5, queue_size=2)
    start = time.monotonic()
    for _ in range(10):
        dead.write({"type": "alert"})  # never blocks the caller
    assert time.monotonic() - start < 0.1
    dead.close(wait_seconds=5)
    assert dead.failures >= 1 and dead.sent == 0 and dead.failures + dead.dropped == 10
    with pytest.raises(InvalidInputError):
        Webhook("ftp://example")


def test_prometheus_exporter_serves_metrics():
    exp = PrometheusExporter(("max_cll_nits", "mean_nits"), port=0)
    try:
        exp.set_frame({"max_cll_nits": 812.0, "mean_nits": None})
        exp.frames.inc(3)
        exp.alerts.labels("black").inc()
        text = urllib.request.urlopen(f"http://127.0.0.1:{exp.port}/metrics", timeout=2).read().decode()
        assert "hdrvideo_monitor_frame_max_cll_nits 812.0" in text
        assert "hdrvideo_monitor_frame_mean_nits NaN" in text
        assert "hdrvideo_monitor_frames_total 3.0" in text
        assert 'hdrvideo_monitor_alerts_total{rule="black"} 1.0' in text
    finally:
        exp.close()
    with pytest.raises(OutputError):
        PrometheusExporter((), port=0, addr="203.0.113.1")  # not an address of this machine


# ----------------------------------------------------------------------------- report


def test_downsampled_is_bounded_and_keeps_extremes():
    d = Downsampled(capacity=100)
    for i in range(10_000):
        d.add(i / 24, float(i % 97))
    d.add(1.0, None)
    pts = d.points()
    assert len(pts) <= 100 and d.count == 10_000
    assert min(p[2] for p in pts) == 0.0 and max(p[3] for p in pts) == 96.0
    assert pts[0][0] == 0.0


def test_render_html_self_contained():
    data = ReportData("udp://x")
    for i in range(50):
        data.add("max_cll_nits", i / 24, 100.0 + i)
        data.add("nr_score", i / 24, 0.5)
    data.events.append({"type": "alert", "event": "raise", "rule": "black", "time_seconds": 0.5,
                        "condition": "mean_nits < 0.5", "value": 0.0})
    data.streams.append({"connection": 1, "max_cll_nits": 1000, "metadata_problems": ["bad <thing>"]})
    data.summary = {"frames": 50}
    html = render_html(data)
    assert html.count("<svg") == 2 and "black" in html and "bad &lt;thing&gt;" in html
    assert "<script" not in html and "src=" not in html
    import re
    import xml.etree.ElementTree as ET

    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)  # well-formed inline SVG


# ----------------------------------------------------------------------------- runner


@pytest.fixture(scope="module")
def fault_clip(tmp_path_factory) -> Path:
    return segment_clip(tmp_path_factory.mktemp("mon") / "faults.ts",
                        [("normal", 0.5), ("black", 1.25), ("bright", 0.75)])


class _Double:
    """A stand-in NR scorer (plumbing tests only): the frame's mean luminance / 1000."""

    scale = "test double"

    def __init__(self):
        self.calls = 0

    def score(self, x):
        self.calls += 1
        return (x.mean() / 1000).reshape(1)


def test_monitor_file_end_to_end(fault_clip, tmp_path):
    jsonl, report = tmp_path / "m.jsonl", tmp_path / "m.html"
    double = _Double()
    rules = resolve_rules([parse_rule("maxcll_lie:cll_ratio>1.1:0.25")])
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.received.clear()
    try:
        mon = Monitor(MonitorConfig(str(fault_clip), jsonl=str(jsonl), report=str(report), scorer=double, nr_every=2,
                                    rules=rules, quiet=True, webhook=f"http://127.0.0.1:{server.server_port}/hook"))
        summary = mon.run()
    finally:
        server.shutdown()
        server.server_close()
    posted = [(r["rule"], r["event"]) for r in _Recorder.received]
    assert ("black", "raise") in posted and ("maxcll_lie", "raise") in posted and summary["webhook_failures"] == 0
    assert all(r["type"] == "alert" for r in _Recorder.received)  # alerts only, not frames
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    frames = [r for r in records if r["type"] == "frame"]
    assert summary["frames"] == len(frames) == 60 and summary["lag_max_seconds"] is None
    assert [f["index"] for f in frames] == list(range(60))
    scored = [f for f in frames if f["nr_score"] is not None]
    assert [f["index"] for f in scored] == list(range(0, 60, 2)) and double.calls == 30
    assert summary["nr_scored_frames"] == 30 and summary["nr_scale"] == "test double"
    raised = {r["rule"]: r["time_seconds"] for r in records if r["type"] == "alert" and r["event"] == "raise"}
    assert raised["black"] == pytest.approx(1.5, abs=1e-3)  # black from 0.5 s, held 1.0 s
    assert raised["maxcll_lie"] == pytest.approx(1.75 + 0.25, abs=1e-3)
    (stream,) = [r for r in records if r["type"] == "stream"]
    assert stream["hdr_format"] == "HDR10" and stream["max_cll_nits"] == 1000 and stream["metadata_problems"] == []
    assert records[-1]["type"] == "summary" and records[-1]["alerts_raised"]["black"] == 1
    html = report.read_text()
    assert "<svg" in html and "black" in html
    assert not list(tmp_path.glob(".*tmp*"))


def test_monitor_stops_after_frames_and_reads_stdin(fault_clip, monkeypatch):
    class _Stdin:
        buffer = open(fault_clip, "rb")  # noqa: SIM115

    monkeypatch.setattr(sys, "stdin", _Stdin)
    try:
        summary = Monitor(MonitorConfig("-", max_frames=5, nr=False, quiet=True)).run()
    finally:
        _Stdin.buffer.close()
    assert summary["frames"] == 5


def test_monitor_follow_growing_file(fault_clip, tmp_path):
    data = fault_clip.read_bytes()
    target = tmp_path / "growing.ts"
    target.write_bytes(b"")

    def grow():
        with open(target, "ab") as f:
            for i in range(0, len(data), len(data) // 4 + 1):
                f.write(data[i : i + len(data) // 4 + 1])
                f.flush()
                time.sleep(0.15)

    threading.Thread(target=grow, daemon=True).start()
    summary = Monitor(MonitorConfig(str(target), follow=True, idle_seconds=0.6, nr=False, quiet=True)).run()
    assert summary["frames"] == 60 and summary["lag_max_seconds"] is not None


def test_monitor_counts_corruption_and_goes_on(fault_clip, tmp_path):
    data = bytearray(fault_clip.read_bytes())
    n = len(data)
    for start in (n // 4, n // 2):  # two damaged stretches, 1.5 kB each, past the first keyframe
        data[start : start + 1500] = bytes((i * 37 + 11) % 256 for i in range(1500))
    damaged = tmp_path / "damaged.ts"
    damaged.write_bytes(bytes(data))
    summary = Monitor(MonitorConfig(str(damaged), nr=False, quiet=True)).run()
    assert 0 < summary["frames"] < 60 or summary["corrupt_frames"] > 0
    assert summary["corrupt_packets"] + summary["decode_errors"] + summary["corrupt_frames"] > 0, summary


def test_monitor_thins_nr_when_behind(fault_clip):
    mon = Monitor(MonitorConfig(str(fault_clip), scorer=_Double(), quiet=True))
    mon._adapt_nr(5.0)
    assert mon.nr_every == 2 and "every 2th frame" in mon.report.notices[-1]
    mon._last_nr_change -= 10
    mon._adapt_nr(0.0)
    assert mon.nr_every == 1
    mon.exporter.close()


def test_live_queue_drops_when_full():
    import queue

    q: queue.Queue = queue.Queue(maxsize=1)
    dec = StreamDecoder("udp://127.0.0.1:9", q, threading.Event())
    assert dec.live and dec.reconnect and dec.options["overrun_nonfatal"] == "1"
    dec._put_frame(("frame", 1))
    dec._put_frame(("frame", 2))
    assert dec.dropped == 1 and q.qsize() == 1


def test_bad_sources(tmp_path):
    with pytest.raises(InputNotFoundError):
        Monitor(MonitorConfig(str(tmp_path / "missing.ts"), nr=False))
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(InvalidInputError):
        Monitor(MonitorConfig(str(junk), nr=False, quiet=True)).run()
    with pytest.raises(InvalidInputError):
        StreamDecoder("udp://127.0.0.1:9", None, threading.Event(), follow=True)


# ----------------------------------------------------------------------------- CLI


def _parser():
    import argparse

    from hdrvideo.quality.cli import add_parser

    parser = argparse.ArgumentParser(prog="hdrvideo")
    add_parser(parser.add_subparsers())
    return parser


def test_cli_handler_monitor_file(fault_clip, tmp_path, capsys):
    report = tmp_path / "r.html"
    args = _parser().parse_args(["monitor", str(fault_clip), "--no-nr", "--report", str(report), "--jsonl", "-",
                                 "--no-frame-records", "--rule", "black:mean_nits<0.5:0.5", "--rule", "flicker:off", "-q"])
    assert args.run(args) == 0
    out = capsys.readouterr().out.splitlines()
    kinds = [json.loads(line)["type"] for line in out]
    assert "frame" not in kinds and kinds[-1] == "summary" and "alert" in kinds
    assert report.exists()
    args = _parser().parse_args(["monitor", str(fault_clip), "--report", str(report)])
    with pytest.raises(OutputError):  # exists, no -y: refused before any work
        args.run(args)
    args = _parser().parse_args(["monitor", str(fault_clip), "--rule", "black:nosuch<1"])
    with pytest.raises(InvalidInputError, match="unknown measure"):
        args.run(args)


def _wired() -> bool:
    from hdrvideo import cli

    return "monitor" in getattr(cli, "_SUBCOMMANDS", ())


@pytest.mark.skipif(not _wired(), reason="hdrvideo monitor not wired into hdrvideo/cli.py yet (lead)")
def test_cli_main_monitor(fault_clip, tmp_path, capsys):
    from hdrvideo.cli import main

    assert main(["monitor", str(fault_clip), "--no-nr", "--frames", "10", "-q"]) == 0
    assert main(["monitor", str(tmp_path / "missing.ts")]) == InputNotFoundError.exit_code
    assert "no such file" in capsys.readouterr().err
    assert main(["monitor", str(fault_clip), "--rule", "oops"]) != 0
    assert issubclass(InputNotFoundError, HDRVideoError)


def test_real_files_metadata_checks(shared_data):
    """Real HDR10 files (../shared/data): the reader's metadata validation reaches the stream record."""
    bad = Monitor(MonitorConfig(str(shared_data / "video/hdr10plus/hdr10-video-with-sdr-container.mp4"), nr=False,
                                quiet=True, max_frames=3, analysis_width=480))
    bad.run()
    (stream,) = bad.report.streams
    assert stream["width"] == 1920 and stream["max_cll_nits"] == 1000 and stream["mastering_peak_nits"] is None
    assert any("permuted" in p for p in stream["metadata_problems"])
    assert any("5 cd/m² floor" in p for p in stream["metadata_problems"])
    good = Monitor(MonitorConfig(str(shared_data / "video/hdr10/sample_with_colr_mdcv_and_clli.mp4"), nr=False,
                                 quiet=True, max_frames=3, analysis_width=480))
    summary = good.run()
    (stream,) = good.report.streams
    assert (stream["max_cll_nits"], stream["max_fall_nits"], stream["mastering_peak_nits"]) == (1100, 180, 1000)
    assert stream["metadata_problems"] == [] and summary["frames"] == 3
    assert 0 < summary["measured_max_cll_nits"] < 1100


def test_monitor_refuses_to_overwrite_the_jsonl_without_y(tmp_path, capsys):
    from hdrvideo.cli import main
    from hdrvideo.errors import OutputError

    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("keep me\n")
    code = main(["monitor", str(tmp_path / "missing.ts"), "--jsonl", str(jsonl), "-q"])
    assert code == OutputError.exit_code and jsonl.read_text() == "keep me\n"
    assert "already exists" in capsys.readouterr().err
