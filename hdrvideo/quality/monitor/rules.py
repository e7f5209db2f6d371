"""Alert rules: a threshold on a per-frame measure, held for a time before it raises.

A rule reads ``NAME:MEASURE OP VALUE[:HOLD[:CLEAR]]`` on the command line::

    black:mean_nits<0.5:1.0          raise when the mean luminance stays below 0.5 cd/m²
                                     for 1.0 s; clear after 1.0 s above it
    maxcll_lie:cll_ratio>1.1:0.5:2   measured MaxCLL 10 % above the signalled one for 0.5 s
    black:off                        disable a default rule

or, in a TOML/JSON file (``--rules FILE``)::

    [rules.black]
    when = "mean_nits < 0.5"
    hold_seconds = 1.0
    clear_seconds = 1.0        # optional, default = hold_seconds
    # off = true               # disable

Times are the stream's presentation times (seconds), so a file monitored faster than real
time raises at the same frames as the live stream would. A measure that is unknown for a
frame (``None``: the first frame has no previous one, a ratio without signalled metadata)
leaves the rule's state as it was. An operator of ``<``/``<=``/``>``/``>=``.
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hdrvideo.errors import InputNotFoundError, InvalidInputError

__all__ = ["AlertEvent", "DEFAULT_RULES", "Rule", "RuleEngine", "load_rules_file", "parse_rule", "resolve_rules"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+|inf)\s*$")


@dataclass(frozen=True)
class Rule:
    """Raise when ``measure OP threshold`` holds for ``hold_seconds``; clear when it has not
    held for ``clear_seconds`` (default: ``hold_seconds``)."""

    name: str
    measure: str
    op: str
    threshold: float
    hold_seconds: float = 0.0
    clear_seconds: float | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise InvalidInputError(f"rule {self.name}: operator {self.op!r} is not one of {', '.join(_OPS)}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", self.name):
            raise InvalidInputError(f"rule name {self.name!r}: use letters, digits, '_' and '-'")
        for what, value in (("hold", self.hold_seconds), ("clear", self.clear_seconds)):
            if value is not None and (not math.isfinite(value) or value < 0):
                raise InvalidInputError(f"rule {self.name}: {what} time must be >= 0 seconds, got {value}")

    @property
    def clear_after_seconds(self) -> float:
        return self.hold_seconds if self.clear_seconds is None else self.clear_seconds

    def holds(self, value: float | None) -> bool | None:
        """Whether the condition is true for ``value`` (``None``: unknown)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return bool(_OPS[self.op](float(value), self.threshold))

    @property
    def condition(self) -> str:
        return f"{self.measure} {self.op} {self.threshold:g}"

    def spec(self) -> str:
        """The command-line spelling of this rule."""
        clear = "" if self.clear_seconds is None else f":{self.clear_seconds:g}"
        return f"{self.name}:{self.measure}{self.op}{self.threshold:g}:{self.hold_seconds:g}{clear}"


#: The rules a monitor runs unless told otherwise (thresholds chosen for HDR10 broadcast).
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("black", "mean_nits", "<", 0.5, 1.0, description="black picture (mean luminance below 0.5 cd/m²)"),
    Rule("frozen", "frozen_diff", "<", 1e-4, 3.0, description="frozen picture (no change between frames)"),
    Rule("maxcll_lie", "cll_ratio", ">", 1.1, 0.5,
         description="content brighter than the signalled MaxCLL (metadata lie)"),
    Rule("maxfall_lie", "fall_ratio", ">", 1.1, 0.5,
         description="frame-average light level above the signalled MaxFALL (metadata lie)"),
    Rule("mastering_lie", "mastering_ratio", ">", 1.1, 0.5,
         description="content brighter than the mastering display's peak (ST 2086)"),
    Rule("clipping", "clipped_pct", ">", 5.0, 2.0, description="more than 5 % of pixels clipped at the peak"),
    Rule("flicker", "flicker_rms_stops", ">", 0.25, 2.0,
         description="brightness flicker (RMS second difference of log2 mean luminance)"),
)


def _number(text: Any, what: str, rule: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidInputError(f"rule {rule}: {what} {text!r} is not a number") from None
    if math.isnan(value):
        raise InvalidInputError(f"rule {rule}: {what} is NaN")
    return value


def _parse_condition(text: str, name: str) -> tuple[str, str, float]:
    m = _CONDITION.match(text)
    if not m:
        raise InvalidInputError(
            f"rule {name}: condition {text!r} is not MEASURE<VALUE or MEASURE>VALUE (e.g. mean_nits<0.5)"
        )
    return m.group(1), m.group(2), _number(m.group(3), "threshold", name)


def parse_rule(text: str) -> Rule | str:
    """Parse ``NAME:MEASURE OP VALUE[:HOLD[:CLEAR]]``; ``NAME:off`` returns the name to disable."""
    parts = [p.strip() for p in str(text).split(":")]
    if len(parts) < 2 or not parts[0]:
        raise InvalidInputError(f"rule {text!r}: expected NAME:MEASURE<VALUE[:HOLD[:CLEAR]] (e.g. black:mean_nits<0.5:1.0)")
    name = parts[0]
    if len(parts) == 2 and parts[1].lower() == "off":
        return name
    if len(parts) > 4:
        raise InvalidInputError(f"rule {text!r}: too many ':' fields")
    measure, op, threshold = _parse_condition(parts[1], name)
    hold = _number(parts[2], "hold time", name) if len(parts) > 2 and parts[2] else 0.0
    clear = _number(parts[3], "clear time", name) if len(parts) > 3 and parts[3] else None
    return Rule(name, measure, op, threshold, hold, clear)


def load_rules_file(path: str | Path) -> list[Rule | str]:
    """Rules from a ``.toml`` or ``.json`` file (a ``rules`` table of named entries)."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"{p}: no such rules file")
    try:
        if p.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10: the same parser as a package
                import tomli as tomllib

            data = tomllib.loads(p.read_text(encoding="utf-8"))
        else:
            data = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{p}: not valid {p.suffix.lstrip('.') or 'JSON'}: {error}") from None
    table = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise InvalidInputError(f"{p}: expected a 'rules' table of named rules")
    out: list[Rule | str] = []
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise InvalidInputError(f"{p}: rule {name}: expected a table")
        if entry.get("off"):
            out.append(str(name))
            continue
        unknown = sorted(set(entry) - {"when", "hold_seconds", "clear_seconds", "description", "off"})
        if unknown or "when" not in entry:
            raise InvalidInputError(f"{p}: rule {name}: needs 'when' (e.g. \"mean_nits < 0.5\"); unknown keys: {unknown}")
        measure, op, threshold = _parse_condition(str(entry["when"]), name)
        hold = _number(entry.get("hold_seconds", 0.0), "hold_seconds", name)
        clear = entry.get("clear_seconds")
        out.append(Rule(str(name), measure, op, threshold, hold,
                        None if clear is None else _number(clear, "clear_seconds", name),
                        str(entry.get("description", ""))))
    return out


def resolve_rules(items: list[Rule | str], *, defaults: bool = True, known_measures: tuple[str, ...] | None = None) -> list[Rule]:
    """Default rules (unless ``defaults`` is false), replaced or disabled by ``items`` in order."""
    rules: dict[str, Rule] = {r.name: r for r in DEFAULT_RULES} if defaults else {}
    for item in items:
        if isinstance(item, str):
            if item not in rules:
                raise InvalidInputError(f"rule {item}: cannot turn off a rule that does not exist ({', '.join(rules) or 'none'})")
            del rules[item]
        else:
            rules[item.name] = item
    if known_measures is not None:
        for rule in rules.values():
            if rule.measure not in known_measures:
                raise InvalidInputError(
                    f"rule {rule.name}: unknown measure {rule.measure!r}; known: {', '.join(known_measures)}"
                )
    return list(rules.values())


@dataclass
class AlertEvent:
    """A rule raising or clearing. ``time_seconds`` is on the monitor's timeline."""

    rule: str
    event: str  # "raise" | "clear"
    time_seconds: float
    measure: str
    value: float | None
    threshold: float
    condition: str
    frame_index: int | None = None
    since_seconds: float | None = None
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {"type": "alert", "event": self.event, "rule": self.rule, "time_seconds": round(self.time_seconds, 6),
             "measure": self.measure, "value": self.value, "threshold": self.threshold,
             "condition": self.condition, "frame_index": self.frame_index,
             "since_seconds": None if self.since_seconds is None else round(self.since_seconds, 6)}
        d.update(self.context)
        return d

    def message(self) -> str:
        verb = "RAISED" if self.event == "raise" else "cleared"
        value = "?" if self.value is None else f"{self.value:.4g}"
        return f"alert {verb}: {self.rule} ({self.condition}; value {value}) at {self.time_seconds:.3f} s"


@dataclass
class _State:
    active: bool = False
    true_since: float | None = None
    false_since: float | None = None
    raised_at: float | None = None


class RuleEngine:
    """Evaluate rules frame by frame; return the raise/clear events of each frame."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = list(rules)
        self._states = {r.name: _State() for r in self.rules}
        self.raised_total: dict[str, int] = {r.name: 0 for r in self.rules}

    @property
    def active(self) -> list[str]:
        return [name for name, s in self._states.items() if s.active]

    def update(self, time_seconds: float, measures: dict[str, float | None], *,
               frame_index: int | None = None, context: dict[str, Any] | None = None) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for rule in self.rules:
            state = self._states[rule.name]
            value = measures.get(rule.measure)
            holds = rule.holds(value)
            if holds is None:
                continue
            if holds:
                state.false_since = None
                if state.true_since is None:
                    state.true_since = time_seconds
                if not state.active and time_seconds - state.true_since >= rule.hold_seconds - 1e-9:
                    state.active, state.raised_at = True, time_seconds
                    self.raised_total[rule.name] += 1
                    events.append(AlertEvent(rule.name, "raise", time_seconds, rule.measure, value, rule.threshold,
                                             rule.condition, frame_index, state.true_since, dict(context or {})))
            else:
                state.true_since = None
                if state.active:
                    if state.false_since is None:
                        state.false_since = time_seconds
                    if time_seconds - state.false_since >= rule.clear_after_seconds - 1e-9:
                        state.active = False
                        events.append(AlertEvent(rule.name, "clear", time_seconds, rule.measure, value,
                                                 rule.threshold, rule.condition, frame_index, state.raised_at,
                                                 dict(context or {})))
        return events

    def close(self, time_seconds: float) -> list[AlertEvent]:
        """Clear every active alert (end of monitoring), as events with ``context['end']``."""
        events = []
        for rule in self.rules:
            state = self._states[rule.name]
            if state.active:
                state.active = False
                events.append(AlertEvent(rule.name, "clear", time_seconds, rule.measure, None, rule.threshold,
                                         rule.condition, None, state.raised_at, {"end_of_monitoring": True}))
        return events

    def reset(self) -> None:
        """Forget partial holds (kept: active alerts, which clear by their own rule)."""
        for state in self._states.values():
            state.true_since = None
            state.false_since = None

