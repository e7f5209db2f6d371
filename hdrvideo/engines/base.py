"""One interface to run a network on a batch of frames, whatever runs it.

::

    from hdrvideo.engines import load_engine

    engine = load_engine("tmnet", backend="auto", device="cuda")
    sdr = engine(hdr_batch)            # (N, 3, H, W) torch in, torch out, on the input's device

An :class:`Engine` is one (model, backend, device). Backends (:data:`BACKENDS`):

- ``torch``: the module itself, CPU or CUDA, ``torch.inference_mode``, optional
  ``torch.compile``, float16 on CUDA when ``fp16``;
- ``onnxruntime``: the cached ONNX export in an ``InferenceSession`` (CPU; CUDA / TensorRT
  execution providers when installed and the device is CUDA);
- ``tensorrt``: an FP16 TensorRT engine built from the same ONNX export, cached per GPU and
  TensorRT version.

``backend="auto"``: on CUDA the first available of tensorrt, onnxruntime (with a CUDA
provider), torch; on the CPU whichever of torch and onnxruntime measured faster for this
model (:mod:`hdrvideo.engines.auto`, decision cached on disk).

Inputs are float tensors of the shapes in the model's spec; outputs come back as float32
(whatever precision ran inside) on the device the first input was on.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import torch

from hdrvideo.engines.registry import ModelSpec, resolve_model
from hdrvideo.errors import InvalidInputError, UnsupportedError

#: Every backend, in no particular order; :func:`available_backends` orders them.
BACKENDS = ("torch", "onnxruntime", "tensorrt")

#: What a user may ask for: a backend, or ``auto`` (the fastest available, see :func:`load_engine`).
BACKEND_CHOICES = ("auto", *BACKENDS)

#: What to install for each optional backend.
INSTALL_HINTS = {
    "onnxruntime": "pip install onnx onnxruntime (the hdrvideo[onnx] extra; onnxruntime-gpu for CUDA)",
    "tensorrt": "pip install tensorrt pycuda (the hdrvideo[tensorrt] extra) on a machine with an NVIDIA GPU",
}


class Engine:
    """A network ready to run: call it with the model's inputs, get its outputs.

    Attributes:
        backend: one of :data:`BACKENDS`.
        device: where it runs (``cpu`` or ``cuda:<index>``).
        spec: the model.
        fp16: whether it computes in float16 (inputs and outputs stay float32).
        io_device: where :meth:`_run` takes its tensors: :attr:`device`, except for the
            TensorRT engine's pycuda fallback (a CPU-only torch), which copies host tensors.

    Subclasses implement :meth:`_run` on inputs already on :attr:`io_device`, float32 and
    contiguous.
    """

    backend: str = ""

    def __init__(self, spec: ModelSpec, device: torch.device, *, fp16: bool = False) -> None:
        self.spec = spec
        self.device = device
        self.io_device = device
        self.fp16 = fp16

    def __repr__(self) -> str:
        precision = "fp16" if self.fp16 else "fp32"
        return f"<{type(self).__name__} model={self.spec.name} backend={self.backend} device={self.device} {precision}>"

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Run the network.

        Args:
            inputs: one tensor per ``spec.input_names`` (e.g. ``(N, 3, H, W)`` float32);
                any device (moved to :attr:`device` and back).

        Returns:
            the single output tensor, or a tuple in ``spec.output_names`` order; float32, on
            the first input's device.

        Raises:
            InvalidInputError: wrong number of inputs or a non-tensor, non-float input.
        """
        names = self.spec.input_names
        if len(inputs) != len(names):
            raise InvalidInputError(
                f"model {self.spec.name} takes {len(names)} input(s) ({', '.join(names)}), got {len(inputs)}"
            )
        prepared = []
        for name, tensor in zip(names, inputs):
            if not isinstance(tensor, torch.Tensor):
                raise InvalidInputError(f"model {self.spec.name}: input {name} must be a torch.Tensor, not {type(tensor).__name__}")
            if not tensor.is_floating_point():
                raise InvalidInputError(f"model {self.spec.name}: input {name} must be floating point, not {tensor.dtype}")
            prepared.append(tensor.detach().to(self.io_device, torch.float32).contiguous())
        outputs = self._run(tuple(prepared))
        home = inputs[0].device
        outputs = tuple(o.to(home, torch.float32) for o in outputs)
        return outputs[0] if len(outputs) == 1 else outputs

    def _run(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError


# ----------------------------------------------------------------------------- devices


def resolve_device(device: str | torch.device) -> torch.device:
    """A concrete device: ``"cpu"``, ``"cuda"`` -> ``cuda:<current>``, ``"cuda:1"``.

    Raises:
        InvalidInputError: not a device name, or a device type other than cpu/cuda.
        UnsupportedError: CUDA asked for where torch has none (or the index is out of range).
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidInputError(f"device {device!r}: expected 'cpu', 'cuda' or 'cuda:<index>'") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise InvalidInputError(f"device {device!r}: engines run on 'cpu' or 'cuda' only")
    if not torch.cuda.is_available():
        raise UnsupportedError(
            f"device {device!r}: CUDA is not available here (torch {torch.__version__}, "
            "no NVIDIA GPU or a CPU-only torch build)"
        )
    index = torch.cuda.current_device() if dev.index is None else dev.index
    if index >= torch.cuda.device_count():
        raise UnsupportedError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return torch.device("cuda", index)


# ----------------------------------------------------------------------------- availability


def installed(package: str) -> bool:
    """Whether ``package`` can be imported (found by its spec, not imported)."""
    if package in sys.modules:
        return sys.modules[package] is not None
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def backend_status(device: str | torch.device = "cpu") -> dict[str, str | None]:
    """For each backend, ``None`` if it can run on ``device`` here, else the reason it cannot
    (with what to install). Imports nothing heavy (finds packages by their spec)."""
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    status: dict[str, str | None] = {}
    status["torch"] = None if not cuda or torch.cuda.is_available() else "torch has no CUDA here"
    if not installed("onnxruntime") or not installed("onnx"):
        status["onnxruntime"] = f"not installed: {INSTALL_HINTS['onnxruntime']}"
    elif cuda:
        from hdrvideo.engines.onnxruntime_backend import cuda_providers_available

        status["onnxruntime"] = None if cuda_providers_available() and torch.cuda.is_available() else (
            "this onnxruntime has no CUDA execution provider (pip install onnxruntime-gpu)"
            if torch.cuda.is_available() else "torch has no CUDA here (IO binding shares torch's CUDA tensors)"
        )
    else:
        status["onnxruntime"] = None
    if not installed("tensorrt"):
        status["tensorrt"] = f"not installed: {INSTALL_HINTS['tensorrt']}"
    elif not cuda:
        status["tensorrt"] = "runs on CUDA devices only (use --device cuda)"
    elif not torch.cuda.is_available():
        status["tensorrt"] = None if installed("pycuda") else (
            "torch has no CUDA here; install a CUDA build of torch (or pycuda for the host-copy fallback)"
        )
    else:
        status["tensorrt"] = None
    return status


def available_backends(device: str | torch.device = "cpu") -> list[str]:
    """Backends that can run on ``device`` here, fastest first.

    CUDA: tensorrt, onnxruntime, torch. CPU: onnxruntime, torch (ONNX Runtime's fused
    convolutions beat eager torch on the small networks measured here, see
    ``engines/README.md``; ``backend="auto"`` still measures per model).
    """
    dev = torch.device(device)
    order = ("tensorrt", "onnxruntime", "torch") if dev.type == "cuda" else ("onnxruntime", "torch")
    status = backend_status(dev)
    return [name for name in order if status.get(name) is None]


def _require(backend: str, device: torch.device) -> None:
    reason = backend_status(device)[backend]
    if reason is not None:
        raise UnsupportedError(f"backend {backend} cannot run on {device}: {reason}")


# ----------------------------------------------------------------------------- loading


def load_engine(
    model: str | ModelSpec,
    backend: str = "auto",
    device: str | torch.device = "cpu",
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    fp16: bool | None = None,
    compile: bool = False,  # noqa: A002  (the contract's name)
    threads: int | None = None,
) -> Engine:
    """Build an :class:`Engine` for ``model`` on ``device``.

    Args:
        model: registered name or a :class:`~hdrvideo.engines.registry.ModelSpec`.
        backend: ``"auto"`` or one of :data:`BACKENDS`.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``.
        cache_dir: engine cache (default ``$HDRVIDEO_CACHE`` or ``~/.cache/hdrvideo/engines``).
        fp16: compute in float16. ``None``: yes for TensorRT, no otherwise. Needs CUDA.
        compile: wrap the torch module in ``torch.compile`` (torch backend only).
        threads: CPU threads for ONNX Runtime's intra-op pool (default
            ``torch.get_num_threads()``, so both CPU backends use the same share).

    Raises:
        InvalidInputError: unknown model, backend or device name; fp16 on the CPU.
        UnsupportedError: the backend (or CUDA) is not available here; the message says
            what to install.
    """
    spec = resolve_model(model)
    if backend != "auto" and backend not in BACKENDS:
        raise InvalidInputError(f"backend {backend!r}: expected auto or one of {', '.join(BACKENDS)}")
    if compile and backend not in ("torch", "auto"):
        raise InvalidInputError(f"compile=True applies to the torch backend only, not {backend}")
    if backend == "tensorrt":
        _require("tensorrt", torch.device(device) if _is_device_name(device) else torch.device("cpu"))
        if not torch.cuda.is_available():  # pycuda fallback: the device is pycuda's, not torch's
            from hdrvideo.engines.tensorrt_backend import TensorRTEngine

            dev = torch.device(device)
            return TensorRTEngine(spec, torch.device("cuda", dev.index or 0), fp16=True if fp16 is None else fp16,
                                  cache_dir=Path(cache_dir) if cache_dir is not None else None)
    dev = resolve_device(device)
    if fp16 and dev.type != "cuda":
        raise InvalidInputError("fp16 needs a CUDA device (float16 on the CPU is slower than float32)")
    if threads is not None and threads < 1:
        raise InvalidInputError(f"threads {threads}: must be at least 1")
    cache = Path(cache_dir) if cache_dir is not None else None
    if backend == "auto":
        if dev.type == "cuda":  # compile=True: only torch compiles
            backend = "torch" if compile else available_backends(dev)[0]
        else:
            from hdrvideo.engines.auto import choose_cpu_engine

            return choose_cpu_engine(spec, cache_dir=cache, threads=threads, compile=compile)
    _require(backend, dev)
    if backend == "torch":
        from hdrvideo.engines.torch_backend import TorchEngine

        return TorchEngine(spec, dev, fp16=bool(fp16), compile=compile)
    if backend == "onnxruntime":
        from hdrvideo.engines.onnxruntime_backend import OnnxRuntimeEngine

        return OnnxRuntimeEngine(spec, dev, fp16=bool(fp16), cache_dir=cache, threads=threads)
    from hdrvideo.engines.tensorrt_backend import TensorRTEngine

    return TensorRTEngine(spec, dev, fp16=True if fp16 is None else fp16, cache_dir=cache)


def _is_device_name(device: str | torch.device) -> bool:
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        return False
    return True
