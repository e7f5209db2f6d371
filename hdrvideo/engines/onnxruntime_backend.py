"""The ONNX Runtime backend: the cached ONNX export in an ``InferenceSession``.

- Providers by device: ``CPUExecutionProvider`` on the CPU; on CUDA the TensorRT execution
  provider first when both it and the ``tensorrt`` package are present (its engines and
  timing cache go under ``<cache>/ort-tensorrt``, its shape profiles come from the spec),
  then ``CUDAExecutionProvider``, with the CPU provider last for any node the GPU ones
  leave.
- Threads: ``intra_op_num_threads`` = ``threads`` or ``torch.get_num_threads()`` (ONNX
  Runtime's default is one thread per physical core, which oversubscribes a machine where
  torch, decoders and encoders share the cores), ``inter_op_num_threads`` = 1 (sequential
  execution: these graphs are chains).
- ``fp16`` (CUDA only): the float16 export (float32 inputs and outputs, see
  :class:`hdrvideo.engines.onnx_export.Float16Compute`).
- Data: CPU tensors go in and come out as numpy arrays sharing memory with torch (no copy);
  CUDA tensors are bound in place with IO binding (``bind_input`` on ``data_ptr()``), and
  outputs allocated by ONNX Runtime on the device come back through DLPack. torch's
  current stream is synchronised before the run, since ONNX Runtime uses its own stream.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from hdrvideo.engines.base import INSTALL_HINTS, Engine, installed
from hdrvideo.engines.cache import resolve_cache_dir
from hdrvideo.engines.onnx_export import cached_onnx
from hdrvideo.engines.registry import ModelSpec
from hdrvideo.errors import UnsupportedError

_NUMPY_OF_TORCH = {torch.float32: np.float32, torch.float16: np.float16}


def import_onnxruntime():  # noqa: ANN201  (module)
    """``import onnxruntime``, or a clear :class:`UnsupportedError` naming what to install."""
    try:
        import onnxruntime
    except ImportError:
        raise UnsupportedError(f"the onnxruntime backend is not installed: {INSTALL_HINTS['onnxruntime']}") from None
    return onnxruntime


def cuda_providers_available() -> bool:
    """Whether this onnxruntime build has the CUDA (or TensorRT) execution provider."""
    ort = import_onnxruntime()
    available = set(ort.get_available_providers())
    return bool({"CUDAExecutionProvider", "TensorrtExecutionProvider"} & available)


def _profile_option(profiles: dict[str, tuple[tuple[int, ...], ...]], which: int) -> str:
    """ORT TensorRT-EP shape option text: ``"x:1x3x64x64,y:..."``."""
    return ",".join(f"{name}:{'x'.join(str(d) for d in shapes[which])}" for name, shapes in profiles.items())


def choose_providers(spec: ModelSpec, device: torch.device, *, fp16: bool, cache_dir: Path) -> list:
    """The provider list (names or ``(name, options)``) for ``device``.

    Raises:
        UnsupportedError: CUDA asked for and this onnxruntime has no CUDA provider.
    """
    ort = import_onnxruntime()
    if device.type != "cuda":
        return ["CPUExecutionProvider"]
    available = set(ort.get_available_providers())
    providers: list = []
    use_trt = "TensorrtExecutionProvider" in available and installed("tensorrt")
    if use_trt:
        from hdrvideo.engines.tensorrt_backend import derive_profiles

        profiles = derive_profiles(spec)
        trt_dir = cache_dir / "ort-tensorrt"
        trt_dir.mkdir(parents=True, exist_ok=True)
        options = {
            "device_id": device.index or 0,
            "trt_fp16_enable": bool(fp16),
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(trt_dir),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(trt_dir),
        }
        if profiles:
            options.update(
                trt_profile_min_shapes=_profile_option(profiles, 0),
                trt_profile_opt_shapes=_profile_option(profiles, 1),
                trt_profile_max_shapes=_profile_option(profiles, 2),
            )
        providers.append(("TensorrtExecutionProvider", options))
    if "CUDAExecutionProvider" in available:
        providers.append(("CUDAExecutionProvider", {"device_id": device.index or 0}))
    if not providers:
        raise UnsupportedError("this onnxruntime has no CUDA execution provider: pip install onnxruntime-gpu")
    providers.append("CPUExecutionProvider")
    return providers


class OnnxRuntimeEngine(Engine):
    """The ONNX export of ``spec`` run by ONNX Runtime; see the module docstring.

    Attributes:
        onnx_path: the ONNX file the session was made from.
        providers: the providers the session actually uses.
        threads: intra-op threads.
    """

    backend = "onnxruntime"

    def __init__(self, spec: ModelSpec, device: torch.device, *, fp16: bool = False,
                 cache_dir: str | os.PathLike[str] | None = None, threads: int | None = None,
                 onnx_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(spec, device, fp16=fp16)
        ort = import_onnxruntime()
        cache = resolve_cache_dir(cache_dir)
        self.onnx_path = Path(onnx_path) if onnx_path is not None else cached_onnx(spec, cache, fp16=fp16)
        self.threads = int(threads) if threads else max(1, torch.get_num_threads())
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        # No busy-waiting between runs: a spinning pool took the CPU from the OpenMP kernels
        # that run right after the network (tonemap=curve=net at 1080p: 27-32 ms -> 18 ms).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        providers = choose_providers(spec, device, fp16=fp16, cache_dir=cache)
        try:
            self.session = ort.InferenceSession(str(self.onnx_path), options, providers=providers)
        except Exception as error:  # noqa: BLE001  (onnxruntime raises its own types)
            raise UnsupportedError(f"onnxruntime could not load {self.onnx_path}: {str(error).splitlines()[0]}") from None
        self.providers = tuple(self.session.get_providers())
        if device.type == "cuda" and self.providers[0] == "CPUExecutionProvider":
            raise UnsupportedError("onnxruntime fell back to the CPU: its CUDA provider could not start (CUDA/cuDNN libraries?)")
        self._input_names = tuple(i.name for i in self.session.get_inputs())
        self._output_names = tuple(o.name for o in self.session.get_outputs())

    def _run(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        if self.device.type == "cuda":
            return self._run_cuda(inputs)
        feeds = {name: t.numpy() for name, t in zip(self._input_names, inputs)}
        outputs = self.session.run(list(self._output_names), feeds)
        return tuple(torch.from_numpy(np.ascontiguousarray(o)) for o in outputs)

    def _run_cuda(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        binding = self.session.io_binding()
        index = self.device.index or 0
        for name, tensor in zip(self._input_names, inputs):
            binding.bind_input(
                name=name,
                device_type="cuda",
                device_id=index,
                element_type=_NUMPY_OF_TORCH[tensor.dtype],
                shape=tuple(tensor.shape),
                buffer_ptr=tensor.data_ptr(),
            )
        for name in self._output_names:
            binding.bind_output(name, "cuda", index)
        torch.cuda.current_stream(self.device).synchronize()  # inputs written on torch's stream
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        results = []
        for value in binding.get_outputs():
            try:
                results.append(torch.from_dlpack(value))
            except (TypeError, RuntimeError, AttributeError):  # older onnxruntime: no DLPack on OrtValue
                results.append(torch.from_numpy(value.numpy()).to(self.device))
        # keep the inputs alive until the run is over (the binding holds raw pointers)
        del inputs
        return tuple(results)
