"""The TensorRT backend: an FP16 engine built from the cached ONNX export (TensorRT 10 API,
and 11).

Build (once per model hash, GPU, compute capability, TensorRT version and precision):

1. the ONNX export (:func:`hdrvideo.engines.onnx_export.cached_onnx`) is parsed with
   ``trt.OnnxParser`` into a network made by ``builder.create_network(flags)`` (explicit
   batch is the only mode since TensorRT 10);
2. one optimisation profile (``builder.create_optimization_profile``, ``set_shape(name,
   min, opt, max)``) covers every dynamic input, from :func:`derive_profiles`;
3. FP16: on TensorRT 10 the float32 export with ``BuilderFlag.FP16`` (weak typing: TensorRT
   picks float16 kernels per layer where they are faster). TensorRT 11 removed weak typing
   and that flag (NVIDIA's 10.x -> 11.x migration guide): there the float16 export
   (float32 I/O, float16 inside, ``fp16=True`` in :func:`cached_onnx`) is parsed into a
   strongly typed network. :func:`fp16_strategy` decides from the module's attributes. The
   timing cache (``config.create_timing_cache`` /
   ``set_timing_cache``, saved back with ``ITimingCache.serialize``) lives beside the
   engines so later builds for the same GPU skip kernel timing;
4. ``builder.build_serialized_network`` -> the engine file, written atomically.

Run: ``trt.Runtime.deserialize_cuda_engine`` -> ``create_execution_context``; per call
``set_input_shape`` for each input, outputs allocated as torch CUDA tensors of
``context.get_tensor_shape``, every address set with ``set_tensor_address(name,
tensor.data_ptr())``, then ``execute_async_v3`` on torch's current CUDA stream, so the
result is ordered with the caller's own kernels without a host synchronisation.

Everything up to the ONNX file it consumes (cache key, profiles, paths) works without
TensorRT, and is what the tests check here; the TensorRT calls themselves need
``pip install tensorrt`` and an NVIDIA GPU.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import torch

from hdrvideo.engines.base import INSTALL_HINTS, Engine
from hdrvideo.engines.cache import key_lock, resolve_cache_dir, slug
from hdrvideo.io.atomic import write_bytes_atomic
from hdrvideo.engines.onnx_export import cached_onnx
from hdrvideo.engines.registry import ModelSpec, ShapeProfile, model_hash
from hdrvideo.errors import InvalidInputError, UnsupportedError

#: Builder workspace limit (bytes) for tactics that need scratch memory.
WORKSPACE_BYTES = 2 << 30

#: Derived profiles: the largest batch the engine accepts (at least the example's).
MAX_BATCH = 8

#: Derived profiles: non-batch dynamic axes range from size // SHRINK to size * GROW of the
#: example input (a 256x256 example -> 32..1024).
SHRINK = 8
GROW = 4


def import_tensorrt():  # noqa: ANN201  (module)
    """``import tensorrt``, or a clear :class:`UnsupportedError` naming what to install."""
    try:
        import tensorrt
    except ImportError:
        raise UnsupportedError(f"the tensorrt backend is not installed: {INSTALL_HINTS['tensorrt']}") from None
    return tensorrt


# ----------------------------------------------------------------------------- profiles


def derive_profiles(spec: ModelSpec) -> dict[str, ShapeProfile]:
    """(min, opt, max) shapes for every input that has dynamic axes.

    ``spec.shape_profiles`` wins where given. Otherwise from ``spec.example_inputs(1)``:
    opt = the example's shape; axis 0 (batch) ranges 1..max(:data:`MAX_BATCH`, example);
    other dynamic axes range ``size // SHRINK`` (at least 1) .. ``size * GROW``; static axes
    are fixed at the example's size.

    Raises:
        InvalidInputError: a given profile fixes an axis the example shows otherwise, or has
            the wrong rank.
    """
    dynamic = {name: set(spec.dynamic_axes.get(name, {})) for name in spec.input_names}
    if not any(dynamic.values()) and not spec.shape_profiles:
        return {}
    examples = dict(zip(spec.input_names, spec.example_inputs(1)))
    profiles: dict[str, ShapeProfile] = {}
    for name in spec.input_names:
        shape = tuple(int(d) for d in examples[name].shape)
        if name in spec.shape_profiles:
            low, opt, high = (tuple(int(d) for d in s) for s in spec.shape_profiles[name])
            if len(low) != len(shape):
                raise InvalidInputError(f"model {spec.name}: profile of {name} has rank {len(low)}, input has {len(shape)}")
            for axis, size in enumerate(shape):
                if axis not in dynamic[name] and axis != 0 and not (low[axis] == opt[axis] == high[axis] == size):
                    raise InvalidInputError(
                        f"model {spec.name}: profile of {name} varies axis {axis}, which is static ({size})"
                    )
            profiles[name] = (low, opt, high)
            continue
        if not dynamic[name]:
            continue
        low, high = list(shape), list(shape)
        for axis in dynamic[name]:
            if axis == 0:
                low[axis], high[axis] = 1, max(MAX_BATCH, shape[0])
            else:
                low[axis], high[axis] = max(1, shape[axis] // SHRINK), shape[axis] * GROW
        profiles[name] = (tuple(low), shape, tuple(high))
    return profiles


# ----------------------------------------------------------------------------- cache keys


def gpu_identity(device: torch.device) -> tuple[str, tuple[int, int]]:
    """(GPU name, compute capability) of a CUDA ``device`` (through torch, else pycuda)."""
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(device)
        return properties.name, (properties.major, properties.minor)
    cuda = _pycuda_driver()
    gpu = cuda.Device(device.index or 0)
    return gpu.name(), tuple(gpu.compute_capability())


# ----------------------------------------------------------------------------- CUDA context


def _pycuda_driver():  # noqa: ANN202  (module)
    try:
        import pycuda.driver as cuda
    except ImportError:
        raise UnsupportedError(f"torch has no CUDA here and pycuda is missing: {INSTALL_HINTS['tensorrt']}") from None
    cuda.init()
    return cuda


@contextlib.contextmanager
def cuda_context(device: torch.device) -> Iterator[None]:
    """Make ``device`` current: torch's when torch has CUDA, else pycuda's primary context."""
    if torch.cuda.is_available():
        with torch.cuda.device(device):
            yield
        return
    cuda = _pycuda_driver()
    context = cuda.Device(device.index or 0).retain_primary_context()
    context.push()
    try:
        yield
    finally:
        context.pop()


def engine_cache_name(spec: ModelSpec, gpu_name: str, capability: tuple[int, int], trt_version: str, *, fp16: bool) -> str:
    """``<model>-<hash12>-<gpu>-sm<XY>-trt<version>-<fp16|fp32>.engine``: a serialized
    engine only runs on the GPU model and TensorRT version that built it."""
    precision = "fp16" if fp16 else "fp32"
    return (
        f"{spec.name}-{model_hash(spec)[:12]}-{slug(gpu_name)}-sm{capability[0]}{capability[1]}"
        f"-trt{slug(trt_version)}-{precision}.engine"
    )


def timing_cache_name(gpu_name: str, capability: tuple[int, int], trt_version: str) -> str:
    """``timing-<gpu>-sm<XY>-trt<version>.cache``: shared by every model on that GPU."""
    return f"timing-{slug(gpu_name)}-sm{capability[0]}{capability[1]}-trt{slug(trt_version)}.cache"


# ----------------------------------------------------------------------------- build


_LOGGERS: dict[int, object] = {}


def _logger(trt):  # noqa: ANN001, ANN202
    """One ``trt.Logger`` per process (TensorRT warns when builder and runtime loggers differ)."""
    if id(trt) not in _LOGGERS:
        _LOGGERS[id(trt)] = trt.Logger(trt.Logger.WARNING)
    return _LOGGERS[id(trt)]


def fp16_strategy(trt) -> str:  # noqa: ANN001
    """``"builder-flag"`` where ``trt.BuilderFlag.FP16`` exists (TensorRT 10), else
    ``"strongly-typed"`` (TensorRT 11+: build from the float16 ONNX export)."""
    return "builder-flag" if hasattr(trt.BuilderFlag, "FP16") else "strongly-typed"


def build_serialized_engine(
    onnx_path: str | os.PathLike[str],
    profiles: dict[str, ShapeProfile],
    *,
    fp16: bool = True,
    strongly_typed: bool = False,
    timing_cache: str | os.PathLike[str] | None = None,
    workspace_bytes: int = WORKSPACE_BYTES,
) -> bytes:
    """Parse ``onnx_path`` with the TensorRT ONNX parser and build a serialized engine.

    Args:
        fp16: set ``BuilderFlag.FP16`` (ignored when ``strongly_typed``: the graph's own
            types decide).
        strongly_typed: create the network with ``NetworkDefinitionCreationFlag.STRONGLY_TYPED``
            (required on TensorRT 11, where it is the only mode).

    Raises:
        UnsupportedError: tensorrt missing, the parser rejects the model (its errors are
            quoted), or the build fails.
    """
    trt = import_tensorrt()
    logger = _logger(trt)
    builder = trt.Builder(logger)
    flags = 0
    if strongly_typed and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UnsupportedError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    if fp16 and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if profiles:
        profile = builder.create_optimization_profile()
        for name, (low, opt, high) in profiles.items():
            profile.set_shape(name, low, opt, high)
        config.add_optimization_profile(profile)
    cache_path = Path(timing_cache) if timing_cache is not None else None
    if cache_path is not None:
        data = cache_path.read_bytes() if cache_path.is_file() else b""
        config.set_timing_cache(config.create_timing_cache(data), True)  # ignore_mismatch
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UnsupportedError(f"TensorRT failed to build an engine from {onnx_path} (see its log above)")
    if cache_path is not None:
        write_bytes_atomic(cache_path, bytes(memoryview(config.get_timing_cache().serialize())))
    return bytes(memoryview(serialized))


def cached_engine_path(spec: ModelSpec, device: torch.device, *, fp16: bool = True,
                       cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Build (or find) the engine file for ``spec`` on ``device``; returns its path."""
    trt = import_tensorrt()
    root = resolve_cache_dir(cache_dir)
    gpu, capability = gpu_identity(device)
    path = root / "tensorrt" / engine_cache_name(spec, gpu, capability, trt.__version__, fp16=fp16)
    with key_lock(path):
        if not path.is_file():
            strongly_typed = fp16_strategy(trt) == "strongly-typed"
            onnx_path = cached_onnx(spec, root, fp16=fp16 and strongly_typed)
            with cuda_context(device):
                data = build_serialized_engine(
                    onnx_path, derive_profiles(spec), fp16=fp16, strongly_typed=strongly_typed,
                    timing_cache=root / "tensorrt" / timing_cache_name(gpu, capability, trt.__version__),
                )
            write_bytes_atomic(path, data)
    return path


# ----------------------------------------------------------------------------- run


def _torch_dtype(trt, dtype) -> torch.dtype:  # noqa: ANN001
    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
             trt.int8: torch.int8, trt.bool: torch.bool}
    if hasattr(trt, "int64"):
        table[trt.int64] = torch.int64
    if hasattr(trt, "bfloat16"):
        table[trt.bfloat16] = torch.bfloat16
    return table[dtype]


class TensorRTEngine(Engine):
    """A cached TensorRT engine for ``spec`` on a CUDA ``device``; see the module docstring.

    With a CPU-only torch (and ``pycuda`` installed) it falls back to host tensors: inputs
    are copied to pycuda device buffers, outputs copied back, on a pycuda stream
    (:attr:`io_device` is then the CPU).

    Attributes:
        engine_path: the serialized engine file.
    """

    backend = "tensorrt"

    def __init__(self, spec: ModelSpec, device: torch.device, *, fp16: bool = True,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(spec, device, fp16=fp16)
        trt = import_tensorrt()
        if device.type != "cuda":
            raise UnsupportedError("the tensorrt backend runs on CUDA devices only")
        self._pycuda = not torch.cuda.is_available()
        if self._pycuda:
            self.io_device = torch.device("cpu")
            self._stream = None
        self._trt = trt
        self.engine_path = cached_engine_path(spec, device, fp16=fp16, cache_dir=cache_dir)
        self._runtime = trt.Runtime(_logger(trt))
        with cuda_context(device):
            self._engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
            if self._engine is None:
                raise UnsupportedError(f"TensorRT could not load {self.engine_path} (delete it to rebuild)")
            self._context = self._engine.create_execution_context()
            if self._pycuda:
                self._stream = _pycuda_driver().Stream()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        modes = {name: self._engine.get_tensor_mode(name) for name in names}
        inputs = [n for n in names if modes[n] == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if modes[n] == trt.TensorIOMode.OUTPUT]
        if sorted(inputs) != sorted(spec.input_names) or sorted(outputs) != sorted(spec.output_names):
            raise UnsupportedError(
                f"{self.engine_path}: engine tensors {inputs} -> {outputs} differ from model {spec.name}'s "
                f"{spec.input_names} -> {spec.output_names} (delete it to rebuild)"
            )
        self._inputs, self._outputs = list(spec.input_names), list(spec.output_names)
        self._dtypes = {n: _torch_dtype(trt, self._engine.get_tensor_dtype(n)) for n in names}
        self._profiles = derive_profiles(spec)
        self._lock = threading.Lock()  # one execution context: shapes and addresses are per call

    def _set_shapes(self, inputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        feeds = []
        for name, tensor in zip(self._inputs, inputs):
            tensor = tensor.to(self._dtypes[name]).contiguous()
            if not self._context.set_input_shape(name, tuple(tensor.shape)):
                low, _, high = self._profiles.get(name, ((), (), ()))
                raise InvalidInputError(
                    f"model {self.spec.name}: input {name} of shape {tuple(tensor.shape)} is outside the "
                    f"TensorRT engine's profile {low}..{high}"
                )
            feeds.append(tensor)
        return feeds

    def _run(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        with self._lock:
            if self._pycuda:
                return self._run_pycuda(inputs)
            with torch.cuda.device(self.device):
                return self._run_torch_cuda(inputs)

    def _run_torch_cuda(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        context = self._context
        feeds = self._set_shapes(inputs)  # alive until enqueued; reuse is ordered on the same stream
        for name, tensor in zip(self._inputs, feeds):
            context.set_tensor_address(name, tensor.data_ptr())
        outputs = []
        for name in self._outputs:
            out = torch.empty(tuple(context.get_tensor_shape(name)), dtype=self._dtypes[name], device=self.device)
            context.set_tensor_address(name, out.data_ptr())
            outputs.append(out)
        stream = torch.cuda.current_stream(self.device)
        if not context.execute_async_v3(stream.cuda_stream):
            raise UnsupportedError(f"model {self.spec.name}: TensorRT execution failed")
        return tuple(outputs)

    def _run_pycuda(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        cuda = _pycuda_driver()
        context = self._context
        with cuda_context(self.device):
            feeds = [t.numpy() for t in self._set_shapes(inputs)]
            buffers = []
            for name, array in zip(self._inputs, feeds):
                buffer = cuda.mem_alloc(max(1, array.nbytes))
                cuda.memcpy_htod_async(buffer, array, self._stream)
                context.set_tensor_address(name, int(buffer))
                buffers.append(buffer)
            hosts = []
            for name in self._outputs:
                host = np.empty(tuple(context.get_tensor_shape(name)),
                                dtype=torch.empty((), dtype=self._dtypes[name]).numpy().dtype)
                buffer = cuda.mem_alloc(max(1, host.nbytes))
                context.set_tensor_address(name, int(buffer))
                buffers.append(buffer)
                hosts.append((host, buffer))
            if not context.execute_async_v3(self._stream.handle):
                raise UnsupportedError(f"model {self.spec.name}: TensorRT execution failed")
            for host, buffer in hosts:
                cuda.memcpy_dtoh_async(host, buffer, self._stream)
            self._stream.synchronize()
            for buffer in buffers:
                buffer.free()
        return tuple(torch.from_numpy(host) for host, _ in hosts)
