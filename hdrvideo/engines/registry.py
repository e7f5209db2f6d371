"""The model registry: every network an engine can run, described once.

A :class:`ModelSpec` says how to build the network with its shipped weights and what its
inputs look like (names, dynamic axes, TensorRT shape profiles). The network modules in
:mod:`hdrvideo.nn` call :func:`register_model` at import; :func:`list_models` imports
:mod:`hdrvideo.nn` first, so the list is complete whoever asks.

The engines never define networks (``docs/ARCHITECTURE.md``): they only need ``build`` and
the shapes. :func:`model_hash` is the identity of a model in every on-disk cache key.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hdrvideo.errors import InvalidInputError

#: A TensorRT optimisation profile for one input: (min, opt, max) shapes.
ShapeProfile = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class ModelSpec:
    """How to build and feed one shipped network.

    Attributes:
        name: registry name (``"tmnet"``, ``"nriqa"``); lower case, no spaces.
        description: one line for ``hdrvideo engines list``.
        build: returns the ``torch.nn.Module`` with its shipped weights loaded, in eval mode,
            float32, on the CPU.
        example_inputs: batch size -> input tensors of realistic shapes (CPU, float32), used
            for ONNX export, the ``auto`` backend measurement and ``engines bench``.
        input_names, output_names: ONNX graph names, in ``forward`` order.
        dynamic_axes: ``{tensor name: {axis: symbolic name}}`` as ``torch.onnx.export`` takes it.
        shape_profiles: ``{input name: (min, opt, max)}`` shapes for the TensorRT optimisation
            profile; inputs with dynamic axes and no entry get one derived from
            ``example_inputs`` (see :func:`hdrvideo.engines.tensorrt_backend.derive_profiles`).
        weights_path: the shipped weights file, hashed into cache keys; ``None``: the
            ``state_dict`` of ``build()`` is hashed.
        opset: ONNX opset of the export.
    """

    name: str
    description: str
    build: Callable[[], torch.nn.Module]
    example_inputs: Callable[[int], tuple[torch.Tensor, ...]]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]] = field(default_factory=dict)
    shape_profiles: dict[str, ShapeProfile] = field(default_factory=dict)
    weights_path: Path | None = None
    opset: int = 17


_REGISTRY: dict[str, ModelSpec] = {}
_LOCK = threading.Lock()
#: id(spec) -> (spec, hash); the spec is kept so that its id cannot be reused by another.
_HASHES: dict[int, tuple[ModelSpec, str]] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (replacing one of the same name) and return it.

    Raises:
        InvalidInputError: the spec is inconsistent (empty name, names of dynamic axes or
            shape profiles that are not inputs/outputs).
    """
    if not spec.name or spec.name != spec.name.strip() or " " in spec.name:
        raise InvalidInputError(f"model name {spec.name!r}: must be a non-empty word")
    if not spec.input_names or not spec.output_names:
        raise InvalidInputError(f"model {spec.name}: input_names and output_names must not be empty")
    known = set(spec.input_names) | set(spec.output_names)
    unknown = sorted(set(spec.dynamic_axes) - known)
    if unknown:
        raise InvalidInputError(f"model {spec.name}: dynamic_axes names {unknown} are not inputs or outputs")
    unknown = sorted(set(spec.shape_profiles) - set(spec.input_names))
    if unknown:
        raise InvalidInputError(f"model {spec.name}: shape_profiles names {unknown} are not inputs")
    for name, (low, opt, high) in spec.shape_profiles.items():
        if not (len(low) == len(opt) == len(high)) or any(
            not (a <= b <= c) for a, b, c in zip(low, opt, high)
        ):
            raise InvalidInputError(
                f"model {spec.name}: shape profile of {name} must be min <= opt <= max per axis, "
                f"got {low}, {opt}, {high}"
            )
    with _LOCK:
        _REGISTRY[spec.name] = spec
    return spec


def unregister_model(name: str) -> None:
    """Remove a model (tests register throw-away networks); unknown names are ignored."""
    with _LOCK:
        _REGISTRY.pop(name, None)


def _import_shipped_models() -> None:
    """Import the network modules of :mod:`hdrvideo.nn` (each registers its model at import)."""
    from hdrvideo.nn import import_networks

    import_networks()


def list_models() -> list[ModelSpec]:
    """Every registered model, sorted by name (shipped ones included)."""
    _import_shipped_models()
    with _LOCK:
        return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_model(name: str) -> ModelSpec:
    """The spec registered under ``name``.

    Raises:
        InvalidInputError: unknown name; the message lists the known ones.
    """
    with _LOCK:
        spec = _REGISTRY.get(name)
    if spec is None:
        _import_shipped_models()
        with _LOCK:
            spec = _REGISTRY.get(name)
    if spec is None:
        with _LOCK:
            known = ", ".join(sorted(_REGISTRY)) or "none registered"
        raise InvalidInputError(f"unknown model {name!r} (known models: {known})")
    return spec


def resolve_model(model: str | ModelSpec) -> ModelSpec:
    """A spec from a name or a spec (specs need not be registered)."""
    if isinstance(model, ModelSpec):
        return model
    if not isinstance(model, str):
        raise InvalidInputError(f"model must be a name or a ModelSpec, not {type(model).__name__}")
    return get_model(model)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def state_dict_hash(module: torch.nn.Module) -> str:
    """SHA-256 over the module's architecture text and every ``state_dict`` entry
    (name, dtype, shape, bytes), in name order."""
    digest = hashlib.sha256(repr(module).encode())
    for key, value in sorted(module.state_dict().items()):
        tensor = value.detach().to("cpu").contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _interface_text(spec: ModelSpec) -> str:
    """The parts of a spec that change what an export contains."""
    return json.dumps(
        {
            "name": spec.name,
            "inputs": list(spec.input_names),
            "outputs": list(spec.output_names),
            "dynamic_axes": {k: {str(a): n for a, n in sorted(v.items())} for k, v in sorted(spec.dynamic_axes.items())},
        },
        sort_keys=True,
    )


def model_hash(spec: ModelSpec, module: torch.nn.Module | None = None) -> str:
    """Identity of a model in cache keys: SHA-256 (hex, 64 characters).

    Covers the interface (names, dynamic axes) and the weights: the bytes of
    ``spec.weights_path`` when it is set (no build needed), else :func:`state_dict_hash` of
    ``module`` (built with ``spec.build()`` when not given). Memoised per spec object.

    Raises:
        InvalidInputError: ``weights_path`` is set but the file is missing.
    """
    cached = _HASHES.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    if spec.weights_path is not None:
        path = Path(spec.weights_path)
        if not path.is_file():
            raise InvalidInputError(f"model {spec.name}: weights file {path} is missing")
        weights = _hash_file(path)
    else:
        weights = state_dict_hash(module if module is not None else spec.build())
    digest = hashlib.sha256(f"{_interface_text(spec)}|{weights}".encode()).hexdigest()
    with _LOCK:
        _HASHES[id(spec)] = (spec, digest)
    return digest


def parameter_count(module: torch.nn.Module) -> int:
    """Number of scalar parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())
