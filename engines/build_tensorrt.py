#!/usr/bin/env python3
"""Build (and cache) the TensorRT engine of every registered model; optionally time them.

    python engines/build_tensorrt.py [--cache DIR] [--device cuda:0] [--fp32] [--models a,b]
                                     [--bench] [--batch 1,4] [--runs 20]

Needs an NVIDIA GPU, a CUDA build of torch and ``pip install tensorrt`` (the
``hdrvideo[tensorrt]`` extra). Engines land in ``<cache>/tensorrt/`` keyed by model hash,
GPU, compute capability, TensorRT version and precision (see engines/README.md); a second
run finds them and builds nothing. With ``--bench`` it prints the median latency per batch
of torch (fp16), ONNX Runtime (when it has a CUDA provider) and TensorRT, and the largest
TensorRT - torch(fp32) difference relative to the output's magnitude.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from hdrvideo.engines import available_backends, bench_engine, list_models, load_engine, relative_error
from hdrvideo.errors import run_script


def _batches(text: str) -> list[int]:
    """``"1,4"`` -> ``[1, 4]``; argparse turns the ValueError into a usage error."""
    sizes = [int(b) for b in text.split(",")]
    if not sizes or min(sizes) < 1:
        raise ValueError(text)
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--fp32", action="store_true")
    parser.add_argument("--models", default="")
    parser.add_argument("--bench", action="store_true")
    parser.add_argument("--batch", type=_batches, default=_batches("1,4"), help="batch sizes, e.g. 1,4")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    wanted = {m for m in args.models.split(",") if m}
    specs = [s for s in list_models() if not wanted or s.name in wanted]
    if not specs:
        print("no registered models to build", file=sys.stderr)
        return 1
    for spec in specs:
        start = time.perf_counter()
        engine = load_engine(spec, "tensorrt", args.device, cache_dir=args.cache, fp16=not args.fp32)
        print(f"{spec.name}: {engine.engine_path} ({engine.engine_path.stat().st_size / 1e6:.1f} MB, "
              f"{time.perf_counter() - start:.1f} s incl. any build)")
        if not args.bench:
            continue
        backends = [b for b in available_backends(args.device) if b != "tensorrt"]
        for batch in args.batch:
            inputs = spec.example_inputs(batch)
            reference = load_engine(spec, "torch")(*inputs)
            on_device = tuple(t.to(engine.device) for t in inputs)
            row = [f"  batch {batch}: tensorrt {bench_engine(engine, on_device, runs=args.runs).median_ms:.3f} ms"
                   f" (rel err {relative_error(engine(*on_device), reference):.1e})"]
            for backend in backends:
                other = load_engine(spec, backend, args.device, cache_dir=args.cache,
                                    fp16=True if backend == "torch" else None)
                row.append(f"{backend} {bench_engine(other, on_device, runs=args.runs).median_ms:.3f} ms")
            print(", ".join(row))
    return 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main` with hdrvideo's errors as one line on stderr and their exit code."""
    return run_script(main, argv, Path(__file__).name)


if __name__ == "__main__":
    torch.backends.cudnn.benchmark = True
    sys.exit(run())
