"""``hdrvideo engines list|export|build|bench``: the engines from the command line.

- ``list [--json]``: every registered model (parameters, weights hash) and, for the CPU and
  CUDA, which backends can run here and why the others cannot;
- ``export MODEL [-o FILE.onnx] [--opset N] [-y]``: the checked ONNX export (into the cache
  when ``-o`` is not given); prints its path;
- ``build MODEL [--backend tensorrt] [--device cuda] [--cache DIR] [--fp32]``: builds and
  caches the engine (ONNX export, TensorRT plan, the ``auto`` decision), prints what is cached;
- ``bench MODEL [--backend auto] [--device cpu] [--batch N] [--size HxW] [--runs N] [--json]``:
  median latency per batch.

The lead wires :func:`add_parser` into ``hdrvideo.cli.build_parser`` (and ``"engines"``
into its ``_SUBCOMMANDS``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys

from hdrvideo.errors import InvalidInputError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # noqa: SLF001
    """Add the ``engines`` command and its sub-commands to ``subparsers``."""
    engines = subparsers.add_parser(
        "engines", help="list, export, build and benchmark the network engines (torch, ONNX Runtime, TensorRT)",
        description="Network engines: ONNX exports, TensorRT builds, the engine cache, latency.",
    )
    engines.set_defaults(run=lambda args: _usage(engines))
    sub = engines.add_subparsers(dest="engines_command", metavar="ACTION")

    p = sub.add_parser("list", help="models, their weights hash, and the backends available here")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser("export", help="export a model to ONNX (checked with onnx.checker)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-o", "--output", metavar="FILE.onnx", help="output file (default: into the engine cache)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the model's, 17)")
    p.add_argument("--cache", metavar="DIR", help="engine cache (default $HDRVIDEO_CACHE or ~/.cache/hdrvideo/engines)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing -o file")
    p.set_defaults(run=_cmd_export)

    p = sub.add_parser("build", help="build and cache an engine (TensorRT plan by default)")
    p.add_argument("model", metavar="MODEL", help="a model name, or 'all'")
    p.add_argument("--backend", default="tensorrt", help="tensorrt (default), onnxruntime, torch or auto")
    p.add_argument("--device", default=None, help="cuda (default for tensorrt), cpu, cuda:1")
    p.add_argument("--cache", metavar="DIR", help="engine cache (default $HDRVIDEO_CACHE or ~/.cache/hdrvideo/engines)")
    p.add_argument("--fp32", action="store_true", help="TensorRT: build a float32 engine instead of FP16")
    p.set_defaults(run=_cmd_build)

    p = sub.add_parser("bench", help="median latency per batch of a model on a backend")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--backend", default="auto", help="auto (default), torch, onnxruntime, tensorrt")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--size", metavar="HxW", help="spatial size of 4-D inputs (default: the model's example)")
    p.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--fp16", action="store_true", help="float16 (CUDA only)")
    p.add_argument("--cache", metavar="DIR", help="engine cache")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_bench)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# ----------------------------------------------------------------------------- list


def describe_models() -> dict:
    """What ``engines list`` prints: models and backend availability per device."""
    from hdrvideo.engines.base import BACKENDS, backend_status
    from hdrvideo.engines.registry import list_models, model_hash, parameter_count

    from hdrvideo.errors import HDRVideoError

    models = []
    for spec in list_models():
        try:
            module = spec.build()
        except HDRVideoError as error:  # e.g. weights not built yet: list it, say why
            models.append({"name": spec.name, "description": spec.description, "error": str(error)})
            continue
        models.append({
            "name": spec.name,
            "description": spec.description,
            "parameters": parameter_count(module),
            "weights": str(spec.weights_path) if spec.weights_path else None,
            "hash": model_hash(spec, module)[:12],
            "inputs": {name: list(t.shape) for name, t in zip(spec.input_names, spec.example_inputs(1))},
            "outputs": list(spec.output_names),
            "opset": spec.opset,
        })
    devices = {}
    for device in ("cpu", "cuda"):
        status = backend_status(device)
        devices[device] = {name: {"available": status[name] is None, "reason": status[name]} for name in BACKENDS}
    return {"models": models, "backends": devices}


def _cmd_list(args: argparse.Namespace) -> int:
    report = describe_models()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if not report["models"]:
        print("models: none registered")
    else:
        print("models:")
        width = max(len(m["name"]) for m in report["models"])
        for m in report["models"]:
            if "error" in m:
                print(f"  {m['name']:<{width}}  unavailable: {m['error']}")
                continue
            inputs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in m["inputs"].items())
            print(f"  {m['name']:<{width}}  {m['parameters']:>9,} params  hash {m['hash']}  inputs {inputs}")
            print(f"  {'':<{width}}  {m['description']}")
    print("backends:")
    for device, backends in report["backends"].items():
        for name, state in backends.items():
            text = "available" if state["available"] else f"unavailable: {state['reason']}"
            print(f"  {device:<4}  {name:<11}  {text}")
    return 0


# ----------------------------------------------------------------------------- export / build


def _cmd_export(args: argparse.Namespace) -> int:
    from hdrvideo.engines.onnx_export import cached_onnx, export_onnx
    from hdrvideo.engines.registry import get_model

    spec = get_model(args.model)
    if args.output:
        path = export_onnx(spec, args.output, opset=args.opset, overwrite=args.overwrite)
    else:
        path = cached_onnx(spec, args.cache, opset=args.opset)
    print(path)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from hdrvideo.engines.base import load_engine
    from hdrvideo.engines.registry import get_model, list_models

    specs = list_models() if args.model == "all" else [get_model(args.model)]
    if not specs:
        raise InvalidInputError("no models registered to build")
    device = args.device or ("cuda" if args.backend == "tensorrt" else "cpu")
    for spec in specs:
        engine = load_engine(spec, args.backend, device, cache_dir=args.cache,
                             fp16=False if args.fp32 else None)
        artefact = getattr(engine, "engine_path", None) or getattr(engine, "onnx_path", None)
        where = f" -> {artefact}" if artefact else ""
        print(f"{spec.name}: {engine.backend} on {engine.device}{' fp16' if engine.fp16 else ''}{where}")
    return 0


# ----------------------------------------------------------------------------- bench


def _parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip().lower())
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise InvalidInputError(f"--size {text!r}: expected HxW, e.g. 256x256")
    return int(match.group(1)), int(match.group(2))


def _cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from hdrvideo.engines.base import load_engine
    from hdrvideo.engines.bench import bench_engine
    from hdrvideo.engines.registry import get_model

    spec = get_model(args.model)
    if args.batch < 1 or args.runs < 1 or args.warmup < 0:
        raise InvalidInputError("--batch and --runs must be at least 1, --warmup at least 0")
    engine = load_engine(spec, args.backend, args.device, cache_dir=args.cache, fp16=True if args.fp16 else None)
    inputs = tuple(spec.example_inputs(args.batch))
    if args.size:
        height, width = _parse_size(args.size)
        resized = []
        for name, t in zip(spec.input_names, inputs):
            dynamic = spec.dynamic_axes.get(name, {})
            if t.dim() != 4 or not {2, 3} <= set(dynamic):
                raise InvalidInputError(f"model {spec.name}: input {name!r} {tuple(t.shape)} has no dynamic "
                                        "height and width: --size does not apply")
            resized.append(torch.nn.functional.interpolate(t, size=(height, width), mode="bilinear",
                                                           align_corners=False))
        inputs = tuple(resized)
    inputs = tuple(t.to(engine.device) for t in inputs)
    result = bench_engine(engine, inputs, runs=args.runs, warmup=args.warmup)
    if args.json:
        print(json.dumps(dataclasses.asdict(result) | {"per_item_ms": result.per_item_ms}, indent=2))
    else:
        shapes = ", ".join("x".join(map(str, s)) for s in result.shapes)
        print(f"{result.model} {result.backend} {result.device}{' fp16' if engine.fp16 else ''} inputs {shapes}: "
              f"median {result.median_ms:.3f} ms/batch ({result.per_item_ms:.3f} ms/item), "
              f"min {result.min_ms:.3f}, max {result.max_ms:.3f} over {result.runs} runs")
    return 0


__all__ = ["add_parser", "describe_models"]
