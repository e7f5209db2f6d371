"""Shared benchmark helpers: the 1080p test clip, timed runs, and table printing.

Timings are whole-process wall times with the process's own peak memory (``os.wait4``),
repeated A B A B so that drift of a noisy machine hits both sides; tables quote medians.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "data"


def clip_1080p(seconds: float = 4.0, fps: int = 24) -> Path:
    """The 1080p HDR10 pan-with-cut clip (made once from ../shared/data, cached in results/)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"pan_1080p_{seconds:g}s.mkv"
    if not path.exists():
        print(f"making {path.name} from the shared panoramas ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "make_sample.py"), str(path), "--width", "1920",
             "--height", "1080", "--seconds", str(seconds), "--fps", str(fps), "--crf", "18", "--preset", "fast"],
            check=True,
        )
    return path


@dataclass
class Run:
    wall_seconds: float
    peak_rss_mb: float
    returncode: int


@dataclass
class Series:
    name: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def wall_median(self) -> float:
        return statistics.median(r.wall_seconds for r in self.runs)

    @property
    def rss_median(self) -> float:
        return statistics.median(r.peak_rss_mb for r in self.runs)


def run_once(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command, return its wall time and its own peak resident memory."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"command failed ({code}): {' '.join(command)}\n{stderr[-2000:]}")
    return Run(wall, usage.ru_maxrss / 1024.0, code)


def alternate(series: list[Series], repeats: int, warmup: int = 1) -> None:
    """Run every series in turn (A B A B ...), ``warmup`` uncounted rounds first."""
    for round_index in range(warmup + repeats):
        for s in series:
            run = run_once(s.command)
            if round_index >= warmup:
                s.runs.append(run)


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
