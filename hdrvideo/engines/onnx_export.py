"""ONNX export of a registered model, checked and cached.

Exporter choice (measured here, torch 2.13, onnx 1.23, onnxscript 0.7; a conv + pool +
bilinear-resize test network):

- ``torch.onnx.export(..., dynamo=False)`` (the TorchScript exporter): 0.2 s, writes the
  opset asked for (17), keeps the ``dynamic_axes`` names; torch warns it is deprecated.
- ``dynamo=True`` (the default since torch 2.9): 8.5 s for the same network, cannot write
  opset 17 (it raises to 18 after a failed down-conversion, printing a traceback) and warns
  that ``dynamic_axes`` should become ``dynamic_shapes``.

Both gave the same outputs in ONNX Runtime (max |diff| 6e-8). We use the TorchScript
exporter and fall back to the dynamo exporter (at opset >= 18) when the TorchScript one
fails or is gone from a future torch; ``exporter="dynamo"`` forces the latter.

``fp16=True`` exports a float16 graph with float32 inputs and outputs (weights stored in
float16, a Cast on every input and output): what a strongly typed TensorRT (11 and later,
where ``BuilderFlag.FP16`` is gone) builds FP16 kernels from, and what ONNX Runtime's CUDA
provider runs in half precision. On the test network it stays within 3e-4 (relative to the
largest output) of float32 torch, run by ONNX Runtime on the CPU.

Every file is checked with ``onnx.checker.check_model`` (given the path, so models over
2 GB with external data are checked too) and its input/output names are compared with the
spec before it is renamed into place.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import torch

from hdrvideo.engines.cache import key_lock, resolve_cache_dir, slug
from hdrvideo.engines.registry import ModelSpec, model_hash
from hdrvideo.errors import InvalidInputError, UnsupportedError
from hdrvideo.io.atomic import atomic_output

#: Exporters understood by :func:`export_onnx`.
EXPORTERS = ("torchscript", "dynamo")

#: Lowest opset the dynamo exporter writes.
DYNAMO_MIN_OPSET = 18

#: What to install for the ONNX side (the ``hdrvideo[onnx]`` extra).
ONNX_INSTALL_HINT = "pip install onnx onnxruntime (the hdrvideo[onnx] extra)"

#: Batch size of the example inputs traced at export (2, not 1, so no exporter can take
#: the batch axis for a constant).
EXPORT_BATCH = 2


def import_onnx():  # noqa: ANN201  (module)
    """``import onnx``, or a clear :class:`UnsupportedError` naming what to install."""
    try:
        import onnx
    except ImportError:
        raise UnsupportedError(f"ONNX export needs the onnx package: {ONNX_INSTALL_HINT}") from None
    return onnx


def onnx_cache_path(spec: ModelSpec, cache_dir: str | os.PathLike[str] | None = None, opset: int | None = None,
                    *, fp16: bool = False) -> Path:
    """``<cache>/onnx/<model>-<hash12>-opset<N>-torch<version>[-fp16].onnx`` (not created)."""
    opset = spec.opset if opset is None else opset
    root = resolve_cache_dir(cache_dir)
    torch_version = slug(torch.__version__.split("+")[0])
    suffix = "-fp16" if fp16 else ""
    return root / "onnx" / f"{spec.name}-{model_hash(spec)[:12]}-opset{opset}-torch{torch_version}{suffix}.onnx"


class Float16Compute(torch.nn.Module):
    """Wraps a module so that it computes in float16 between float32 inputs and outputs."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module.half()

    def forward(self, *inputs: torch.Tensor):  # noqa: ANN201  (whatever the module returns)
        result = self.module(*(t.half() for t in inputs))
        if isinstance(result, torch.Tensor):
            return result.float()
        if isinstance(result, dict):
            return {k: v.float() for k, v in result.items()}
        return tuple(t.float() for t in result)


def check_onnx(path: str | os.PathLike[str], spec: ModelSpec | None = None) -> None:
    """Run ``onnx.checker.check_model`` on ``path`` and compare graph names with ``spec``.

    Raises:
        InvalidInputError: the file is not a valid ONNX model or its names differ.
    """
    onnx = import_onnx()
    try:
        onnx.checker.check_model(str(path))
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001  (ValidationError, protobuf DecodeError, OSError)
        raise InvalidInputError(f"{path}: not a valid ONNX model ({str(error).splitlines()[0]})") from None
    if spec is not None:
        initializers = {i.name for i in model.graph.initializer}
        inputs = tuple(i.name for i in model.graph.input if i.name not in initializers)
        outputs = tuple(o.name for o in model.graph.output)
        if inputs != spec.input_names or outputs != spec.output_names:
            raise InvalidInputError(
                f"{path}: graph inputs {inputs} / outputs {outputs} differ from model {spec.name}'s "
                f"{spec.input_names} / {spec.output_names}"
            )


@contextlib.contextmanager
def _quiet_exporter():  # noqa: ANN202
    """Silence the exporters' deprecation chatter and progress prints (errors still raise)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _export(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], spec: ModelSpec, path: Path,
            opset: int, exporter: str) -> None:
    kwargs = dict(
        input_names=list(spec.input_names),
        output_names=list(spec.output_names),
        dynamic_axes={k: dict(v) for k, v in spec.dynamic_axes.items()} or None,
        opset_version=opset if exporter == "torchscript" else max(opset, DYNAMO_MIN_OPSET),
        do_constant_folding=True,
    )
    with _quiet_exporter(), torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(module, inputs, str(path), dynamo=False, **kwargs)
        else:
            torch.onnx.export(module, inputs, str(path), dynamo=True, external_data=False, **kwargs)


def export_onnx(
    spec: ModelSpec,
    path: str | os.PathLike[str],
    *,
    opset: int | None = None,
    exporter: str = "torchscript",
    module: torch.nn.Module | None = None,
    overwrite: bool = True,
    fp16: bool = False,
) -> Path:
    """Export ``spec``'s network to ONNX at ``path`` (atomically), check it, return ``path``.

    Args:
        spec: the model; traced on ``spec.example_inputs(2)`` (CPU, float32).
        path: output ``.onnx`` file (its folder must exist).
        opset: ONNX opset (default ``spec.opset``).
        exporter: ``"torchscript"`` (default; falls back to ``"dynamo"`` if it fails) or
            ``"dynamo"``.
        module: an already built module (default ``spec.build()``).
        overwrite: replace an existing file.
        fp16: export a float16 graph with float32 inputs and outputs (:class:`Float16Compute`).

    Raises:
        InvalidInputError: unknown exporter or opset out of range.
        UnsupportedError: onnx missing, or neither exporter could export the network.
        OutputError: the file cannot be written.
    """
    import_onnx()
    if exporter not in EXPORTERS:
        raise InvalidInputError(f"exporter {exporter!r}: expected one of {', '.join(EXPORTERS)}")
    opset = spec.opset if opset is None else int(opset)
    if not 7 <= opset <= 23:
        raise InvalidInputError(f"opset {opset}: expected 7..23")
    module = (module if module is not None else spec.build()).eval().float().cpu()
    if fp16:
        module = Float16Compute(module).eval()
    inputs = tuple(t.detach().float().cpu() for t in spec.example_inputs(EXPORT_BATCH))
    target = Path(path)
    with atomic_output(target, overwrite=overwrite) as temporary:
        try:
            _export(module, inputs, spec, temporary, opset, exporter)
        except Exception as first:  # noqa: BLE001  (any exporter failure: try the other one)
            if exporter == "dynamo":
                raise UnsupportedError(f"model {spec.name}: ONNX export failed ({_first_line(first)})") from first
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            try:
                _export(module, inputs, spec, temporary, opset, "dynamo")
            except Exception as second:  # noqa: BLE001
                raise UnsupportedError(
                    f"model {spec.name}: ONNX export failed with both exporters "
                    f"(torchscript: {_first_line(first)}; dynamo: {_first_line(second)})"
                ) from second
        check_onnx(temporary, spec)
    return target


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def cached_onnx(
    spec: ModelSpec,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    opset: int | None = None,
    module: torch.nn.Module | None = None,
    fp16: bool = False,
) -> Path:
    """The cached ONNX export of ``spec`` (exported on the first call, reused after).

    The key holds the model hash, the opset and the torch version, so new weights or a new
    exporter give a new file; a file that exists is trusted (it was renamed into place only
    after passing :func:`check_onnx`).
    """
    path = onnx_cache_path(spec, cache_dir, opset, fp16=fp16)
    with key_lock(path):
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(spec, path, opset=opset, module=module, overwrite=True, fp16=fp16)
    return path


__all__ = [
    "EXPORTERS",
    "Float16Compute",
    "cached_onnx",
    "check_onnx",
    "export_onnx",
    "import_onnx",
    "onnx_cache_path",
]
