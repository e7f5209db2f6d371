#!/usr/bin/env python3
"""Export every registered model to ONNX, check it, and compare ONNX Runtime with torch.

    python engines/export_all.py [-o DIR] [--opset N] [--models a,b] [--threads N]

Writes ``DIR/<model>.onnx`` (default ``engines/onnx``; atomic, replaces old files) and
prints one row per model: parameters, weights hash, file size, export time, and the largest
ONNX Runtime - torch difference on ``example_inputs(2)`` relative to the largest output
magnitude. Exits 1 if any model fails the check or differs by more than 1e-4.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from hdrvideo.engines import export_onnx, list_models, model_hash, relative_error
from hdrvideo.engines.onnxruntime_backend import OnnxRuntimeEngine
from hdrvideo.engines.registry import parameter_count
from hdrvideo.engines.torch_backend import TorchEngine
from hdrvideo.errors import run_script

TOLERANCE = 1e-4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).resolve().parent / "onnx")
    parser.add_argument("--opset", type=int, default=None)
    parser.add_argument("--models", default="", help="comma-separated names (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    wanted = {m for m in args.models.split(",") if m}
    specs = [s for s in list_models() if not wanted or s.name in wanted]
    if not specs:
        print("no registered models to export", file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    print(f"{'model':<12} {'params':>10} {'hash':<12} {'MB':>7} {'export s':>8} {'ORT rel err':>11}")
    failed = False
    for spec in specs:
        module = spec.build()
        start = time.perf_counter()
        path = export_onnx(spec, args.output / f"{spec.name}.onnx", opset=args.opset, module=module)
        seconds = time.perf_counter() - start
        inputs = spec.example_inputs(2)
        cpu = torch.device("cpu")
        ort = OnnxRuntimeEngine(spec, cpu, threads=args.threads, onnx_path=path)  # the file just written
        error = relative_error(ort(*inputs), TorchEngine(spec, cpu, module=module)(*inputs))
        failed |= error > TOLERANCE
        print(f"{spec.name:<12} {parameter_count(module):>10,} {model_hash(spec, module)[:12]:<12} "
              f"{path.stat().st_size / 1e6:>7.2f} {seconds:>8.2f} {error:>11.2e}")
    return 1 if failed else 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main` with hdrvideo's errors as one line on stderr and their exit code."""
    return run_script(main, argv, Path(__file__).name)


if __name__ == "__main__":
    sys.exit(run())
