"""Latency measurement of an engine: median wall time per batch.

CUDA work is synchronised before each clock read, so the time is the whole batch, not its
launch.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from hdrvideo.engines.base import Engine
from hdrvideo.errors import InvalidInputError


@dataclass(frozen=True)
class BenchResult:
    """Latencies of ``runs`` calls (after ``warmup`` unmeasured ones), in milliseconds."""

    model: str
    backend: str
    device: str
    batch_size: int
    shapes: tuple[tuple[int, ...], ...]
    runs: int
    median_ms: float
    min_ms: float
    max_ms: float

    @property
    def per_item_ms(self) -> float:
        """Median latency divided by the batch size."""
        return self.median_ms / self.batch_size


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_engine(engine: Engine, inputs: tuple[torch.Tensor, ...] | None = None, *, batch_size: int = 1,
                 runs: int = 10, warmup: int = 2) -> BenchResult:
    """Time ``engine`` on ``inputs`` (default ``spec.example_inputs(batch_size)`` on the
    engine's device): ``warmup`` calls, then ``runs`` timed ones.

    Raises:
        InvalidInputError: runs < 1, warmup < 0 or batch_size < 1.
    """
    if runs < 1 or warmup < 0 or batch_size < 1:
        raise InvalidInputError(f"bench: runs ({runs}) and batch size ({batch_size}) must be >= 1, warmup ({warmup}) >= 0")
    if inputs is None:
        inputs = tuple(t.to(engine.device) for t in engine.spec.example_inputs(batch_size))
    batch = int(inputs[0].shape[0]) if inputs[0].dim() else 1
    for _ in range(warmup):
        engine(*inputs)
    _sync(engine.device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        engine(*inputs)
        _sync(engine.device)
        times.append((time.perf_counter() - start) * 1e3)
    return BenchResult(
        model=engine.spec.name,
        backend=engine.backend,
        device=str(engine.device),
        batch_size=batch,
        shapes=tuple(tuple(int(d) for d in t.shape) for t in inputs),
        runs=runs,
        median_ms=statistics.median(times),
        min_ms=min(times),
        max_ms=max(times),
    )


def relative_error(actual: Any, expected: Any) -> float:
    """Largest ``max |a - e| / max |e|`` over the outputs (tensors or tuples of tensors):
    how far one backend's outputs are from another's (the reference ``expected``)."""
    actual = actual if isinstance(actual, tuple) else (actual,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    return max(float((a.float().cpu() - e.float().cpu()).abs().max()) / (float(e.abs().max()) or 1.0)
               for a, e in zip(actual, expected))
