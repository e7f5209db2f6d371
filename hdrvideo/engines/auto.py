"""``backend="auto"`` on the CPU: measure torch and ONNX Runtime once per model, keep the faster.

Which CPU backend wins depends on the network (ONNX Runtime fuses convolutions with their
activations, torch's eager kernels win on some resize and reduction heavy graphs), the
thread count and the machine, so it is measured rather than fixed: both engines run the
model's ``example_inputs(1)`` (:data:`WARMUP` unmeasured calls, then :data:`RUNS` timed
ones, median), and the decision is written to
``<cache>/auto/<model>-<hash12>-<machine>-<threads>t.json`` with the timings, the torch and
onnxruntime versions. A later load with the same key reads the file and builds only the
winner. Where onnxruntime is not installed, torch is chosen without measuring.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from hdrvideo.engines.base import Engine, backend_status
from hdrvideo.engines.bench import bench_engine
from hdrvideo.engines.cache import key_lock, resolve_cache_dir, slug
from hdrvideo.io.atomic import write_bytes_atomic
from hdrvideo.engines.registry import ModelSpec, model_hash

#: Timed calls per backend in the measurement (after WARMUP calls).
RUNS = 5
WARMUP = 2


def decision_path(spec: ModelSpec, cache_dir: str | os.PathLike[str] | None, threads: int) -> Path:
    """Where the decision for ``spec`` on this machine and thread count is stored."""
    root = resolve_cache_dir(cache_dir)
    machine = slug(platform.machine() or "cpu")
    return root / "auto" / f"{spec.name}-{model_hash(spec)[:12]}-{machine}-{threads}t.json"


def _versions() -> dict[str, str]:
    versions = {"torch": torch.__version__}
    try:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return versions


def read_decision(path: Path) -> dict | None:
    """The stored decision, or ``None`` if missing, unreadable or made by other versions."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("versions") != _versions() or data.get("backend") not in ("torch", "onnxruntime"):
        return None
    return data


def choose_cpu_engine(spec: ModelSpec, *, cache_dir: str | os.PathLike[str] | None = None,
                      threads: int | None = None, compile: bool = False) -> Engine:  # noqa: A002
    """The faster of the torch and onnxruntime engines for ``spec`` on the CPU.

    ``compile=True`` asks for ``torch.compile``, which only the torch backend has: torch is
    chosen without measuring.
    """
    from hdrvideo.engines.torch_backend import TorchEngine

    cpu = torch.device("cpu")
    if compile or backend_status(cpu)["onnxruntime"] is not None:
        return TorchEngine(spec, cpu, compile=compile)
    from hdrvideo.engines.onnxruntime_backend import OnnxRuntimeEngine

    count = int(threads) if threads else max(1, torch.get_num_threads())
    path = decision_path(spec, cache_dir, count)
    with key_lock(path):
        decision = read_decision(path)
        if decision is not None:
            if decision["backend"] == "onnxruntime":
                return OnnxRuntimeEngine(spec, cpu, cache_dir=cache_dir, threads=count)
            return TorchEngine(spec, cpu)
        engines: dict[str, Engine] = {
            "torch": TorchEngine(spec, cpu),
            "onnxruntime": OnnxRuntimeEngine(spec, cpu, cache_dir=cache_dir, threads=count),
        }
        inputs = tuple(spec.example_inputs(1))
        timings = {name: bench_engine(engine, inputs, runs=RUNS, warmup=WARMUP).median_ms
                   for name, engine in engines.items()}
        winner = min(timings, key=timings.__getitem__)
        record = {
            "model": spec.name,
            "backend": winner,
            "median_ms": timings,
            "shapes": [list(t.shape) for t in inputs],
            "threads": count,
            "runs": RUNS,
            "versions": _versions(),
        }
        write_bytes_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
        return engines[winner]
