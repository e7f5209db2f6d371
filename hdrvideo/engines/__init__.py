"""Running networks: one interface over torch, ONNX Runtime and TensorRT.

See :mod:`hdrvideo.engines.base` for the interface, :mod:`hdrvideo.engines.registry` for
the model registry, and ``engines/README.md`` for the build side and the cache layout.
"""

from hdrvideo.engines.base import BACKEND_CHOICES, BACKENDS, Engine, available_backends, backend_status, load_engine
from hdrvideo.engines.bench import BenchResult, bench_engine, relative_error
from hdrvideo.engines.cache import default_cache_dir
from hdrvideo.engines.onnx_export import cached_onnx, check_onnx, export_onnx
from hdrvideo.engines.registry import ModelSpec, get_model, list_models, model_hash, register_model

__all__ = [
    "BACKEND_CHOICES",
    "BACKENDS",
    "BenchResult",
    "Engine",
    "ModelSpec",
    "available_backends",
    "backend_status",
    "bench_engine",
    "cached_onnx",
    "check_onnx",
    "default_cache_dir",
    "export_onnx",
    "get_model",
    "list_models",
    "load_engine",
    "model_hash",
    "register_model",
    "relative_error",
]
