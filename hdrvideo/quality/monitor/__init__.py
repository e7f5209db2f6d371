"""Broadcast monitoring of HDR streams: ``hdrvideo monitor SOURCE``.

Rooms, one job each:

- :mod:`~hdrvideo.quality.measures`: per-frame measures (light level against the
  signalled MaxCLL/MaxFALL/mastering peak, gamut, clipping, black, frozen, flicker);
- :mod:`~hdrvideo.quality.monitor.rules`: thresholds with hold times, raise/clear events;
- :mod:`~hdrvideo.quality.monitor.source`: the decoding thread (files, growing files,
  stdin, network streams with reconnection);
- :mod:`~hdrvideo.quality.monitor.outputs`: JSON lines, webhook, Prometheus exporter;
- :mod:`~hdrvideo.quality.monitor.report`: the self-contained HTML report (inline SVG);
- :mod:`~hdrvideo.quality.monitor.runner`: :class:`Monitor`, which ties them together.
"""

from hdrvideo.quality.measures import (
    FrameMeasurer,
    Signalled,
    clipped_percent,
    frame_light_level,
    frozen_difference,
    mean_luminance,
    out_of_gamut_percent,
)
from hdrvideo.quality.monitor.rules import DEFAULT_RULES, AlertEvent, Rule, RuleEngine, load_rules_file, parse_rule, resolve_rules
from hdrvideo.quality.monitor.runner import MEASURES, Monitor, MonitorConfig

__all__ = [
    "AlertEvent",
    "DEFAULT_RULES",
    "FrameMeasurer",
    "MEASURES",
    "Monitor",
    "MonitorConfig",
    "Rule",
    "RuleEngine",
    "Signalled",
    "clipped_percent",
    "frame_light_level",
    "frozen_difference",
    "load_rules_file",
    "mean_luminance",
    "out_of_gamut_percent",
    "parse_rule",
    "resolve_rules",
]
