"""NaN-safe building blocks shared by the transfer functions (private).

Every power or logarithm in :mod:`hdrvideo.color` goes through one of these so that the
forward value is exact where the standard defines it, and the backward pass never meets
``0 ** negative`` or ``log(0)``: the input of each branch is clamped (or replaced through
the "double ``where``" idiom) before the operation, so gradients stay finite.
"""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch

from hdrvideo.errors import InvalidInputError


F = TypeVar("F", bound=Callable[..., torch.Tensor])

_HALF = (torch.float16, torch.bfloat16)


def promote_half(fn: F) -> F:
    """Compute in float32 when the first argument is float16/bfloat16; cast the result back.

    Transfer functions raise to powers like 78.84 (PQ) or 1/0.0127: in half precision the
    rounding of the base would be amplified to percent-level errors, and half's smallest
    normal number (6e-5) is far above the luminances that matter near black.
    """

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        if isinstance(x, torch.Tensor) and x.dtype in _HALF:
            return fn(x.float(), *args, **kwargs).to(x.dtype)
        return fn(x, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def pow0(x: torch.Tensor, p: float) -> torch.Tensor:
    """``max(x, 0) ** p`` with a finite gradient everywhere (0 at ``x <= 0``).

    For ``0 < p < 1`` the true derivative at 0 is infinite; here it is 0 at 0 and the
    exact (large, finite) value for positive ``x``. Subnormal ``x`` (below the dtype's
    smallest normal number) counts as 0, so that ``x ** (p - 1)`` cannot overflow to
    ``inf`` for ``p >= 0`` (``inf * 0`` in a masked branch would give NaN gradients).
    """
    positive = x >= torch.finfo(x.dtype).tiny
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, safe.pow(p), torch.zeros_like(x))


def spow(x: torch.Tensor, p: float) -> torch.Tensor:
    """Sign-preserving power ``sign(x) * |x| ** p``, finite gradient at 0."""
    return torch.sign(x) * pow0(x.abs(), p)


def check_channels(x: torch.Tensor, name: str = "x") -> None:
    """Raise :class:`InvalidInputError` unless ``x`` has shape ``(*, 3, H, W)``."""
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 3 or x.shape[-3] != 3:
        raise InvalidInputError(f"{name}: expected a (*, 3, H, W) tensor, got shape {tuple(x.shape)}")


def check_positive(value: float, name: str) -> float:
    """Return ``float(value)``, raising :class:`InvalidInputError` unless it is finite and > 0."""
    value = float(value)
    if not value > 0 or value == float("inf"):
        raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def choose(name: str, value: str, valid) -> str:
    """Validate a method name against ``valid`` (an iterable of names)."""
    valid = tuple(valid)
    if value not in valid:
        raise InvalidInputError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def as_float(x: torch.Tensor) -> torch.Tensor:
    """Integer tensors (code values) become float32; floating tensors pass through."""
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(f"expected a torch.Tensor, got {type(x).__name__}")
    return x if x.is_floating_point() else x.to(torch.float32)
