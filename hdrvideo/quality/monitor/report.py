"""The monitor's end-of-run HTML report: self-contained, plots as inline SVG.

Memory stays bounded over hours: each plotted series is a :class:`Downsampled` of at most
``capacity`` buckets (when full, neighbouring buckets merge pairwise and the bucket width
doubles, keeping mean, min and max of each), and the alert list keeps the last
:data:`MAX_EVENTS` events.
"""

from __future__ import annotations

import html
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hdrvideo.color.pq import eotf_inverse_ST2084
from hdrvideo.io.atomic import atomic_output

__all__ = ["Downsampled", "MAX_EVENTS", "ReportData", "render_html", "write_report"]

MAX_EVENTS = 1000


class Downsampled:
    """A time series kept as at most ``capacity`` buckets of (t, mean, min, max, count)."""

    def __init__(self, capacity: int = 1200) -> None:
        self.capacity = max(int(capacity), 8)
        self.width = 1  # samples per bucket
        self.buckets: list[list[float]] = []  # [t_first, sum, min, max, count]
        self.count = 0

    def add(self, t: float, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        self.count += 1
        last = self.buckets[-1] if self.buckets else None
        if last is not None and last[4] < self.width:
            last[1] += value
            last[2] = min(last[2], value)
            last[3] = max(last[3], value)
            last[4] += 1
            return
        self.buckets.append([t, value, value, value, 1])
        if len(self.buckets) > self.capacity:
            merged = []
            for i in range(0, len(self.buckets), 2):
                a = self.buckets[i]
                if i + 1 < len(self.buckets):
                    b = self.buckets[i + 1]
                    a = [a[0], a[1] + b[1], min(a[2], b[2]), max(a[3], b[3]), a[4] + b[4]]
                merged.append(a)
            self.buckets = merged
            self.width *= 2

    def points(self) -> list[tuple[float, float, float, float]]:
        """``(t, mean, min, max)`` per bucket."""
        return [(b[0], b[1] / b[4], b[2], b[3]) for b in self.buckets]


@dataclass
class ReportData:
    """What the report shows, collected while monitoring (bounded)."""

    source: str
    series: dict[str, Downsampled] = field(default_factory=dict)
    events: deque = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    streams: deque = field(default_factory=lambda: deque(maxlen=100))
    notices: deque = field(default_factory=lambda: deque(maxlen=200))
    summary: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, t: float, value: float | None) -> None:
        self.series.setdefault(name, Downsampled()).add(t, value)


# --------------------------------------------------------------------------- SVG plotting

_W, _H, _L, _R, _T, _B = 900, 240, 60, 20, 14, 28
_COLOURS = {"max_cll_nits": "#d62728", "fall_nits": "#1f77b4", "mean_nits": "#2ca02c", "nr_score": "#9467bd"}


def _pq(v: float) -> float:
    import torch

    return float(eotf_inverse_ST2084(torch.tensor(max(v, 0.0), dtype=torch.float64)))


def _alert_spans(events: list[dict[str, Any]], t_end: float) -> list[tuple[float, float, str]]:
    spans, open_ = [], {}
    for e in events:
        if e.get("event") == "raise":
            open_[e["rule"]] = e["time_seconds"]
        elif e.get("event") == "clear" and e.get("rule") in open_:
            spans.append((open_.pop(e["rule"]), e["time_seconds"], e["rule"]))
    spans += [(t0, t_end, rule) for rule, t0 in open_.items()]
    return spans


def _svg_plot(title: str, lines: dict[str, list[tuple[float, float, float, float]]], *, pq_axis: bool,
              spans: list[tuple[float, float, str]], hlines: dict[str, float] | None = None) -> str:
    pts = [p for ps in lines.values() for p in ps]
    if not pts:
        return f"<p><em>{html.escape(title)}: no data</em></p>"
    t0 = min(p[0] for p in pts)
    t1 = max(max(p[0] for p in pts), t0 + 1e-6)
    f = _pq if pq_axis else (lambda v: v)
    values = [f(v) for p in pts for v in (p[2], p[3])] + [f(v) for v in (hlines or {}).values()]
    lo, hi = (0.0, 1.0) if pq_axis else (min(values), max(values))
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0

    def x(t: float) -> float:
        return _L + (t - t0) / (t1 - t0) * (_W - _L - _R)

    def y(v: float) -> float:
        return _H - _B - (f(v) - lo) / (hi - lo) * (_H - _B - _T)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
           f'role="img" aria-label="{html.escape(title)}">',
           f'<rect x="{_L}" y="{_T}" width="{_W - _L - _R}" height="{_H - _T - _B}" fill="#fafafa" stroke="#ccc"/>']
    for a, b, rule in spans:
        xa, xb = x(max(a, t0)), x(min(b, t1))
        out.append(f'<rect x="{xa:.1f}" y="{_T}" width="{max(xb - xa, 1.5):.1f}" height="{_H - _T - _B}" '
                   f'fill="#ff000022" stroke="#ff000066"><title>{html.escape(rule)}: {a:.2f}-{b:.2f} s</title></rect>')
    ticks = [0.1, 1, 10, 100, 1000, 10000] if pq_axis else [lo + (hi - lo) * k / 4 for k in range(5)]
    for v in ticks:
        yy = y(v) if pq_axis else _H - _B - (v - lo) / (hi - lo) * (_H - _B - _T)
        out.append(f'<line x1="{_L}" x2="{_W - _R}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e5e5e5"/>'
                   f'<text x="{_L - 4}" y="{yy + 4:.1f}" font-size="10" text-anchor="end">{v:g}</text>')
    for k in range(6):
        t = t0 + (t1 - t0) * k / 5
        out.append(f'<text x="{x(t):.1f}" y="{_H - 10}" font-size="10" text-anchor="middle">{t:.1f} s</text>')
    for name, value in (hlines or {}).items():
        out.append(f'<line x1="{_L}" x2="{_W - _R}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#444" '
                   f'stroke-dasharray="5,4"><title>{html.escape(name)} {value:g}</title></line>')
    for i, (name, ps) in enumerate(lines.items()):
        colour = _COLOURS.get(name, ["#8c564b", "#e377c2", "#7f7f7f"][i % 3])
        if len(ps) > 1 and any(p[2] != p[3] for p in ps):
            band = [f"{x(p[0]):.1f},{y(p[3]):.1f}" for p in ps] + [f"{x(p[0]):.1f},{y(p[2]):.1f}" for p in reversed(ps)]
            out.append(f'<polygon points="{" ".join(band)}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
        path = " ".join(f"{x(p[0]):.1f},{y(p[1]):.1f}" for p in ps)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.4"/>')
        out.append(f'<text x="{_L + 8 + 130 * i}" y="{_T + 12}" font-size="11" fill="{colour}">{html.escape(name)}</text>')
    out.append(f'<text x="{_W / 2}" y="{_T - 2}" font-size="11" text-anchor="middle">{html.escape(title)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "; ".join(_fmt(x) for x in v) or "none"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return "-" if v is None else str(v)


def render_html(data: ReportData) -> str:
    """The report as one HTML document (no external resources)."""
    events = list(data.events)
    t_end = float(data.summary.get("media_seconds") or 0.0)
    spans = _alert_spans(events, t_end)
    s = data.series
    pts = {k: s[k].points() for k in ("max_cll_nits", "fall_nits", "mean_nits") if k in s}
    signalled = {}
    for st in list(data.streams)[-1:]:
        if st.get("max_cll_nits"):
            signalled["signalled MaxCLL"] = float(st["max_cll_nits"])
        if st.get("mastering_peak_nits"):
            signalled["mastering peak"] = float(st["mastering_peak_nits"])
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>hdrvideo monitor report: {html.escape(data.source)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:960px}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ddd;padding:3px 8px;"
        "text-align:left;font-size:13px}th{background:#f3f3f3}.bad{color:#b00}</style></head><body>",
        f"<h1>Monitor report</h1><p>Source: <code>{html.escape(data.source)}</code></p>",
        "<h2>Summary</h2>", _table(list(data.summary.items())),
        "<h2>Light level</h2>",
        _svg_plot("frame MaxCLL / FALL / mean luminance (cd/m², PQ scale); red = alert raised", pts,
                  pq_axis=True, spans=spans, hlines=signalled),
    ]
    if "nr_score" in s and s["nr_score"].count:
        parts += ["<h2>No-reference quality</h2>",
                  _svg_plot("NR score (higher = better)", {"nr_score": s["nr_score"].points()}, pq_axis=False, spans=spans)]
    else:
        parts.append("<h2>No-reference quality</h2><p>NR scoring was off or unavailable.</p>")
    extra = {k: s[k].points() for k in ("gamut_pct", "clipped_pct") if k in s}
    if extra:
        parts += ["<h2>Gamut and clipping</h2>",
                  _svg_plot("% pixels outside BT.709 / clipped at the peak", extra, pq_axis=False, spans=spans)]
    parts.append("<h2>Streams and metadata checks</h2>")
    for st in data.streams:
        problems = st.get("metadata_problems") or []
        rows = [(k, v) for k, v in st.items() if k not in ("type", "metadata_problems")]
        parts.append(f"<h3>Connection {html.escape(str(st.get('connection')))}</h3>" + _table(rows))
        parts.append("<p class='bad'>" + "<br>".join(html.escape(p) for p in problems) + "</p>" if problems
                     else "<p>Metadata present and plausible.</p>")
    parts.append(f"<h2>Alerts ({len(events)} events)</h2>")
    if events:
        head = "<tr><th>time (s)</th><th>event</th><th>rule</th><th>condition</th><th>value</th></tr>"
        rows = "".join(
            f"<tr><td>{e['time_seconds']:.3f}</td><td>{html.escape(e['event'])}</td><td>{html.escape(e['rule'])}</td>"
            f"<td>{html.escape(e.get('condition', ''))}</td><td>{html.escape(_fmt(e.get('value')))}</td></tr>"
            for e in events)
        parts.append(f"<table>{head}{rows}</table>")
    else:
        parts.append("<p>No alert.</p>")
    if data.notices:
        parts.append("<h2>Notices</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in data.notices) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str, data: ReportData, *, overwrite: bool = True) -> None:
    """Write the report atomically (temporary name, then rename)."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(render_html(data), encoding="utf-8")
