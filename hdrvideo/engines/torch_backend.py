"""The torch backend: the network module itself, on the CPU or a CUDA device.

Runs under ``torch.inference_mode``; ``fp16`` (CUDA only) converts the weights to float16
and casts inputs on the way in; ``compile=True`` wraps the module in ``torch.compile``
(the first call per new shape pays the compilation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from hdrvideo.engines.base import Engine
from hdrvideo.engines.registry import ModelSpec
from hdrvideo.errors import UnsupportedError


def as_output_tuple(result: object, spec: ModelSpec) -> tuple[torch.Tensor, ...]:
    """A module's return value as a tuple in ``spec.output_names`` order (a tensor, a
    sequence of tensors, or a mapping keyed by output name)."""
    if isinstance(result, torch.Tensor):
        return (result,)
    if isinstance(result, Mapping):
        return tuple(result[name] for name in spec.output_names)
    if isinstance(result, Sequence):
        return tuple(result)
    raise TypeError(f"model {spec.name} returned {type(result).__name__}, not tensors")


class TorchEngine(Engine):
    """``spec.build()`` on ``device``; see the module docstring."""

    backend = "torch"

    def __init__(self, spec: ModelSpec, device: torch.device, *, fp16: bool = False, compile: bool = False,  # noqa: A002
                 module: torch.nn.Module | None = None) -> None:
        super().__init__(spec, device, fp16=fp16)
        module = (module if module is not None else spec.build()).eval().to(device)
        module = module.half() if fp16 else module.float()
        for parameter in module.parameters():
            parameter.requires_grad_(False)
        self.module = module
        self.compiled = compile
        if compile:
            try:
                self._callable = torch.compile(module)
            except RuntimeError as error:  # e.g. no compiler toolchain on this platform
                raise UnsupportedError(f"torch.compile is not available here: {error}") from None
        else:
            self._callable = module

    def _run(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            if self.fp16:
                inputs = tuple(t.half() for t in inputs)
            return as_output_tuple(self._callable(*inputs), self.spec)
